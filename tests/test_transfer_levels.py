"""Multi-level AdaIN (``--levels``) and the deeper style loss (``--style-depth``): the restyled
maps at every AdaIN tap, the skip decoder, the loss network continued past the AdaIN layer, a
checkpoint that rebuilds itself, the CLI and its one-line errors."""

import pytest
import torch

from conftest import dark_bright, decoder_losses, paints_at_own_size, requires
from wikiart.cli import main
from wikiart.functional import adain, channel_mean_std
from wikiart.models.transfer import SkipDecoder, StyleTransfer
from wikiart.transfer import load_transfer, paint
from wikiart.transfer.losses import loss_network
from wikiart.transfer.stylize import Style, style_statistics

requires("efficientnet_lite_pytorch", "pretrained")


def multi(seed: int = 0, layer: int = 2, levels: int = 3, min_side: int = 0) -> StyleTransfer:
    """Random weights: AdaIN at the ``levels`` deepest taps up to ``layer``."""
    torch.manual_seed(seed)
    widths = [8] * (layer + 1)
    model = StyleTransfer(["A", "B"], layer=layer, levels=levels, widths=widths, min_side=min_side)
    model.set_style_bank(torch.randn(2, model.channels), torch.rand(2, model.channels) + 0.5)
    return model.eval()


def test_levels_pick_the_deepest_taps_and_a_skip_decoder():
    model = multi(layer=2, levels=2)
    assert model.adain_taps == [1, 2] and model.tap_channels == [24, 40]
    assert model.channels == 64 and isinstance(model.decoder, SkipDecoder)
    assert multi(layer=2, levels=1).adain_taps == [2]
    with pytest.raises(ValueError, match="levels"):
        StyleTransfer(["A"], layer=1, levels=3)


def test_decode_restyles_every_tap_to_its_part_of_the_bank_row():
    model = multi()
    x = torch.randint(0, 256, (2, 3, 40, 24), dtype=torch.uint8)
    style = torch.tensor([1, 0])
    with torch.no_grad():
        *maps, sizes = model.encode(x)
        assert [m.shape[1] for m in maps] == [16, 24, 40]
        assert [m.shape[-1] for m in maps] == [12, 6, 3]  # strides 2, 4, 8
        target = model.restyle(maps, model.style_mean[style], model.style_std[style])
        at = 0
        for m, t, c in zip(maps, target, model.tap_channels, strict=True):
            mean, std = model.style_mean[style, at : at + c], model.style_std[style, at : at + c]
            assert torch.equal(t, adain(m, std, mean))
            assert torch.allclose(channel_mean_std(t)[0], mean, atol=1e-4)
            at += c
        out = model.decode((*maps, sizes), style)
        assert torch.equal(out, model.decoder(target)[..., :40, :24].clamp(0, 1))
    assert out.shape == (2, 3, 40, 24)


def test_alpha_zero_renders_the_content_maps_and_any_size_comes_back():
    model = multi(seed=1)
    x = torch.rand(1, 3, 32, 32)
    m, s = model.style_mean[0], model.style_std[0]
    with torch.no_grad():
        assert torch.equal(model.stylize(x, m, s, alpha=0.0), model.render(model.codes(x)))
        assert not torch.allclose(model.stylize(x, m, s, alpha=1.0), model.stylize(x, m, s, 0.0))
    img = torch.randint(0, 256, (3, 21, 9), dtype=torch.uint8)
    mean, std = style_statistics(model, img)
    assert mean.shape == (model.channels,)
    assert paint(model, img, Style("x", mean, std)).shape == (3, 21, 9)


def test_a_picture_under_min_side_is_painted_scaled_up_and_brought_back_to_its_size():
    import torch.nn.functional as F

    from wikiart.models.transfer import build_transfer, pad_to_stride

    model = multi(seed=3, min_side=48)
    m, s = model.style_mean[1], model.style_std[1]
    x = torch.rand(2, 3, 20, 30)
    with torch.no_grad():
        out = model.paint(x, m, s)
        up = F.interpolate(x, size=(48, 72), mode="bicubic", align_corners=False).clamp(0, 1)
        painted = model.stylize(pad_to_stride(up, model.stride)[0], m, s)[..., :48, :72]
        want = F.interpolate(painted, size=(20, 30), mode="bilinear", antialias=True)
        assert out.shape == (2, 3, 20, 30) and torch.allclose(out, want.clamp(0, 1))
        by_bank = model.decode(model.encode(x), torch.tensor([1, 1]))
        assert torch.allclose(by_bank, out, atol=1e-6)  # the evaluation paints the same way
        stats = model.exemplar_statistics(x)
        assert torch.allclose(stats[0], model.statistics(model.codes(up))[0], atol=1e-6)
        big = torch.rand(1, 3, 48, 64)  # at least min_side: painted at its own size
        assert torch.equal(model.paint(big, m, s), model.stylize(big, m, s).clamp(0, 1))
    assert build_transfer(model.config).min_side == 48
    old = {k: v for k, v in model.config.items() if k != "min_side"}
    assert build_transfer(old).min_side == 0  # checkpoints from before: their own size


