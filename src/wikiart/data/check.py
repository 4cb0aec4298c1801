"""`wikiart data check`: find what would silently spoil training or evaluation on a dataset.

Every file is read once and fully decoded (a truncated or corrupt image must be found now, not in
epoch 7), hashed by content (exact duplicates) and by a 64-bit DCT perceptual hash (near
duplicates: re-saved, re-compressed or slightly resized copies). A duplicate whose copies sit in
different splits is leakage and an error; copies within one split are warnings. Styles that a
split has but train lacks are errors (a model cannot know them). Near-duplicate pairs are found
with the pigeonhole band trick, not an all-pairs loop, so tens of thousands of images are quick.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.fft import dctn

from wikiart.data.cache import _bounded_map
from wikiart.data.dataset import SPLIT_ORDER, Dataset
from wikiart.data.images import DEFAULT_MAX_PIXELS, open_image
from wikiart.data.refs import ImageRef, display
from wikiart.data.scan import SPLIT_ALIASES
from wikiart.errors import BadImageError, WikiartError

#: Decode size hint: JPEGs are decoded at reduced scale (draft mode still reads every byte, so
#: truncation is still detected) since the perceptual hash only needs 32 x 32 pixels.
DECODE_TARGET = 64
#: Below this many files a process pool costs more than it saves (unless workers is given).
MIN_PARALLEL_FILES = 200

# digest of the bytes (None if unreadable), perceptual hash (-1 if bad), bad reason, detail
_Result = tuple[bytes | None, int, str | None, str]


# -- perceptual hash and near-duplicate search ------------------------------------------------
def phash(im: Image.Image) -> int:
    """64-bit DCT perceptual hash: grayscale 32x32, DCT, the top-left 8x8 low frequencies, each
    bit set where a coefficient exceeds the median of the 63 non-DC ones. Robust to re-saving,
    recompression and mild resizing; changes with the picture's structure."""
    small = im.convert("L").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=3.0)
    coeffs = dctn(np.asarray(small, dtype=np.float64), type=2, norm="ortho")[:8, :8].ravel()
    median = np.median(coeffs[1:])
    bits = coeffs > median
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (a ^ b).bit_count()


def _popcount64(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x).astype(np.int64)
    as_bytes = x.astype(np.uint64).view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1).astype(np.int64)


def _band_masks(threshold: int) -> list[tuple[int, int]]:
    """(shift, mask) of ``threshold + 1`` bands covering the 64 bits."""
    bands = threshold + 1
    base, extra = divmod(64, bands)
    out, shift = [], 0
    for b in range(bands):
        width = base + (1 if b < extra else 0)
        out.append((shift, (1 << width) - 1))
        shift += width
    return out


def _equal_value_pairs(values: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """All index pairs (i, j) with ``values[i] == values[j]``, i != j, in batches of at most
    ``len(values)``: work is proportional to the number of pairs, never n^2, and memory to n."""
    order = np.argsort(values, kind="stable")
    sv = values[order]
    n = len(sv)
    starts = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]])
    ends = np.r_[starts[1:], n]
    group_end = np.repeat(ends, ends - starts)
    alive = np.arange(n)
    d = 1
    while True:
        # positions whose group still holds a member ``d`` places further on
        alive = alive[group_end[alive] - alive > d]
        if not alive.size:
            return
        yield order[alive], order[alive + d]
        d += 1


