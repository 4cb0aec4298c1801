"""The style autoencoder: a small code that compresses what a frozen ImageNet network says about a
painting's style, not its pixels.

A pixel autoencoder spends its code on layout and colour, the largest part of a pixel error,
which is not style (its codes cluster by style about as well as raw pixels do; docs/clustering.md).
Here the input is the per-layer style statistics of the frozen, offline ImageNet
EfficientNet-Lite0 (`wikiart.models.efficientnet`'s ``stats``: the mean and spread of each
channel at five depths, 3,584 numbers), standardised with the training set's statistics; an MLP
encoder compresses them to ``code_dim`` numbers and an MLP decoder reconstructs them, in that
perceptual space. Trained on several views of each painting (the whole, its mirror, random
crops), the decoder's target always the whole painting's statistics, and with a term pulling two
views' codes together, the code keeps what a painting's parts share: its manner, not one crop's
content.

A third part, the **preview** decoder, renders an image from the code so that reconstructions
stay viewable; it learns from the code with its gradient stopped, so it shows what the code holds
without shaping it.

``encode`` takes uint8 images (normalised inside) and returns the code, which `wikiart cluster`
uses; every layer is built in ``__init__``, nothing is read from disk but the offline weights
(and a checkpoint rebuilds with ``pretrained=False``, its state_dict restoring them).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from wikiart.errors import WikiartError
from wikiart.models.registry import build_classifier

#: The code's length: small enough that k-means and neighbours see a few dozen informative
#: directions, not thousands of correlated statistics.
DEFAULT_CODE_DIM = 64
DEFAULT_HIDDEN = 1024
PREVIEW_BASE = 4  # the preview decoder's first map is 4 x 4


def preview_stages(size: int) -> int:
    stages = math.log2(size / PREVIEW_BASE) if size >= 2 * PREVIEW_BASE else 0
    if stages != int(stages) or stages < 1:
        raise WikiartError(f"preview size must be 8, 16, 32, 64, 128 ..., got {size}")
    return int(stages)


class PreviewDecoder(nn.Module):
    """code -> ``3 x size x size`` image in ``[0, 1]``: a linear map to ``width x 4 x 4``, then
    nearest-neighbour upsampling and a 3x3 conv per doubling, halving the width each time."""

    def __init__(self, code_dim: int, size: int = 64, width: int = 128) -> None:
        super().__init__()
        stages = preview_stages(size)
        self.width = width
        self.fc = nn.Linear(code_dim, width * PREVIEW_BASE * PREVIEW_BASE)
        layers: list[nn.Module] = []
        prev = width
        for i in range(stages):
            cur = max(16, width // 2 ** (i + 1))
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(prev, cur, 3, padding=1, bias=False),
                nn.BatchNorm2d(cur),
                nn.ReLU(inplace=True),
            ]
            prev = cur
        layers += [nn.Conv2d(prev, 3, 3, padding=1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = self.fc(code).view(len(code), self.width, PREVIEW_BASE, PREVIEW_BASE)
        return self.net(torch.relu(x))


class StyleAutoencoder(nn.Module):
    """uint8 ``N x 3 x S x S`` -> frozen backbone statistics -> code (``encode``); the code ->
    the statistics (``decode_stats``) and a preview image (``preview``; ``forward``)."""

    stats_mean: torch.Tensor
    stats_scale: torch.Tensor

    def __init__(
        self,
        arch: str = "efficientnet-lite0",
        image_size: int = 224,
        code_dim: int = DEFAULT_CODE_DIM,
        hidden: int = DEFAULT_HIDDEN,
        preview_size: int = 64,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        if code_dim < 1 or hidden < 1:
            raise WikiartError(f"code and hidden sizes must be positive, got {code_dim}, {hidden}")
        self.backbone = build_classifier(arch, 1, pretrained=pretrained or None, features="stats")
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        dim = self.backbone.embedding_dim
        self.stats_dim = dim
        self.register_buffer("stats_mean", torch.zeros(dim))
        self.register_buffer("stats_scale", torch.ones(dim))
        self.encoder = nn.Sequential(
            nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Linear(hidden, code_dim)
        )
        self.decoder = nn.Sequential(nn.Linear(code_dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.preview_decoder = PreviewDecoder(code_dim, preview_size)
        self.image_size = int(image_size)
        self.preview_size = int(preview_size)
        self.code_dim = int(code_dim)
        self.mean, self.std = self.backbone.mean, self.backbone.std
        self.config: dict[str, Any] = {
            "model": "style",
            "arch": self.backbone.config["arch"],
            "image_size": self.image_size,
            "code_dim": self.code_dim,
            "hidden": int(hidden),
            "preview_size": self.preview_size,
        }

    def train(self, mode: bool = True) -> StyleAutoencoder:
        super().train(mode)
        self.backbone.eval()  # frozen: its BatchNorms keep their ImageNet statistics
        return self

    def set_stats_standardisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise the backbone's statistics with these (the training set's); a statistic
        that does not vary (a 1 x 1 map's spread at a small image size) stays 0."""
        self.stats_mean.copy_(mean)
        self.stats_scale.copy_(torch.where(std > 1e-4, 1.0 / std.clamp_min(1e-4), 0.0))

    @torch.no_grad()
    def statistics(self, x: torch.Tensor) -> torch.Tensor:
        """The standardised style statistics of uint8 (or normalised float) images."""
        return (self.backbone.embed(x).float() - self.stats_mean) * self.stats_scale

    def encode_statistics(self, z: torch.Tensor) -> torch.Tensor:
        return self.encoder(z)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``N x code_dim`` of images (what clustering and the scatter plots use)."""
        return self.encoder(self.statistics(x))

    def decode_stats(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def preview(self, code: torch.Tensor) -> torch.Tensor:
        return self.preview_decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The preview image of each input's code (the reconstructions figure)."""
        return self.preview(self.encode(x))


def build_style_autoencoder(pretrained: bool = False, **config: Any) -> StyleAutoencoder:
    """Rebuild from ``model.config`` (a checkpoint's; its state_dict restores every weight)."""
    config = dict(config)
    config.pop("model", None)
    allowed = {"arch", "image_size", "code_dim", "hidden", "preview_size"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise WikiartError(f"style autoencoder config has unknown keys {unknown}")
    return StyleAutoencoder(pretrained=pretrained, **config)
