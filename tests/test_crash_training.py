"""Fault injection on training runs and their outputs: a real ``wikiart train classifier``
process killed with SIGKILL mid-epoch and half-way through writing a checkpoint resumes to the
same weights as a run never interrupted; a full disk (``ENOSPC`` on every write) while saving
``last.pt``, an evaluation's outputs or the embedding cache is one line naming the file and
keeps what was there before."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import child_pids, dark_bright, process_alive
from wikiart.checkpoints import load_checkpoint

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux processes")

#: ``python -c`` program: the CLI, with a SIGKILL planted at the point ``$WIKIART_TEST_KILL``
#: names: ``step:N`` after the N-th optimizer step, ``write:NAME:K`` half-way through the K-th
#: write of checkpoint NAME (half its bytes on disk, flushed, then killed).
KILLER = textwrap.dedent(
    """
    import io, os, signal, sys
    import torch
    kind, _, arg = os.environ["WIKIART_TEST_KILL"].partition(":")

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if kind == "step":
        from torch.optim.optimizer import register_optimizer_step_post_hook
        steps = [0]

        def hook(optimizer, args, kwargs):
            steps[0] += 1
            if steps[0] == int(arg):
                die()

        register_optimizer_step_post_hook(hook)
    else:
        name, count = arg.split(":")
        real, seen = torch.save, [0]

        def save(obj, f, *args, **kwargs):
            target = os.path.basename(os.readlink(f"/proc/self/fd/{f.fileno()}"))
            if target.startswith(f".{name}."):
                seen[0] += 1
                if seen[0] == int(count):
                    buf = io.BytesIO()
                    real(obj, buf, *args, **kwargs)
                    f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                    die()
            return real(obj, f, *args, **kwargs)

        torch.save = save
    from wikiart.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return dark_bright(tmp_path_factory.mktemp("crash-data"), {"train": 12, "test": 4})


def _argv(data: Path, run: Path, *extra: str, epochs: int = 3) -> list[str]:
    return [
        "--no-progress", "train", "classifier", "--data", str(data), "--out", str(run),
        "--arch", "baseline-cnn", "--image-size", "16", "--batch-size", "6",
        "--epochs", str(epochs), "--workers", "2", "--val-fraction", "0.25", "--seed", "0",
        *extra,
    ]  # fmt: skip