def near_duplicate_pairs(hashes: Sequence[int], threshold: int) -> list[tuple[int, int, int]]:
    """Every ``(i, j, distance)`` with ``i < j`` and ``hamming(hashes[i], hashes[j]) <=
    threshold``, sorted. Two hashes within ``threshold`` bits agree exactly on at least one of
    ``threshold + 1`` bands (pigeonhole), so only pairs sharing a band value are compared. Made
    for small thresholds: candidates grow about 2x per extra bit of threshold."""
    if not 0 <= threshold < 64:
        raise ValueError(f"threshold must be in 0..63, got {threshold}")
    h = np.asarray([int(x) & 0xFFFFFFFFFFFFFFFF for x in hashes], dtype=np.uint64)
    if len(h) < 2:
        return []
    # Work on distinct values; repeats are expanded at the end.
    uniq, inverse = np.unique(h, return_inverse=True)
    inverse = inverse.ravel()
    found = []
    for shift, mask in _band_masks(threshold):
        band = (uniq >> np.uint64(shift)) & np.uint64(mask)
        for a, b in _equal_value_pairs(band):
            dist = _popcount64(uniq[a] ^ uniq[b])
            keep = dist <= threshold
            if keep.any():
                a, b = a[keep], b[keep]
                found.append(np.stack([np.minimum(a, b), np.maximum(a, b), dist[keep]], axis=1))
    # A pair sharing several bands was found once per band: keep it once.
    near = np.unique(np.concatenate(found), axis=0) if found else np.empty((0, 3), np.int64)

    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))

    def members(k: int) -> list[int]:
        return order[bounds[k] : bounds[k + 1]].tolist()

    out: list[tuple[int, int, int]] = []
    for k in np.flatnonzero(np.diff(bounds) > 1).tolist():  # repeated values: distance 0
        idx = members(k)
        out += [(idx[x], idx[y], 0) for x in range(len(idx)) for y in range(x + 1, len(idx))]
    for a, b, d in near.tolist():
        out += [(min(i, j), max(i, j), d) for i in members(a) for j in members(b)]
    out.sort()
    return out


# -- per-file work (runs in worker processes) -------------------------------------------------
#: In entropy-coded JPEG data, 0xFF is followed by 0x00 (stuffing), RSTn or more 0xFF (fill);
#: anything else ends the scan with a marker.


def _inspect(ref: ImageRef, max_pixels: int) -> _Result:
    """Read once, hash the bytes, decode fully, hash the picture; never raises."""
    try:
        data = ref.read_bytes()
    except OSError as exc:
        return None, -1, "unreadable", f"cannot read the file: {exc.strerror or exc}"
    except Exception as exc:  # e.g. a broken parquet row
        return None, -1, "unreadable", f"{type(exc).__name__}: {exc}"
    digest = hashlib.blake2b(data, digest_size=16).digest()
    try:
        im = open_image(data, target=DECODE_TARGET, max_pixels=max_pixels)
        return digest, phash(im), None, ""
    except BadImageError as exc:
        return digest, -1, exc.reason, exc.detail
    except Exception as exc:  # one odd file must never stop a check of thousands
        return digest, -1, "unreadable", f"{type(exc).__name__}: {exc}"


def _inspect_chunk(refs: Sequence[ImageRef], max_pixels: int) -> list[_Result]:
    return [_inspect(ref, max_pixels) for ref in refs]


def _inspect_all(
    refs: Sequence[ImageRef],
    *,
    max_pixels: int,
    workers: int | None,
    progress: bool,
    chunk_size: int,
) -> list[_Result]:
    """Results in the order of ``refs``: in worker processes for many files, else in-process."""
    chunks = [refs[i : i + chunk_size] for i in range(0, len(refs), chunk_size)]
    if workers is None:
        workers = (os.cpu_count() or 1) if len(refs) >= MIN_PARALLEL_FILES else 1
    workers = max(1, min(workers, len(chunks)))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(refs), desc="checking images", unit="img", dynamic_ncols=True)
    out: list[_Result] = []
    try:
        if workers <= 1:
            results: Iterable[list[_Result]] = (_inspect_chunk(c, max_pixels) for c in chunks)
            _collect(results, out, bar)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = _bounded_map(pool, _inspect_chunk, chunks, (max_pixels,), 4 * workers)
                _collect(results, out, bar)
    finally:
        if bar is not None:
            bar.close()
    return out


def _collect(results: Iterable[list[_Result]], out: list[_Result], bar) -> None:
    for chunk_result in results:
        out.extend(chunk_result)
        if bar is not None:
            bar.update(len(chunk_result))


# -- the report -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileItem:
    """One file of the dataset, with the split it belongs to."""

    split: str
    ref: ImageRef

    @property
    def style(self) -> str:
        return self.ref.style

    def to_dict(self) -> dict:
        return {
            "split": self.split,
            "style": display(self.ref.style),
            "path": display(self.ref.key),
        }


