"""Walking `<split>/<Style>/<image>` folders into `ImageRef`s, without decoding anything."""

from __future__ import annotations

import contextlib
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
    #: folders not entered: links back into folders already scanned (loops), unreadable ones
    skipped_folders: list[str] = field(default_factory=list)

    @property
    def styles(self) -> list[str]:
        return sorted({r.style for r in self.refs})


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the folder ``path`` leads to, following links; None if unreadable."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _ancestry(folder: Path) -> set[tuple[int, int]]:
    """Folders a split's scan must never enter: the split itself, the dataset root above it and
    the root's other folders (the other splits), so a link back up cannot pull them in."""
    found = [_identity(os.fspath(folder)), _identity(os.fspath(folder.parent))]
    with contextlib.suppress(OSError), os.scandir(folder.parent) as it:
        found += [_identity(e.path) for e in it if _is_dir(e)]
    return {i for i in found if i is not None}


def _walk_files(
    folder: str, visited: set[tuple[int, int]], skipped: list[str]
) -> list[os.DirEntry[str]]:
    """Every non-hidden regular file below ``folder`` (style folders may nest sub-folders).
    A folder reached again (a symlink looping back to the dataset, or to a folder already
    scanned) is not entered twice: it goes to ``skipped``, as does a folder that cannot be
    read. ``visited`` holds the (device, inode) of every folder entered so far."""
    out: list[os.DirEntry[str]] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except OSError as exc:
            skipped.append(f"{current} (unreadable: {exc.strerror or exc})")
            continue
        for entry in entries:
            if is_ignored(entry.name):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
                is_file = not is_dir and entry.is_file(follow_symlinks=True)
            except OSError:  # a link loop the kernel refuses to resolve
                skipped.append(f"{entry.path} (a symbolic link that loops)")
                continue
            if is_dir:
                ident = _identity(entry.path)
                if ident is None or ident in visited:
                    skipped.append(f"{entry.path} (a link to a folder already scanned)")
                    continue
                visited.add(ident)
                stack.append(entry.path)
            elif is_file:
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
    visited = _ancestry(folder)
    styles = {}  # style folder -> its identity (a link to a folder already seen is no style)
    for entry in entries:
        if not is_ignored(entry.name) and _is_dir(entry):
            ident = _identity(entry.path)
            if ident is None or ident in visited:
                scan.skipped_folders.append(f"{entry.path} (a link to a folder already scanned)")
            else:
                visited.add(ident)
                styles[entry.name] = ident
    for entry in entries:
        if is_ignored(entry.name):
            continue
        if _is_dir(entry):
            if entry.name not in styles:
                continue
            files = _walk_files(entry.path, visited, scan.skipped_folders)
            if not files:
                scan.empty_styles.append(entry.name)
            for f in sorted(files, key=lambda e: e.path):
                st = f.stat(follow_symlinks=True)
                scan.refs.append(ImageRef(entry.name, f.path, st.st_size, st.st_mtime_ns))
        elif _is_file(entry):
            scan.stray_files.append(entry.path)
    if scan.skipped_folders:
        log.warning(
            "%d folder(s) in %s not scanned (a symbolic link back into the dataset, or "
            "unreadable), e.g. %s",
            len(scan.skipped_folders),
            display(folder),
            display(scan.skipped_folders[0]),
        )
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
    refs: list[ImageRef] = []
    skipped: list[str] = []
    visited = {i for i in [_identity(os.fspath(folder))] if i is not None}
    for f in sorted(_walk_files(os.fspath(folder), visited, skipped), key=lambda e: e.path):
        st = f.stat(follow_symlinks=True)
        refs.append(ImageRef(label, f.path, st.st_size, st.st_mtime_ns))
    if skipped:
        log.warning("%d folder(s) below %s not scanned, e.g. %s", len(skipped),
                    display(folder), display(skipped[0]))  # fmt: skip
    if not refs:
        raise WikiartError(f"no files in {display(folder)}")
    return refs


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file(follow_symlinks=True)
    except OSError:
        return False


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
