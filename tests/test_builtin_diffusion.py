"""The packaged diffusion base (``builtin``): loading and sampling it (tiny budgets), `wikiart
sample` without a checkpoint, LoRA with ``--base builtin``, and the web app's Generate tab."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from conftest import dark_bright_rare, requires
from wikiart.builtins import builtin_path
from wikiart.checkpoints import load_checkpoint
from wikiart.cli import main
from wikiart.errors import WikiartError

requires("diffusers", "diffusion")
requires("peft", "diffusion")

from wikiart.diffusion.generate import open_generator  # noqa: E402
from wikiart.eval.generator import SampleOptions  # noqa: E402

SAMPLE_STYLES = [
    "Abstract_Expressionism", "Baroque", "Cubism", "Fauvism", "Impressionism", "Minimalism",
    "Naive_Art_Primitivism", "Pointillism", "Pop_Art", "Rococo", "Ukiyo_e",
]  # fmt: skip


def test_the_package_ships_a_small_fp16_base():
    path = builtin_path("diffusion")
    assert path.stat().st_size <= 25_000_000
    payload = load_checkpoint(path)
    assert payload["kind"] == "diffusion" and payload["classes"] == SAMPLE_STYLES
    floats = [v for v in payload["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)


def test_sampling_defaults_to_the_builtin_base_and_is_reproducible():
    gen = open_generator(device="cpu")
    assert gen.styles == SAMPLE_STYLES and gen.image_size >= 64
    a = gen.sample("Baroque", SampleOptions(n=2, seed=3, steps=2))
    assert a.shape == (2, 3, gen.image_size, gen.image_size) and a.dtype == torch.uint8
    again = open_generator("builtin", device="cpu")
    b = again.sample("Baroque", SampleOptions(n=2, seed=3, steps=2))
    assert torch.equal(a, b)
    assert a.float().std() > 1  # an image, not a flat field


def test_cli_sample_without_a_checkpoint_uses_the_builtin_base(tmp_path):
    out = tmp_path / "o"
    argv = ["--no-progress", "sample", "--style", "Ukiyo_e", "--n", "1", "--steps", "2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with Image.open(out / "Ukiyo_e" / "seed0_000.png") as im:
        assert im.size[0] >= 64
    assert (out / "grid.png").is_file()
    assert main(["--no-progress", "sample", "--checkpoint", "builtin", "--style", "Nope",
                 "--out", str(tmp_path / "o2")]) == 2  # fmt: skip


def test_lora_onto_the_builtin_base(tmp_path):
    root = dark_bright_rare(tmp_path)
    run = tmp_path / "lora"
    argv = ["--no-progress", "train", "lora", "--base", "builtin", "--data", str(root),
            "--styles", "Rare", "--out", str(run), "--rank", "2", "--epochs", "1",
            "--steps-per-epoch", "1", "--batch-size", "2", "--samples", "1",
            "--sample-steps", "2", "--image-size", "0", "--device", "cpu", "--workers", "0",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(argv) == 0
    info = json.loads((run / "lora.json").read_text())
    assert info["base"] == "builtin" and info["style_classes"] == {"Rare": len(SAMPLE_STYLES)}
    gen = open_generator(run, device="cpu")
    assert gen.styles == ["Rare"] and "builtin" in gen.describe
    assert gen.sample("Rare", SampleOptions(n=1, seed=0, steps=2)).shape[-1] >= 64


def test_the_generate_tab_serves_the_builtin_base_by_default(tmp_path, monkeypatch):
    from wikiart.serve.models import find_models

    monkeypatch.chdir(tmp_path)  # no runs/demo here
    spec = find_models()
    assert spec.generator == builtin_path("diffusion") and spec.generator_kind == "diffusion"
    assert spec.repaint == "builtin" and spec.tabs() == ["Re-paint", "Generate"]
    spec = find_models(diffusion="builtin")
    assert spec.generator == builtin_path("diffusion") and spec.repaint is None
    with pytest.raises(WikiartError, match="checkpoint not found"):
        find_models(diffusion=tmp_path / "nope.pt")