def test_the_loss_network_continues_the_encoder_and_a_few_steps_learn():
    model = multi(seed=2, layer=1, levels=2)
    net = loss_network(model, 3)
    assert len(net(torch.rand(1, 3, 32, 32))) == 4  # taps 0..3
    assert loss_network(model, None) is model.encoder and loss_network(model, 1) is model.encoder
    own = model.encoder.state_dict()
    for k, v in net.state_dict().items():  # the model's blocks kept, deeper ones ImageNet's
        if k in own:
            assert torch.equal(v, own[k]), k
    model.train()
    torch.manual_seed(0)
    content = torch.rand(4, 3, 32, 32)
    style = torch.rand(4, 3, 32, 32) ** 3
    losses, parts = decoder_losses(model, content, style, 25, identity_weight=1.0, loss_net=net)
    assert set(parts) == {"content", "style", "identity"}
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.grad is None for p in net.parameters())


def test_cli_trains_paints_and_reloads_a_multi_level_model(tmp_path, capsys):
    root = dark_bright(tmp_path / "ds", {"train": 6, "test": 2})
    run = tmp_path / "run"
    argv = [
        "--no-progress", "train", "transfer", "--data", str(root), "--out", str(run),
        "--image-size", "32", "--crop", "16", "--layer", "2", "--levels", "2",
        "--style-depth", "3", "--widths", "8,8,8", "--epochs", "1", "--steps-per-epoch", "3",
        "--batch-size", "2", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    assert main(argv) == 0
    model, payload = load_transfer(run / "model.pt")
    assert payload["model_config"]["levels"] == 2 and model.adain_taps == [1, 2]
    assert model.style_mean.shape == (2, 24 + 40)
    assert model.min_side == 16  # the decoder paints at the scale of its training crops
    paints_at_own_size(run / "model.pt", tmp_path, "Dark", (37, 22))
    paints_at_own_size(run / "model.pt", tmp_path / "small", "Dark", (9, 13))  # scaled up and back
    capsys.readouterr()
    base = [*argv[:3], "--data", str(root), "--image-size", "32", "--crop", "16"]
    for flags, words in (
        (["--layer", "2", "--levels", "4"], "levels must be 1..3"),
        (["--layer", "2", "--style-depth", "1"], "style depth must be 2..4"),
        (["--layer", "5"], "from 0 to 4"),
    ):
        bad = tmp_path / "bad"
        assert main([*base, "--out", str(bad), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
        assert not bad.exists()


def test_training_crops_keep_the_paintings_scale():
    from wikiart.transfer.train import native_scale

    lo, hi = native_scale(128, 224)
    assert lo == pytest.approx((0.8 * 128 / 224) ** 2) and hi == pytest.approx(
        (1.25 * 128 / 224) ** 2
    )
    assert native_scale(224, 224) == pytest.approx((0.64, 1.0))
    for crop in (64, 128, 192):  # the patch cut is 0.8x to 1.25x the crop's side
        lo, hi = native_scale(crop, 256)
        assert 0.8 * crop == pytest.approx(256 * lo**0.5) and 1.25 * crop == pytest.approx(
            256 * hi**0.5
        )


def test_the_apps_painter_paints_a_multi_level_model_by_name_and_like_an_upload():
    from PIL import Image

    from wikiart.errors import WikiartError
    from wikiart.transfer.painter import TransferPainter

    painter = TransferPainter(multi(seed=4))
    assert painter.styles == ["A", "B"] and painter.exemplars
    photo = Image.new("RGB", (45, 30), (200, 120, 40))
    by_name = painter.paint(photo.copy(), "B", None, 1.0, False, 40)
    assert by_name.shape == (27, 40, 3) and by_name.dtype.name == "uint8"  # scaled to 40 px
    upload = Image.effect_noise((24, 24), 60).convert("RGB")
    like = painter.paint(photo.copy(), None, upload, 0.5, True, 64)
    assert like.shape == (30, 45, 3)
    with pytest.raises(WikiartError, match="unknown style"):
        painter.paint(photo.copy(), "C", None, 1.0, False, 64)
