"""The class-conditional diffusion model, LoRA on it, sampling and evaluation, on tiny data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import wikiart
from conftest import assert_png, dark_bright_rare, has_lite0, requires
from wikiart.checkpoints import load_checkpoint, load_model
from wikiart.cli import main
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_dataset
from wikiart.data.loader import prepare_split
from wikiart.diffusion.adapters import LORA_WEIGHTS, set_adapters_enabled
from wikiart.diffusion.batches import train_batches
from wikiart.diffusion.evaluate import frechet_distance
from wikiart.diffusion.generate import ANY_STYLE, open_generator
from wikiart.diffusion.noise import drop_labels
from wikiart.diffusion.sampling import Guided
from wikiart.errors import WikiartError
from wikiart.files import file_digest
from wikiart.models.diffusion import StyleDiffusion

requires("diffusers", "diffusion")
requires("peft", "diffusion")

TINY = {
    "image_size": 16,
    "widths": [8, 16],
    "batch_size": 8,
    "steps_per_epoch": 2,
    "epochs": 2,
    "lr": 5e-3,
    "samples": 2,
    "sample_steps": 2,
    "sample_every": 1,
    "ema_decay": 0.9,
    "device": "cpu",
    "loader_workers": 0,
}


def _root(tmp):
    """Dark, Bright and a Rare style (train and test)."""
    return dark_bright_rare(tmp)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A base trained without Rare, then a LoRA adapter onto Rare (its held-out style)."""
    tmp = tmp_path_factory.mktemp("diffusion")
    root, cache = _root(tmp), str(tmp / "cache")
    base = tmp / "base"
    wikiart.train_diffusion(base, data=str(root), exclude_styles=["Rare"], cache_dir=cache, **TINY)
    lora = tmp / "lora"
    wikiart.train_lora(
        lora, base=str(base / "model.pt"), data=str(root), styles=["Rare"], rank=2, epochs=2,
        steps_per_epoch=2, batch_size=4, accumulate=2, lr=5e-2, samples=2, sample_steps=2,
        cache_dir=cache, device="cpu", loader_workers=0,
    )  # fmt: skip
    return {"root": root, "base": base, "lora": lora, "cache": cache, "tmp": tmp}


def test_train_diffusion_writes_a_checkpoint_that_rebuilds_itself(runs):
    base = runs["base"]
    for name in ("config.json", "history.csv", "last.pt"):
        assert (base / name).is_file()
    assert_png(base / "loss.png")
    assert_png(base / "grid.png", min_side=50)
    assert_png(base / "samples_epoch001.png", min_side=50)
    assert not (base / "samples_epoch002.png").exists()  # the last epoch's grid is grid.png
    rows = (base / "history.csv").read_text().splitlines()
    assert len(rows) == 3
    kind, model, payload = load_model(base / "model.pt")
    assert kind == "diffusion" and isinstance(model, StyleDiffusion)
    assert model.style_names == ["Bright", "Dark"] and model.null_class == 2
    assert payload["trained_on"] == ["Bright", "Dark"]
    assert model.scheduler_config["beta_schedule"] == "squaredcos_cap_v2"
    assert model.unet.config.num_class_embeds == 3
    assert model.image_size == 16
    losses = [float(r.split(",")[1]) for r in rows[1:]]
    assert all(np.isfinite(losses))


