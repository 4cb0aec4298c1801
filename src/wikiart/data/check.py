"""`wikiart data check`: find what would silently spoil training or evaluation on a dataset.

Every file is read once and fully decoded (a truncated or corrupt image must be found now, not in
epoch 7), hashed by content (exact duplicates) and by a 64-bit DCT perceptual hash (near
duplicates: re-saved, re-compressed or slightly resized copies). A duplicate whose copies sit in
different splits is leakage and an error; copies within one split are warnings. Styles that a
split has but train lacks are errors (a model cannot know them). Near-duplicate pairs are found
with the pigeonhole band trick, not an all-pairs loop, so tens of thousands of images are quick.

The code is in three modules: this one runs the check (reading and hashing every file, then
comparing), `wikiart.data.perceptual_hash` holds the hash and the near-duplicate search, and
`wikiart.data.check_report` the report.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from wikiart.data.cache import _bounded_map
from wikiart.data.check_report import (
    BadFile,
    CheckReport,
    DuplicateGroup,
    FileItem,
    NearPair,
    _item_key,
    _ordered_splits,
)
from wikiart.data.dataset import Dataset
from wikiart.data.images import DEFAULT_MAX_PIXELS, open_image
from wikiart.data.perceptual_hash import hamming, near_duplicate_pairs, phash
from wikiart.data.refs import ImageRef, display
from wikiart.errors import BadImageError, WikiartError
from wikiart.processes import worker_pool

__all__ = [
    "DECODE_TARGET",
    "MIN_PARALLEL_FILES",
    "BadFile",
    "CheckReport",
    "DuplicateGroup",
    "FileItem",
    "NearPair",
    "check_dataset",
    "duplicate_sets",
    "hamming",
    "near_duplicate_pairs",
    "phash",
]

#: Decode size hint: JPEGs are decoded at reduced scale (draft mode still reads every byte, so
#: truncation is still detected) since the perceptual hash only needs 32 x 32 pixels.
DECODE_TARGET = 64
#: Below this many files a process pool costs more than it saves (unless workers is given).
MIN_PARALLEL_FILES = 200

# digest of the bytes (None if unreadable), perceptual hash (-1 if bad), bad reason, detail
_Result = tuple[bytes | None, int, str | None, str]


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
            with worker_pool(workers) as pool:
                results = _bounded_map(pool, _inspect_chunk, chunks, (max_pixels,), 4 * workers)
                _collect(results, out, bar)
    finally:
        if bar is not None:
            bar.close()
    return out


def _collect(results: Iterable[list[_Result]], out: list[_Result], bar: Any) -> None:
    for chunk_result in results:
        out.extend(chunk_result)
        if bar is not None:
            bar.update(len(chunk_result))


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


def _artist_overlap(ds: Dataset) -> dict[str, Any]:
    from wikiart.data.artists import artists_of
    from wikiart.data.resplit import artist_overlap

    refs = [r for split in ds.splits.values() for r in split]
    artists = dict(zip((r.key for r in refs), artists_of(refs), strict=True))
    return artist_overlap(ds.splits, artists)


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

    for k, (_, _, reason, detail) in enumerate(results):
        if reason is not None:
            report.bad_files.append(BadFile(items[k], reason, detail))
    groups, near = _duplicates(results, near_threshold)
    for members in groups:  # exact duplicates: one group per digest with several files
        if len(members) > 1:
            report.exact_duplicates.append(DuplicateGroup([items[k] for k in members]))
    for ga, gb, dist in near:  # near pairs, expanded to every member of both contents
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
    report.artists = _artist_overlap(ds)
    for split in _ordered_splits(ds.scans):
        scan = ds.scans[split]
        report.stray_files += [(split, p) for p in scan.stray_files]
        report.skipped_folders += [(split, p) for p in scan.skipped_folders]
        if scan.empty_styles:
            report.empty_styles[split] = list(scan.empty_styles)
    report.seconds = time.perf_counter() - t0
    return report


def _duplicates(
    results: Sequence[_Result], near_threshold: int
) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    """The readable files' indices grouped by identical bytes, and the pairs of those groups
    whose perceptual hashes are within ``near_threshold`` bits (one representative each)."""
    by_digest: dict[bytes, list[int]] = defaultdict(list)
    phashes: dict[int, int] = {}
    for k, (digest, ph, reason, _) in enumerate(results):
        if reason is None and digest is not None:
            by_digest[digest].append(k)
            phashes[k] = ph
    groups = list(by_digest.values())
    near = near_duplicate_pairs([phashes[m[0]] for m in groups], near_threshold)
    return groups, near


def duplicate_sets(
    refs: Sequence[ImageRef],
    *,
    near_threshold: int = 4,
    workers: int | None = None,
    progress: bool = False,
) -> list[list[int]]:
    """The indices of ``refs`` that are copies of one another, as `check_dataset` finds them
    (the same bytes, or perceptual hashes within ``near_threshold`` bits), joined transitively:
    the sets of two or more; unreadable files are in none."""
    results = _inspect_all(
        refs, max_pixels=DEFAULT_MAX_PIXELS, workers=workers, progress=progress, chunk_size=32
    )
    from scipy.cluster.hierarchy import DisjointSet

    groups, near = _duplicates(results, near_threshold)
    joined = DisjointSet(range(len(groups)))
    for ga, gb, _ in near:
        joined.merge(ga, gb)
    sets = [sorted(k for g in subset for k in groups[g]) for subset in joined.subsets()]
    return sorted(s for s in sets if len(s) > 1)
