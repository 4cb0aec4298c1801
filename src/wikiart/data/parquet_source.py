"""Hugging Face parquet shards (``huggan/wikiart`` layout) as a dataset source: `parquet_splits`.

The shards hold the images themselves: one `ImageRef` per row (``path`` = shard, ``row`` = row
index), found by reading only the label column (class names from the shards' metadata or given).
`wikiart.data.parquet_rows` then fetches the image of one row.

pyarrow is imported lazily, so the rest of the package works without it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wikiart.data.parquet_rows import pyarrow_modules
from wikiart.data.refs import ImageRef, display
from wikiart.data.scan import SPLIT_ALIASES, is_ignored
from wikiart.errors import WikiartError

log = logging.getLogger(__name__)

#: Shard-name prefix (before the first ``-``) -> split.
_PARQUET_SPLITS: dict[str, str] = {
    alias: split for split, aliases in SPLIT_ALIASES.items() for alias in aliases
}


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


def _has_image(value: Any, shard_dir: str) -> bool:
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return True
        path: str | None = value.get("path")
        if not path:
            return False
        return any(os.path.isfile(c) for c in (path, os.path.join(shard_dir, path)))
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
    pa, pq = pyarrow_modules()
    folder = Path(folder)
    shards = find_shards(folder)
    if not shards:
        raise WikiartError(f"no *.parquet shards in {display(folder)} or its sub-folders")
    names: list[str] | None = list(style_names) if style_names is not None else None
    names_from: str = "style_names" if names is not None else ""
    splits: dict[str, list[ImageRef]] = {}
    for shard in shards:
        pf = _open_shard(shard, pa, pq, label_column, image_column)
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
        refs = splits.setdefault(shard_split(shard), [])
        refs += _shard_refs(
            shard, labels, present, None if named else names, names_from, label_column
        )
    splits = {name: refs for name, refs in splits.items() if refs}
    if not splits:
        raise WikiartError(f"no usable rows in the parquet shards of {display(folder)}")
    order = ("train", "valid", "test")
    return {name: splits[name] for name in sorted(splits, key=order.index)}


def _open_shard(shard: Path, pa: Any, pq: Any, label_column: str, image_column: str) -> Any:
    """``shard`` as a ``pyarrow.parquet.ParquetFile``, checked to have both columns."""
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
    return pf


def _shard_refs(
    shard: Path,
    labels: Sequence[int | str | None],
    present: Sequence[bool],
    names: Sequence[str] | None,
    names_from: str,
    label_column: str,
) -> list[ImageRef]:
    """One `ImageRef` per usable row of ``shard``, in row order. ``names`` maps integer labels
    to styles (None: the labels are style names); rows with no label or no image are skipped
    with a warning."""
    st = shard.stat()
    refs: list[ImageRef] = []
    skipped = 0
    for row, (label, ok) in enumerate(zip(labels, present, strict=True)):
        if label is None or label == -1 or not ok:
            skipped += 1
            continue
        if names is None:
            style = str(label)
        else:
            assert isinstance(label, int)
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
    return refs
