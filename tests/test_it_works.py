"""That things work, not only that they run and have the right shapes: a classifier learns
styles it can tell apart, batch mixing mixes each image with another one, style transfer paints
in the style it is given (and keeps the content's colours when asked), a LoRA moves its samples
toward its style. Each on tiny synthetic data, in seconds on one CPU thread. Also the
conftest helpers that skip a test whose optional extra is missing, and fail it under CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import wikiart
from conftest import dark_bright, requires
from wikiart.cli import main
from wikiart.functional import channel_mean_std
from wikiart.train.mixing import mix_batch, mixed_loss

TESTS = Path(__file__).resolve().parent


# -- the classifier --------------------------------------------------------------------------
def test_a_classifier_learns_two_styles_it_can_tell_apart(tmp_path):
    """Grey noise against colour noise: six epochs of the small ResNet get >= 90% of the
    held-out test images right (chance is 50%)."""
    root = dark_bright(tmp_path / "ds", {"train": 24, "test": 6})
    run = tmp_path / "run"
    argv = [
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(run),
        "--arch", "small-resnet", "--image-size", "16", "--batch-size", "4", "--epochs", "6",
        "--lr", "0.003", "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
        "--val-fraction", "0.25", "--seed", "0", "--device", "cpu",
    ]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 12 and metrics["classes"] == ["Bright", "Dark"]
    assert metrics["accuracy"] >= 0.9, metrics


# -- batch mixing ----------------------------------------------------------------------------
def _distinct_batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` different random uint8 images, labelled by their row."""
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 12, 12), generator=g, dtype=torch.uint8), torch.arange(n)


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_mixing_mixes_each_image_with_its_partner_and_the_labels_alike(kind):
    """Each mixed row is ``lam`` of itself and ``1 - lam`` of the row its partner label names
    (MixUp: the blend; CutMix: the pixel share), the loss mixes the two labels with that same
    ``lam``, and partners are other images (a random permutation: a row is its own partner
    about once in ``n``, and then it is unchanged)."""
    torch.manual_seed(0)
    x, y = _distinct_batch()
    n, others, changed = len(y), 0, 0
    criterion = nn.CrossEntropyLoss()
    draws = 30
    for _ in range(draws):
        mx, partner, lam = mix_batch(x, y, kind, alpha=1.0)
        changed += not torch.equal(mx, x)
        own, other = x.float(), x[partner].float()
        if kind == "mixup":
            assert (mx.float() - (lam * own + (1 - lam) * other)).abs().max() <= 0.5 + 1e-4
        else:
            from_own = (mx == x).all(1).float().mean((1, 2))
            from_other = (mx == x[partner]).all(1).float().mean((1, 2))
            differs = partner != y
            assert torch.allclose(from_own[differs], torch.full_like(from_own[differs], lam))
            assert torch.allclose(from_own + from_other - (~differs).float(), torch.ones(n))
            assert lam < 1.0 or torch.equal(mx, x)  # no box: the batch as it was
        others += int((partner != y).sum())
        # the labels, mixed with the weight the pixels were: the loss against soft targets
        logits = torch.randn(n, n)
        soft = lam * nn.functional.one_hot(y, n) + (1 - lam) * nn.functional.one_hot(partner, n)
        want = -(soft * logits.log_softmax(1)).sum(1).mean()
        assert torch.allclose(mixed_loss(criterion, logits, y, partner, lam), want, atol=1e-6)
    assert others >= 0.75 * draws * n  # about (n - 1) / n of the rows have another partner
    assert changed >= draws - 3  # (a CutMix box can round to nothing when lam is near 1)


# -- style transfer --------------------------------------------------------------------------
def _content() -> torch.Tensor:
    """A 64 px content image: a colour gradient with a yellow square on it (``3 x H x W``)."""
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([xx * 4, yy * 4, 255 - (xx + yy) * 2], -1).clip(0, 255).astype(np.uint8)
    img[20:44, 20:44] = (240, 220, 60)
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