@dataclass
class BadFile:
    item: FileItem
    reason: str
    detail: str

    def to_dict(self) -> dict:
        return {**self.item.to_dict(), "reason": self.reason, "detail": self.detail}


@dataclass
class DuplicateGroup:
    """Files with identical bytes."""

    items: list[FileItem]

    @property
    def splits(self) -> list[str]:
        return _ordered_splits({i.split for i in self.items})

    @property
    def styles(self) -> list[str]:
        return sorted({i.style for i in self.items})

    @property
    def leak(self) -> bool:
        return len(self.splits) > 1

    def to_dict(self) -> dict:
        return {
            "leak": self.leak,
            "different_styles": len(self.styles) > 1,
            "items": [i.to_dict() for i in self.items],
        }


@dataclass
class NearPair:
    """Two files that are not byte-identical but look the same (perceptual hashes close)."""

    a: FileItem
    b: FileItem
    distance: int

    @property
    def items(self) -> list[FileItem]:
        return [self.a, self.b]

    @property
    def splits(self) -> list[str]:
        return _ordered_splits({self.a.split, self.b.split})

    @property
    def styles(self) -> list[str]:
        return sorted({self.a.style, self.b.style})

    @property
    def leak(self) -> bool:
        return self.a.split != self.b.split

    def to_dict(self) -> dict:
        return {
            "leak": self.leak,
            "distance": self.distance,
            "different_styles": len(self.styles) > 1,
            "items": [self.a.to_dict(), self.b.to_dict()],
        }


def _split_rank(name: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name)


def _ordered_splits(names: Iterable[str]) -> list[str]:
    return sorted(names, key=_split_rank)


def _item_key(item: FileItem) -> tuple:
    return (_split_rank(item.split), item.ref.style, item.ref.key)


