"""ArtGAN split CSVs as a dataset source: `read_artgan_csv` and `artgan_splits` give `ImageRef`s.

ArtGAN (cs-chan/ArtGAN, "WikiArt Dataset/Style") ships ``style_train.csv`` / ``style_val.csv``:
rows ``Style/file.jpg,class_index``, no header, CRLF, a few hundred names with non-ASCII (partly
garbled) characters. The literature reports results on ``style_val.csv``, so that file is our
*test* split. Images are matched to rows by their path relative to an image root; copies whose
non-ASCII characters were replaced by ``_`` (as in ``shared/data/wikiart-sample``) still match.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wikiart.data.refs import ImageRef, display
from wikiart.data.scan import SPLIT_ALIASES, is_ignored
from wikiart.errors import WikiartError

log = logging.getLogger(__name__)

#: Split names given to ArtGAN CSVs by position (``style_val.csv`` is the literature's test split).
CSV_SPLITS: tuple[str, ...] = ("train", "test", "valid")
#: Sub-folders of an image root that are split folders (``<root>/<split>/<Style>/<file>``).
_SPLIT_DIRS = frozenset(name for names in SPLIT_ALIASES.values() for name in names)
_BOM = b"\xef\xbb\xbf"
_EXAMPLES = 5


def _printable(text: str) -> str:
    """``text`` with undecodable bytes (surrogate escapes) shown as ``\\xNN``, safe to log."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _loose(text: str) -> str:
    """Every non-ASCII character (and undecodable byte) replaced by ``_``: how the sample's
    files were renamed, so this key matches them to the CSV's original names."""
    return "".join(c if c < "\x80" else "_" for c in text)


def _nfc(text: str) -> str:
    try:
        return unicodedata.normalize("NFC", text)
    except (TypeError, ValueError):  # pragma: no cover - normalize accepts surrogates today
        return text


def _unmojibake(text: str) -> str | None:
    """UTF-8 that was decoded as latin-1/cp1252 and re-encoded (``grÃ©goire``) -> ``grégoire``."""
    if text.isascii():
        return None
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text:
            return fixed
    return None


@dataclass
class _ImageIndex:
    """Every file below an image root, by relative ``Style/file`` key, built from one walk."""

    root: str
    exact: dict[str, str] = field(default_factory=dict)
    loose: dict[str, str] = field(default_factory=dict)
    count: int = 0

    @classmethod
    def build(cls, root: str | os.PathLike[str]) -> _ImageIndex:
        """Walk ``root`` once. Files under a top-level split folder (``train/``, ``test/``,
        ``valid/``...) are also indexed without that prefix, so CSV paths ``Style/file`` find them;
        a file at ``<root>/Style/file`` wins over a split copy, and earlier splits over later."""
        index = cls(os.fspath(root))
        direct: dict[str, str] = {}
        stripped: dict[str, str] = {}
        seen_dirs: set[tuple[int, int]] = set()
        stack: list[tuple[str, tuple[str, ...]]] = [(index.root, ())]
        while stack:
            folder, parts = stack.pop()
            try:
                st = os.stat(folder)
                if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop
                    continue
                seen_dirs.add((st.st_dev, st.st_ino))
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                log.warning("cannot list %s: %s", display(folder), exc)
                continue
            subdirs = []
            for entry in entries:
                if is_ignored(entry.name):
                    continue
                rel = (*parts, entry.name)
                if entry.is_dir(follow_symlinks=True):
                    subdirs.append((entry.path, rel))
                elif entry.is_file(follow_symlinks=True):
                    index.count += 1
                    direct.setdefault("/".join(rel), entry.path)
                    if len(rel) >= 3 and rel[0] in _SPLIT_DIRS:
                        stripped.setdefault("/".join(rel[1:]), entry.path)
            stack.extend(reversed(subdirs))  # depth-first, in sorted order
        for key, path in (*direct.items(), *stripped.items()):
            index.exact.setdefault(key, path)
        for key, path in list(index.exact.items()):
            nfc = _nfc(key)
            index.exact.setdefault(nfc, path)
            index.loose.setdefault(_loose(nfc), path)
            index.loose.setdefault(_loose(key), path)
        return index

    def find(self, rel: str) -> str | None:
        """The file for a CSV path: exact name first, then repaired/normalised forms."""
        candidates = [rel, _nfc(rel)]
        fixed = _unmojibake(rel)
        if fixed is not None:
            candidates += [fixed, _nfc(fixed)]
        for key in candidates:
            if key in self.exact:
                return self.exact[key]
        for key in candidates:
            hit = self.loose.get(_loose(key))
            if hit is not None:
                return hit
        return None


@dataclass(frozen=True)
class _Row:
    line: int
    rel: str
    label: int

    @property
    def style(self) -> str:
        return self.rel.split("/", 1)[0]


def _csv_rows(csv_path: Path) -> list[_Row]:
    """Parse ``Style/file.jpg,class_index`` rows. Decoding never fails (undecodable bytes are
    kept as surrogate escapes); the class index is after the *last* comma, since names may
    contain commas. A first line without an integer index is taken as a header and skipped."""
    if not csv_path.is_file():
        raise WikiartError(f"split CSV not found: {display(csv_path)}")
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise WikiartError(f"cannot read split CSV {display(csv_path)}: {exc}") from None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    rows: list[_Row] = []
    first = True
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        line = raw.strip()
        if not line:
            continue
        head, sep, tail = line.rpartition(b",")
        try:
            label = int(tail.strip()) if sep else None
        except ValueError:
            label = None
        if label is None:
            if first:
                first = False
                log.debug("%s: skipping header line %r", display(csv_path), line)
                continue
            raise WikiartError(
                f"{display(csv_path)}, line {lineno}: expected 'Style/file.jpg,class_index', "
                f"got {line.decode('utf-8', 'backslashreplace')!r}"
            )
        first = False
        head = head.strip()
        if len(head) >= 2 and head[:1] == head[-1:] == b'"':
            head = head[1:-1].replace(b'""', b'"')
        rel = head.decode("utf-8", "surrogateescape").replace("\\", "/")
        while rel.startswith(("./", "/")):
            rel = rel[2:] if rel.startswith("./") else rel[1:]
        if "/" not in rel:
            raise WikiartError(
                f"{display(csv_path)}, line {lineno}: {_printable(rel)!r} has no style folder "
                "(expected 'Style/file.jpg,class_index')"
            )
        rows.append(_Row(lineno, rel, label))
    if not rows:
        raise WikiartError(f"split CSV is empty: {display(csv_path)}")
    return rows


