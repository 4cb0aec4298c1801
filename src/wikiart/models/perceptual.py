"""Frozen pretrained features for a perceptual reconstruction loss (Johnson et al. 2016).

The first stages of the ImageNet-pretrained EfficientNet-Lite (strides 2, 4, 8 by default) see
edges, strokes and small textures; comparing a reconstruction with its input there, rather than
pixel by pixel, asks the autoencoder to keep that texture instead of blurring it away.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from wikiart.errors import WikiartError
from wikiart.models.efficientnet import EfficientNetLite

log = logging.getLogger(__name__)

#: The TensorFlow input normalisation the Lite weights were trained with, on [0, 1] images.
_TF_MEAN, _TF_STD = 127.0 / 255, 128.0 / 255


class LiteFeatures(nn.Module):
    """``[0, 1]`` images -> feature maps of the first ``depth`` resolutions of a (pretrained)
    `EfficientNetLite`. Frozen and always in eval mode (BatchNorm statistics stay fixed)."""

    def __init__(self, backbone: EfficientNetLite, depth: int = 3) -> None:
        super().__init__()
        net = backbone.net
        self.taps = tuple(backbone.taps[: max(1, depth)])
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: self.taps[-1] + 1])
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LiteFeatures:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem((x - _TF_MEAN) / _TF_STD)
        maps = []
        for i, block in enumerate(self.blocks):
            x = block(x, drop_connect_rate=0.0)
            if i in self.taps:
                maps.append(x)
        return maps


def perceptual_features(
    device: torch.device | str = "cpu", arch: str = "efficientnet-lite0"
) -> LiteFeatures:
    """The frozen first stages of the ImageNet-pretrained EfficientNet-Lite ``arch`` (Lite0 by
    default), from the weights shipped offline (a `WikiartError` where that weights package is
    missing)."""
    backbone = EfficientNetLite(arch)
    backbone.load_offline_weights()
    return LiteFeatures(backbone).to(device)


def optional_perceptual_features(device: torch.device | str = "cpu") -> LiteFeatures | None:
    """`perceptual_features`, or None where its weights package is missing (the terms and
    figures that need them are then left out, with a warning)."""
    try:
        return perceptual_features(device)
    except WikiartError as exc:
        log.warning("no pretrained features (%s)", exc)
        return None


def perceptual_distance(
    features: LiteFeatures, recon: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Mean over layers of ``||f(recon) - f(target)||^2 / ||f(target)||^2`` (each layer relative
    to its own energy, so deep and shallow layers weigh alike)."""
    with torch.no_grad():
        want = features(target)
    return relative_distance(features(recon), want)


def relative_distance(got: list[torch.Tensor], want: list[torch.Tensor]) -> torch.Tensor:
    """`perceptual_distance` on feature maps already computed (so one forward pass of a
    render can serve several losses)."""
    terms = [
        ((g.float() - w.float()) ** 2).mean() / (w.float() ** 2).mean().clamp_min(1e-8)
        for g, w in zip(got, want, strict=True)
    ]
    return torch.stack(terms).mean()
