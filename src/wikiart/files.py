"""Writing run files atomically: a temp file in the same folder, flushed and fsynced, then
``os.replace``. A crash or Ctrl-C mid-write leaves the previous file intact and no temp file
behind, so a run folder never holds half a ``metrics.json`` or half a checkpoint."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from wikiart.errors import WikiartError


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where unsupported."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "w", *, encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """``with atomic_open(path) as fh: ...`` writes ``path`` all at once or not at all.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"``. The file gets the usual umask
    permissions (``os.open``, not ``mkstemp``'s 0600). An ``OSError`` (disk full, permission)
    becomes a `WikiartError` naming the file."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', got {mode!r}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        text = mode == "w"
        kw = {"encoding": encoding, "newline": ""} if text else {}
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise WikiartError(f"could not write {path}: {exc.strerror or exc}") from exc
        raise
    _fsync_dir(path.parent)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) atomically; returns the path."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def write_json(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = False) -> Path:
    """Write ``data`` as indented JSON with a final newline, atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


def write_csv(
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]],
    fieldnames: Sequence[str] | None = None,
    *,
    lineterminator: str = "\r\n",
) -> Path:
    """Write dict rows as CSV with a header (the first row's keys unless given; a key a row
    lacks is an empty cell), atomically."""
    names = list(fieldnames if fieldnames is not None else (rows[0] if rows else []))
    with atomic_open(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=names, restval="", lineterminator=lineterminator)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB blocks: how a run recognises a checkpoint it was trained
    with (or against) under any name."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
