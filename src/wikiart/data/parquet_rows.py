"""Reading the image of one row of a parquet shard: `parquet_row_bytes`, which caches a few open
shards and the last row group read in each process, and `clear_parquet_cache`.

pyarrow is imported lazily, so the rest of the package works without it.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from wikiart.errors import BadImageError, WikiartError

PYARROW_MISSING = "reading parquet shards needs pyarrow: pip install 'wikiart[parquet]'"


def pyarrow_modules() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, imported on first use (the ``parquet`` extra)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise WikiartError(PYARROW_MISSING) from None
    return pa, pq


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
        pa, pq = pyarrow_modules()
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
    candidates: list[str] = [
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
    pa, _ = pyarrow_modules()
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
