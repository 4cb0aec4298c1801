"""Extra dataset sources: ArtGAN split CSVs and Hugging Face parquet shards, as `ImageRef`s.

ArtGAN (cs-chan/ArtGAN, "WikiArt Dataset/Style") ships ``style_train.csv`` / ``style_val.csv``:
rows ``Style/file.jpg,class_index``, no header, CRLF, a few hundred names with non-ASCII (partly
garbled) characters. The literature reports results on ``style_val.csv``, so that file is our
*test* split. Images are matched to rows by their path relative to an image root; copies whose
non-ASCII characters were replaced by ``_`` (as in ``shared/data/wikiart-sample``) still match.

Parquet shards (``huggan/wikiart`` layout) hold the images themselves: one `ImageRef` per row
(``path`` = shard, ``row`` = row index), found by reading only the label column.
`parquet_row_bytes` then fetches one image, caching the last row group read in each process.

pyarrow is imported lazily, so the CSV reader and the rest of the package work without it.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wikiart.data.refs import ImageRef, display
from wikiart.data.scan import SPLIT_ALIASES, is_ignored
from wikiart.errors import BadImageError, WikiartError

log = logging.getLogger(__name__)

#: Split names given to ArtGAN CSVs by position (``style_val.csv`` is the literature's test split).
CSV_SPLITS: tuple[str, ...] = ("train", "test", "valid")
#: Sub-folders of an image root that are split folders (``<root>/<split>/<Style>/<file>``).
_SPLIT_DIRS = frozenset(name for names in SPLIT_ALIASES.values() for name in names)
_BOM = b"\xef\xbb\xbf"
_EXAMPLES = 5

PYARROW_MISSING = "reading parquet shards needs pyarrow: pip install 'wikiart[parquet]'"


# --------------------------------------------------------------------------------------------
# ArtGAN CSVs
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Parquet shards
# --------------------------------------------------------------------------------------------

#: Shard-name prefix (before the first ``-``) -> split.
_PARQUET_SPLITS: dict[str, str] = {
    alias: split for split, aliases in SPLIT_ALIASES.items() for alias in aliases
}


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise WikiartError(PYARROW_MISSING) from None
    return pa, pq


def find_shards(folder: str | os.PathLike[str]) -> list[Path]:
    """``*.parquet`` directly in ``folder`` and one level down (HF puts them under ``data/``)."""
    folder = Path(folder)
    found = [*folder.glob("*.parquet"), *folder.glob("*/*.parquet")]
    return sorted(p for p in found if not any(is_ignored(part) for part in p.parts[-2:]))


def shard_split(shard: str | os.PathLike[str]) -> str:
    """Split of a shard from its name (``train-00000-of-00072.parquet`` -> ``train``), else from
    its folder (``train/0000.parquet``); ``validation``/``val`` -> ``valid``; default ``train``."""
    path = Path(shard)
    prefix = path.name.split("-", 1)[0].removesuffix(".parquet").lower()
    if prefix in _PARQUET_SPLITS:
        return _PARQUET_SPLITS[prefix]
    return _PARQUET_SPLITS.get(path.parent.name.lower(), "train")


def _feature_names(feature: Any) -> list[str] | None:
    """Class names of one HF feature, in any layout ``datasets`` has written."""
    if not isinstance(feature, dict):
        return None
    names = feature.get("names")
    if isinstance(names, list):
        return [str(n) for n in names]
    if isinstance(names, dict):  # {"0": "Abstract_Expressionism", ...}
        try:
            ordered = sorted(names.items(), key=lambda kv: int(kv[0]))
        except (TypeError, ValueError):
            return None
        if [int(k) for k, _ in ordered] != list(range(len(ordered))):
            return None
        return [str(v) for _, v in ordered]
    for key in ("class_label", "dtype", "feature"):
        inner = _feature_names(feature.get(key))
        if inner is not None:
            return inner
    return None


def style_names_from_metadata(
    metadata: dict[bytes, bytes] | None, column: str = "style"
) -> list[str] | None:
    """Class names of ``column`` from the ``huggingface`` schema metadata of a shard, if any."""
    if not metadata or b"huggingface" not in metadata:
        return None
    try:
        info = json.loads(metadata[b"huggingface"])
    except (ValueError, UnicodeDecodeError):
        return None
    features = info.get("info", {}).get("features") if isinstance(info, dict) else None
    if features is None and isinstance(info, dict):
        features = info.get("features")
    if isinstance(features, dict):
        return _feature_names(features.get(column))
    if isinstance(features, list):  # [{"name": "style", "dtype": {"class_label": {...}}}, ...]
        for feature in features:
            if isinstance(feature, dict) and feature.get("name") == column:
                return _feature_names(feature)
    return None


def _image_leaf(image_type: Any, pa: Any, image_column: str) -> str | None:
    """The parquet leaf column holding the image bytes (``image.bytes``), if there is one."""
    if pa.types.is_struct(image_type):
        return f"{image_column}.bytes" if image_type.get_field_index("bytes") >= 0 else None
    return image_column


def _row_image(value: Any, shard_dir: str) -> bytes | None:
    """Image bytes of one row value (a struct dict or plain bytes), or those of its ``path``."""
    if isinstance(value, dict):
        data = value.get("bytes")
        if data:
            return bytes(data)
        path = value.get("path")
        if path:
            for candidate in (path, os.path.join(shard_dir, path)):
                if os.path.isfile(candidate):
                    with open(candidate, "rb") as fh:
                        return fh.read()
        return None
    return bytes(value) if value else None


def _has_image(value: Any, shard_dir: str) -> bool:
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return True
        path = value.get("path")
        return bool(path) and any(os.path.isfile(c) for c in (path, os.path.join(shard_dir, path)))
    return value is not None


def _image_present(pf: Any, pa: Any, image_column: str, shard: Path) -> list[bool]:
    """Which rows have an image, reading image bytes only for row groups whose statistics say
    some are null (normally none: the statistics answer alone)."""
    meta = pf.metadata
    leaf = _image_leaf(pf.schema_arrow.field(image_column).type, pa, image_column)
    leaf_idx = next(
        (i for i in range(meta.num_columns) if meta.schema.column(i).path == leaf), None
    )
    present: list[bool] = []
    for rg in range(meta.num_row_groups):
        n = meta.row_group(rg).num_rows
        stats = meta.row_group(rg).column(leaf_idx).statistics if leaf_idx is not None else None
        if stats is not None and stats.has_null_count and stats.null_count == 0:
            present.extend([True] * n)
            continue
        values = pf.read_row_group(rg, columns=[image_column]).column(0).to_pylist()
        present.extend(_has_image(v, str(shard.parent)) for v in values)
    return present


def _shard_labels(pf: Any, pa: Any, label_column: str) -> tuple[list[int | str | None], bool]:
    """The label column of a shard (nothing else is read), and whether it holds names."""
    column = pf.read(columns=[label_column]).column(0)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_integer(column.type):
        return column.to_pylist(), False
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_pylist(), True
    raise WikiartError(
        f"label column {label_column!r} has type {column.type}; expected integer class indices "
        "or style names"
    )


def parquet_splits(
    folder: str | os.PathLike[str],
    style_names: Sequence[str] | None = None,
    label_column: str = "style",
    image_column: str = "image",
) -> dict[str, list[ImageRef]]:
    """Splits from the parquet shards in ``folder`` (or its sub-folders, e.g. ``data/``).

    One `ImageRef` per row (``path`` = shard, ``row`` = index in the shard), in shard and row
    order, so decoding reads each row group once. Only the label column is read; image bytes stay
    on disk. Class names come from ``style_names`` or the shards' Hugging Face metadata. Rows with
    a null label (or ``-1``, the HF "no label" value) or no image are skipped with a warning.
    """
    pa, pq = _pyarrow()
    folder = Path(folder)
    shards = find_shards(folder)
    if not shards:
        raise WikiartError(f"no *.parquet shards in {display(folder)} or its sub-folders")
    names: list[str] | None = list(style_names) if style_names is not None else None
    names_from: str = "style_names" if names is not None else ""
    splits: dict[str, list[ImageRef]] = {}
    for shard in shards:
        try:
            pf = pq.ParquetFile(shard)
        except (OSError, pa.ArrowException) as exc:
            raise WikiartError(f"cannot read parquet shard {display(shard)}: {exc}") from None
        columns = pf.schema_arrow.names
        for col, what in ((label_column, "label"), (image_column, "image")):
            if col not in columns:
                raise WikiartError(
                    f"{display(shard)} has no {what} column {col!r} (columns: {columns})"
                )
        meta_names = style_names_from_metadata(pf.schema_arrow.metadata, label_column)
        if style_names is None and meta_names is not None:
            if names is None:
                names, names_from = meta_names, shard.name
            elif meta_names != names:
                raise WikiartError(
                    f"{display(shard)} names its {label_column!r} classes differently from "
                    f"{names_from}; are these shards of one dataset?"
                )
        try:
            labels, named = _shard_labels(pf, pa, label_column)
            present = _image_present(pf, pa, image_column, shard)
        except pa.ArrowException as exc:
            raise WikiartError(f"cannot read parquet shard {display(shard)}: {exc}") from None
        if not named and names is None:
            raise WikiartError(
                f"{display(shard)} has integer {label_column!r} labels but no class names in its "
                "metadata; pass the style names (style_names=..., in label order)"
            )
        st = shard.stat()
        refs = splits.setdefault(shard_split(shard), [])
        skipped = 0
        for row, (label, ok) in enumerate(zip(labels, present, strict=True)):
            if label is None or label == -1 or not ok:
                skipped += 1
                continue
            if named:
                style = str(label)
            else:
                assert names is not None and isinstance(label, int)
                if not 0 <= label < len(names):
                    raise WikiartError(
                        f"{display(shard)}, row {row}: {label_column} label {label} is out of "
                        f"range for {len(names)} style names (from {names_from})"
                    )
                style = names[label]
            refs.append(ImageRef(style, str(shard), st.st_size, st.st_mtime_ns, row))
        if skipped:
            log.warning(
                "%s: skipped %d of %d rows with no label or no image",
                display(shard),
                skipped,
                len(labels),
            )
    splits = {name: refs for name, refs in splits.items() if refs}
    if not splits:
        raise WikiartError(f"no usable rows in the parquet shards of {display(folder)}")
    order = ("train", "valid", "test")
    return {name: splits[name] for name in sorted(splits, key=order.index)}


@dataclass
class _OpenShard:
    stat: tuple[int, int]
    file: Any  # pyarrow.parquet.ParquetFile
    starts: list[int]  # first row of each row group, then the row count
    column: str


class _RowReader:
    """Per-process cache: a few open shards (with their row-group offsets) and the last row
    group read, so consecutive rows cost one row-group read instead of one file open each."""

    MAX_SHARDS = 4

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.shards: OrderedDict[str, _OpenShard] = OrderedDict()
        self.group: tuple[str, tuple[int, int], int, Any] | None = None

    def _shard(self, path: str, image_column: str | None) -> _OpenShard:
        st = os.stat(path)
        stat = (st.st_size, st.st_mtime_ns)
        cached = self.shards.get(path)
        if cached is not None and cached.stat == stat:
            self.shards.move_to_end(path)
            return cached
        pa, pq = _pyarrow()
        pf = pq.ParquetFile(path)
        meta = pf.metadata
        starts = [0]
        for rg in range(meta.num_row_groups):
            starts.append(starts[-1] + meta.row_group(rg).num_rows)
        column = image_column or _guess_image_column(pf.schema_arrow, pa)
        opened = _OpenShard(stat, pf, starts, column)
        self.shards[path] = opened
        while len(self.shards) > self.MAX_SHARDS:
            _, old = self.shards.popitem(last=False)
            close = getattr(old.file, "close", None)
            if close is not None:
                close()
        return opened

    def read(self, path: str, row: int, image_column: str | None) -> bytes:
        with self.lock:
            shard = self._shard(path, image_column)
            total = shard.starts[-1]
            if not 0 <= row < total:
                raise BadImageError("unreadable", f"row {row} out of range ({total} rows)")
            rg = bisect.bisect_right(shard.starts, row) - 1
            group = self.group
            if group is None or group[:3] != (path, shard.stat, rg):
                table = shard.file.read_row_group(rg, columns=[shard.column])
                group = (path, shard.stat, rg, table.column(0))
                self.group = group
            value = group[3][row - shard.starts[rg]].as_py()
        data = _row_image(value, os.path.dirname(path))
        if data is None:
            raise BadImageError("empty", f"no image bytes in row {row}")
        return data


def _guess_image_column(schema: Any, pa: Any) -> str:
    """``image`` if present, else the one struct-with-``bytes`` or binary column."""
    if "image" in schema.names:
        return "image"
    candidates = [
        f.name
        for f in schema
        if (pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0)
        or pa.types.is_binary(f.type)
        or pa.types.is_large_binary(f.type)
    ]
    if len(candidates) != 1:
        raise BadImageError("unreadable", f"cannot tell the image column among {schema.names}")
    return candidates[0]


_reader: _RowReader | None = None


def parquet_row_bytes(shard: str, row: int, image_column: str | None = None) -> bytes:
    """The encoded image of row ``row`` of ``shard`` (only the image column is read).

    Decode workers call this for rows in order; the last row group read is cached per process.
    A row whose ``bytes`` is null falls back to its ``path`` (absolute, or relative to the shard).
    Raises `BadImageError` for rows without an image or unreadable shards, OSError for I/O errors.
    """
    global _reader
    if _reader is None or _reader.pid != os.getpid():  # fresh cache in a forked worker
        _reader = _RowReader()
    pa, _ = _pyarrow()
    try:
        return _reader.read(os.fspath(shard), row, image_column)
    except pa.ArrowException as exc:
        if isinstance(exc, OSError):
            raise
        raise BadImageError("unreadable", f"{type(exc).__name__}: {exc}") from None


def clear_parquet_cache() -> None:
    """Drop cached shards and row groups (tests; or to release memory after a decode pass)."""
    global _reader
    _reader = None
