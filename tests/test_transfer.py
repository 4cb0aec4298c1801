"""AdaIN style transfer: the pure functions against hand-computed tensors, the model (alpha,
any input size), a few decoder steps learning, checkpoint round trips, the CLI (train transfer,
transfer, evaluate) and its one-line errors."""

import json
import math

import pytest
import torch

from conftest import assert_png, dark_bright, decoder_losses, png_size, requires, write_image
from wikiart.checkpoints import load_checkpoint, load_model, make_payload, save_checkpoint
from wikiart.cli import main
from wikiart.errors import WikiartError
from wikiart.functional import (
    blend,
    channel_mean_std,
    content_loss,
    mean_std_loss,
    preserve_color,
    smooth_activations,
)
from wikiart.models.transfer import StyleTransfer, default_widths, pad_to_stride
from wikiart.transfer import load_transfer, paint, resolve_style
from wikiart.transfer.stylize import Style

requires("efficientnet_lite_pytorch", "pretrained")


# -- pure functions --------------------------------------------------------------------------
def test_blend_is_a_linear_mix_and_checks_alpha():
    c, s = torch.zeros(1, 2, 2, 2), torch.full((1, 2, 2, 2), 4.0)
    assert torch.equal(blend(c, s, 0.0), c)
    assert torch.equal(blend(c, s, 1.0), s)
    assert torch.allclose(blend(c, s, 0.25), torch.ones(1, 2, 2, 2))
    with pytest.raises(ValueError, match="alpha"):
        blend(c, s, 1.5)


def test_smooth_activations_is_a_scaled_softmax_over_each_map():
    x = torch.tensor([[[[0.0, math.log(3.0)]]]])  # 1 x 1 x 1 x 2: softmax = [1/4, 3/4]
    y = smooth_activations(x, 1.0)
    assert torch.allclose(y, torch.tensor([[[[0.5, 1.5]]]]))  # times 2 elements
    assert torch.equal(smooth_activations(x, 0.0), x)  # off
    big = torch.randn(3, 4, 5, 5) * 10
    s = smooth_activations(big, 2.0)
    assert torch.allclose(s.mean(dim=(1, 2, 3)), torch.ones(3), atol=1e-5)
    # each sample separately: scaling one sample leaves the other alone
    big2 = big.clone()
    big2[0] *= 2
    assert torch.equal(smooth_activations(big2, 2.0)[1:], s[1:])
    # a higher temperature is smoother (closer to uniform)
    assert smooth_activations(big, 20.0).std() < s.std()


def test_mean_std_loss_against_hand_computed_values():
    # one map, one sample, two channels: channel 0 = [1, 3] (mean 2, std 1), channel 1 = [2, 2]
    g = torch.tensor([[[[1.0, 3.0]], [[2.0, 2.0]]]])
    want_mean, want_std = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0])
    eps_std = math.sqrt(1e-5)  # the std of a constant channel is sqrt(eps)
    expected = (2.0**2 + 0.0) / 2 + (0.0 + (1 - eps_std) ** 2) / 2
    got = mean_std_loss([g], [(want_mean, want_std)])
    assert got.item() == pytest.approx(expected, rel=1e-4)
    # summed over layers
    two = mean_std_loss([g, g], [(want_mean, want_std)] * 2)
    assert two.item() == pytest.approx(2 * expected, rel=1e-4)
    # its own statistics give zero, and it has a gradient
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    m, s = channel_mean_std(x.detach())
    assert mean_std_loss([x], [(m, s)]).item() == pytest.approx(0.0, abs=1e-10)
    mean_std_loss([x], [(m + 1, s)]).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        mean_std_loss([g], [])


def test_content_loss_is_the_mean_squared_error():
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 2.0], [0.0, 1.0]]]])
    assert content_loss(a, b).item() == pytest.approx((1 + 4 + 0 + 1) / 4)


