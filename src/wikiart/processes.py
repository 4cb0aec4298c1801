"""Worker processes and locks that a crash cannot strand.

- `worker_pool`: a `ProcessPoolExecutor` whose workers die with the process that started them
  (Linux's parent-death signal, and a check at start for a parent already gone), so a killed
  command leaves no decode workers behind.
- `exclusive_lock`: a POSIX record lock (``fcntl.lockf``), which forked workers do not inherit
  and the kernel releases when its holder dies, so a lock never outlives its process. A process
  that has to wait says so within seconds, naming the holder's pid, and gives up after
  ``$WIKIART_LOCK_TIMEOUT`` seconds when that is set.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wikiart.data.refs import display
from wikiart.errors import WikiartError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
#: How often a waiting process repeats that it is waiting.
_SAY_EVERY_S = 60.0


def die_with_parent(parent: int) -> None:
    """Pool initializer: this worker is killed when ``parent`` dies (Linux), and exits now if
    it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the liveness check below still runs
            pass
    if os.getppid() != parent:
        os._exit(0)


def worker_pool(max_workers: int, **kwargs: Any) -> ProcessPoolExecutor:
    """A process pool whose workers do not outlive this process."""
    return ProcessPoolExecutor(
        max_workers=max_workers, initializer=die_with_parent, initargs=(os.getpid(),), **kwargs
    )


def lock_timeout() -> float | None:
    """``$WIKIART_LOCK_TIMEOUT`` in seconds (unset or empty: wait as long as it takes)."""
    value = os.environ.get("WIKIART_LOCK_TIMEOUT", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        raise WikiartError(
            f"WIKIART_LOCK_TIMEOUT must be a number of seconds, got {value!r}"
        ) from None


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return "another process"
    return f"pid {text}" if text.isdigit() else "another process"


@contextmanager
def exclusive_lock(
    path: str | os.PathLike[str], what: str, timeout: float | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block; the
    holder's pid is written into the file for whoever waits."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        t0 = time.monotonic()
        said = None
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
            waited = time.monotonic() - t0
            if timeout is not None and waited >= timeout:
                raise WikiartError(
                    f"{what} ({display(path)}) is locked by {_holder(fd)} and stayed locked "
                    f"for {timeout:g} s; try again when it is done"
                )
            if said is None or time.monotonic() - said >= _SAY_EVERY_S:
                log.warning(
                    "waiting for %s (%s), locked by %s%s", what, display(path), _holder(fd),
                    "" if timeout is None else f" (giving up after {timeout:g} s)",
                )  # fmt: skip
                said = time.monotonic()
            time.sleep(0.2)
        with contextlib.suppress(OSError):  # only a hint for whoever waits (a full disk too)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