def test_killed_run_resumes_to_the_same_weights(runs, tmp_path, monkeypatch):
    import wikiart.train.loop as loop

    run = tmp_path / "resumed"
    common = {"data": str(runs["root"]), "exclude_styles": ["Rare"], "cache_dir": runs["cache"]}
    real, calls = loop._evaluate, {"n": 0}

    def killed_in_epoch_2(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed before epoch 2 was saved
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_evaluate", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        wikiart.train_diffusion(run, **common, **TINY)
    monkeypatch.setattr(loop, "_evaluate", real)
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    wikiart.train_diffusion(run, **common, **TINY, resume=True)
    for name in ("model.pt", "last.pt"):  # the EMA, and the live weights
        got = load_checkpoint(run / name)["state_dict"]
        want = load_checkpoint(runs["base"] / name)["state_dict"]
        assert got.keys() == want.keys()
        for k in want:
            assert torch.equal(got[k], want[k]), (name, k)


def test_samples_are_reproducible_per_seed_and_independent_of_batching(runs, tmp_path):
    ckpt = runs["base"] / "model.pt"

    def draw(out, seed, batch_size, style="Dark"):
        paths = wikiart.sample(
            tmp_path / out, [style], checkpoint=ckpt, n=3, seed=seed, steps=2,
            batch_size=batch_size, device="cpu",
        )  # fmt: skip
        assert len(paths) == 3
        return np.stack([np.asarray(Image.open(p)) for p in paths])

    a = draw("a", 1, 8)
    assert a.shape == (3, 16, 16, 3)
    assert np.array_equal(a, draw("a2", 1, 8))  # the same command: the same images, exactly
    # one image at a time: the same images (to a rounding of the last level: kernels differ)
    assert np.abs(a.astype(int) - draw("b", 1, 1).astype(int)).max() <= 1
    assert not np.array_equal(a, draw("c", 2, 8))
    assert not np.array_equal(a, draw("d", 1, 8, "Bright"))
    assert_png(tmp_path / "a" / "grid.png", min_side=50)


def test_lora_saves_only_the_adapter_and_leaves_the_base_alone(runs):
    from safetensors.torch import load_file

    lora, base = runs["lora"], runs["base"]
    info = json.loads((lora / "lora.json").read_text())
    assert info["base_type"] == "wikiart" and info["styles"] == ["Rare"]
    assert info["style_classes"] == {"Rare": 2}  # new to the base: its "no style" class
    payload = load_checkpoint(lora / "model.pt")
    assert payload["kind"] == "lora"
    keys = list(payload["state_dict"])
    assert keys and all("lora_" in k for k in keys)
    tensors = load_file(str(lora / LORA_WEIGHTS))
    assert sorted(tensors) == sorted(f"unet.{k}" for k in keys)
    n_adapter = sum(v.numel() for v in tensors.values())
    assert n_adapter == info["adapter_parameters"] < info["base_parameters"] / 5
    assert file_digest(base / "model.pt") == info["base_sha256"]  # the base file is untouched
    assert_png(lora / "grid.png", min_side=50)


def test_the_adapter_changes_the_base_and_reloads_the_same(runs):
    lora = runs["lora"]
    kind, model, _ = load_model(lora / "model.pt")
    assert kind == "lora"
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([500, 900])
    y = torch.full((2,), 2)
    with torch.inference_mode():
        adapted = model(x, t, y)
        set_adapters_enabled(model.inner, False)
        plain = model(x, t, y)
        set_adapters_enabled(model.inner, True)
    assert (adapted - plain).abs().max() > 1e-3
    _, base, _ = load_model(runs["base"] / "model.pt")
    with torch.inference_mode():
        assert torch.equal(base(x, t, y), plain)
    a = open_generator(lora, device="cpu").images("Rare", 2, seed=3, steps=2)
    b = open_generator(lora / "model.pt", device="cpu").images("Rare", 2, seed=3, steps=2)
    assert torch.equal(a, b)


def test_a_lora_run_refuses_a_different_base(runs, tmp_path):
    lora = tmp_path / "lora"
    shutil.copytree(runs["lora"], lora)
    info = json.loads((lora / "lora.json").read_text())
    info["base_sha256"] = "0" * 64
    (lora / "lora.json").write_text(json.dumps(info))
    with pytest.raises(WikiartError, match="not the base this adapter was trained on"):
        open_generator(lora, device="cpu")


def test_cli_errors_are_one_line_exit_2(runs, tmp_path, capsys):
    ckpt = str(runs["base"] / "model.pt")
    o, o2, root = str(tmp_path / "o"), str(tmp_path / "o2"), str(runs["root"])
    cases = [
        ["sample", "--checkpoint", ckpt, "--style", "Nope", "--out", o],
        ["sample", "--checkpoint", ckpt, "--base", ckpt, "--style", "Dark", "--out", o2],
        ["sample", "--style", "Dark", "--out", o],
        ["evaluate", "--checkpoint", ckpt, "--data", root, "--out", o2],
        ["train", "lora", "--base", str(tmp_path), "--data", root, "--out", o2],
        ["train", "diffusion", "--data", root, "--styles", "Nope", "--out", o2],
        ["train", "lora", "--base", ckpt, "--data", root, "--styles", "Rare,Nope", "--out", o2],
    ]
    for argv in cases:
        assert main(["--no-progress", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("wikiart: error: "), (argv, err)
        assert "Traceback" not in err[0]
        assert not (tmp_path / "o2" / "config.json").exists(), argv  # no run was started


def test_class_balanced_batches_draw_rare_styles_as_often(tiny_root, tmp_path):
    from wikiart.diffusion.settings import DiffusionConfig

    ds = open_dataset(tiny_root)  # train: 4, 2, 1 images
    data = prepare_split(
        ds.split("train"), ds.class_map(), source=ds.root, image_size=16, progress=False
    )
    shares = {}
    for balance in ("sampler", "none"):
        cfg = DiffusionConfig(batch_size=8, steps_per_epoch=60, balance=balance)
        cfg.loader_workers = 0
        labels = torch.cat([b[1] for b in train_batches(data, cfg, 3)])
        assert len(labels) == 480
        shares[balance] = np.bincount(labels.numpy(), minlength=3) / len(labels)
    assert shares["sampler"].min() > 0.27  # 1/3 each
    assert shares["none"][2] < 0.22  # 1/7 of the images


def test_label_dropout_and_guidance_arithmetic():
    y = torch.arange(6) % 3
    assert torch.equal(drop_labels(y, 3, 0.0, False), y)
    assert torch.equal(drop_labels(y, 3, 0.0, True), torch.full_like(y, 3))
    torch.manual_seed(0)
    many = drop_labels(torch.zeros(4000, dtype=torch.long), 3, 0.1, False)
    assert 0.08 < (many == 3).float().mean() < 0.12 and set(many.tolist()) == {0, 3}

    def predict(x, t, labels):  # "no style" predicts 1, a style predicts 3
        return torch.where(labels[:, None] == 9, 1.0, 3.0) * torch.ones(len(x), 2)

    x, t, y = torch.zeros(2, 2), torch.zeros(2), torch.tensor([0, 1])
    g = Guided(predict, null=9)
    assert torch.allclose(g(x, t, y, 1.0), torch.full((2, 2), 3.0))
    assert torch.allclose(g(x, t, y, 2.0), torch.full((2, 2), 5.0))  # 1 + 2 * (3 - 1)
    other = Guided(predict, null=9, predict_uncond=lambda x, t, y: torch.zeros(len(x), 2))
    assert torch.allclose(other(x, t, y, 2.0), torch.full((2, 2), 6.0))  # 0 + 2 * (3 - 0)


def test_unconditional_model_samples_without_styles_and_is_not_judged(runs, tmp_path):
    run = tmp_path / "uncond"
    wikiart.train_diffusion(
        run, data=str(runs["root"]), unconditional=True, cache_dir=runs["cache"],
        **{**TINY, "epochs": 1, "sample_every": 0},
    )  # fmt: skip
    _, model, _ = load_model(run / "model.pt")
    assert model.style_names == [] and model.unconditional
    gen = open_generator(run / "model.pt", device="cpu")
    assert gen.styles == [ANY_STYLE]
    paths = wikiart.sample(tmp_path / "s", None, checkpoint=run / "model.pt", n=2, steps=2)
    assert len(paths) == 2
    with pytest.raises(WikiartError, match="unconditional"):
        wikiart.evaluate(run / "model.pt", runs["root"], tmp_path / "e", judge=run / "model.pt")
    with pytest.raises(WikiartError, match="one adapter per new style"):  # both under "no style"
        wikiart.train_lora(
            tmp_path / "l", base=str(run / "model.pt"), data=str(runs["root"]),
            styles=["Dark", "Bright"], cache_dir=runs["cache"],
        )  # fmt: skip
    assert not (tmp_path / "l" / "config.json").exists()


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(size=(4000, 3)) + np.array([1.0, 0.0, 0.0])
    assert abs(frechet_distance(a, a)) < 1e-6
    assert abs(frechet_distance(a, b) - 1.0) < 0.1
    c = rng.normal(size=(4000, 3)) * 2.0  # variance 4: trace(1 + 4 - 2*2) = 1 per dimension
    assert abs(frechet_distance(a, c) - 3.0) < 0.2


def test_frechet_distance_is_exact_with_fewer_vectors_than_dimensions():
    from scipy import linalg

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(50, 6)) * 1.5 + 0.3  # more vectors
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    want = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(
        s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2))
    )
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)
    # fewer vectors than dimensions (singular covariances): the singular-value route gives
    # what the square root of the PSD product gives, and fast
    a, b = rng.normal(size=(3, 200)), rng.normal(size=(4, 200)) + 0.1
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    root = np.sqrt(np.clip(np.linalg.eigvalsh(half @ s2 @ half), 0, None)).sum()
    want = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)


