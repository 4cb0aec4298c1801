"""The style autoencoder (the default `train autoencoder` with the pretrained extra): a code over
the frozen Lite0's style statistics, trained on views of each painting, its backbone untouched,
its checkpoint rebuilt and clustered, its run resumed bit for bit."""

from __future__ import annotations

import pytest
import torch

from wikiart.autoencode.settings import AutoencoderConfig
from wikiart.autoencode.style_train import style_losses, view_transform
from wikiart.autoencode.train import resolve_config
from wikiart.checkpoints import load_checkpoint, load_model
from wikiart.cli import main
from wikiart.errors import WikiartError
from wikiart.models.registry import pretrained_available
from wikiart.models.style_autoencoder import StyleAutoencoder, build_style_autoencoder

needs_lite0 = pytest.mark.skipif(
    not pretrained_available("efficientnet-lite0"), reason="the pretrained extra is not installed"
)


def style_args(root, out, *extra):
    return [
        "--no-progress", "train", "autoencoder", "--data", str(root), "--out", str(out),
        "--model", "style", "--image-size", "32", "--preview-size", "16", "--code-dim", "8",
        "--hidden", "32", "--views", "3", "--batch-size", "8", "--epochs", "3", "--workers", "0",
        "--cache-dir", str(out.parent / "cache"), "--val-fraction", "0.25", *extra,
    ]  # fmt: skip


@needs_lite0
def test_code_preview_and_frozen_backbone() -> None:
    torch.manual_seed(0)
    m = StyleAutoencoder(image_size=32, code_dim=8, hidden=16, preview_size=16)
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    assert m.encode(x).shape == (3, 8)
    out = m.eval()(x)
    out = out.detach()
    assert out.shape == (3, 3, 16, 16) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert not any(p.requires_grad for p in m.backbone.parameters())
    m.train()
    assert not m.backbone.training  # its BatchNorms keep their ImageNet statistics
    rebuilt = build_style_autoencoder(**m.config)
    rebuilt.load_state_dict(m.state_dict())
    assert torch.allclose(rebuilt.eval().encode(x), m.eval().encode(x))


@needs_lite0
def test_losses_identical_views_have_no_invariance_cost() -> None:
    torch.manual_seed(0)
    m = StyleAutoencoder(image_size=32, code_dim=8, hidden=16, preview_size=16)
    cfg = AutoencoderConfig()
    same = torch.randn(6, 1, m.stats_dim).expand(6, 3, m.stats_dim).contiguous()
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    _, parts = style_losses(m, same, images, cfg)
    assert float(parts["invariance"]) == pytest.approx(0.0, abs=1e-6)
    varied = same + torch.randn_like(same)
    loss, parts = style_losses(m, varied, images, cfg)
    assert float(parts["invariance"]) > 0
    loss.backward()  # the preview's error never reaches the encoder
    m.zero_grad()
    _, parts = style_losses(m, varied, images, cfg)
    parts_only_preview = torch.nn.functional.mse_loss(
        m.preview(m.encode_statistics(varied[:, 0]).detach()), images.float() / 255
    )
    parts_only_preview.backward()
    assert all(p.grad is None for p in m.encoder.parameters())


def test_view_transforms_whole_mirror_crop() -> None:
    x = torch.arange(3 * 8 * 8, dtype=torch.uint8).reshape(3, 8, 8)
    assert torch.equal(view_transform(0, 8, 0.5)(x), x)
    assert torch.equal(view_transform(1, 8, 0.5)(x), x.flip(-1))
    torch.manual_seed(0)
    assert view_transform(2, 8, 0.5)(x).shape == (3, 8, 8)


def test_settings_default_and_checks() -> None:
    assert resolve_config(None, {}).model == "pixel"  # until the style model is measured
    cfg = resolve_config(None, {"model": "style"})
    assert cfg.data.image_size == 224 and cfg.epochs == 40  # the style preset
    assert resolve_config(None, {"model": "pixel"}).data.image_size == 64
    assert resolve_config(None, {"model": "style", "image_size": 96}).data.image_size == 96
    with pytest.raises(WikiartError, match="preview size"):
        resolve_config(None, {"model": "style", "preview_size": 20})
    with pytest.raises(WikiartError, match="crop_scale"):
        resolve_config(None, {"model": "style", "crop_scale": 1.5})


@needs_lite0
def test_train_then_cluster_the_style_code(learnable_root, tmp_path, capsys) -> None:
    run = tmp_path / "ae"
    assert main(style_args(learnable_root, run)) == 0
    for name in ("model.pt", "history.csv", "loss.png", "reconstructions.png"):
        assert (run / name).stat().st_size > 0, name
    payload = load_checkpoint(run / "model.pt")
    assert payload["model_config"]["model"] == "style"
    assert payload["model_config"]["code_dim"] == 8 and payload["preprocess"]["image_size"] == 32
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"train_stats", "train_invariance", "val_stats", "val_loss"} <= set(header)
    _, model, _ = load_model(run / "model.pt", torch.device("cpu"), kind="autoencoder")
    fresh = StyleAutoencoder(image_size=32, code_dim=8, hidden=32, preview_size=16)
    for (name, a), b in zip(
        model.backbone.backbone.state_dict().items(),
        fresh.backbone.backbone.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b), f"the frozen backbone changed: {name}"
    assert float(model.stats_scale.std()) > 0  # standardised with the training statistics
    out = tmp_path / "cl"
    argv = [
        "--no-progress", "cluster", "--checkpoint", str(run / "model.pt"),
        "--data", str(learnable_root), "--out", str(out), "--cache-dir", str(tmp_path / "c"),
    ]  # fmt: skip
    assert main(argv) == 0
    assert "8-d style code" in capsys.readouterr().out
    assert (out / "clusters.json").exists()


@needs_lite0
def test_style_resume_is_bit_exact(learnable_root, tmp_path, monkeypatch) -> None:
    import wikiart.train.loop as loop

    full, part = tmp_path / "full", tmp_path / "part"
    assert main(style_args(learnable_root, full)) == 0
    original = loop._train_epoch

    def killed_in_epoch_2(*args, **kwargs):
        if args[1] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "_train_epoch", killed_in_epoch_2)
    assert main(style_args(learnable_root, part)) == 130
    monkeypatch.undo()
    assert main(style_args(learnable_root, part, "--resume")) == 0
    a = load_checkpoint(full / "last.pt")["state_dict"]
    b = load_checkpoint(part / "last.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@needs_lite0
def test_views_are_cached_for_the_next_run(learnable_root, tmp_path, capsys) -> None:
    assert main(style_args(learnable_root, tmp_path / "a", "--epochs", "1")) == 0
    assert "cached" not in capsys.readouterr().err
    files = sorted((tmp_path / "cache" / "features").glob("*.pt"))
    assert len(files) == 2  # training and validation paintings
    # another code size: the same views, read back; another crop scale: new ones
    assert main(style_args(learnable_root, tmp_path / "b", "--epochs", "1", "--code-dim", "4")) == 0
    assert capsys.readouterr().err.count("cached") == 2
    assert (
        main(style_args(learnable_root, tmp_path / "c", "--epochs", "1", "--crop-scale", "0.5"))
        == 0
    )
    assert "cached" not in capsys.readouterr().err