def _styles(folder: Path) -> dict[str, Path]:
    """Two exemplars far apart: red and yellow stripes, green blobs on dark blue."""
    rng = np.random.default_rng(0)
    fire = np.full((96, 96, 3), (200, 40, 30), np.int64)
    fire[(np.arange(96) // 4) % 2 == 1] = (250, 200, 40)
    sea = np.full((96, 96, 3), (20, 60, 140), np.int64)
    for _ in range(30):
        y, x = rng.integers(0, 90, 2)
        r = int(rng.integers(3, 10))
        sea[max(0, y - r) : y + r, max(0, x - r) : x + r] = (40, 170, 120)
    paths = {}
    for name, arr in (("fire", fire), ("sea", sea)):
        noisy = arr + rng.integers(-15, 16, arr.shape)
        paths[name] = folder / f"{name}.png"
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(paths[name])
    return paths


def _stats(x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = channel_mean_std(x01[None] if x01.dim() == 3 else x01)
    return mean[0], std[0]


def test_style_transfer_paints_in_the_given_style_and_can_keep_the_content_colours(tmp_path):
    """The packaged decoder: another style exemplar gives another painting, whose colours
    lean to that exemplar's; with ``keep_colors`` the painting's per-channel means and spreads
    are much nearer the content's than without."""
    requires("efficientnet_lite_pytorch", "pretrained")
    from wikiart.transfer import load_transfer, paint, resolve_style

    model, _ = load_transfer("builtin", "cpu")
    content = _content()
    paths = _styles(tmp_path)
    styles = {name: resolve_style(model, str(path)) for name, path in paths.items()}
    out = {name: paint(model, content, style) for name, style in styles.items()}
    assert (out["fire"] - out["sea"]).abs().mean() > 0.1  # on a [0, 1] scale
    for name, other in (("fire", "sea"), ("sea", "fire")):
        own_mean = torch.from_numpy(np.asarray(Image.open(paths[name])) / 255.0).mean((0, 1))
        got = out[name].mean((1, 2)).double()
        assert (got - own_mean).norm() < (out[other].mean((1, 2)).double() - own_mean).norm()

    kept = paint(model, content, styles["fire"], keep_colors=True)
    c_mean, c_std = _stats(content.float() / 255)
    p_mean, p_std = _stats(out["fire"])
    k_mean, k_std = _stats(kept)
    assert (k_mean - c_mean).abs().sum() < 0.75 * (p_mean - c_mean).abs().sum()
    assert (k_std - c_std).abs().sum() < 0.75 * (p_std - c_std).abs().sum()


# -- LoRA ------------------------------------------------------------------------------------
RED = (200, 30, 30)


def test_a_lora_moves_the_samples_toward_its_style(tmp_path):
    """A tiny base trained on grey and colour noise (mean colour about mid-grey), then a LoRA
    onto a red style it never saw: the adapted samples' mean colour is nearer the red
    paintings' than the base's samples are, redder and less green and blue."""
    requires("diffusers", "diffusion")
    requires("peft", "diffusion")
    from wikiart.diffusion.generate import open_generator

    root = dark_bright(tmp_path / "ds", {"train": 8, "test": 2})
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 2)):
        for i in range(n):
            red = (np.array(RED) + rng.integers(-20, 21, (30, 40, 3))).clip(0, 255)
            (root / split / "Red").mkdir(parents=True, exist_ok=True)
            Image.fromarray(red.astype(np.uint8)).save(root / split / "Red" / f"{i}.png")
    cache, base = str(tmp_path / "cache"), tmp_path / "base"
    wikiart.train_diffusion(
        base, data=str(root), exclude_styles=["Red"], cache_dir=cache, image_size=16,
        widths=[8, 16], batch_size=8, steps_per_epoch=4, epochs=2, lr=5e-3, samples=2,
        sample_steps=2, sample_every=0, ema_decay=0.9, device="cpu", loader_workers=0,
    )  # fmt: skip
    wikiart.train_lora(
        tmp_path / "lora", base=str(base / "model.pt"), data=str(root), styles=["Red"], rank=4,
        epochs=2, steps_per_epoch=15, batch_size=8, lr=5e-2, samples=2, sample_steps=2,
        cache_dir=cache, device="cpu", loader_workers=0,
    )  # fmt: skip
    plain = open_generator(base / "model.pt", device="cpu")
    adapted = open_generator(tmp_path / "lora", device="cpu")
    before = torch.cat([plain.images(s, 8, seed=0, steps=4) for s in plain.styles])
    after = adapted.images("Red", 8, seed=0, steps=4)
    before, after = (x.float().mean((0, 2, 3)) for x in (before, after))
    target = torch.tensor(RED, dtype=torch.float)
    assert (after - target).norm() < (before - target).norm() - 10, (before, after)
    assert after[0] > before[0] and after[1] < before[1] and after[2] < before[2]


# -- the conftest helpers --------------------------------------------------------------------
HEADER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import has_extra, requires, requires_shared
"""
IN_TESTS = """
def test_a_missing_module():
    requires("wikiart_no_such_module", "nothing")

def test_missing_shared_data():
    requires_shared(Path("/nonexistent/shared/data"))

def test_a_branch_on_a_missing_extra():
    assert not has_extra("wikiart_no_such_module", "nothing")

def test_an_installed_module():
    assert requires("json", "none").dumps(1) == "1"
"""
AT_THE_TOP = """
requires("wikiart_no_such_module", "nothing")

def test_never_run():
    pass
"""


@pytest.mark.parametrize("ci", [None, "", "1", "true"])
def test_a_missing_extra_skips_and_fails_under_ci(tmp_path, ci):
    """Without ``$CI`` (or with it empty) what is missing skips, naming what to install; with
    ``$CI`` set it fails, whether asked for in a test or at the top of a test file."""
    header = HEADER.format(tests=str(TESTS))
    (tmp_path / "test_in_tests.py").write_text(header + IN_TESTS)
    (tmp_path / "test_at_the_top.py").write_text(header + AT_THE_TOP)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
           "--continue-on-collection-errors", str(tmp_path)]  # fmt: skip
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = done.stdout
    if ci:
        assert done.returncode == 1, out
        assert "3 failed, 1 passed, 1 error" in out, out
        assert "which CI must have" in out and "pip install 'wikiart[nothing]'" in out
    else:
        assert done.returncode == 0, out
        assert "2 passed, 3 skipped" in out, out
        assert "pip install 'wikiart[nothing]'" in out and "/nonexistent/shared/data" in out
