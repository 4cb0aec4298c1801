"""LoRA on a Hugging Face pipeline (`wikiart.diffusion.pipeline`), offline: a tiny random
Stable-Diffusion-shaped pipeline (`tiny_pipeline`) adapted to three colour styles."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_png, requires
from tiny_pipeline import IMAGE_SIZE, save_tiny_pipeline
from wikiart.checkpoints import load_checkpoint
from wikiart.config import DataConfig
from wikiart.diffusion.adapters import LORA_FILE, LORA_WEIGHTS
from wikiart.diffusion.batches import accumulating_step
from wikiart.diffusion.captions import style_captions
from wikiart.diffusion.pipeline import inject_pipeline_lora, load_pipeline, looks_like_pipeline
from wikiart.diffusion.pipeline_lora import train_pipeline_lora
from wikiart.diffusion.pipeline_sample import generate, sample_pipeline
from wikiart.diffusion.settings import LoraConfig
from wikiart.errors import UnknownStyleError, WikiartError
from wikiart.eval.generator import SampleOptions

requires("diffusers", "diffusion")
requires("peft", "diffusion")
requires("transformers", "diffusion")

# diffusers' DPM-Solver builds its sigmas through a tensor's __array__ (numpy 2 notice)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

COLOURS = {"Blue": (30, 40, 200), "Red": (210, 30, 30), "Green_Stripes": (30, 190, 40)}
STYLES = sorted(COLOURS)


def _paint(style: str, i: int) -> np.ndarray:
    """A 32x32 painting of ``style``: its colour, a little brighter per ``i``; stripes for one."""
    arr = np.zeros((32, 32, 3), np.int64) + np.array(COLOURS[style]) + 6 * i
    if "Stripes" in style:
        arr[::4] = 250
    return arr.clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    return save_tiny_pipeline(tmp_path_factory.mktemp("base") / "tiny-sd")


@pytest.fixture(scope="module")
def paintings(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("paintings")
    for split, n in (("train", 6), ("test", 2)):
        for style in STYLES:
            (root / split / style).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(_paint(style, i)).save(root / split / style / f"{i}.png")
    return root


def lora_cfg(base: Path, data: Path, cache: Path, **overrides) -> LoraConfig:
    """Two epochs of three steps; a high LR so the adapter moves visibly in six steps."""
    values = dict(
        base=str(base),
        epochs=2,
        batch_size=6,
        lr=1e-2,
        device="cpu",
        seed=0,
        rank=4,
        alpha=8.0,  # scale 2: the saved file must fold it in for diffusers' loader
        samples=2,
        sample_steps=4,
        loader_workers=0,
        data=DataConfig(data=str(data), image_size=0, cache_dir=str(cache)),
    )
    return LoraConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def trained(tiny_base, paintings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lora")
    cfg = lora_cfg(tiny_base, paintings, tmp / "cache")
    row = train_pipeline_lora(cfg, tmp / "run")
    return tmp / "run", row, cfg


def _history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_training_saves_the_adapter_alone(trained, tiny_base):
    from safetensors.torch import load_file

    run, row, _ = trained
    rows = _history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(math.isfinite(float(r["train_loss"])) for r in rows)
    assert math.isfinite(row["train_loss"]) and row["seconds"] > 0

    weights = load_file(run / LORA_WEIGHTS)
    assert weights and all("lora" in k for k in weights)
    assert all(k.startswith("unet.") for k in weights)  # diffusers' layout
    unet_file = next((tiny_base / "unet").glob("*.safetensors"))
    assert (run / LORA_WEIGHTS).stat().st_size < unet_file.stat().st_size / 10
    assert 0 < row["adapter_bytes"] < row["base_bytes"] / 10
    assert row["adapter_bytes"] == sum(v.numel() * 4 for v in weights.values())

    for name in ("model.pt", "last.pt"):
        ckpt = load_checkpoint(run / name)
        assert ckpt["kind"] == "lora" and ckpt["classes"] == STYLES and ckpt["epoch"] == 2
        assert ckpt["state_dict"] and all("lora_" in k for k in ckpt["state_dict"])
        assert ckpt["model_config"]["base_type"] == "diffusers"
        assert ckpt["preprocess"]["image_size"] == IMAGE_SIZE
    assert "optimizer" in load_checkpoint(run / "last.pt")

    info = json.loads((run / LORA_FILE).read_text())
    assert info["base"] == str(tiny_base.resolve()) and info["base_type"] == "diffusers"
    assert info["styles"] == STYLES and info["image_size"] == IMAGE_SIZE
    assert info["captions"]["Green_Stripes"] == "a painting in the style of Green Stripes"
    assert info["rank"] == 4 and info["alpha"] == 8.0
    assert info["targets"] == ["to_k", "to_q", "to_v", "to_out.0"]
    assert json.loads((run / "config.json").read_text())["rank"] == 4
    assert_png(run / "loss.png")
    assert_png(run / "grid.png")


def test_saved_adapter_reproduces_the_trained_one(trained, tiny_base):
    """diffusers' own loader reading pytorch_lora_weights.safetensors gives the images of the
    adapter in model.pt (alpha != rank included), and they are not the base's."""
    run, _, cfg = trained
    info = json.loads((run / LORA_FILE).read_text())
    pipe = load_pipeline(tiny_base, "cpu")
    adapter, _ = inject_pipeline_lora(pipe.unet, cfg)
    adapter.load_state_dict(load_checkpoint(run / "model.pt")["state_dict"])
    ours = generate(pipe, info["captions"], SampleOptions(3, 5, 3.0, 4, "ddim", 8))

    loaded = sample_pipeline(None, run, [], SampleOptions(3, 5, 3.0, 4, "ddim", 8), "cpu")
    base = sample_pipeline(tiny_base, None, STYLES, SampleOptions(3, 5, 3.0, 4, "ddim", 8), "cpu")
    assert list(loaded) == STYLES
    for style in STYLES:
        assert loaded[style].shape == (3, 3, IMAGE_SIZE, IMAGE_SIZE)
        assert loaded[style].dtype == torch.uint8
        diff = (loaded[style].int() - ours[style].int()).abs()
        assert diff.max() <= 1, style
        vs_base = (loaded[style].float() - base[style].float()).abs().mean()
        assert vs_base > 2.0, f"{style}: the adapter barely changes the images ({vs_base:.2f})"