def test_preserve_color_keeps_the_stylised_luma_and_the_content_chroma():
    torch.manual_seed(0)
    content = torch.rand(2, 3, 6, 5) * 0.5 + 0.25
    grey = torch.rand(2, 1, 6, 5).expand(2, 3, 6, 5) * 0.5 + 0.25
    out = preserve_color(grey, content)
    luma = torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]
    assert torch.allclose((out * luma).sum(1), (grey * luma).sum(1), atol=1e-5)
    # chroma (U, V as colour differences from luma) of the content
    y_c = (content * luma).sum(1, keepdim=True)
    y_o = (out * luma).sum(1, keepdim=True)
    assert torch.allclose(out - y_o, content - y_c, atol=1e-5)
    assert torch.allclose(preserve_color(content, content), content, atol=1e-5)
    with pytest.raises(ValueError):
        preserve_color(content, content[:, :, :3])


# -- the model -------------------------------------------------------------------------------
def small(layer: int = 1, seed: int = 0) -> StyleTransfer:
    """Random weights (no download, no weights package): enough to test the plumbing."""
    torch.manual_seed(seed)
    model = StyleTransfer(["A", "B"], layer=layer, widths=[8] * (layer + 1), image_size=32)
    model.set_style_bank(torch.randn(2, model.channels), torch.rand(2, model.channels) + 0.5)
    return model.eval()


def test_default_widths_halve_from_the_adain_layer():
    assert default_widths(3) == [128, 64, 32, 16]
    assert default_widths(1) == [32, 16]


def test_alpha_zero_is_the_decoders_reconstruction_and_alpha_moves_the_output():
    model = small()
    x = torch.rand(2, 3, 32, 32)
    m, s = model.style_mean[1], model.style_std[1]
    with torch.no_grad():
        recon = model.decoder(model.codes(x)[-1])
        assert torch.equal(model.stylize(x, m, s, alpha=0.0), recon)
        full = model.stylize(x, m, s, alpha=1.0)
        half = model.stylize(x, m, s, alpha=0.5)
    assert not torch.allclose(full, recon)
    assert 0 < (half - recon).abs().mean() < (full - recon).abs().mean()


def test_decode_renders_the_adain_target_of_the_banked_style():
    """decode (the generator interface) = decoder(AdaIN of the content to the bank's row)."""
    from wikiart.functional import adain

    model = small()
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    style = torch.tensor([1, 0])
    with torch.no_grad():
        codes = model.encode(x)
        assert torch.equal(codes[0], model.codes(x.float() / 255)[-1])
        target = adain(codes[0], model.style_std[style], model.style_mean[style])
        want = model.decoder(target).clamp(0, 1)
        assert torch.equal(model.decode(codes, style), want)
        # an input smaller than two strides is padded, and the render cropped back
        tiny = x[:, :, :5, :7]
        out = model.decode(model.encode(tiny), style)
    assert out.shape == (2, 3, 5, 7)
    mean, _ = channel_mean_std(target)
    assert torch.allclose(mean, model.style_mean[style], atol=1e-4)


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (3, 70)])
def test_any_size_is_padded_to_the_stride_and_cropped_back(size):
    model = small()
    img = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
    style = Style("A", model.style_mean[0], model.style_std[0])
    out = paint(model, img, style)
    assert out.shape == (3, *size) and out.min() >= 0 and out.max() <= 1
    padded, hw = pad_to_stride(img[None].float(), model.stride)
    assert hw == size and padded.shape[-2] % 4 == 0 and padded.shape[-1] % 4 == 0
    kept = paint(model, img, style, keep_colors=True)
    assert kept.shape == out.shape


def test_a_few_decoder_steps_reduce_the_loss_on_tiny_images():
    model = small(seed=1)
    model.train()
    torch.manual_seed(0)
    content = torch.rand(4, 3, 32, 32)
    style = torch.rand(4, 3, 32, 32) ** 3  # darker, higher-contrast "paintings"
    losses, parts = decoder_losses(model, content, style, 30, style_weight=10.0, identity_weight=1)
    assert set(parts) == {"content", "style", "identity"}
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.grad is None for p in model.encoder.parameters())  # the encoder is frozen


