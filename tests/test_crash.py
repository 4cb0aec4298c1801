"""Fault injection: a process killed with SIGKILL while it holds the cache's build lock, or in
the middle of a multi-worker cache build, leaves no lock and no worker behind; the next build
finishes (it does not wait on a dead holder); a process that must wait says who holds the lock
and can give up."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import child_pids, process_alive, write_image
from wikiart.errors import WikiartError
from wikiart.processes import exclusive_lock

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux processes")


def _holder(lock: Path, *, fork_child: bool) -> subprocess.Popen:
    """A process that takes the lock (and, with ``fork_child``, forks a child that keeps the
    inherited descriptor), prints "locked", then sleeps."""
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from wikiart.processes import exclusive_lock
        with exclusive_lock({str(lock)!r}, "the test lock"):
            if {fork_child!r} and os.fork() == 0:
                time.sleep(120)
                os._exit(0)
            print("locked", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_lock_dies_with_its_holder_not_with_its_forkedchild_pids(tmp_path):
    lock = tmp_path / "lock"
    proc = _holder(lock, fork_child=True)
    kids = child_pids(proc.pid)
    try:
        assert kids, "the holder forked no child"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert any(process_alive(k) for k in kids)  # the child still has the descriptor open
        t0 = time.monotonic()
        with exclusive_lock(lock, "the test lock", timeout=10):
            pass
        assert time.monotonic() - t0 < 5
    finally:
        for k in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(k, signal.SIGKILL)


def test_a_waiting_process_names_the_holder_and_can_give_up(tmp_path, caplog):
    lock = tmp_path / "lock"
    proc = _holder(lock, fork_child=False)
    try:
        caplog.set_level(logging.WARNING)
        t0 = time.monotonic()
        with (
            pytest.raises(WikiartError, match=f"locked by pid {proc.pid}"),
            exclusive_lock(lock, "the test lock", timeout=1.0),
        ):
            pass
        assert 1.0 <= time.monotonic() - t0 < 5
        assert "waiting for the test lock" in caplog.text and f"pid {proc.pid}" in caplog.text
    finally:
        proc.kill()
        proc.wait(timeout=10)
    with exclusive_lock(lock, "the test lock", timeout=5):  # its holder is gone: taken over
        pass


def _paintings(root: Path, n: int) -> Path:
    for i in range(n):
        style = ("Baroque", "Cubism")[i % 2]
        write_image(root / "train" / style / f"p{i}.jpg", seed=i, size=(640, 480))
    return root


#: ``python -c`` program: ``wikiart`` with a SIGKILL planted at the point ``$WIKIART_TEST_KILL``
#: names (as in test_crash_training): ``pixels:N`` right after the N-th image's pixels are written,
#: ``index:N`` right after the N-th save of the cache index, which is saved after every chunk
#: here instead of every few seconds. Just before the kill it prints the pids of its children
#: (the decode workers) on stderr.
CACHE_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import wikiart.data.cache as cache
    kind, _, count = os.environ["WIKIART_TEST_KILL"].partition(":")
    seen = [0]

    def die():
        me, kids = str(os.getpid()), []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        kids.append(entry)
            except (OSError, IndexError):
                pass
        print("children:", *kids, file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def tick():
        seen[0] += 1
        if seen[0] == int(count):
            die()

    if kind == "pixels":  # writes into the pixel file (the lock's pid is written so too)
        real_pwrite = os.pwrite

        def pwrite(fd, data, offset):
            out = real_pwrite(fd, data, offset)
            if os.readlink(f"/proc/self/fd/{fd}").endswith("pixels.u8"):
                tick()
            return out

        os.pwrite = pwrite
    else:
        cache._SAVE_EVERY_S = 0.0
        real_save = cache.ImageStore._save_index

        def save_index(store):
            real_save(store)
            tick()

        cache.ImageStore._save_index = save_index
    from wikiart.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _killed_build(base: list[str], env: dict[str, str], point: str, log: Path) -> list[int]:
    """Run ``wikiart BASE`` killed at ``point``; the pids of the children it had then. Its
    output goes to the file ``log``, not a pipe, which a stranded worker would hold open."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", CACHE_KILLER, *base], env={**env, "WIKIART_TEST_KILL": point},
            stdout=out, stderr=out,
        )  # fmt: skip
        assert proc.wait(timeout=300) == -signal.SIGKILL, log.read_text()[-2000:]
    line = [ln for ln in log.read_text().splitlines() if ln.startswith("children:")]
    assert len(line) == 1, log.read_text()[-2000:]
    return [int(pid) for pid in line[0].split()[1:]]


