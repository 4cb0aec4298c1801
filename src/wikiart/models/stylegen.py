"""A style-conditioned generator: the autoencoder of Part 2, with its decoder modulated by a
style embedding (the assignment's Part 3).

The course code concatenated a per-style mean embedding with the flat code and passed it through an
``nn.Linear`` made inside ``forward()`` (untrained, unsaved, on the wrong device). Here:

- encoder: the autoencoder's stride-2 conv stages (``models.autoencoder``), ending in a *spatial*
  content code ``code_channels x H/2^k x W/2^k`` (64 x 8 x 8 at 64 px): wide enough that the
  composition survives, unlike a tiny bottleneck;
- decoder: upsampling + conv stages, each normalised and then scaled and shifted by a
  ``(gamma, beta)`` pair per channel that a small MLP computes from the style embedding
  (`StyleModulation`, FiLM, Perez et al. 2018). ``norm="batch"`` (default) is conditional batch
  normalisation (de Vries et al. 2017): each image keeps its own palette and contrast relative
  to the batch, which on the built-in data are content, not style (on a small pilot at 32 px,
  6 epochs, the training L1 reconstruction was 0.137 with it, 0.187 with instance norm).
  ``norm="instance"``
  is AdaIN (Huang & Belongie 2017), which replaces each image's feature statistics by the
  style's. Either way every stage is conditioned, so the decoder cannot route around the style
  input as it can a vector concatenated once. Output through a sigmoid, in ``[0, 1]``;
- ``skips=True`` makes it a U-Net (Ronneberger et al. 2015): each decoder stage also reads the
  encoder's features at its resolution (the last one the normalised input image), so the
  composition need not squeeze through the 8x-downsampled code and the style's modulation can
  spend itself on texture;
- the style table (per-style mean embeddings of a trained classifier, standardised) is a buffer,
  and the style names are in ``config``: a checkpoint rebuilds and renders alone.

Every layer is built in ``__init__``; no file I/O, no device choice. The pure maths (channel
statistics, AdaIN, colour-statistics matching) are plain functions, tested directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal, cast

import torch
from torch import nn

from wikiart.checkpoints import preprocess_norm
from wikiart.config import NORMS, PADDINGS  # the choices, declared with the settings
from wikiart.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Normalizer
from wikiart.errors import WikiartError
from wikiart.functional import adain
from wikiart.models.autoencoder import check_stages
from wikiart.models.base import style_index

DEFAULT_WIDTHS = (32, 64, 128)


# -- modules ---------------------------------------------------------------------------------
def _conv(cin: int, cout: int, stride: int = 1, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return layers


def check_padding(padding: str) -> None:
    """A clear error for a conv padding the generator does not offer."""
    if padding not in PADDINGS:
        raise WikiartError(f"unknown padding {padding!r}; expected one of {PADDINGS}")


class StyleModulation(nn.Module):
    """Style embedding -> ``(gamma, beta)`` for every decoder stage, through one shared hidden
    layer (an MLP built here, trained with the rest). ``gamma`` is ``1 + delta`` so that a
    fresh model starts near plain instance normalisation."""

    def __init__(self, style_dim: int, channels: list[int], hidden: int = 128) -> None:
        super().__init__()
        self.channels = list(channels)
        self.trunk = nn.Sequential(nn.Linear(style_dim, hidden), nn.ReLU(inplace=True))
        heads = [nn.Linear(hidden, 2 * c) for c in self.channels]
        self.heads = nn.ModuleList(heads)
        for head in heads:  # small start: modulation grows as training asks for it
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def forward(self, style: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        h = self.trunk(style)
        out = []
        for head in self.heads:
            delta, beta = head(h).chunk(2, dim=1)
            out.append((1.0 + delta, beta))
        return out


def _style_table(
    style_names: list[str], style_table: torch.Tensor | None, style_dim: int | None
) -> torch.Tensor:
    """The per-style embedding table: the one given (one row per style), or zeros of
    ``style_dim`` columns to be filled by a checkpoint's state_dict."""
    if not style_names:
        raise WikiartError("a style generator needs at least one style")
    if style_table is None:
        if style_dim is None:
            raise WikiartError("give style_table or style_dim")
        style_table = torch.zeros(len(style_names), int(style_dim))
    if style_table.shape[0] != len(style_names):
        raise WikiartError(
            f"style table has {style_table.shape[0]} rows for {len(style_names)} styles"
        )
    return style_table


def _encoder(widths: Sequence[int], code_channels: int) -> tuple[nn.Sequential, list[int]]:
    """Stride-2 conv stages ending in a 1x1 conv to the content code, and the index of the
    layer ending each stage (where the U-Net skips tap the encoder)."""
    enc: list[nn.Module] = []
    prev = 3
    stage_ends: list[int] = []
    for width in widths:
        enc += _conv(prev, width, stride=2) + _conv(width, width)
        stage_ends.append(len(enc) - 1)
        prev = width
    enc.append(nn.Conv2d(prev, code_channels, 1))
    return nn.Sequential(*enc), stage_ends


