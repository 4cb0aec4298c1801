"""Arbitrary style transfer with AdaIN (Huang & Belongie 2017): a frozen encoder, the content's
feature map renormalised to a style's per-channel means and standard deviations, and a trained
decoder back to pixels.

The encoder is the first stages of the ImageNet EfficientNet-Lite (the offline weights; VGG-19,
the paper's, cannot be downloaded here), cut at the AdaIN layer: tap 2 (stride 8, 40 channels)
by default (measured: decoders over tap 3, stride 16, lost the colours and most of the content
within the same training budget). With ``levels > 1`` AdaIN runs at the ``levels`` deepest taps
up to the AdaIN layer (multi-level AdaIN): the decoder starts from the deepest and takes each
shallower restyled map in through a skip connection, so deep taps (more channels, larger
receptive fields) carry the style while shallow ones keep the content's layout. The
decoder mirrors the encoder without normalisation layers (a norm would undo the statistics just
set), with reflection padding (no border marks) and nearest-neighbour upsampling followed by a
convolution (no checkerboard of transposed convolutions), as in the paper.

The model also holds a *style bank*: for each style of the collection it was trained on, the
channel means and standard deviations at the AdaIN taps (concatenated, shallow to deep) of its
most typical painting, so a style name needs no exemplar at run time. Encoder, decoder and bank all
travel in ``model.pt``: the checkpoint rebuilds itself without the weights package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wikiart.functional import adain, blend, channel_mean_std
from wikiart.models.base import style_index
from wikiart.models.efficientnet import EfficientNetLite
from wikiart.models.perceptual import LiteFeatures
from wikiart.models.vgg import CHANNELS as VGG_CHANNELS
from wikiart.models.vgg import STRIDES as VGG_STRIDES
from wikiart.models.vgg import VGGFeatures


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")


class TransferDecoder(nn.Module):
    """AdaIN features (stride ``2 ** len(widths)``) -> an RGB image in about [0, 1].

    Stage ``i`` works at ``widths[i]`` channels: a convolution, a nearest-neighbour x2 upsample,
    a second convolution (to the next stage's width), ReLU after each; a last convolution to RGB
    with no activation (the paper's; outputs are clamped only when saved)."""

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"decoder widths must be positive, got {list(widths)}")
        layers: list[nn.Module] = [_conv(in_channels, widths[0]), nn.ReLU(inplace=True)]
        for i, w in enumerate(widths):
            nxt = widths[i + 1] if i + 1 < len(widths) else w
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                _conv(w, nxt),
                nn.ReLU(inplace=True),
                _conv(nxt, nxt),
                nn.ReLU(inplace=True),
            ]
        layers.append(_conv(widths[-1], 3))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SkipDecoder(nn.Module):
    """Multi-level AdaIN maps (shallow to deep, each stride half the next's) -> an RGB image.

    `TransferDecoder`'s stages, from the deepest map; after each x2 upsample that reaches the
    stride of a shallower map, that map is concatenated before the stage's first convolution."""

    def __init__(self, channels: Sequence[int], widths: Sequence[int]) -> None:
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"decoder widths must be positive, got {list(widths)}")
        if len(channels) > len(widths):
            raise ValueError(f"{len(channels)} maps need at least as many widths, got {widths}")
        skips = list(channels[:-1])[::-1]  # deep to shallow, the deepest map excluded
        self.inp = nn.Sequential(_conv(channels[-1], widths[0]), nn.ReLU(inplace=True))
        self.first, self.second = nn.ModuleList(), nn.ModuleList()
        for i, w in enumerate(widths):
            nxt = widths[i + 1] if i + 1 < len(widths) else w
            extra = skips[i] if i < len(skips) else 0
            self.first.append(_conv(w + extra, nxt))
            self.second.append(_conv(nxt, nxt))
        self.out = _conv(widths[-1], 3)

    def forward(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        skips = list(maps[:-1])[::-1]
        x = self.inp(maps[-1])
        for i, (first, second) in enumerate(zip(self.first, self.second, strict=True)):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if i < len(skips):
                x = torch.cat([x, skips[i].to(x.dtype)], 1)
            x = F.relu(second(F.relu(first(x))))
        return self.out(x)


class StyleTransfer(nn.Module):
    """Frozen Lite encoder + AdaIN (at one tap, or at ``levels`` taps) + trained decoder, with
    the collection's style bank.

    ``features(x01)``: the encoder's maps at taps ``0..layer``; ``codes(x01)``: those AdaIN runs
    at (`adain_taps`, shallow to deep). ``stylize(content01, mean, std, alpha)``: the decoded
    image (``N x 3 x H x W``, unclamped), ``H, W`` multiples of `stride`; a style is the channel
    means and stds of every AdaIN tap, concatenated (``channels`` numbers each).
    ``encode``/``decode``: the style generator's interface (uint8 in, [0, 1] out, styles by bank
    index), so one evaluation serves both."""

    style_mean: torch.Tensor
    style_std: torch.Tensor

    def __init__(
        self,
        style_names: Sequence[str],
        *,
        layer: int = 2,
        levels: int = 1,
        widths: Sequence[int] | None = None,
        encoder: str = "efficientnet-lite0",
        image_size: int = 256,
        min_side: int = 0,
        pretrained: bool = False,
        encoder_weights: str | None = None,
    ) -> None:
        """``pretrained``: the ImageNet weights in the encoder (a model about to be trained: the
        offline Lite weights, or VGG-19's from ``encoder_weights`` or torchvision's download); a
        checkpoint's own weights are loaded over a model built without them. ``min_side``: a
        smaller picture is painted scaled up to it and scaled back (0: at its own size)."""
        super().__init__()
        if not 0 <= layer < len(encoder_strides(encoder)):
            n = len(encoder_strides(encoder))
            raise ValueError(f"layer must be 0..{n - 1} (an encoder tap), got {layer}")
        if not 1 <= levels <= layer + 1:
            raise ValueError(f"levels must be 1..{layer + 1} for layer {layer}, got {levels}")
        self.encoder, all_channels = build_encoder(encoder, layer + 1, pretrained, encoder_weights)
        self.adain_taps = list(range(layer - levels + 1, layer + 1))
        self.tap_channels = [all_channels[t] for t in self.adain_taps]
        channels = sum(self.tap_channels)
        self.stride = encoder_strides(encoder)[layer]
        ups = self.stride.bit_length() - 1  # x2 upsamplings back to pixels
        widths = list(widths) if widths else default_widths(ups - 1)
        if len(widths) != ups or ups < 1:
            raise ValueError(
                f"the decoder needs {ups} widths (one per x2 upsampling) for layer {layer} of "
                f"{encoder}, got {widths}"
            )
        self.decoder: nn.Module = (
            TransferDecoder(channels, widths)
            if levels == 1
            else SkipDecoder(self.tap_channels, widths)
        )
        self.style_names = list(style_names)
        k = len(self.style_names)
        self.register_buffer("style_mean", torch.zeros(k, channels))
        self.register_buffer("style_std", torch.ones(k, channels))
        self.layer = int(layer)
        self.levels = int(levels)
        self.channels = channels
        self.image_size = int(image_size)
        self.min_side = int(min_side)
        self.config: dict[str, Any] = {
            "style_names": list(self.style_names),
            "layer": self.layer,
            "levels": self.levels,
            "widths": widths,
            "encoder": encoder,
            "image_size": self.image_size,
            "min_side": self.min_side,
        }

    def train(self, mode: bool = True) -> StyleTransfer:
        super().train(mode)
        self.encoder.train(False)  # frozen, BatchNorm statistics fixed
        return self

    def features(self, x01: torch.Tensor) -> list[torch.Tensor]:
        return self.encoder(x01)

    def codes(self, x01: torch.Tensor) -> list[torch.Tensor]:
        """The maps AdaIN runs at (taps `adain_taps`, shallow to deep) of ``[0, 1]`` images."""
        maps = self.encoder(x01)
        return [maps[t] for t in self.adain_taps]

    def statistics(self, maps: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """A style as this model holds it: the channel means and stds of the AdaIN maps,
        concatenated (two ``N x channels`` tensors)."""
        stats = [channel_mean_std(m) for m in maps]
        return torch.cat([m for m, _ in stats], 1), torch.cat([s for _, s in stats], 1)

    def restyle(
        self, maps: Sequence[torch.Tensor], mean: torch.Tensor, std: torch.Tensor
    ) -> list[torch.Tensor]:
        """The AdaIN targets: each map with its channel statistics replaced by its part of
        ``mean``/``std`` (``N x channels`` or ``channels``)."""
        n = maps[0].shape[0]
        mean, std = mean.expand(n, -1), std.expand(n, -1)
        out, at = [], 0
        for m, c in zip(maps, self.tap_channels, strict=True):
            out.append(adain(m, std[:, at : at + c], mean[:, at : at + c]))
            at += c
        return out

    def render(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """AdaIN maps (shallow to deep) decoded to pixels, unclamped."""
        return decode_maps(self.decoder, maps, self.levels)

    def stylize(
        self,
        content01: torch.Tensor,
        mean: torch.Tensor,
        std: torch.Tensor,
        alpha: float = 1.0,
    ) -> torch.Tensor:
        """Content images restyled to ``mean``/``std`` (``N x channels`` or ``channels``) at the
        AdaIN taps, blended with the content's own features by ``alpha``; decoded, unclamped."""
        fc = self.codes(content01)
        target = self.restyle(fc, mean, std)
        return self.render([blend(f, t, alpha) for f, t in zip(fc, target, strict=True)])

    def working(self, x01: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """``[0, 1]`` images as the model paints them: scaled up (bicubic) until the shorter
        side is `min_side` when it is shorter, then padded to the stride. Returns them with the
        scaled ``(H, W)`` to crop back to. A decoder trained on ``min_side`` crops paints strokes
        of that scale; on a 64 px picture Lite0's deepest taps hold 4x4 and 2x2 maps, and the
        style they carry has nowhere to go."""
        h, w = x01.shape[-2:]
        short = min(h, w)
        if 0 < short < self.min_side:
            scale = self.min_side / short
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            x01 = F.interpolate(x01, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
        return pad_to_stride(x01, self.stride)

    def paint(
        self, x01: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, alpha: float = 1.0
    ) -> torch.Tensor:
        """`stylize` at any size: through `working` and back to the input's size; [0, 1]."""
        padded, work = self.working(x01)
        return _back(self.stylize(padded, mean, std, alpha), work, x01.shape[-2:])

    def exemplar_statistics(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A style from paintings (``N x 3 x H x W`` in [0, 1]), seen as `paint` sees a picture:
        `statistics` of the AdaIN maps of their `working` form."""
        return self.statistics(self.codes(self.working(x01)[0]))

    def style_index(self, name: str) -> int:
        """The row of style ``name``; an unknown name is an error listing the known ones."""
        return style_index(self.style_names, name)

    def set_style_bank(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Each style's channel means and stds at the AdaIN taps (``K x channels``)."""
        self.style_mean.copy_(mean)
        self.style_std.copy_(std)

    # The `Repainter` interface (`wikiart.models.repaint`): render grids and the judge's evaluation.
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """uint8 (or [0, 1]) images -> ``(*AdaIN maps, N x 4 sizes)``: the maps of their
        `working` form, the scaled and the original ``(H, W)``."""
        x01 = x.float() / 255 if x.dtype == torch.uint8 else x
        padded, (h, w) = self.working(x01)
        sizes = torch.tensor([[h, w, *x01.shape[-2:]]], device=x.device).expand(len(x), 4)
        return (*self.codes(padded), sizes)

    def decode(self, codes: tuple[torch.Tensor, ...], style: torch.Tensor) -> torch.Tensor:
        """Content maps restyled to the bank's rows ``style``, decoded, cropped back, [0, 1]."""
        *maps, sizes = codes
        target = self.restyle(maps, self.style_mean[style], self.style_std[style])
        out = self.render(target)
        if not len(sizes):
            return out.clamp(0, 1)
        h, w, oh, ow = (int(v) for v in sizes[0])
        return _back(out, (h, w), (oh, ow))


def _back(out: torch.Tensor, work: tuple[int, int], size: Sequence[int]) -> torch.Tensor:
    """A decoded ``out`` cropped to the ``work`` size it was painted at, scaled (antialiased)
    back to ``size`` when that differs, clamped to [0, 1]."""
    out = out[..., : work[0], : work[1]]
    if tuple(out.shape[-2:]) != tuple(size):
        out = F.interpolate(out.float(), size=tuple(size), mode="bilinear", antialias=True)
    return out.clamp(0, 1)


def decode_maps(decoder: nn.Module, maps: Sequence[torch.Tensor], levels: int) -> torch.Tensor:
    """``decoder`` (a model's, or it wrapped in DistributedDataParallel) on AdaIN maps: the
    deepest alone for a one-level decoder, all of them for a `SkipDecoder`."""
    return decoder(maps[-1]) if levels == 1 else decoder(list(maps))


def encoder_strides(encoder: str) -> tuple[int, ...]:
    """The stride of each tap of a transfer encoder: EfficientNet-Lite's five resolutions
    (2 to 32), VGG-19's ``relu1_1 .. relu5_1`` (1 to 16)."""
    if encoder == "vgg19":
        return VGG_STRIDES
    if encoder.startswith("efficientnet-lite"):
        return (2, 4, 8, 16, 32)
    raise ValueError(f"unknown transfer encoder {encoder!r}; expected efficientnet-lite0 or vgg19")


def build_encoder(
    encoder: str, depth: int, pretrained: bool, weights: str | None = None
) -> tuple[nn.Module, list[int]]:
    """The frozen encoder's first ``depth`` taps (``[0, 1]`` images -> maps) and the channels
    of each of its taps."""
    if encoder == "vgg19":
        vgg = VGGFeatures(depth)
        if pretrained:
            vgg.load_weights(weights)
        return vgg, list(VGG_CHANNELS)
    backbone = EfficientNetLite(encoder)
    if pretrained:
        backbone.load_offline_weights()
    blocks = backbone.net._blocks
    return LiteFeatures(backbone, depth=depth), [
        int(blocks[t]._bn2.num_features) for t in backbone.taps
    ]


def default_widths(layer: int) -> list[int]:
    """Decoder widths from the AdaIN layer up, halving per x2 to 16 at stride 2: 64, 32, 16 from
    stride 8."""
    return [16 * 2 ** (layer - i) for i in range(layer + 1)]


def pad_to_stride(x: torch.Tensor, stride: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` padded on the bottom and right to multiples of ``stride``, at least ``2 * stride``
    (the decoder's first reflection-padded convolution needs two rows and columns of features);
    reflected where the image is large enough, else edge pixels repeated. Returns it with the
    original ``(H, W)`` to crop back to."""
    h, w = x.shape[-2:]
    ph = max(2 * stride, -(-h // stride) * stride) - h
    pw = max(2 * stride, -(-w // stride) * stride) - w
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def build_transfer(config: dict[str, Any]) -> StyleTransfer:
    """The model a checkpoint's ``model_config`` describes (weights not loaded)."""
    return StyleTransfer(
        config["style_names"],
        layer=int(config["layer"]),
        levels=int(config.get("levels", 1)),
        widths=config["widths"],
        encoder=config.get("encoder", "efficientnet-lite0"),
        image_size=int(config.get("image_size", 256)),
        min_side=int(config.get("min_side", 0)),
    )


def from_checkpoint(payload: dict[str, Any]) -> StyleTransfer:
    """A transfer checkpoint's model (weights not loaded yet)."""
    return build_transfer(payload["model_config"])
