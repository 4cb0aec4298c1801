"""Making splits where a source has none, or re-splitting a whole collection: `split_refs`
(stratified by style; with ``by="artist"`` no artist in two splits), the split manifest
(``split.csv``: one row per image with its split, style, file, parquet row and artist) that
`wikiart data split` writes and `open_dataset` reads, and the test split a training run carves
for itself (`carve_test`), saved in the run folder so that `evaluate` reuses the same paintings.

Artist-grouped splits use scikit-learn's `StratifiedGroupKFold`: the test split is one fold of
``round(1 / test_fraction)``, the validation split one fold of the rest, so the shares are
those folds' (reported), and style proportions drift where artists are large (reported per
style)."""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from wikiart.data.artists import artists_of, group_keys
from wikiart.data.classmap import ClassMap
from wikiart.data.refs import ImageRef, display
from wikiart.errors import WikiartError
from wikiart.files import make_dir, write_csv, write_json

log = logging.getLogger(__name__)

MANIFEST = "split.csv"
REPORT = "split.json"
#: The test list a training run carves and `evaluate` reuses (the manifest's format).
RUN_TEST_SPLIT = "test_split.csv"
BY = ("image", "artist")
_FIELDS = ("split", "style", "path", "row", "artist")


@dataclass
class SplitResult:
    """The new splits and what to say about them."""

    splits: dict[str, list[ImageRef]]
    artists: dict[str, str | None]  # image key -> artist
    report: dict[str, Any] = field(default_factory=dict)


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise WikiartError(f"{name} must be between 0 and 1 (exclusive), got {value}")