def test_a_killed_multi_worker_cache_build_strands_nothing(tmp_path):
    """SIGKILL the parent of a 2-worker `wikiart data cache` while its workers are decoding
    (after its 40th image, in the second of 8 chunks): the workers die with it, and the next
    build finishes (within the lock timeout) and caches every image."""
    root = _paintings(tmp_path / "ds", 240)
    env = {**os.environ, "WIKIART_CACHE": str(tmp_path / "cache"), "WIKIART_LOCK_TIMEOUT": "30"}
    base = ["--no-progress", "data", "cache", str(root), "--workers", "2", "--image-size", "32"]
    workers = _killed_build(base, env, "pixels:40", tmp_path / "killed.log")
    assert len(workers) == 2, workers
    t0 = time.monotonic()
    while any(process_alive(w) for w in workers) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert not any(process_alive(w) for w in workers), "decode workers outlived their parent"
    cmd = [sys.executable, "-m", "wikiart", *base]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "240 images" in done.stdout and "0 unusable" in done.stdout


def _pixels(cache: Path, root: Path) -> dict[str, bytes]:
    """Every image's cached pixels, by file."""
    from wikiart.data.cache import ImageStore
    from wikiart.data.dataset import open_dataset

    refs = open_dataset(root).split("train")
    store = ImageStore.for_source(root, 32, "crop", cache)
    slots, bad = store.slots(refs)
    assert not bad and (slots >= 0).all() and (slots < store.rows).all()
    return {r.key: store.read(int(s)).tobytes() for r, s in zip(refs, slots, strict=True)}


def test_a_killed_cache_build_resumes_from_its_last_save_with_the_same_pixels(tmp_path):
    """SIGKILL a build right after it saved its index for the third time (before decoding,
    then after each of the first two 32-image chunks): the next build reuses exactly the 64
    saved images and the store ends identical to an uninterrupted build's."""
    import json

    root = _paintings(tmp_path / "ds", 240)
    base = ["--no-progress", "data", "cache", str(root), "--workers", "2", "--image-size", "32"]
    env = {**os.environ, "WIKIART_CACHE": str(tmp_path / "ref")}
    subprocess.run([sys.executable, "-m", "wikiart", *base], env=env, check=True, timeout=300)
    reference = _pixels(tmp_path / "ref", root)

    env["WIKIART_CACHE"] = str(tmp_path / "crash")
    _killed_build(base, env, "index:3", tmp_path / "killed.log")
    (index,) = (tmp_path / "crash").rglob("index.json")
    assert len(json.loads(index.read_text())["entries"]) == 64
    done = subprocess.run(
        [sys.executable, "-m", "wikiart", *base], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "240 images, 64 reused, 176 decoded" in done.stdout, done.stdout
    assert _pixels(tmp_path / "crash", root) == reference


def test_a_full_disk_during_a_cache_build_is_one_line_and_keeps_the_saved_index(
    tmp_path, monkeypatch, capsys
):
    """ENOSPC on a pixel write: `wikiart data cache` exits 2 with one line naming the file, and
    the images cached before stay cached (the next build reuses them)."""
    import errno

    from wikiart.cli import main

    root = _paintings(tmp_path / "ds", 12)
    monkeypatch.setenv("WIKIART_CACHE", str(tmp_path / "cache"))
    first = sorted((root / "train" / "Baroque").iterdir())[3:]
    for p in first:  # half the images arrive later
        p.rename(p.with_suffix(".later"))
    argv = ["--no-progress", "data", "cache", str(root), "--workers", "1", "--image-size", "32"]
    assert main(argv) == 0
    capsys.readouterr()
    for p in first:
        p.with_suffix(".later").rename(p)
    real = os.pwrite

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "pixels.u8" in err[0]
    monkeypatch.setattr(os, "pwrite", real)
    assert main(argv) == 0
    assert "9 reused" in capsys.readouterr().out  # the images cached before the full disk


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_previous_one(
    tmp_path, monkeypatch, capsys
):
    """ENOSPC while a training run writes its checkpoint: one line naming the file, exit 2, and
    the ``model.pt`` already there is untouched."""
    import errno

    import torch

    from wikiart.cli import main

    root = tmp_path / "ds"
    for i in range(12):
        style = ("Dark", "Bright")[i % 2]
        for split in ("train", "test"):
            write_image(root / split / style / f"{split}{i}.png", seed=i, fmt="PNG")
    run = tmp_path / "run"
    argv = [
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(run),
        "--arch", "baseline-cnn", "--image-size", "16", "--batch-size", "8", "--epochs", "2",
        "--workers", "0",
    ]  # fmt: skip
    import wikiart.train.loop as loop

    real, calls = loop._evaluate, []

    def stopped_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_evaluate", stopped_in_epoch_2)
    assert main(argv) == 130  # epoch 1 saved: model.pt and last.pt
    monkeypatch.setattr(loop, "_evaluate", real)
    before = (run / "model.pt").read_bytes()
    capsys.readouterr()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    assert main([*argv, "--resume"]) == 2  # epoch 2's save (model.pt if best, else last.pt)
    lines = capsys.readouterr().err.strip().splitlines()
    err = [line for line in lines if not line.startswith("wikiart: INFO")]  # the log goes on
    assert len(err) == 1 and err[0].startswith("wikiart: error: "), lines
    assert "No space left on device" in err[0] and ("model.pt" in err[0] or "last.pt" in err[0])
    assert not any("Traceback" in line for line in lines)
    assert (run / "model.pt").read_bytes() == before
    assert not list(run.glob(".*.tmp"))  # no half-written temporary file left behind