def test_evaluate_judges_samples_and_real_images(runs, tmp_path):
    judge = tmp_path / "judge"
    argv = [
        "--no-progress", "train", "classifier", "--data", str(runs["root"]), "--out", str(judge),
        "--arch", "baseline-cnn", "--image-size", "16", "--batch-size", "8", "--epochs", "1",
        "--workers", "0", "--val-fraction", "0.25", "--no-tta", "--cache-dir", runs["cache"],
    ]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "eval"
    res = wikiart.evaluate(
        runs["base"] / "model.pt", runs["root"], out, judge=judge / "model.pt", n_per_style=3,
        steps=2, seed=0, cache_dir=runs["cache"], device="cpu",
    )  # fmt: skip
    saved = json.loads((out / "diffusion_eval.json").read_text())
    assert saved == res
    assert set(res["per_style"]) == {"Bright", "Dark"} and res["n_per_style"] == 3
    assert res["chance"] == round(1 / 3, 4)  # the judge knows three styles
    shares = [v["judge_share"] for v in res["per_style"].values()]
    assert res["judge_share"] == pytest.approx(np.mean(shares), abs=1e-4)
    assert all(s in (0.0, 0.3333, 0.6667, 1.0) for s in shares)
    # real_share recomputed: the judge's verdicts on each style's test images at 16 px
    _, clf, payload = load_model(judge / "model.pt")
    for style, v in res["per_style"].items():
        files = sorted((runs["root"] / "test" / style).iterdir())
        ds = prepare_split(
            [r for r in open_dataset(runs["root"]).split("test") if r.style == style],
            ClassMap(("Bright", "Dark")), source=runs["root"], image_size=16,
            cache_root=runs["cache"], progress=False,
        )  # fmt: skip
        x = torch.stack([ds.raw(i) for i in range(len(ds))])
        size = payload["preprocess"]["image_size"]
        if size != 16:
            up = F.interpolate(x.float() / 255, size=(size, size), mode="bilinear", antialias=True)
            x = (up.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
        with torch.inference_mode():
            pred = clf(x).argmax(1)
        want = float((pred == payload["classes"].index(style)).float().mean())
        assert v["real_share"] == pytest.approx(want, abs=1e-4) and v["n_test"] == len(files)
    m = res["memorisation"]
    assert (m is not None) == has_lite0()  # Lite0's feature space: the pretrained extra
    if m is not None:
        assert 0 <= m["closer_than_test_p5"] <= 1 and m["n_train"] == 16
        assert res["frechet_lite0"] >= 0 and res["frechet_lite0_train_vs_test"] >= 0
        assert_png(out / "nearest.png", min_side=50)
    assert_png(out / "grid.png", min_side=50)