class StyleGenerator(nn.Module):
    """uint8 (or normalised float) images ``N x 3 x S x S`` and style indices (or embeddings)
    -> images in ``[0, 1]`` rendered in that style."""

    style_table: torch.Tensor

    def __init__(
        self,
        image_size: int,
        style_names: list[str],
        style_table: torch.Tensor | None = None,
        style_dim: int | None = None,
        widths: tuple[int, ...] | list[int] = DEFAULT_WIDTHS,
        code_channels: int = 64,
        hidden: int = 128,
        norm: str = "batch",
        skips: bool = True,
        padding: str = "reflect",
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        widths = check_stages(image_size, widths, "stylegen")
        style_table = _style_table(style_names, style_table, style_dim)
        if norm not in NORMS:
            raise WikiartError(f"stylegen norm must be one of {NORMS}, got {norm!r}")
        check_padding(padding)
        self.image_size = int(image_size)
        self.style_names = list(style_names)
        self.style_dim = int(style_table.shape[1])
        self.mean, self.std = tuple(mean), tuple(std)
        self.norm = norm
        self.config: dict[str, Any] = {
            "image_size": self.image_size,
            "style_names": list(self.style_names),
            "style_dim": self.style_dim,
            "widths": list(widths),
            "code_channels": int(code_channels),
            "hidden": int(hidden),
            "norm": norm,
            "skips": bool(skips),
            "padding": padding,
        }
        self.normalizer = Normalizer(mean, std)
        self.register_buffer("style_table", style_table.detach().float().clone())
        self.encoder, self._stage_ends = _encoder(widths, code_channels)
        self.skips = bool(skips)
        factor = 2 ** len(widths)
        self.code_shape = (int(code_channels), image_size // factor, image_size // factor)
        self._build_decoder(list(widths), int(code_channels), hidden)
        # "reflect": every padded conv pads by mirroring the image, so no layer can tell where the
        # border is. Zero padding tells it, and the generator then learned to stamp each style's
        # fixed-position marks (bands, grids) that fool a classifier; mirrored borders leave it
        # only textures, which are the style (README, measured on the built-in data).
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.padding != (0, 0):
                m.padding_mode = cast(Literal["reflect", "zeros"], padding)  # check_padding

    def _build_decoder(self, widths: list[int], code_channels: int, hidden: int) -> None:
        """A conv at code resolution, then one upsampling stage per encoder stage; each stage's
        conv output is modulated by the style before its ReLU.

        With ``skips`` (U-Net, Ronneberger et al. 2015) every upsampling stage also reads the
        encoder's features at its resolution (the last one: the normalised input image),
        concatenated before its conv: the details the 8x-downsampled code cannot carry come
        straight across, and the style's modulation right after decides what to keep of them."""
        dec_widths = [widths[-1], *reversed(widths)]  # e.g. 128 | 128, 64, 32
        skip_widths = [*reversed(widths[:-1]), 3] if self.skips else [0] * len(widths)
        self.entry = nn.Conv2d(code_channels, dec_widths[0], 3, padding=1)
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(cin + extra, cout, 3, padding=1),
            )
            for (cin, cout), extra in zip(itertools.pairwise(dec_widths), skip_widths, strict=True)
        )
        self.modulation = StyleModulation(self.style_dim, dec_widths, hidden)
        # "batch": conditional batch normalisation (de Vries et al. 2017): each image keeps its
        # own feature statistics relative to the batch (its palette and contrast, which are
        # content here), the style sets every channel's scale and shift. "instance": AdaIN,
        # which replaces each image's statistics by the style's outright.
        self.norms = nn.ModuleList(
            nn.BatchNorm2d(c, affine=False) if self.norm == "batch" else nn.Identity()
            for c in dec_widths
        )
        self.out = nn.Sequential(nn.Conv2d(dec_widths[-1], 3, 3, padding=1), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(code, *skips)``: the spatial content code ``N x code_channels x h x w``, then
        (with ``skips`` only) the encoder's stage outputs, deepest first, that the decoder
        reads. Every tensor has the batch first, so ``tuple(c[sel] for c in codes)`` selects
        images."""
        h = self.normalizer(x)
        if not self.skips:
            return (self.encoder(h),)
        taps = [h]
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i in self._stage_ends[:-1]:
                taps.append(h)
        return (h, *reversed(taps))

    def style_vectors(self, style: torch.Tensor) -> torch.Tensor:
        """Integer style indices ``N`` -> their table rows; float ``N x D`` passes through."""
        if style.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
            return self.style_table[style.long()]
        return style

    def decode(self, codes: tuple[torch.Tensor, ...], style: torch.Tensor) -> torch.Tensor:
        """``encode``'s output rendered in ``style``."""
        code, *skips = codes
        params = self.modulation(self.style_vectors(style).to(code.dtype))
        h = self._modulate(self.entry(code), 0, *params[0])
        for i, (stage, (gamma, beta)) in enumerate(zip(self.stages, params[1:], strict=True)):
            layers = cast(nn.Sequential, stage)
            h = layers[0](h)
            if i < len(skips):
                h = torch.cat([h, skips[i]], dim=1)
            h = self._modulate(layers[1](h), i + 1, gamma, beta)
        return self.out(h)

    def _modulate(
        self, h: torch.Tensor, i: int, gamma: torch.Tensor, beta: torch.Tensor
    ) -> torch.Tensor:
        if self.norm == "instance":
            return torch.relu(adain(h, gamma, beta))
        return torch.relu(self.norms[i](h) * gamma[..., None, None] + beta[..., None, None])

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), style)

    def style_index(self, name: str) -> int:
        """The row of style ``name``; an unknown name is an error listing the known ones."""
        return style_index(self.style_names, name)


def build_stylegen(**config: Any) -> StyleGenerator:
    """Rebuild from ``model.config`` (what a checkpoint stores); the table comes with the
    state_dict."""
    allowed = {
        "image_size",
        "style_names",
        "style_dim",
        "widths",
        "code_channels",
        "hidden",
        "norm",
        "skips",
        "padding",
        "mean",
        "std",
    }
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise WikiartError(f"stylegen config has unknown keys {unknown}")
    return StyleGenerator(**config)


def from_checkpoint(payload: dict[str, Any]) -> StyleGenerator:
    """A style generator checkpoint's model (weights not loaded yet)."""
    return build_stylegen(**payload["model_config"], **preprocess_norm(payload))
