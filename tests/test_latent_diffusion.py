"""Latent diffusion on tiny data: the autoencoder (`train vae`), a base diffusing its latents,
LoRA onto that base, and the checkpoints that rebuild all of it."""

from __future__ import annotations

import csv

import pytest
import torch

import wikiart
from conftest import assert_png, dark_bright_rare, requires
from wikiart.checkpoints import load_checkpoint, load_model
from wikiart.diffusion.generate import open_generator
from wikiart.errors import WikiartError
from wikiart.eval.generator import SampleOptions
from wikiart.models.diffusion import StyleDiffusion
from wikiart.models.vae import LatentCodec
from wikiart.train import loop

requires("diffusers", "diffusion")
requires("peft", "diffusion")

COMMON = {"device": "cpu", "loader_workers": 0, "batch_size": 4, "steps_per_epoch": 2}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An autoencoder, a latent base on it without Rare, and a LoRA adapter onto Rare."""
    tmp = tmp_path_factory.mktemp("latent")
    root, cache = dark_bright_rare(tmp), str(tmp / "cache")
    vae, base, lora = tmp / "vae", tmp / "base", tmp / "lora"
    wikiart.train_vae(
        vae, data=str(root), image_size=16, crop=8, widths=[8, 16], epochs=2, samples=2,
        cache_dir=cache, **COMMON,
    )  # fmt: skip
    wikiart.train_diffusion(
        base, data=str(root), vae=str(vae / "model.pt"), image_size=16, widths=[8, 16],
        exclude_styles=["Rare"], epochs=1, samples=2, sample_steps=2, ema_decay=0.9,
        cache_dir=cache, **COMMON,
    )  # fmt: skip
    wikiart.train_lora(
        lora, base=str(base / "model.pt"), data=str(root), styles=["Rare"], rank=2, epochs=1,
        samples=2, sample_steps=2, cache_dir=cache, **COMMON,
    )  # fmt: skip
    return {"root": root, "vae": vae, "base": base, "lora": lora, "cache": cache}


def test_the_autoencoder_run_measures_and_rebuilds_itself(runs):
    vae = runs["vae"]
    assert_png(vae / "recon.png", min_side=30)
    assert_png(vae / "loss.png")
    rows = list(csv.DictReader((vae / "history.csv").open()))
    assert len(rows) == 2
    assert all(float(r["val_psnr"]) > 0 and float(r["latent_scale"]) > 0 for r in rows)
    kind, codec, _ = load_model(vae / "model.pt")
    assert kind == "vae" and isinstance(codec, LatentCodec)
    assert codec.factor == 2 and codec.latent_channels == 4
    # the scale saved is the one measured in the last epoch: unit-variance latents
    assert float(codec.scale) == pytest.approx(float(rows[-1]["latent_scale"]), rel=1e-4)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    z = codec.encode(x)
    assert z.shape == (2, 4, 8, 8)
    y = codec.decode(z)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1


def test_a_latent_base_holds_its_frozen_autoencoder_and_makes_images(runs):
    kind, model, _ = load_model(runs["base"] / "model.pt")
    assert kind == "diffusion" and isinstance(model, StyleDiffusion)
    assert model.codec is not None
    assert model.image_size == 16 and model.sample_shape == (4, 8, 8)
    assert model.scheduler_config["thresholding"] is False  # latents have no fixed range
    vae = load_checkpoint(runs["vae"] / "model.pt")["state_dict"]
    held = {k.removeprefix("codec."): v for k, v in model.state_dict().items() if "codec." in k}
    assert held.keys() == vae.keys()
    assert all(torch.equal(held[k], vae[k]) for k in vae)  # trained on, never changed
    assert not any(p.requires_grad for p in model.codec.parameters())
    gen = open_generator(runs["base"] / "model.pt", device="cpu")
    images = gen.sample("Dark", SampleOptions(n=3, seed=1, steps=2))
    assert images.shape == (3, 3, 16, 16) and images.dtype == torch.uint8
    again = gen.sample("Dark", SampleOptions(n=3, seed=1, steps=2, batch_size=2))
    assert torch.equal(images, again)


def test_lora_on_a_latent_base_adapts_the_unet_alone(runs):
    gen = open_generator(runs["lora"], device="cpu")
    assert gen.styles == ["Rare"]
    images = gen.sample("Rare", SampleOptions(n=2, seed=0, steps=2))
    assert images.shape == (2, 3, 16, 16)
    adapter = load_checkpoint(runs["lora"] / "model.pt")["state_dict"]
    assert adapter and all("lora_" in k for k in adapter)
    assert not any("codec" in k for k in adapter)
    assert_png(runs["lora"] / "grid.png", min_side=30)


def test_a_vae_that_does_not_divide_the_image_size_is_refused(runs, tmp_path):
    with pytest.raises(WikiartError, match="not divisible by the autoencoder"):
        wikiart.train_diffusion(
            tmp_path / "odd", data=str(runs["root"]), vae=str(runs["vae"] / "model.pt"),
            image_size=17, widths=[8, 16], epochs=1, cache_dir=runs["cache"], **COMMON,
        )  # fmt: skip


def test_init_fine_tunes_a_trained_base_from_its_weights(runs, tmp_path):
    base = runs["base"] / "model.pt"
    run = tmp_path / "tuned"
    wikiart.train_diffusion(
        run, data=str(runs["root"]), init=str(base), image_size=16, exclude_styles=["Rare"],
        epochs=1, samples=2, sample_steps=2, ema_decay=0.0, lr=1e-12,
        cache_dir=runs["cache"], **COMMON,
    )  # fmt: skip
    _, start, _ = load_model(base)
    _, tuned, _ = load_model(run / "model.pt")
    assert tuned.config == start.config  # the init's architecture, autoencoder and styles
    a, b = start.state_dict(), tuned.state_dict()
    # a learning rate of 1e-12 leaves the init's weights where they were: it started from them
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(WikiartError, match="same styles"):
        wikiart.train_diffusion(
            tmp_path / "all", data=str(runs["root"]), init=str(base), image_size=16, epochs=1,
            cache_dir=runs["cache"], **COMMON,
        )  # fmt: skip
    with pytest.raises(WikiartError, match="--image-size 16"):
        wikiart.train_diffusion(
            tmp_path / "big", data=str(runs["root"]), init=str(base), image_size=32,
            exclude_styles=["Rare"], epochs=1, cache_dir=runs["cache"], **COMMON,
        )  # fmt: skip


def test_styles_drawn_together_are_the_images_each_gives_alone(runs):
    gen = open_generator(runs["base"] / "model.pt", device="cpu")
    options = SampleOptions(n=3, seed=4, steps=2, batch_size=4)  # batches across styles
    together = gen.sample_styles(["Dark", "Bright"], options)
    assert list(together) == ["Dark", "Bright"]
    for style, images in together.items():
        alone = gen.sample(style, options)
        assert images.shape == alone.shape == (3, 3, 16, 16)
        # the same noise and labels; batched convolutions may differ in the last bit
        assert (images.int() - alone.int()).abs().max() <= 1
    assert not torch.equal(together["Dark"], together["Bright"])
    lora = open_generator(runs["lora"], device="cpu")  # "Rare" is drawn under "no style": alone
    alone = lora.sample("Rare", options)
    assert torch.equal(lora.sample_styles(["Rare"], options)["Rare"], alone)
    assert torch.equal(lora.sample_styles(["Rare", "Rare"], options)["Rare"], alone)
    with pytest.raises(WikiartError, match="unknown style"):
        gen.sample_styles(["Dark", "Nope"], options)


def test_decoder_only_keeps_the_encoder_and_the_scale_of_its_init(runs, tmp_path):
    vae = runs["vae"] / "model.pt"
    run = tmp_path / "decoder"
    wikiart.train_vae(
        run, data=str(runs["root"]), init=str(vae), decoder_only=True, image_size=16, crop=0,
        epochs=1, samples=2, lr=1e-2, cache_dir=runs["cache"], **COMMON,
    )  # fmt: skip
    before = load_checkpoint(vae)["state_dict"]
    after = load_checkpoint(run / "model.pt")["state_dict"]
    assert before.keys() == after.keys()
    kept = [k for k in before if k.startswith(("vae.encoder.", "vae.quant_conv.")) or k == "scale"]
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)
    decoder = [k for k in before if k.startswith("vae.decoder.")]
    assert any(not torch.equal(before[k], after[k]) for k in decoder)  # it trained
    with pytest.raises(WikiartError, match="pass --init"):
        wikiart.train_vae(
            tmp_path / "bad", data=str(runs["root"]), decoder_only=True, image_size=16, crop=8,
            epochs=1, cache_dir=runs["cache"], **COMMON,
        )  # fmt: skip


def test_adversarial_decoder_trains_its_critic_and_resumes_it(runs, tmp_path, monkeypatch):
    vae = runs["vae"] / "model.pt"
    settings = {"data": str(runs["root"]), "init": str(vae), "decoder_only": True,
                "adversarial_weight": 0.5, "perceptual_weight": 0.0, "image_size": 16,
                "crop": 0, "samples": 2, "lr": 1e-2, "epochs": 2, "cache_dir": runs["cache"],
                **COMMON}  # fmt: skip
    whole = tmp_path / "whole"
    wikiart.train_vae(whole, **settings)
    critic = load_checkpoint(whole / "last.pt")["companion"]
    assert critic["steps"] == 2 * COMMON["steps_per_epoch"] and critic["scale"] > 0
    assert load_checkpoint(whole / "last.pt")["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.9)
    before = load_checkpoint(vae)["state_dict"]
    after = load_checkpoint(whole / "model.pt")["state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("vae.encoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if "decoder" in k)

    # interrupted in its second epoch, then resumed: the same critic and decoder as in one go
    train_epoch = loop._train_epoch

    def interrupted(run, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return train_epoch(run, epoch)

    cut = tmp_path / "cut"
    monkeypatch.setattr(loop, "_train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        wikiart.train_vae(cut, **settings)
    assert load_checkpoint(cut / "last.pt")["companion"]["steps"] == COMMON["steps_per_epoch"]
    monkeypatch.setattr(loop, "_train_epoch", train_epoch)
    wikiart.train_vae(cut, resume=True, **settings)
    resumed = load_checkpoint(cut / "last.pt")["companion"]
    assert resumed["steps"] == critic["steps"]
    assert all(torch.equal(critic["critic"][k], resumed["critic"][k]) for k in critic["critic"])
    again = load_checkpoint(cut / "model.pt")["state_dict"]
    assert all(torch.equal(after[k], again[k]) for k in after)
    with pytest.raises(WikiartError, match="adversarial-weight fine-tunes"):
        wikiart.train_vae(
            tmp_path / "bad", data=str(runs["root"]), adversarial_weight=0.5, image_size=16,
            crop=0, epochs=1, cache_dir=runs["cache"], **COMMON,
        )  # fmt: skip
