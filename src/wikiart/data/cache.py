"""The preprocessing cache: every image decoded and resized once into a compact uint8 store.

Layout of one store (one per dataset source, image size and fit mode)::

    <cache_root>/<source-name>-<hash of its absolute path>/<size>-<fit>/
        pixels.u8    rows of size*size*3 bytes (HWC, RGB); ``np.memmap(..., shape=(-1, S, S, 3))``
        index.json   {key: [file size, mtime_ns, slot, bad reason or null]}
        lock         locked while building (a POSIX record lock: it dies with its holder, and
                     decode workers do not inherit it), so two processes never build one store

An entry is valid while its source file keeps the same size and mtime, so a changed dataset
re-decodes only what changed. Pixels are written before their entry is recorded and the index is
saved every few seconds, so an interrupted build resumes where it stopped. Reads use ``os.pread``
per image, never a mapping of the whole file, so a reader's memory does not grow with the dataset.
Decoding runs in worker processes (the platform's default start method; this module imports no
torch, so spawned workers start fast) with JPEG draft mode.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from wikiart.config import FITS
from wikiart.data.images import DEFAULT_MAX_PIXELS, Fit, decode_fitted
from wikiart.data.refs import ImageRef, display
from wikiart.errors import BadImageError, WikiartError
from wikiart.files import make_dir, write_text
from wikiart.processes import exclusive_lock, lock_timeout, worker_pool

log = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_FORMAT = 1
_SAVE_EVERY_S = 5.0


def default_cache_root() -> Path:
    """``$WIKIART_CACHE``, else ``$XDG_CACHE_HOME/wikiart``, else ``~/.cache/wikiart``."""
    if os.environ.get("WIKIART_CACHE"):
        return Path(os.environ["WIKIART_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wikiart"


def store_dir(
    source: str | os.PathLike[str],
    image_size: int,
    fit: Fit,
    cache_root: str | os.PathLike[str] | None = None,
) -> Path:
    """Where the store of ``source`` (a dataset root) at ``image_size``/``fit`` lives."""
    src = os.path.abspath(source)
    digest = hashlib.sha1(os.fsencode(src)).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(src.rstrip(os.sep)) or "root")[:40]
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    return root / f"{slug}-{digest}" / f"{image_size}-{fit}"


@dataclass
class BuildReport:
    """What one `ImageStore.build` did."""

    total: int = 0
    reused: int = 0
    decoded: int = 0
    bad: list[tuple[ImageRef, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.decoded / self.seconds if self.seconds > 0 else 0.0


def _decode_chunk(
    refs: Sequence[ImageRef], size: int, fit: Fit, max_pixels: int
) -> list[bytes | str]:
    """Worker: decode a chunk of images; a string result is the reason an image was rejected."""
    out: list[bytes | str] = []
    for ref in refs:
        try:
            data = ref.read_bytes()
            out.append(decode_fitted(data, size, fit, max_pixels).tobytes())
        except BadImageError as exc:
            out.append(str(exc))
        except Exception as exc:  # one odd file must never stop a build of thousands
            out.append(f"unreadable: {type(exc).__name__}: {exc}")
    return out


def _bounded_map(
    pool: Executor,
    fn: Callable[..., T],
    chunks: Sequence[Sequence[ImageRef]],
    args: tuple[Any, ...],
    window: int,
) -> Iterator[T]:
    """``pool.map`` in order, with at most ``window`` chunks in flight, so decoded pixels never
    pile up in memory faster than they are written."""
    pending: deque[Future[T]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(fn, chunk, *args))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _stat_matches(entry: list[Any], size: int, mtime_ns: int) -> bool:
    return bool(entry[0] == size and entry[1] == mtime_ns)


class ImageStore:
    """A uint8 image store on disk; see the module docstring for its layout."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        image_size: int,
        fit: Fit = "crop",
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        if fit not in FITS:
            raise WikiartError(f"fit must be one of {FITS}, got {fit!r}")
        if image_size < 8:
            raise WikiartError(f"image size must be at least 8 pixels, got {image_size}")
        self.dir = Path(directory)
        self.image_size = image_size
        self.fit: Fit = fit
        self.max_pixels = max_pixels
        self.row_bytes = image_size * image_size * 3
        self.pixels_path = self.dir / "pixels.u8"
        self.index_path = self.dir / "index.json"
        self.entries: dict[str, list[Any]] = {}
        self.rows = 0
        self._free: list[int] = []
        self._load_index()

    @classmethod
    def for_source(
        cls,
        source: str | os.PathLike[str],
        image_size: int,
        fit: Fit = "crop",
        cache_root: str | os.PathLike[str] | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> ImageStore:
        return cls(store_dir(source, image_size, fit, cache_root), image_size, fit, max_pixels)

    # -- index ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"format": CACHE_FORMAT, "image_size": self.image_size, "fit": self.fit}

    def _load_index(self) -> None:
        self.entries, self.rows = {}, 0
        if not self.index_path.exists():
            return
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
            if data.get("meta") != self._meta():
                log.warning("cache %s was written by another version; rebuilding", self.dir)
                return
            self.entries = data["entries"]
            self.rows = int(data["rows"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cache index %s is unreadable (%s); rebuilding", self.index_path, exc)
            self.entries, self.rows = {}, 0
        # Entries must point inside the pixel file actually on disk.
        on_disk = (
            self.pixels_path.stat().st_size // self.row_bytes if self.pixels_path.exists() else 0
        )
        self.rows = min(self.rows, on_disk)
        self.entries = {k: e for k, e in self.entries.items() if e[2] < 0 or e[2] < self.rows}

    def _save_index(self) -> None:
        payload = {"meta": self._meta(), "rows": self.rows, "entries": self.entries}
        write_text(self.index_path, json.dumps(payload, separators=(",", ":")))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The store's build lock: a POSIX record lock that decode workers do not inherit and
        that dies with its holder (`wikiart.processes.exclusive_lock`)."""
        make_dir(self.dir, "image cache folder")
        with exclusive_lock(self.dir / "lock", f"the image cache {self.dir.name}", lock_timeout()):
            self._load_index()  # another process may have built while we waited
            yield

    # -- queries --------------------------------------------------------------------------
    def is_current(self, ref: ImageRef) -> bool:
        entry = self.entries.get(ref.key)
        return entry is not None and _stat_matches(entry, ref.size, ref.mtime_ns)

    def slots(self, refs: Sequence[ImageRef]) -> tuple[np.ndarray, list[tuple[ImageRef, str]]]:
        """Slot of every usable ref (``-1`` for bad ones) and the bad refs with their reasons.

        Raises if a ref is not in the store or is stale: call `build` first."""
        slots = np.full(len(refs), -1, dtype=np.int64)
        bad: list[tuple[ImageRef, str]] = []
        for i, ref in enumerate(refs):
            entry = self.entries.get(ref.key)
            if entry is None or not _stat_matches(entry, ref.size, ref.mtime_ns):
                raise WikiartError(
                    f"{display(ref.key)} is not in the cache {self.dir}; build it first"
                )
            if entry[3] is None:
                slots[i] = entry[2]
            else:
                bad.append((ref, entry[3]))
        return slots, bad

    def read(self, slot: int, fd: int | None = None) -> np.ndarray:
        """One cached image as an ``S x S x 3`` uint8 array (a copy; nothing stays mapped)."""
        own = fd is None
        handle = os.open(self.pixels_path, os.O_RDONLY) if fd is None else fd
        try:
            buf = os.pread(handle, self.row_bytes, int(slot) * self.row_bytes)
        finally:
            if own:
                os.close(handle)
        if len(buf) != self.row_bytes:
            raise WikiartError(f"cache {self.pixels_path} is truncated at slot {slot}; rebuild it")
        s = self.image_size
        return np.frombuffer(buf, dtype=np.uint8).reshape(s, s, 3)

    # -- building -------------------------------------------------------------------------
    def _drop_stale(self, current: dict[str, ImageRef]) -> None:
        """Forget entries whose source changed or vanished, so their slots can be reused."""
        stale = []
        for key, entry in self.entries.items():
            ref = current.get(key)
            if ref is not None:
                if not _stat_matches(entry, ref.size, ref.mtime_ns):
                    stale.append(key)
                continue
            # Not asked for now (another split): keep it while its source file is unchanged.
            path = key if os.path.exists(key) or "#" not in key else key.rsplit("#", 1)[0]
            try:
                st = os.stat(path)
            except OSError:
                stale.append(key)
                continue
            if not _stat_matches(entry, st.st_size, st.st_mtime_ns):
                stale.append(key)
        for key in stale:
            del self.entries[key]

    def build(
        self,
        refs: Sequence[ImageRef],
        *,
        workers: int | None = None,
        chunk_size: int = 32,
        progress: bool = False,
        desc: str = "caching images",
    ) -> BuildReport:
        """Decode every ref that is missing or stale; reuse the rest. Safe to interrupt."""
        t0 = time.perf_counter()
        report = BuildReport(total=len(refs))
        with self._locked():
            current = {r.key: r for r in refs}
            self._drop_stale(current)
            todo = [r for r in current.values() if not self.is_current(r)]
            report.reused = len(current) - len(todo)
            if todo:
                self._save_index()  # stale entries are gone before their slots are reused
                self._decode_into(todo, workers, chunk_size, progress, desc)
            report.decoded = len(todo)
        report.bad = [(r, self.entries[r.key][3]) for r in refs if self.entries[r.key][3]]
        report.seconds = time.perf_counter() - t0
        return report

    def _free_slots(self) -> list[int]:
        """Slots below ``rows`` that no entry uses (left by changed or deleted images)."""
        used = np.zeros(self.rows, dtype=bool)
        for entry in self.entries.values():
            if entry[2] >= 0:
                used[entry[2]] = True
        free: list[int] = np.flatnonzero(~used).tolist()
        return free

    def _decode_into(
        self, todo: list[ImageRef], workers: int | None, chunk_size: int, progress: bool, desc: str
    ) -> None:
        # Decode in (path, row) order so parquet rows of one shard stay together.
        todo = sorted(todo, key=lambda r: (r.path, r.row))
        chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
        workers = min(workers or os.cpu_count() or 1, len(chunks))
        fd = os.open(self.pixels_path, os.O_RDWR | os.O_CREAT, 0o644)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc=desc, unit="img", dynamic_ncols=True)
        try:
            self._free = self._free_slots()[::-1]  # pop() hands out the lowest first
            last_save = time.monotonic()
            args = (self.image_size, self.fit, self.max_pixels)
            results: Iterator[list[bytes | str]]
            if workers <= 1:
                results = (_decode_chunk(c, *args) for c in chunks)
                self._write_results(fd, chunks, results, bar, last_save)
            else:
                with worker_pool(workers) as pool:
                    results = _bounded_map(pool, _decode_chunk, chunks, args, 4 * workers)
                    self._write_results(fd, chunks, results, bar, last_save)
        except OSError as exc:  # a full disk, an I/O error: what was saved stays usable
            why = exc.strerror or exc
            raise WikiartError(
                f"cannot write the image cache {display(self.pixels_path)}: {why}"
            ) from None
        finally:
            os.close(fd)
            if bar is not None:
                bar.close()
            self._save_index()

    def _allocate(self, fd: int) -> int:
        if self._free:
            return self._free.pop()
        self.rows += 1
        os.ftruncate(fd, self.rows * self.row_bytes)
        return self.rows - 1

    def _write_results(
        self,
        fd: int,
        chunks: list[list[ImageRef]],
        results: Iterable[list[bytes | str]],
        bar: Any,
        last_save: float,
    ) -> None:
        for chunk, result in zip(chunks, results, strict=True):
            for ref, res in zip(chunk, result, strict=True):
                if isinstance(res, bytes):
                    slot = self._allocate(fd)
                    os.pwrite(fd, res, slot * self.row_bytes)
                    self.entries[ref.key] = [ref.size, ref.mtime_ns, slot, None]
                else:
                    self.entries[ref.key] = [ref.size, ref.mtime_ns, -1, res]
            if bar is not None:
                bar.update(len(chunk))
            if time.monotonic() - last_save > _SAVE_EVERY_S:
                self._save_index()
                last_save = time.monotonic()
