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

from conftest import write_image
from wikiart.errors import WikiartError
from wikiart.processes import exclusive_lock

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux processes")


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


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


def test_a_lock_dies_with_its_holder_not_with_its_forked_children(tmp_path):
    lock = tmp_path / "lock"
    proc = _holder(lock, fork_child=True)
    kids = _children(proc.pid)
    try:
        assert kids, "the holder forked no child"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert any(_alive(k) for k in kids)  # the child still has the descriptor open
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


def test_a_killed_multi_worker_cache_build_strands_nothing(tmp_path):
    """SIGKILL the parent of a 2-worker `wikiart data cache` once its workers are decoding: the
    workers die with it, and the next build finishes (within the lock timeout) and caches
    every image."""
    root = _paintings(tmp_path / "ds", 240)
    env = {**os.environ, "WIKIART_CACHE": str(tmp_path / "cache"), "WIKIART_LOCK_TIMEOUT": "30"}
    cmd = [sys.executable, "-m", "wikiart", "--no-progress", "data", "cache", str(root),
           "--workers", "2", "--image-size", "32"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= 2:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the build finished before its workers could be seen")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    t0 = time.monotonic()
    while any(_alive(w) for w in workers) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "decode workers outlived their parent"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "240 images" in done.stdout and "0 unusable" in done.stdout
