"""A dataset = named splits of `ImageRef`s, opened from a folder, ArtGAN CSVs or parquet shards."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wikiart.data.classmap import ClassMap
from wikiart.data.refs import ImageRef, display
from wikiart.data.scan import SplitScan, find_split_folders, scan_split
from wikiart.errors import WikiartError

log = logging.getLogger(__name__)

SPLIT_ORDER = ("train", "valid", "test")


@dataclass
class Dataset:
    """Named splits of image references. ``root`` identifies the source (used to key caches)."""

    root: Path
    splits: dict[str, list[ImageRef]]
    kind: str = "folder"
    scans: dict[str, SplitScan] = field(default_factory=dict, repr=False)
    #: what keys the preprocessing cache when it is not ``root``: a re-split collection's
    #: manifest shares the cache of the original files
    source: Path | None = None

    @property
    def cache_source(self) -> Path:
        return self.source or self.root

    def split(self, name: str) -> list[ImageRef]:
        if name not in self.splits:
            raise WikiartError(
                f"split {name!r} not found in {display(self.root)} (has: {sorted(self.splits)})"
            )
        return self.splits[name]

    def counts(self, name: str) -> Counter[str]:
        return Counter(r.style for r in self.split(name))

    def class_map(self) -> ClassMap:
        """Sorted style names of the training split (or of the only split there is)."""
        base: str | None = "train"
        if base not in self.splits:
            base = next(iter(self.splits), None)
        if base is None or not self.splits[base]:
            raise WikiartError(f"no images found in {display(self.root)}")
        return ClassMap.from_styles(r.style for r in self.splits[base])


def _is_split_folder(path: Path) -> bool:
    """A folder of style sub-folders (``<Style>/<image>``) rather than a dataset root."""
    from wikiart.data.resplit import MANIFEST

    if (
        find_split_folders(path)
        or (path / MANIFEST).is_file()  # `wikiart data split`'s output
        or any(path.glob("*.parquet"))
        or any(path.glob("*/*.parquet"))  # under data/ in a HF download
    ):
        return False
    return any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())


def open_dataset(
    data: str | os.PathLike[str],
    *,
    split_csv: Sequence[str | os.PathLike[str]] | None = None,
    style_names: Sequence[str] | None = None,
) -> Dataset:
    """Open ``data`` as a dataset.

    - a folder with ``train/``, ``test/`` (and optionally ``valid/``) of ``<Style>/<image>``;
    - with ``split_csv``: ArtGAN CSVs (train, test[, valid]) whose paths are relative to ``data``;
    - a folder of ``*.parquet`` shards (Hugging Face ``huggan/wikiart`` layout);
    - a folder written by `wikiart data split`: its ``split.csv`` names the original images.
    """
    root = Path(data)
    if not root.exists():
        raise WikiartError(f"data folder not found: {display(root)}")
    if split_csv:
        from wikiart.data.sources import artgan_splits

        return Dataset(root, artgan_splits(split_csv, root), kind="artgan-csv")
    if not root.is_dir():
        raise WikiartError(f"not a folder: {display(root)}")
    from wikiart.data.resplit import MANIFEST, read_manifest

    if (root / MANIFEST).is_file():  # `wikiart data split`: the original files, re-split
        splits = read_manifest(root / MANIFEST)
        files = {os.path.dirname(r.path) for refs in splits.values() for r in refs}
        common = Path(os.path.commonpath(sorted(files))) if files else root
        return Dataset(root, splits, kind="manifest", source=common)
    folders = find_split_folders(root)
    if folders:
        scans = {name: scan_split(folders[name]) for name in SPLIT_ORDER if name in folders}
        return Dataset(root, {n: s.refs for n, s in scans.items()}, kind="folder", scans=scans)
    if any(root.glob("*.parquet")) or any(root.glob("*/*.parquet")):
        from wikiart.data.sources import parquet_splits

        return Dataset(root, parquet_splits(root, style_names=style_names), kind="parquet")
    raise WikiartError(
        f"{display(root)} has no train/ or test/ folder and no parquet shards; expected "
        "<root>/train/<Style>/<image> and <root>/test/<Style>/<image>"
    )


def open_eval_split(
    data: str | os.PathLike[str],
    split: str = "test",
    checkpoint: str | os.PathLike[str] | None = None,
) -> tuple[Path, list[ImageRef]]:
    """For commands that work on one split: ``data`` is a split folder (``<Style>/<image>``) or a
    dataset root, whose ``split`` (default ``test/``) is then used. A root without a test split
    gives the test split the ``checkpoint``'s run carved for itself (``test_split.csv``)."""
    root = Path(data)
    if not root.is_dir():
        raise WikiartError(f"data folder not found: {display(root)}")
    if _is_split_folder(root):
        return root, scan_split(root).refs
    ds = open_dataset(root)
    if split == "test" and split not in ds.splits:
        from wikiart.data.resplit import run_test_split

        carved = run_test_split(checkpoint) if checkpoint is not None else None
        if carved is not None:
            log.info("test split: the %d images the run carved for itself", len(carved))
            return ds.cache_source, carved
        raise WikiartError(
            f"{display(root)} has no test split ({', '.join(sorted(ds.splits))} only): train "
            "with --test-fraction F to carve one, or re-split it with `wikiart data split`"
        )
    return ds.cache_source, ds.split(split)


def require_data(data: str | os.PathLike[str] | None) -> None:
    """A training job's first check: a dataset was named at all."""
    if data is None:
        raise WikiartError("no training data: pass --data DIR (or `data` in the config file)")
