"""`ImageRef`: one image of a dataset, wherever its bytes live (a file or a parquet row)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where one image lives and which style it is filed under.

    ``path`` is a file, or a parquet shard when ``row >= 0``. ``size`` and ``mtime_ns`` are those of
    that file: together with ``key`` they decide whether a cached decode is still valid.
    """

    style: str
    path: str
    size: int
    mtime_ns: int
    row: int = -1

    @property
    def key(self) -> str:
        """Stable identity of the image (its path, plus the row for parquet shards)."""
        return self.path if self.row < 0 else f"{self.path}#{self.row}"

    @property
    def name(self) -> str:
        return (
            os.path.basename(self.path)
            if self.row < 0
            else f"{os.path.basename(self.path)}#{self.row}"
        )

    def read_bytes(self) -> bytes:
        if self.row < 0:
            with open(self.path, "rb") as fh:
                return fh.read()
        from wikiart.data.parquet_rows import parquet_row_bytes

        return parquet_row_bytes(self.path, self.row)


def display(path: str | os.PathLike[str]) -> str:
    """A printable form of a path, even when its name is not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