@dataclass
class CheckReport:
    """Everything `check_dataset` found. Errors make ``exit_code`` 1; warnings do not."""

    root: str
    splits: dict[str, dict[str, int]]
    bad_files: list[BadFile] = field(default_factory=list)
    exact_duplicates: list[DuplicateGroup] = field(default_factory=list)
    near_duplicates: list[NearPair] = field(default_factory=list)
    missing_styles: dict[str, list[str]] = field(default_factory=dict)
    unknown_styles: dict[str, list[str]] = field(default_factory=dict)
    stray_files: list[tuple[str, str]] = field(default_factory=list)  # (split, path)
    empty_styles: dict[str, list[str]] = field(default_factory=dict)
    near_threshold: int = 4
    seconds: float = 0.0
    root_path: Path | None = field(default=None, repr=False)

    @property
    def errors(self) -> int:
        return (
            len(self.bad_files)
            + sum(g.leak for g in self.exact_duplicates)
            + sum(p.leak for p in self.near_duplicates)
            + sum(len(v) for v in self.unknown_styles.values())
        )

    @property
    def warnings(self) -> int:
        return (
            sum(not g.leak for g in self.exact_duplicates)
            + sum(not p.leak for p in self.near_duplicates)
            + sum(len(v) for v in self.missing_styles.values())
            + len(self.stray_files)
            + sum(len(v) for v in self.empty_styles.values())
        )

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict:
        """JSON-ready; every path goes through `display`, so odd file names cannot break it."""
        return {
            "root": self.root,
            "splits": self.splits,
            "bad_files": [b.to_dict() for b in self.bad_files],
            "exact_duplicates": [g.to_dict() for g in self.exact_duplicates],
            "near_duplicates": [p.to_dict() for p in self.near_duplicates],
            "near_threshold": self.near_threshold,
            "missing_styles": _display_names(self.missing_styles),
            "unknown_styles": _display_names(self.unknown_styles),
            "stray_files": [{"split": s, "path": display(p)} for s, p in self.stray_files],
            "empty_styles": _display_names(self.empty_styles),
            "errors": self.errors,
            "warnings": self.warnings,
        }

    # -- text ----------------------------------------------------------------------------
    def _short(self, path: str) -> str:
        """A path relative to the dataset root when it lies below it (shorter to read)."""
        if self.root_path is not None:
            try:
                rel = os.path.relpath(path, self.root_path)
            except ValueError:
                rel = path
            if not rel.startswith(".."):
                path = rel
        return display(path)

    def _item_line(self, item: FileItem) -> str:
        """``train/Baroque/x.jpg``; the split is added when the path does not show it."""
        short = self._short(item.ref.key)
        if short.split("/", 1)[0] in SPLIT_ALIASES.get(item.split, (item.split,)):
            return short
        return f"{item.split}: {short}"

    def format_text(self) -> str:
        """Human-readable report: one section per kind of problem, every bad file named."""
        lines = [f"Data check of {self.root}"]
        total = sum(s["files"] for s in self.splits.values())
        for name, s in self.splits.items():
            lines.append(f"  {name}: {s['files']} files, {s['styles']} styles")
        lines.append(f"  ({total} files checked in {self.seconds:.1f} s)")

        lines += ["", _heading("Unreadable files", len(self.bad_files), "error")]
        for b in self.bad_files:
            detail = f" ({b.detail})" if b.detail else ""
            lines.append(f"  ERROR {self._item_line(b.item)}: {b.reason}{detail}")

        leaks = sum(g.leak for g in self.exact_duplicates)
        lines += ["", _dup_heading("Exact duplicates", len(self.exact_duplicates), leaks, "group")]
        for g in self.exact_duplicates:
            lines.append(f"  {_dup_label(g)}: {len(g.items)} identical files")
            lines += [f"      {self._item_line(i)}" for i in g.items]

        leaks = sum(p.leak for p in self.near_duplicates)
        title = f"Near duplicates (perceptual hash distance <= {self.near_threshold})"
        lines += ["", _dup_heading(title, len(self.near_duplicates), leaks, "pair")]
        for p in self.near_duplicates:
            lines.append(f"  {_dup_label(p)}: distance {p.distance}")
            lines += [f"      {self._item_line(i)}" for i in p.items]

        n_unknown = sum(len(v) for v in self.unknown_styles.values())
        n_missing = sum(len(v) for v in self.missing_styles.values())
        lines += ["", f"Styles: {_count(n_unknown, 'error')}, {_count(n_missing, 'warning')}"]
        for split, styles in self.unknown_styles.items():
            lines.append(
                f"  ERROR {split} has {len(styles)} style(s) that train lacks (a model trained "
                f"on train cannot know them): {', '.join(map(display, styles))}"
            )
        for split, styles in self.missing_styles.items():
            names = ", ".join(map(display, styles))
            lines.append(f"  WARNING {split} lacks {len(styles)} train style(s): {names}")

        n_empty = sum(len(v) for v in self.empty_styles.values())
        lines += ["", _heading("Layout", len(self.stray_files) + n_empty, "warning")]
        for split, path in self.stray_files:
            lines.append(
                f"  WARNING {split}: {self._short(path)} is outside any <Style>/ folder (ignored)"
            )
        for split, styles in self.empty_styles.items():
            for style in styles:
                lines.append(f"  WARNING {split}: style folder {display(style)}/ has no files")

        verdict = "FAILED" if self.exit_code else "OK"
        lines += [
            "",
            f"{verdict}: {_count(self.errors, 'error')}, {_count(self.warnings, 'warning')}",
        ]
        return "\n".join(lines)


def _display_names(by_split: dict[str, list[str]]) -> dict[str, list[str]]:
    return {split: [display(n) for n in names] for split, names in by_split.items()}


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _heading(title: str, n: int, severity: str) -> str:
    return f"{title}: {_count(n, severity) if n else 'none'}"


def _dup_heading(title: str, n: int, leaks: int, unit: str) -> str:
    if not n:
        return f"{title}: none"
    return (
        f"{title}: {_count(n, unit)}, {leaks} across splits (leak: error), "
        f"{n - leaks} within one split (warning)"
    )