def test_style_bank_medoid_is_one_paintings_statistics_and_mean_their_average():
    from torch.utils.data import TensorDataset

    from wikiart.transfer.train import style_bank

    model = small(seed=3)
    torch.manual_seed(0)
    x = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    x[4:] = x[4:] // 4  # style 1: darker
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    data = TensorDataset(x, y)
    with torch.no_grad():
        m, s = channel_mean_std(model.codes(x.float() / 255)[-1])
    mean, std = style_bank(model, data, 2, torch.device("cpu"), "mean", batch_size=3)
    assert torch.allclose(mean[0], m[:4].mean(0), atol=1e-5)
    assert torch.allclose(std[1], s[4:].mean(0), atol=1e-5)
    mean, std = style_bank(model, data, 2, torch.device("cpu"), "medoid", batch_size=3)
    for style, rows in ((0, range(4)), (1, range(4, 7))):
        assert any(torch.allclose(mean[style], m[i], atol=1e-5) for i in rows)
        assert any(torch.allclose(std[style], s[i], atol=1e-5) for i in rows)
    with pytest.raises(ValueError):
        style_bank(model, data, 2, torch.device("cpu"), "median")


def test_checkpoint_round_trip_reproduces_outputs_exactly(tmp_path):
    model = small(seed=2)
    payload = make_payload(
        kind="transfer",
        model_config=model.config,
        model=model,
        classes=model.style_names,
        preprocess={"image_size": 32},
        epoch=1,
        metrics={},
    )
    save_checkpoint(tmp_path / "model.pt", payload)
    kind, back, _ = load_model(tmp_path / "model.pt", kind="transfer")
    assert kind == "transfer"
    img = torch.randint(0, 256, (3, 29, 41), dtype=torch.uint8)
    for name in ("A", "B"):
        a = paint(model, img, resolve_style(model, name), alpha=0.7)
        b = paint(back, img, resolve_style(back, name), alpha=0.7)
        assert torch.equal(a, b)


def test_unknown_style_names_and_bad_style_images_are_clear_errors(tmp_path):
    model = small()
    with pytest.raises(WikiartError, match=r"unknown style 'Nope'.*A, B"):
        resolve_style(model, "Nope")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(WikiartError, match="not a usable image"):
        resolve_style(model, str(bad))
    good = tmp_path / "style.png"
    write_image(good, seed=3, fmt="PNG", size=(50, 20))
    s = resolve_style(model, str(good))
    assert s.label == "style" and s.mean.shape == (model.channels,)


# -- the CLI on tiny data --------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A transfer run on two tiny styles (1 epoch of 4 steps, 16 px crops, layer 1)."""
    tmp = tmp_path_factory.mktemp("transfer")
    root = dark_bright(tmp / "ds", {"train": 6, "test": 2})
    run = tmp / "run"
    argv = [
        "--no-progress", "train", "transfer", "--data", str(root), "--out", str(run),
        "--image-size", "32", "--crop", "16", "--layer", "1", "--widths", "8,8",
        "--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "2",
        "--cache-dir", str(tmp / "cache"),
    ]  # fmt: skip
    assert main(argv) == 0
    return {"tmp": tmp, "root": root, "run": run, "argv": argv}


def test_train_transfer_writes_a_self_contained_run(trained):
    run = trained["run"]
    for name in ("model.pt", "history.csv", "loss.png", "grid.png"):
        assert (run / name).is_file(), name
    payload = load_checkpoint(run / "model.pt")
    assert payload["kind"] == "transfer" and payload["classes"] == ["Bright", "Dark"]
    assert len(payload["color_stats"]["mean"]) == 2
    model, _ = load_transfer(run / "model.pt")
    # the style bank: one row per style, the two styles differ (grey vs colour noise)
    assert model.style_mean.shape == (2, model.channels)
    assert not torch.allclose(model.style_std[0], model.style_std[1])
    header = (run / "history.csv").read_text().splitlines()[0]
    assert "train_content" in header and "train_style" in header


