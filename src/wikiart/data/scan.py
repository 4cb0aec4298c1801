"""Walking `<split>/<Style>/<image>` folders into `ImageRef`s, without decoding anything."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from wikiart.data.refs import ImageRef, display
from wikiart.errors import WikiartError

log = logging.getLogger(__name__)

#: Canonical split names, and the folder names accepted for each.
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "valid": ("valid", "val", "validation"),
    "test": ("test",),
}
#: Files that operating systems drop into folders; never images, never worth a warning.
JUNK_NAMES = frozenset({"Thumbs.db", "desktop.ini", "Icon\r"})


def is_ignored(name: str) -> bool:
    return name.startswith(".") or name in JUNK_NAMES


@dataclass
class SplitScan:
    """One split folder: refs sorted by (style, path), plus what did not fit the layout."""

    folder: Path
    refs: list[ImageRef] = field(default_factory=list)
    empty_styles: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)

    @property
    def styles(self) -> list[str]:
        return sorted({r.style for r in self.refs})


def _walk_files(folder: str) -> list[os.DirEntry[str]]:
    """Every non-hidden regular file below ``folder`` (style folders may nest sub-folders)."""
    out: list[os.DirEntry[str]] = []
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if is_ignored(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=True):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=True):
                    out.append(entry)
    return out


def scan_split(folder: str | os.PathLike[str]) -> SplitScan:
    """Scan one split folder laid out as ``<Style>/<image>``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WikiartError(f"not a folder: {display(folder)}")
    scan = SplitScan(folder=folder)
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if is_ignored(entry.name):
            continue
        if entry.is_dir(follow_symlinks=True):
            files = _walk_files(entry.path)
            if not files:
                scan.empty_styles.append(entry.name)
            for f in sorted(files, key=lambda e: e.path):
                st = f.stat(follow_symlinks=True)
                scan.refs.append(ImageRef(entry.name, f.path, st.st_size, st.st_mtime_ns))
        elif entry.is_file(follow_symlinks=True):
            scan.stray_files.append(entry.path)
    if scan.stray_files:
        log.warning(
            "%d file(s) directly in %s are outside any <Style>/ folder and are ignored",
            len(scan.stray_files),
            display(folder),
        )
    return scan


def scan_folder(folder: str | os.PathLike[str], label: str) -> list[ImageRef]:
    """Every non-hidden file below ``folder``, sorted by path, as refs filed under ``label`` (a
    folder of photos, not laid out by style); the image cache later skips what does not
    decode, with a warning."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WikiartError(f"not a folder: {display(folder)}")
    refs = []
    for f in sorted(_walk_files(os.fspath(folder)), key=lambda e: e.path):
        st = f.stat(follow_symlinks=True)
        refs.append(ImageRef(label, f.path, st.st_size, st.st_mtime_ns))
    if not refs:
        raise WikiartError(f"no files in {display(folder)}")
    return refs


def find_split_folders(root: str | os.PathLike[str]) -> dict[str, Path]:
    """The split folders of a dataset root, by canonical name (``train``, ``valid``, ``test``)."""
    root = Path(root)
    found: dict[str, Path] = {}
    for split, names in SPLIT_ALIASES.items():
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    return found
