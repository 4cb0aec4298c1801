"""Writing run files atomically: a temp file in the same folder, flushed and fsynced, then
``os.replace``. A crash or Ctrl-C mid-write leaves the previous file intact and no temp file
behind, so a run folder never holds half a ``metrics.json`` or half a checkpoint."""

from __future__ import annotations

import contextlib
import csv
import glob
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
        remove_stale_temps(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        text = mode == "w"
        kw: dict[str, Any] = {"encoding": encoding, "newline": ""} if text else {}
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that a process killed while writing ``path`` left beside it
    (``.NAME.PID.HEX.tmp`` whose PID is gone; a SIGKILL gives ``atomic_open`` no chance to
    clean up, and a half checkpoint can be gigabytes). Returns what was removed."""
    path = Path(path)
    removed = []
    with contextlib.suppress(OSError):
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            pid = tmp.name[len(path.name) + 2 : -4].split(".")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    removed.append(tmp)
    return removed


def save_figure(fig: Any, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """``fig.savefig`` written atomically (the format from the file's suffix): a full disk is a
    `WikiartError` naming the file and leaves the previous picture intact."""
    path = Path(path)
    fmt = savefig_kwargs.pop("format", None) or path.suffix.lstrip(".").lower() or "png"
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=fmt, **savefig_kwargs)
    return path


def save_image(image: Any, path: str | os.PathLike[str], **save_kwargs: Any) -> Path:
    """A PIL image saved atomically (the format from the file's suffix unless given)."""
    from PIL import Image

    path = Path(path)
    fmt = save_kwargs.pop("format", None) or Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise WikiartError(f"{path}: unknown image format {path.suffix!r} (use .png or .jpg)")
    with atomic_open(path, "wb") as fh:
        image.save(fh, format=fmt, **save_kwargs)
    return path


def make_dir(path: str | os.PathLike[str], what: str = "folder") -> Path:
    """``mkdir -p``, where a file in the way or a read-only disk is one line naming the path."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if (path.exists() and not path.is_dir()) or isinstance(exc, NotADirectoryError):
            raise WikiartError(f"cannot make the {what} {path}: a file is in the way") from None
        raise WikiartError(f"cannot make the {what} {path}: {exc.strerror or exc}") from None
    return path


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


#: The files that make a folder a training run: the best weights and the resumable state.
RUN_FILES = ("model.pt", "last.pt")
#: What ``--overwrite`` removes from a training run before the new one starts, so nothing of
#: the old run (its test metrics, its history) is mistaken for the new one's.
RUN_STATE = (*RUN_FILES, "history.csv", "metrics.json", "test_split.csv")


def guard_out(
    out: str | os.PathLike[str],
    markers: Sequence[str],
    what: str,
    *,
    overwrite: bool,
    resume: bool | None = None,
    remove: Sequence[str] = (),
) -> None:
    """Never replace earlier work silently: when ``out`` holds any of ``markers`` (files of an
    earlier ``what``), refuse with one line naming ``--overwrite`` (and ``--resume`` where the
    command has it) unless ``overwrite``; with it, delete ``remove`` first."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WikiartError(f"--out {out} is a file, not a folder")
    found = [m for m in markers if (out / m).exists()]
    if not found or resume:
        return
    if not overwrite:
        again = "--resume continues it, " if resume is not None else ""
        raise WikiartError(
            f"{out} already holds {what} ({', '.join(found)}); {again}--overwrite replaces it, "
            "or choose another --out"
        )
    for name in remove:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