def _check_labels(rows: Sequence[_Row], source: str, seen: dict[str, tuple[int, str, int]]) -> None:
    """Each style folder must carry one class index (across all CSVs of a dataset): a clash
    means the CSVs do not belong together or the file is corrupt."""
    for row in rows:
        style = row.style
        prev = seen.setdefault(style, (row.label, source, row.line))
        if prev[0] != row.label:
            raise WikiartError(
                f"inconsistent class index for style folder {_printable(style)!r}: "
                f"{prev[0]} ({prev[1]}, line {prev[2]}) but {row.label} ({source}, line {row.line})"
            )


def _resolve_rows(
    rows: Sequence[_Row], index: _ImageIndex, source: str
) -> tuple[list[ImageRef], list[str]]:
    refs: list[ImageRef] = []
    missing: list[str] = []
    used: dict[str, int] = {}
    duplicates = 0
    for row in rows:
        real = index.find(row.rel)
        if real is None:
            missing.append(_printable(row.rel))
            continue
        if real in used:  # two rows (e.g. two garbled spellings) found the same file
            duplicates += 1
            continue
        try:
            st = os.stat(real)
        except OSError:
            missing.append(_printable(row.rel))
            continue
        used[real] = row.line
        refs.append(ImageRef(row.style, real, st.st_size, st.st_mtime_ns))
    if duplicates:
        log.warning("%s: %d row(s) matched a file already used by another row", source, duplicates)
    refs.sort(key=lambda r: (r.style, r.path))
    return refs, missing


def read_artgan_csv(
    csv_path: str | os.PathLike[str], image_root: str | os.PathLike[str]
) -> tuple[list[ImageRef], list[str]]:
    """The images of one ArtGAN split CSV that exist under ``image_root``, and the CSV paths that
    were not found (printable form). Style = the CSV path's folder, not its class index (ArtGAN's
    ``style_class.txt`` calls index 3 ``Art_Nouveau``, its folders say ``Art_Nouveau_Modern``).

    Refs are sorted by (style, path) and carry the file's real size and mtime.
    """
    root = Path(image_root)
    if not root.is_dir():
        raise WikiartError(f"image folder not found: {display(root)}")
    csv_path = Path(csv_path)
    rows = _csv_rows(csv_path)
    _check_labels(rows, csv_path.name, {})
    return _resolve_rows(rows, _ImageIndex.build(root), csv_path.name)


def _locate_csv(csv: str | os.PathLike[str], root: Path) -> Path:
    """A CSV path as given, or else relative to the image root (where ArtGAN keeps them)."""
    path = Path(csv)
    if not path.exists() and not path.is_absolute() and (root / path).is_file():
        return root / path
    return path


def artgan_splits(
    csvs: Sequence[str | os.PathLike[str]], image_root: str | os.PathLike[str]
) -> dict[str, list[ImageRef]]:
    """Splits from ArtGAN CSVs, by position: first -> ``train``, second -> ``test``, optional
    third -> ``valid``. ArtGAN's ``style_val.csv`` is what the literature reports as its test set,
    so pass ``style_train.csv,style_val.csv``.

    Rows whose image is absent under ``image_root`` are dropped with a warning (a partial copy of
    WikiArt is normal); a CSV that is missing, empty, or matches no image at all is an error.
    Relative CSV paths are tried as given, then relative to ``image_root``.
    """
    if isinstance(csvs, (str, os.PathLike)):
        csvs = [csvs]
    csvs = list(csvs)
    if not csvs:
        raise WikiartError("no split CSV given")
    if len(csvs) > len(CSV_SPLITS):
        raise WikiartError(
            f"at most {len(CSV_SPLITS)} split CSVs (train, test, valid), got {len(csvs)}"
        )
    root = Path(image_root)
    if not root.is_dir():
        raise WikiartError(f"image folder not found: {display(root)}")
    parsed = [(_locate_csv(c, root), split) for c, split in zip(csvs, CSV_SPLITS, strict=False)]
    all_rows = [(path, split, _csv_rows(path)) for path, split in parsed]
    seen: dict[str, tuple[int, str, int]] = {}
    for path, _split, rows in all_rows:
        _check_labels(rows, path.name, seen)
    index = _ImageIndex.build(root)
    splits: dict[str, list[ImageRef]] = {}
    for path, split, rows in all_rows:
        refs, missing = _resolve_rows(rows, index, path.name)
        if not refs:
            raise WikiartError(
                f"none of the {len(rows)} rows of {display(path)} were found under "
                f"{display(root)} ({index.count} files there; e.g. {missing[:3]}); the CSV paths "
                "are relative to the image folder: <root>/<Style>/<file> or "
                "<root>/<split>/<Style>/<file>"
            )
        if missing:
            log.warning(
                "%s: %d of %d rows not found under %s, e.g. %s",
                path.name,
                len(missing),
                len(rows),
                display(root),
                ", ".join(missing[:_EXAMPLES]),
            )
        splits[split] = refs
    return splits