def _env(cache: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "WIKIART_CACHE": str(cache), "OMP_NUM_THREADS": "1", **extra}


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    """The same run, never interrupted, in its own process."""
    run = tmp_path_factory.mktemp("crash-ref") / "run"
    cache = run.parent / "cache"
    cmd = [sys.executable, "-m", "wikiart", *_argv(data, run)]
    done = subprocess.run(cmd, env=_env(cache), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return run


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("point", "tmp_left"),
    [
        ("step:5", None),  # in epoch 2 (3 steps an epoch), loader workers running
        ("write:model.pt:1", "model.pt"),  # the first checkpoint ever: nothing to resume from
        ("write:last.pt:2", "last.pt"),  # epoch 2's last.pt, half on disk
    ],
)
def test_a_killed_training_run_resumes_to_the_weights_of_an_uninterrupted_one(
    data, reference, tmp_path, point, tmp_left
):
    run, cache = tmp_path / "run", tmp_path / "cache"
    cmd = [sys.executable, "-c", KILLER, *_argv(data, run)]
    proc = subprocess.Popen(
        cmd, env=_env(cache, WIKIART_TEST_KILL=point), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    workers: set[int] = set()
    while proc.poll() is None:  # the loader workers it starts, to check none outlives it
        workers.update(child_pids(proc.pid))
        time.sleep(0.02)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert workers, "the run started no loader worker"
    deadline = time.monotonic() + 15  # the loader's watchdog looks every 5 s
    while any(process_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(process_alive(w) for w in workers), "loader workers outlived their run"
    if tmp_left:  # the half-written file is a temporary; the real name is whole or absent
        assert list(run.glob(f".{tmp_left}.*.tmp"))
    for name in ("model.pt", "last.pt"):
        if (run / name).exists():
            load_checkpoint(run / name)  # readable: never half a checkpoint under its name
    t0 = time.monotonic()
    resumed = subprocess.run(
        [sys.executable, "-m", "wikiart", *_argv(data, run, "--resume")], env=_env(cache),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert time.monotonic() - t0 < 120
    assert _same(_weights(run / "last.pt"), _weights(reference / "last.pt"))
    assert _same(_weights(run / "model.pt"), _weights(reference / "model.pt"))
    metrics = json.loads((run / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    assert metrics["macro_f1"] == expected["macro_f1"] and metrics["n"] == expected["n"]
    assert not list(run.glob(".*.tmp")), "the killed write's temporary was not cleaned up"


class _FullFile:
    """A file whose every write fails as on a full disk."""

    def __init__(self, fh: io.IOBase) -> None:
        self._fh = fh

    def write(self, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> object:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@contextlib.contextmanager
def full_disk(only: str | None = None) -> Iterator[None]:
    """Inside, every file this process writes (``open``, ``os.fdopen``, ``os.pwrite``) fails
    with ``ENOSPC`` (only those whose name contains ``only``, if given)."""
    import builtins

    real_open, real_fdopen, real_pwrite = builtins.open, os.fdopen, os.pwrite

    def hit(name: object) -> bool:
        return only is None or only in os.fsdecode(name if isinstance(name, str | bytes) else "")

    def full_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        writing = any(c in mode for c in "wax+")
        return _FullFile(fh) if writing and hit(file) else fh

    def full_fdopen(fd, mode="r", *args, **kwargs):
        fh = real_fdopen(fd, mode, *args, **kwargs)
        writing = any(c in mode for c in "wax+")
        return _FullFile(fh) if writing and hit(os.readlink(f"/proc/self/fd/{fd}")) else fh

    def full_pwrite(fd, data, offset):
        if hit(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", full_open)
        mp.setattr(os, "fdopen", full_fdopen)
        mp.setattr(os, "pwrite", full_pwrite)
        yield


def _one_error_line(err: str, *names: str) -> str:
    lines = [line for line in err.strip().splitlines() if not line.startswith("wikiart: INFO")]
    assert len(lines) == 1 and lines[0].startswith("wikiart: error: "), lines
    assert "No space left on device" in lines[0] and any(n in lines[0] for n in names), lines
    assert "Traceback" not in err
    return lines[0]


def test_a_full_disk_while_saving_last_pt_keeps_the_previous_one_and_resume_goes_on(
    data, reference, tmp_path, capsys
):
    """Epoch 1 saved; epoch 2's ``last.pt`` hits a full disk: one line, exit 2, epoch 1's
    ``last.pt`` untouched; once there is space, ``--resume`` ends where an uninterrupted run
    ends."""

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the reference process ran
    try:
        _last_pt_on_a_full_disk(data, reference, tmp_path, capsys)
    finally:
        torch.set_num_threads(threads)


def _last_pt_on_a_full_disk(data, reference, tmp_path, capsys):
    import wikiart.train.save as save
    from wikiart.cli import main

    run = tmp_path / "run"
    argv = _argv(data, run)
    real, seen = save.save_checkpoint, []

    def full_at_second_last_pt(path, payload):
        if Path(path).name == "last.pt":
            seen.append(payload["epoch"])
            if len(seen) == 1:
                real(path, payload)
                kept.append((run / "last.pt").read_bytes())
                return None
            disk.enter_context(full_disk(only="last.pt"))
        return real(path, payload)

    kept: list[bytes] = []
    with contextlib.ExitStack() as disk, pytest.MonkeyPatch.context() as mp:
        mp.setattr(save, "save_checkpoint", full_at_second_last_pt)
        assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "last.pt")
    assert seen == [1, 2] and (run / "last.pt").read_bytes() == kept[0]  # epoch 1's
    assert not list(run.glob(".*.tmp"))
    assert main([*argv, "--resume"]) == 0
    assert _same(_weights(run / "last.pt"), _weights(reference / "last.pt"))


@pytest.mark.parametrize("only", [None, ".png"], ids=["every-file", "the-plots"])
def test_a_full_disk_while_writing_evaluation_outputs_keeps_the_earlier_ones(
    data, reference, tmp_path, capsys, only
):
    from wikiart.cli import main

    out = tmp_path / "eval"
    argv = ["--no-progress", "evaluate", "--checkpoint", str(reference / "model.pt"),
            "--data", str(data), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"metrics.json", "confusion.png"} <= before.keys()
    capsys.readouterr()
    with full_disk(only=only):
        assert main([*argv, "--overwrite"]) == 2
    line = _one_error_line(capsys.readouterr().err, *before)
    assert only is None or only in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary either


def test_a_full_disk_while_saving_the_embedding_cache_warns_and_goes_on(tmp_path, caplog):
    """The embedding cache is a cache: the embeddings are in memory, the command goes on and
    says the cache was not saved; the cache file written before is intact."""
    from wikiart.data.features import FeatureStore

    path = tmp_path / "features.pt"
    store = FeatureStore(path)
    store.add(["a"], torch.ones(1, 4), torch.zeros(1, 4))
    store.save()
    before = path.read_bytes()
    store.add(["b"], torch.full((1, 4), 2.0), torch.zeros(1, 4))
    caplog.set_level(logging.WARNING)
    with full_disk():
        store.save()
    assert "No space left on device" in caplog.text and str(path) in caplog.text
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))
    assert torch.equal(store.get(["b"])[0], torch.full((1, 4), 2.0))  # still usable
    store.save()  # space again: the pending rows are written now
    assert "b" in FeatureStore(path)


def test_a_full_disk_while_making_a_synthetic_dataset_is_one_line(tmp_path, capsys):
    """Images written by a library (Pillow) on a full disk: one line naming the image, exit 2."""
    from wikiart.cli import main

    argv = ["--no-progress", "data", "synth", "--out", str(tmp_path / "synth"), "--image-size",
            "32", "--train-max", "4", "--test-per-style", "1", "--workers", "1"]  # fmt: skip
    with full_disk(only=".png"):
        assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err, ".png")
    assert str(tmp_path / "synth") in line