def _stratified_fold(
    labels: np.ndarray, groups: list[str] | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(rest, held)``: about ``fraction`` of each style held out; with ``groups``
    every group wholly on one side (one fold of `StratifiedGroupKFold`)."""
    n = len(labels)
    if groups is None:
        from wikiart.data.splits import stratified_split

        return stratified_split(labels, fraction, seed)
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups))
    k = max(2, round(1.0 / fraction))
    if n_groups < k:
        raise WikiartError(
            f"{n_groups} artist group(s) cannot make a held-out share of {fraction:g} "
            f"({k} folds); lower the fraction or split by image"
        )
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notes
        rest, held = next(iter(sgkf.split(np.zeros(n), labels, groups)))
    return np.sort(rest), np.sort(held)


def split_refs(
    refs: Sequence[ImageRef],
    *,
    test_fraction: float,
    val_fraction: float = 0.0,
    by: str = "image",
    seed: int = 0,
    together: Sequence[Sequence[str]] = (),
) -> SplitResult:
    """``refs`` split into train / (valid) / test, stratified by style; ``by="artist"``: no
    artist in two splits; each set of ``together`` (image keys: copies of one painting, from
    `wikiart.data.check.duplicate_sets`) wholly in one split, with the artists of its images.
    Deterministic for a seed."""
    if by not in BY:
        raise WikiartError(f"split by must be one of {BY}, got {by!r}")
    _check_fraction("the test fraction", test_fraction)
    if val_fraction:
        _check_fraction("the validation fraction", val_fraction)
        if test_fraction + val_fraction >= 1:
            raise WikiartError("the test and validation fractions must add up to less than 1")
    refs = sorted(refs, key=lambda r: r.key)  # the same split whatever order the source lists
    if len(refs) < 2:
        raise WikiartError(f"{len(refs)} image(s) cannot be split")
    classes = ClassMap.from_styles(r.style for r in refs)
    labels = np.array([classes.index(r.style) for r in refs])
    artists = artists_of(refs)
    by_key = {r.key: a for r, a in zip(refs, artists, strict=True)}
    groups = group_keys(refs, artists) if by == "artist" else None
    if together:
        groups = join_groups(groups or [f"image:{r.key}" for r in refs], refs, together)
    rest, test = _stratified_fold(labels, groups, test_fraction, seed)
    splits: dict[str, np.ndarray] = {"train": rest, "test": test}
    if val_fraction:
        share = val_fraction / (1.0 - test_fraction)
        sub_groups = [groups[i] for i in rest] if groups is not None else None
        tr, va = _stratified_fold(labels[rest], sub_groups, share, seed + 1)
        splits = {"train": rest[tr], "valid": rest[va], "test": test}
    result = {name: [refs[i] for i in idx] for name, idx in splits.items()}
    report = split_report(result, by_key)
    report.update(by=by, seed=seed, test_fraction=test_fraction, val_fraction=val_fraction or 0.0)
    report["duplicates_kept_together"] = {
        "sets": len(together),
        "images": sum(len(t) for t in together),
    }
    return SplitResult(result, by_key, report)


def join_groups(
    groups: Sequence[str], refs: Sequence[ImageRef], together: Sequence[Sequence[str]]
) -> list[str]:
    """``groups`` (one key per ref) with every group that shares a ``together`` set with
    another merged into one (transitively): a copy of a painting joins its artist's group, and
    two artists' groups tied by a copy become one."""
    from scipy.cluster.hierarchy import DisjointSet

    joined = DisjointSet(groups)
    of_key = {r.key: g for r, g in zip(refs, groups, strict=True)}
    for keys in together:
        members = [of_key[k] for k in keys if k in of_key]
        for g in members[1:]:
            joined.merge(members[0], g)
    name = {g: min(subset) for subset in joined.subsets() for g in subset}  # order-free
    return [name[g] for g in groups]


def split_report(
    splits: dict[str, list[ImageRef]], artists: dict[str, str | None]
) -> dict[str, Any]:
    """Sizes, each split's share of every style (and how far it is from the split's overall
    share), and the artists shared between splits."""
    total = sum(len(v) for v in splits.values())
    per_style = Counter(r.style for refs in splits.values() for r in refs)
    report: dict[str, Any] = {"images": total, "splits": {}}
    for name, refs in splits.items():
        share = len(refs) / total if total else 0.0
        counts = Counter(r.style for r in refs)
        drift = {s: round(counts.get(s, 0) / n - share, 4) for s, n in sorted(per_style.items())}
        report["splits"][name] = {
            "images": len(refs),
            "share": round(share, 4),
            "style_share_drift": drift,
            "max_abs_drift": max((abs(d) for d in drift.values()), default=0.0),
        }
    report["artists"] = artist_overlap(splits, artists)
    return report


def artist_overlap(
    splits: dict[str, list[ImageRef]], artists: dict[str, str | None]
) -> dict[str, Any]:
    """Per split other than train: how many of its images are by an artist also in train."""
    known = {name: {artists.get(r.key) for r in refs} - {None} for name, refs in splits.items()}
    train = known.get("train", set())
    out: dict[str, Any] = {
        "known": sum(1 for refs in splits.values() for r in refs if artists.get(r.key)),
        "distinct": len(set().union(*known.values())) if known else 0,
    }
    for name, refs in splits.items():
        if name == "train":
            continue
        shared = [r for r in refs if artists.get(r.key) in train]
        out[name] = {
            "images_by_train_artists": len(shared),
            "share": round(len(shared) / len(refs), 4) if refs else 0.0,
            "shared_artists": len(known[name] & train),
        }
    return out


# -- the manifest ----------------------------------------------------------------------------
def write_manifest(
    path: Path, splits: dict[str, list[ImageRef]], artists: dict[str, str | None]
) -> Path:
    """``split.csv``: split, style, path (absolute), row (-1 for files), artist."""
    rows = [
        {
            "split": name, "style": r.style, "path": os.path.abspath(r.path), "row": r.row,
            "artist": artists.get(r.key) or "",
        }
        for name, refs in splits.items()
        for r in refs
    ]  # fmt: skip
    return write_csv(path, rows, _FIELDS, lineterminator="\n")


def read_manifest(path: Path) -> dict[str, list[ImageRef]]:
    """The splits a manifest lists; every file (or parquet shard) is checked to exist."""
    splits: dict[str, list[ImageRef]] = {}
    stats: dict[str, os.stat_result] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise WikiartError(f"cannot read the split manifest {display(path)}: {exc}") from None
    for i, row in enumerate(rows, start=2):
        try:
            name, style, file, index = row["split"], row["style"], row["path"], int(row["row"])
        except (KeyError, TypeError, ValueError):
            raise WikiartError(
                f"{display(path)}, line {i}: expected columns {', '.join(_FIELDS)}"
            ) from None
        if file not in stats:
            try:
                stats[file] = os.stat(file)
            except OSError:
                raise WikiartError(
                    f"{display(path)}, line {i}: {display(file)} no longer exists; make the "
                    "split again"
                ) from None
        st = stats[file]
        splits.setdefault(name, []).append(ImageRef(style, file, st.st_size, st.st_mtime_ns, index))
    if not splits:
        raise WikiartError(f"the split manifest {display(path)} lists no images")
    rank = {"train": 0, "valid": 1, "test": 2}
    return {n: splits[n] for n in sorted(splits, key=lambda n: (rank.get(n, 3), n))}


def write_split(result: SplitResult, out: str | os.PathLike[str], *, links: bool) -> Path:
    """A dataset root: ``split.csv`` and ``split.json`` always; with ``links``, also the
    ``<split>/<Style>/<image>`` tree as symbolic links to the original files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WikiartError(f"--out {display(out)} is a file, not a folder")
    if out.exists() and any(out.iterdir()):
        raise WikiartError(f"{display(out)} exists and is not empty; choose a new --out")
    make_dir(out, "split folder")
    if links:
        for name, refs in result.splits.items():
            used: set[Path] = set()
            for r in refs:
                target = out / name / r.style / os.path.basename(r.path)
                stem, n = target.stem, 1
                while target in used:  # two files of one name in one style
                    n += 1
                    target = target.with_name(f"{stem}-{n}{target.suffix}")
                used.add(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.path.abspath(r.path), target)
    write_manifest(out / MANIFEST, result.splits, result.artists)
    write_json(out / REPORT, {**result.report, "layout": "links" if links else "manifest"})
    return out


# -- a training run's own test split --------------------------------------------------------
class _Splits(Protocol):
    """What `carve_test` needs of a dataset (`wikiart.data.dataset.Dataset`)."""

    root: Path
    splits: dict[str, list[ImageRef]]

    def split(self, name: str) -> list[ImageRef]: ...


D = TypeVar("D", bound=_Splits)


def carve_test(ds: D, data_cfg: Any, out: Path | None, seed: int, *, write: bool = True) -> D:
    """Where ``ds`` has no test split and ``data_cfg.test_fraction`` asks for one: take it from
    train (stratified; ``split_by="artist"``: no artist in both), save it as the run's
    ``test_split.csv`` in ``out`` (a resumed run reads it back) and return the dataset with it.
    ``write=False`` (a dry run) saves nothing; ``out=None`` neither reads nor saves."""
    fraction, by = data_cfg.test_fraction, data_cfg.split_by
    saved = out / RUN_TEST_SPLIT if out is not None else None
    if not fraction:
        return ds
    if "test" in ds.splits:
        raise WikiartError(
            f"{display(ds.root)} has a test split already; --test-fraction carves one only "
            "where there is none (`wikiart data split` re-splits a whole collection)"
        )
    train = ds.split("train")
    if saved is not None and saved.is_file():  # it names files absolutely; the data may not
        listed = {_identity(r) for r in read_manifest(saved).get("test", [])}
        test = [r for r in train if _identity(r) in listed]
        kept = [r for r in train if _identity(r) not in listed]
        if len(test) != len(listed):
            raise WikiartError(
                f"{display(saved)} lists images the data no longer has; start a new run"
            )
        log.info("test split: the run's own %d images (%s)", len(test), display(saved))
    else:
        result = split_refs(train, test_fraction=fraction, by=by, seed=seed)
        kept, test = result.splits["train"], result.splits["test"]
        if saved is not None and write:
            write_manifest(saved, {"test": test}, result.artists)
        overlap = result.report["artists"].get("test", {})
        log.info(
            "test split carved from train (%s, %.0f%%): %d images, %s; %d of them by artists "
            "also in train",
            by, 100 * fraction, len(test),
            f"saved in {display(saved)}" if saved is not None and write else "not saved",
            overlap.get("images_by_train_artists", 0),
        )  # fmt: skip
    ds.splits = {**ds.splits, "train": kept, "test": test}
    return ds


def _identity(ref: ImageRef) -> tuple[str, int]:
    return os.path.abspath(ref.path), ref.row


def run_test_split(checkpoint: str | os.PathLike[str]) -> list[ImageRef] | None:
    """The test split a run carved for itself (``test_split.csv`` beside its checkpoint)."""
    saved = Path(checkpoint).parent / RUN_TEST_SPLIT
    return read_manifest(saved).get("test") if saved.is_file() else None
