"""Residual nets trained from scratch: ``small-resnet`` (compact, for CPUs) and torchvision's
ResNets (``resnet18``/``34``/``50``), both with the ``pool`` or ``stats`` embedding."""

from __future__ import annotations

from typing import Any

import torch
import torchvision
from torch import nn

from wikiart.functional import covariance_statistics, style_statistics
from wikiart.models.backbone import FEATURES, Backbone, check_features


class BasicBlock(nn.Module):
    """Two 3x3 convs with a shortcut (He et al. 2016). The last BatchNorm starts at zero, so each
    block starts as the identity: deep from-scratch nets then train like shallow ones at first
    (Goyal et al. 2017), which matters for the few epochs a CPU affords."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        nn.init.zeros_(self.bn2.weight)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + self.shortcut(x))


#: ``small-resnet``'s embeddings: ``gram`` adds channel covariances to ``stats``.
SMALL_RESNET_FEATURES = (*FEATURES, "gram")


class SmallResNet(Backbone):
    """A compact residual net for CPU training at 64-128 px: a 3x3 stride-2 stem, then four
    stages of BasicBlocks (widths 32/64/128/256, each stage after the first halving the size),
    then global average pooling to a 256-d embedding. About 2.8 M parameters: the ResNet-18
    layout at half its width, without the stem's max-pool (small inputs keep their
    detail: brush strokes are a few pixels wide at 128 px).

    ``features``: ``pool`` (the last stage averaged), ``stats`` (mean and std per channel of
    every stage) or ``gram``: ``stats`` plus the channel covariance of the last two stages, each
    first projected by a learned 1x1 conv to ``gram_channels`` channels
    (`stats.covariance_statistics`)."""

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        depths: tuple[int, ...] = (2, 2, 2, 2),
        features: str = "pool",
        gram_channels: int = 32,
    ) -> None:
        super().__init__()
        check_features(features, SMALL_RESNET_FEATURES, "small-resnet")
        if len(widths) != len(depths) or not widths or min(*widths, *depths) < 1:
            raise ValueError(f"widths {widths} and depths {depths}: same length, all >= 1")
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages = []
        cin = widths[0]
        for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            blocks = [BasicBlock(cin, width, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(width, width) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = width
        self.stages = nn.ModuleList(stages)
        self.features = features
        self.embedding_dim = widths[-1] if features == "pool" else 2 * sum(widths)
        self.gram_proj = nn.ModuleList()
        if features == "gram":
            self.gram_proj.extend(nn.Conv2d(w, gram_channels, 1, bias=False) for w in widths[-2:])
            self.embedding_dim += len(self.gram_proj) * gram_channels * (gram_channels + 1) // 2
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def layer_groups(self) -> list[list[nn.Parameter]]:
        groups = [list(self.stem.parameters())] + [list(s.parameters()) for s in self.stages]
        groups[-1] += list(self.gram_proj.parameters())  # the embedding's top, with the last stage
        return groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        taps = []
        for stage in self.stages:
            x = stage(x)
            taps.append(x)
        if self.features == "pool":
            return x.mean(dim=(2, 3))
        stats = style_statistics(taps)
        if self.features == "stats":
            return stats
        grams = [
            covariance_statistics(proj(tap))
            for proj, tap in zip(self.gram_proj, taps[-len(self.gram_proj) :], strict=True)
        ]
        return torch.cat([stats, *grams], dim=1).to(stats.dtype)


def _block_channels(layer: nn.Sequential) -> int:
    last = layer[-1]
    bn: Any = getattr(last, "bn3", None) or last.bn2  # Bottleneck or BasicBlock
    return int(bn.num_features)


class TorchvisionResNet(Backbone):
    """torchvision's ResNet from scratch (``zero_init_residual``, as above), classifier removed.
    ``stats`` summarises the outputs of its four stages."""

    head_prefixes = ("fc.",)

    def __init__(self, name: str = "resnet18", features: str = "pool") -> None:
        super().__init__()
        check_features(features, FEATURES, name)
        self.net = torchvision.models.get_model(name, weights=None, zero_init_residual=True)
        pooled = self.net.fc.in_features
        self.net.fc = nn.Identity()
        self.features = features
        layers = self._layers()
        self.embedding_dim = pooled if features == "pool" else 2 * sum(map(_block_channels, layers))

    def _layers(self) -> list[nn.Sequential]:
        return [self.net.layer1, self.net.layer2, self.net.layer3, self.net.layer4]

    @property
    def weights_target(self) -> nn.Module:
        return self.net

    def layer_groups(self) -> list[list[nn.Parameter]]:
        stem = [*self.net.conv1.parameters(), *self.net.bn1.parameters()]
        return [stem] + [list(layer.parameters()) for layer in self._layers()]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        taps = []
        for layer in self._layers():
            x = layer(x)
            taps.append(x)
        if self.features == "stats":
            return style_statistics(taps)
        return x.mean(dim=(2, 3))