def test_same_seed_same_images(trained):
    run, _, _ = trained
    opts = SampleOptions(3, 7, 2.0, 3, "dpm", 8)
    a = sample_pipeline(None, run, ["Red", "Blue"], opts, "cpu")
    b = sample_pipeline(None, run, ["Red", "Blue"], replace(opts, batch_size=1), "cpu")
    alone = sample_pipeline(None, run, ["Blue"], opts, "cpu")
    other = sample_pipeline(None, run, ["Red", "Blue"], replace(opts, seed=8), "cpu")
    for style in ("Red", "Blue"):
        assert (a[style].int() - b[style].int()).abs().max() <= 1  # batch size: same images
        assert not torch.equal(a[style], other[style])  # another seed: others
    assert torch.equal(a["Blue"], alone["Blue"])  # the other styles asked for do not matter
    assert not torch.equal(a["Red"][0], a["Red"][1])  # each image its own noise


def test_bad_bases_are_one_line_errors(tmp_path, tiny_base):
    empty = tmp_path / "not-a-pipeline"
    empty.mkdir()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{not json")
    cases = [
        (empty, "not a diffusers pipeline folder (no model_index.json)"),
        (junk, "is a file, not a diffusers pipeline"),
        (tmp_path / "missing" / "run.pt", "not found"),
        (broken, f"could not load the diffusers pipeline {broken}"),
    ]
    for base, message in cases:
        with pytest.raises(WikiartError) as err:
            load_pipeline(base, "cpu")
        assert message in str(err.value) and "\n" not in str(err.value)
    assert looks_like_pipeline(tiny_base) and looks_like_pipeline("org/some-pipeline")
    assert not looks_like_pipeline(empty) and not looks_like_pipeline(junk)
    assert not looks_like_pipeline(tmp_path / "missing" / "model.pt")


def test_unknown_styles_are_refused(trained, tiny_base, paintings, tmp_path):
    run, _, _ = trained
    with pytest.raises(UnknownStyleError) as err:
        sample_pipeline(None, run, ["Red", "Cubism"], SampleOptions(1, 0, 1.0, 2, "ddim", 8), "cpu")
    assert "'Cubism'" in str(err.value) and "Blue, Green_Stripes, Red" in str(err.value)
    cfg = lora_cfg(tiny_base, paintings, tmp_path / "cache", styles=["Red", "Cubism"])
    with pytest.raises(UnknownStyleError, match="Cubism"):
        train_pipeline_lora(cfg, tmp_path / "run")
    with pytest.raises(WikiartError, match="must divide the batch size"):
        train_pipeline_lora(lora_cfg(tiny_base, paintings, tmp_path, accumulate=4), tmp_path)


def test_killed_run_resumes_to_the_same_adapter(
    trained, tiny_base, paintings, tmp_path, monkeypatch
):
    """Epoch 1, killed in epoch 2, then resume: two history rows and the adapter of the run
    trained in one go, in model.pt and in the diffusers file."""
    from safetensors.torch import load_file

    import wikiart.train.loop as loop

    straight, _, _ = trained
    cfg = lora_cfg(tiny_base, paintings, tmp_path / "cache")
    run = tmp_path / "run"
    real, calls = loop._evaluate, {"n": 0}

    def killed_in_epoch_2(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_evaluate", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_pipeline_lora(cfg, run)
    monkeypatch.setattr(loop, "_evaluate", real)
    assert len(_history(run)) == 1 and not (run / LORA_WEIGHTS).exists()

    cfg.resume = True
    train_pipeline_lora(cfg, run)
    assert [int(r["epoch"]) for r in _history(run)] == [1, 2]
    a = load_checkpoint(straight / "model.pt")["state_dict"]
    b = load_checkpoint(run / "model.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    fa, fb = load_file(straight / LORA_WEIGHTS), load_file(run / LORA_WEIGHTS)
    assert all(torch.equal(fa[k], fb[k]) for k in fa)


def test_options_rare_tokens_convs_accumulation(tiny_base, paintings, tmp_path):
    """Rare tokens in the captions, adapters on the ResNet convolutions too (loadable by
    diffusers), micro-batches and gradient checkpointing."""
    from safetensors.torch import load_file

    cfg = lora_cfg(
        tiny_base,
        paintings,
        tmp_path / "cache",
        epochs=1,
        styles=["Blue", "Red"],
        targets="attention+conv",
        rare_tokens=True,
        accumulate=2,
        gradient_checkpointing=True,
        caption="{style} art",
        samples=0,
    )
    row = train_pipeline_lora(cfg, tmp_path / "run")
    assert math.isfinite(row["train_loss"])
    info = json.loads((tmp_path / "run" / LORA_FILE).read_text())
    assert info["captions"] == {"Blue": "sks0 Blue art", "Red": "sks1 Red art"}
    keys = list(load_file(tmp_path / "run" / LORA_WEIGHTS))
    assert any(".conv1." in k for k in keys) and any(".to_q." in k for k in keys)
    assert not (tmp_path / "run" / "grid.png").exists()
    # diffusers loads both kinds of layer: the images are those of the adapter in model.pt
    pipe = load_pipeline(tiny_base, "cpu")
    adapter, _ = inject_pipeline_lora(pipe.unet, cfg)
    adapter.load_state_dict(load_checkpoint(tmp_path / "run" / "model.pt")["state_dict"])
    ours = generate(pipe, {"Red": info["captions"]["Red"]}, SampleOptions(2, 0, 2.0, 3, "ddim", 8))
    opts = SampleOptions(2, 0, 2.0, 3, "ddim", 8)
    loaded = sample_pipeline(None, tmp_path / "run", ["Red"], opts, "cpu")
    assert loaded["Red"].shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert (loaded["Red"].int() - ours["Red"].int()).abs().max() <= 1


def test_micro_batches_give_the_whole_batch_gradient():
    """The accumulation step's loss has the batch mean's value and gradient."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))

    def loss_fn(model, xb, yb):
        return torch.nn.functional.cross_entropy(model(xb), yb)

    grads = []
    for k in (1, 2, 4):
        layer.zero_grad()
        out = accumulating_step(loss_fn, list(layer.parameters()), k)(
            layer, (x, y), torch.device("cpu")
        )
        out.loss.backward()
        assert out.n == 8 and torch.allclose(out.loss, loss_fn(layer, x, y))
        grads.append([p.grad.clone() for p in layer.parameters()])
    for other in grads[1:]:
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[0], other, strict=True))


def test_captions():
    assert style_captions(["Pop_Art"]) == {"Pop_Art": "a painting in the style of Pop Art"}
    assert style_captions(["A", "B"], "{style}", rare_tokens=True) == {
        "A": "sks0 A",
        "B": "sks1 B",
    }
    with pytest.raises(WikiartError, match="lacks"):
        style_captions(["A"], "no placeholder")


def test_the_command_line_trains_and_samples_a_pipeline(tiny_base, paintings, tmp_path, capsys):
    """`wikiart train lora` -> `wikiart sample` (--base --lora, --checkpoint, the bare base):
    the same adapter gives the same images whichever way it is named; errors are one line."""
    from wikiart.cli import main

    run = tmp_path / "run"
    train = [
        "--no-progress", "train", "lora", "--base", str(tiny_base), "--data", str(paintings),
        "--out", str(run), "--epochs", "1", "--batch-size", "6", "--lr", "1e-2", "--rank", "2",
        "--samples", "1", "--sample-steps", "2", "--device", "cpu", "--workers", "0",
        "--cache-dir", str(tmp_path / "cache"), "--styles", "Red,Blue",
    ]  # fmt: skip
    assert main(train) == 0
    assert "pytorch_lora_weights.safetensors" in capsys.readouterr().out
    assert json.loads((run / LORA_FILE).read_text())["styles"] == ["Blue", "Red"]

    def sample(out, *how, style="Red"):
        argv = ["--no-progress", "sample", *how, "--style", style, "--n", "2", "--seed", "5",
                "--steps", "2", "--out", str(tmp_path / out), "--device", "cpu"]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
        files = sorted((tmp_path / out / style).glob("*.png"))
        assert len(files) == 2
        assert_png(tmp_path / out / "grid.png", min_side=50)
        return np.stack([np.asarray(Image.open(f)) for f in files])

    via_lora = sample("a", "--base", str(tiny_base), "--lora", str(run))
    via_ckpt = sample("b", "--checkpoint", str(run / "model.pt"))
    assert via_lora.shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert np.abs(via_lora.astype(int) - via_ckpt.astype(int)).max() <= 1
    bare = sample("c", "--base", str(tiny_base), style="Any_New_Style")  # any caption
    assert bare.shape == via_lora.shape
    capsys.readouterr()
    bad = [
        ["sample", "--base", str(tiny_base), "--lora", str(run), "--style", "Cubism"],
        ["sample", "--base", str(tmp_path), "--style", "Red"],
        ["train", "lora", "--base", str(paintings), "--data", str(paintings)],
    ]
    for argv in bad:
        assert main(["--no-progress", *argv, "--out", str(tmp_path / "x")]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("wikiart: error: "), (argv, err)
    assert not (tmp_path / "x").exists()