def test_transfer_cli_paints_at_the_content_size_by_name_and_by_image(trained, capsys):
    tmp, run = trained["tmp"], trained["run"]
    photo = tmp / "photo.jpg"
    write_image(photo, seed=7, size=(45, 27))
    painting = tmp / "painting.png"
    write_image(painting, seed=8, size=(30, 30), fmt="PNG")
    out = tmp / "painted"
    argv = ["transfer", "--checkpoint", str(run / "model.pt"), "--content", str(photo)]
    assert main([*argv, "--style", "Dark", str(painting), "--alpha", "0.8", "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("000_*.png"))
    assert pngs == ["000_photo_Dark.png", "000_photo_painting.png"]
    for p in pngs:
        assert png_size(out / p) == (45, 27)
    assert_png(out / "grid.png")
    # --preserve-color and --max-size
    out2 = tmp / "painted2"
    assert main([*argv, "--style", "Bright", "--preserve-color", "--max-size", "32",
                 "--out", str(out2)]) == 0  # fmt: skip
    assert png_size(out2 / "000_photo_Bright.png") == (32, 19)
    capsys.readouterr()
    # errors: one line, exit 2, nothing written
    assert main([*argv, "--style", "Nope", "--out", str(tmp / "e1")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown style 'Nope'" in err and len(err.splitlines()) == 1
    assert not (tmp / "e1").exists()
    bad = tmp / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    bad_argv = ["transfer", "--checkpoint", str(run / "model.pt"), "--content", str(bad)]
    assert main([*bad_argv, "--style", "Dark", "--out", str(tmp / "e2")]) == 2
    err = capsys.readouterr().err.strip()
    assert "broken.jpg" in err and len(err.splitlines()) == 1
    missing = ["transfer", "--checkpoint", str(tmp / "none.pt"), "--content", str(photo)]
    assert main([*missing, "--style", "Dark", "--out", str(tmp / "e3")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main([*argv, "--style", "Dark", "--alpha", "2", "--out", str(tmp / "e4")]) == 2
    err = capsys.readouterr().err.strip()  # the setting's range, before any work
    assert "alpha (--alpha) must be a finite number in [0, 1], got 2.0" in err
    assert len(err.splitlines()) == 1 and not (tmp / "e4").exists()


def test_evaluate_writes_the_generators_schema(trained, tmp_path):
    root, run = trained["root"], trained["run"]
    judge = tmp_path / "judge"
    assert main([
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(judge),
        "--arch", "baseline-cnn", "--epochs", "1", "--image-size", "32", "--batch-size", "4",
    ]) == 0  # fmt: skip
    out = tmp_path / "ev"
    ev = ["evaluate", "--checkpoint", str(run / "model.pt"), "--data", str(root)]
    assert main([*ev, "--judge", str(judge / "model.pt"), "--out", str(out)]) == 0
    res = json.loads((out / "stylegen_eval.json").read_text())
    for key in ("swap_success", "floor", "color_baseline", "ssim", "own_style_ssim", "pairs"):
        assert key in res
    assert res["pairs"] == 4 and res["styles"] == ["Bright", "Dark"]
    assert 0 <= res["ssim"] <= 1
    assert_png(out / "grid.png")


def test_epochs_zero_with_init_keeps_the_decoder_and_takes_the_new_styles(trained, tmp_path):
    root = tmp_path / "other"
    for i in range(3):
        write_image(root / "train" / "Noise" / f"n{i}.png", seed=300 + i, fmt="PNG")
        write_image(root / "train" / "Grey" / f"g{i}.png", seed=400 + i, mode="L", fmt="PNG")
        write_image(root / "train" / "Third" / f"t{i}.png", seed=500 + i, fmt="PNG")
    out = tmp_path / "restyled"
    init = str(trained["run"] / "model.pt")
    argv = ["--no-progress", "train", "transfer", "--data", str(root), "--out", str(out),
            "--image-size", "32", "--crop", "16", "--epochs", "0", "--init", init]  # fmt: skip
    assert main(argv) == 0
    old, _ = load_transfer(init)
    new, _ = load_transfer(out / "model.pt")
    assert new.style_names == ["Grey", "Noise", "Third"]
    old_sd, new_sd = old.decoder.state_dict(), new.decoder.state_dict()
    assert all(torch.equal(old_sd[k], new_sd[k]) for k in old_sd)
    assert main([*argv[:-2], "--out", str(tmp_path / "x")]) == 2  # epochs 0 needs --init
