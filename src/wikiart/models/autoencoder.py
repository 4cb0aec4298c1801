"""A convolutional autoencoder with a configurable ``C x H x W`` code (the assignment's Part 2).

The course's autoencoder could not learn: MSE on raw 0-255 pixels, a BatchNorm as its last layer
(so outputs were never in image range) and Dropout2d on a one-channel code. Here:

- input: uint8 images are normalised inside the model (`Normalizer`, saved in its state_dict);
- encoder: ``len(widths)`` stages (a stride-2 and a plain 3x3 conv) to an ``S x S`` map
  (``S = size / 2^k``), a 1x1 conv to ``C`` channels, resized to ``H x W`` (average pooling down,
  bilinear up): the code;
- decoder: the mirror image, nearest-neighbour upsampling + one 3x3 conv per stage (no
  checkerboards as with transposed convs; lighter than the encoder, since CPU time bounds the
  image size), a final conv and a **sigmoid**, so reconstructions are in ``[0, 1]``;
- `encode` returns the flat code ``N x (C*H*W)`` that clustering uses.

Every layer is built in ``__init__``; no file I/O, no device choice.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from wikiart.checkpoints import preprocess_norm
from wikiart.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Normalizer
from wikiart.errors import WikiartError
from wikiart.models.style_autoencoder import build_style_autoencoder

#: The code's shape, ``CxHxW``: 16 channels of 8x8 keep colour and texture, and cluster by style
#: better than raw pixels; the course's one-channel 10x10 code (``1x10x10``) scored below them
#: (docs/benchmarks.md).
DEFAULT_BOTTLENECK = "16x8x8"
DEFAULT_WIDTHS = (32, 64, 128)


def parse_bottleneck(spec: str | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    """``"16x8x8"`` or a 3-sequence -> ``(C, H, W)``."""
    if isinstance(spec, list | tuple):
        dims = tuple(int(v) for v in spec)
    else:
        text = str(spec).strip().lower()
        if not re.fullmatch(r"\d+x\d+x\d+", text):
            raise WikiartError(
                f"bottleneck {spec!r}: expected a shape CxHxW, e.g. 16x8x8 or 1x10x10"
            )
        dims = tuple(int(v) for v in text.split("x"))
    if len(dims) != 3 or min(dims) < 1:
        raise WikiartError(f"bottleneck {spec!r}: need three positive sizes C, H, W")
    return dims


def bottleneck_name(dims: tuple[int, int, int]) -> str:
    return "x".join(str(d) for d in dims)


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def _resize(src: int, dst: tuple[int, int]) -> nn.Module:
    """A fixed resize of an ``src x src`` map to ``dst``: pooling down, bilinear up."""
    if dst == (src, src):
        return nn.Identity()
    if dst[0] <= src and dst[1] <= src:
        return nn.AdaptiveAvgPool2d(dst)
    return nn.Upsample(size=dst, mode="bilinear", align_corners=False)


def check_stages(
    image_size: int, widths: tuple[int, ...] | list[int], what: str
) -> tuple[int, ...]:
    """Stage widths as ints, checked: each stride-2 stage halves the image, so the size must be
    a multiple of ``2 ** len(widths)``."""
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) < 1:
        raise WikiartError(f"{what} widths must be positive, got {widths}")
    factor = 2 ** len(widths)
    if image_size < factor or image_size % factor:
        raise WikiartError(
            f"image size {image_size} must be a multiple of {factor} for {len(widths)} "
            f"downsampling stages (widths {list(widths)})"
        )
    return widths


class ConvAutoencoder(nn.Module):
    """uint8 (or normalised float) ``N x 3 x size x size`` -> reconstruction in ``[0, 1]``."""

    def __init__(
        self,
        image_size: int = 64,
        bottleneck: str | tuple[int, int, int] | list[int] = DEFAULT_BOTTLENECK,
        widths: tuple[int, ...] | list[int] = DEFAULT_WIDTHS,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        widths = check_stages(image_size, widths, "autoencoder")
        factor = 2 ** len(widths)
        c, h, w = parse_bottleneck(bottleneck)
        side = image_size // factor
        self.image_size = int(image_size)
        self.code_shape = (c, h, w)
        self.code_dim = c * h * w
        self.mean, self.std = tuple(mean), tuple(std)
        self.config: dict[str, Any] = {
            "image_size": self.image_size,
            "bottleneck": bottleneck_name(self.code_shape),
            "widths": list(widths),
        }
        self.normalizer = Normalizer(mean, std)

        enc: list[nn.Module] = []
        prev = 3
        for width in widths:
            enc += _conv(prev, width, stride=2) + _conv(width, width)
            prev = width
        enc += [nn.Conv2d(prev, c, 1), _resize(side, (h, w))]
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [
            nn.Conv2d(c, prev, 3, padding=1),
            nn.ReLU(inplace=True),
            _resize_to(side, (h, w)),
        ]
        for width in reversed((widths[0], *widths[:-1])):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), *_conv(prev, width)]
            prev = width
        dec += [nn.Conv2d(prev, 3, 3, padding=1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The flat code ``N x code_dim`` (what clustering and the scatter plots use)."""
        return self.encoder(self.normalizer(x)).flatten(1)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """A flat or ``N x C x H x W`` code -> images in ``[0, 1]``."""
        return self.decoder(code.view(code.shape[0], *self.code_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _resize_to(side: int, code_hw: tuple[int, int]) -> nn.Module:
    """The decoder's resize from the code's ``H x W`` back to the ``side x side`` map."""
    if code_hw == (side, side):
        return nn.Identity()
    if side <= min(code_hw):
        return nn.AdaptiveAvgPool2d(side)
    return nn.Upsample(size=(side, side), mode="bilinear", align_corners=False)


def build_autoencoder(**config: Any) -> ConvAutoencoder:
    """Rebuild from ``model.config`` (what a checkpoint stores)."""
    allowed = {"image_size", "bottleneck", "widths", "mean", "std"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise WikiartError(f"autoencoder config has unknown keys {unknown}")
    return ConvAutoencoder(**config)


def from_checkpoint(payload: dict[str, Any]) -> nn.Module:
    """An autoencoder checkpoint's model (weights not loaded yet): the style model
    (`wikiart.models.style_autoencoder`) or the pixel one."""
    config = dict(payload["model_config"])
    if config.get("model") == "style":
        return build_style_autoencoder(**config)
    return build_autoencoder(**config, **preprocess_norm(payload))
