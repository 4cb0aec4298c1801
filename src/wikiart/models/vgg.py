"""VGG-19's convolutional layers up to ``relu{k}_1``, the encoder of the AdaIN paper (Huang &
Belongie 2017), for users who can fetch its weights.

The layers are laid out as pytorch-AdaIN's ``vgg_normalised`` network: a 1x1 convolution that
takes ``[0, 1]`` RGB to the input the 3x3 convolutions were trained on, then reflection-padded
3x3 convolutions, ReLUs and ceil-mode max pools. So its ``vgg_normalised.pth`` loads as it is,
and torchvision's ImageNet ``vgg19`` weights load with that first convolution set to torchvision's
input normalisation. Taps: ``relu1_1`` (64 channels, stride 1), ``relu2_1`` (128, 2),
``relu3_1`` (256, 4), ``relu4_1`` (512, 8), ``relu5_1`` (512, 16).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from wikiart.errors import WikiartError
from wikiart.models.weights import read_state_dict

#: VGG-19's convolution widths, "M" a 2x2 max pool.
_PLAN: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                512, 512, 512, 512, "M", 512)  # fmt: skip
CHANNELS = (64, 128, 256, 512, 512)
STRIDES = (1, 2, 4, 8, 16)
#: torchvision's ImageNet input normalisation, on [0, 1] RGB.
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _layers(depth: int) -> tuple[nn.Sequential, list[int]]:
    """pytorch-AdaIN's layout up to ``relu{depth}_1``, and the index of each ``relu{k}_1``."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    taps: list[int] = []
    cin, first_of_stage = 3, True
    for v in _PLAN:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            first_of_stage = True
            continue
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, int(v), 3), nn.ReLU()]
        cin = int(v)
        if first_of_stage:
            taps.append(len(layers) - 1)
            first_of_stage = False
            if len(taps) == depth:
                break
    return nn.Sequential(*layers), taps


class VGGFeatures(nn.Module):
    """``[0, 1]`` images -> the maps at ``relu1_1 .. relu{depth}_1``. Frozen, no BatchNorm."""

    def __init__(self, depth: int = 4) -> None:
        super().__init__()
        if not 1 <= depth <= len(CHANNELS):
            raise ValueError(f"VGG-19 depth must be 1..{len(CHANNELS)}, got {depth}")
        self.net, self.tap_index = _layers(depth)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i in self.tap_index:
                maps.append(x)
        return maps

    def load_weights(self, path: str | os.PathLike[str] | None) -> None:
        """ImageNet weights: a local file (pytorch-AdaIN's ``vgg_normalised.pth``, or a
        torchvision ``vgg19`` state dict), else torchvision's download (needs the internet)."""
        state = _download() if path is None else read_state_dict(path)
        self.net.load_state_dict(_to_layout(state, self.net), strict=True)


def _download() -> dict[str, torch.Tensor]:
    from torchvision.models import VGG19_Weights, vgg19

    try:
        return vgg19(weights=VGG19_Weights.IMAGENET1K_V1).state_dict()
    except Exception as exc:  # no network, no cache: say how to go on
        raise WikiartError(
            f"could not fetch torchvision's VGG-19 weights ({exc}); pass a local file with "
            "--encoder-weights (torchvision's vgg19 state dict or pytorch-AdaIN's "
            "vgg_normalised.pth)"
        ) from None


def _to_layout(state: dict[str, Any], net: nn.Sequential) -> dict[str, torch.Tensor]:
    """``state`` (either format) as ``net``'s own state dict, the layers past it dropped."""
    own = net.state_dict()
    if any(k.startswith("features.") for k in state):  # torchvision: features.<i>.weight
        convs = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
        mine = [i for i, m in enumerate(net) if isinstance(m, nn.Conv2d) and i > 0]
        out = {}
        for src, dst in zip(convs, mine, strict=False):
            out[f"{dst}.weight"] = state[f"features.{src}.weight"]
            out[f"{dst}.bias"] = state[f"features.{src}.bias"]
        std = torch.tensor(_STD)
        out["0.weight"] = torch.diag(1 / std).reshape(3, 3, 1, 1)
        out["0.bias"] = -torch.tensor(_MEAN) / std
    else:  # pytorch-AdaIN: <i>.weight in the same layout
        out = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(out))
    if missing:
        raise WikiartError(f"the VGG-19 weights lack {missing[:3]}: not a VGG-19 state dict?")
    for k, v in out.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise WikiartError(f"VGG-19 weight {k} has shape {tuple(v.shape)}, expected "
                               f"{tuple(own[k].shape)}")  # fmt: skip
    return {k: v.float() for k, v in out.items()}