def _dup_label(dup: DuplicateGroup | NearPair) -> str:
    if dup.leak:
        label = f"ERROR leak across {' and '.join(dup.splits)}"
    else:
        label = f"WARNING within {dup.splits[0]}"
    if len(dup.styles) > 1:
        label += f", filed under different styles ({', '.join(map(display, dup.styles))})"
    return label


# -- the check --------------------------------------------------------------------------------
def _split_items(ds: Dataset) -> Iterator[FileItem]:
    for split in _ordered_splits(ds.splits):
        for ref in ds.splits[split]:
            yield FileItem(split, ref)


def _style_checks(ds: Dataset) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(missing, unknown): train styles a split lacks, and a split's styles train lacks."""
    missing: dict[str, list[str]] = {}
    unknown: dict[str, list[str]] = {}
    if "train" not in ds.splits:
        return missing, unknown
    train = {r.style for r in ds.splits["train"]}
    for split in _ordered_splits(ds.splits):
        if split == "train":
            continue
        styles = {r.style for r in ds.splits[split]}
        if styles - train:
            unknown[split] = sorted(styles - train)
        if train - styles:
            missing[split] = sorted(train - styles)
    return missing, unknown


def check_dataset(
    ds: Dataset,
    *,
    near_threshold: int = 4,
    workers: int | None = None,
    progress: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    chunk_size: int = 32,
) -> CheckReport:
    """Decode and hash every file of ``ds``, then report bad files, exact and near duplicates
    (within and across splits), style mismatches between splits and layout oddities.

    ``workers``: processes to decode with (default: all cores when there are many files; 1 runs
    in-process). ``max_pixels``: images declaring more pixels are rejected as too large.
    """
    if not 0 <= near_threshold < 64:
        raise WikiartError(f"near-duplicate threshold must be in 0..63 bits, got {near_threshold}")
    if workers is not None and workers < 1:
        raise WikiartError(f"workers must be at least 1, got {workers}")
    t0 = time.perf_counter()
    items = list(_split_items(ds))
    results = _inspect_all(
        [i.ref for i in items],
        max_pixels=max_pixels,
        workers=workers,
        progress=progress,
        chunk_size=max(1, chunk_size),
    )

    report = CheckReport(
        root=display(ds.root),
        splits={
            s: {"files": len(ds.splits[s]), "styles": len({r.style for r in ds.splits[s]})}
            for s in _ordered_splits(ds.splits)
        },
        near_threshold=near_threshold,
        root_path=Path(ds.root),
    )

    by_digest: dict[bytes, list[int]] = defaultdict(list)
    phashes: dict[int, int] = {}
    for k, (digest, ph, reason, detail) in enumerate(results):
        if reason is not None:
            report.bad_files.append(BadFile(items[k], reason, detail))
            continue
        assert digest is not None
        by_digest[digest].append(k)
        phashes[k] = ph

    # Exact duplicates: one group per digest with several files.
    groups = list(by_digest.values())
    for members in groups:
        if len(members) > 1:
            report.exact_duplicates.append(DuplicateGroup([items[k] for k in members]))

    # Near duplicates among one representative per distinct content, expanded to every member.
    reps = [members[0] for members in groups]
    for ga, gb, dist in near_duplicate_pairs([phashes[k] for k in reps], near_threshold):
        for ka in groups[ga]:
            for kb in groups[gb]:
                a, b = sorted((items[ka], items[kb]), key=_item_key)
                report.near_duplicates.append(NearPair(a, b, dist))

    for g in report.exact_duplicates:
        g.items.sort(key=_item_key)
    report.exact_duplicates.sort(key=lambda g: (not g.leak, _item_key(g.items[0])))
    report.near_duplicates.sort(
        key=lambda p: (not p.leak, p.distance, _item_key(p.a), _item_key(p.b))
    )
    report.missing_styles, report.unknown_styles = _style_checks(ds)
    for split in _ordered_splits(ds.scans):
        scan = ds.scans[split]
        report.stray_files += [(split, p) for p in scan.stray_files]
        if scan.empty_styles:
            report.empty_styles[split] = list(scan.empty_styles)
    report.seconds = time.perf_counter() - t0
    return report
