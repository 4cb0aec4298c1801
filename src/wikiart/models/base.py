"""The interface every style classifier shares, whatever its backbone.

A `StyleClassifier` takes uint8 (0-255) or already-normalised float images ``N x 3 x H x W``,
normalises uint8 input itself (its `Normalizer` buffers travel in its state_dict, so inference
preprocesses exactly as training did), and exposes:

- ``embed(x)``: the penultimate embedding ``N x embedding_dim`` (the style embedding later stages
  use: clustering, the style-conditioned generator);
- ``forward(x)``: class logits ``N x num_classes`` = ``head(embed(x))``;
- ``config``: the keyword arguments that rebuild it with ``build_classifier(**config)``;
- ``param_groups(lr, backbone_lr_mult, layer_decay)``: optimizer groups for discriminative
  (layer-wise decayed) learning rates;
- ``set_backbone_trainable(flag)``: freeze or unfreeze everything before the head;
- ``freeze_bn``: when set, BatchNorms keep their (pretrained) running statistics under
  ``train()``, the usual choice when fine-tuning on a few thousand images in small batches.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from wikiart.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Normalizer
from wikiart.errors import WikiartError
from wikiart.models.backbone import Backbone


class StyleClassifier(nn.Module):
    """Normaliser -> backbone (to an embedding) -> dropout -> linear head."""

    embed_mean: torch.Tensor
    embed_scale: torch.Tensor

    def __init__(
        self,
        backbone: nn.Module,
        embedding_dim: int,
        num_classes: int,
        config: dict[str, Any],
        dropout: float = 0.0,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.normalizer = Normalizer(mean, std)
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(embedding_dim, num_classes)
        # A fixed standardisation of the embedding before the head (identity until a linear probe
        # sets it from training embeddings): a linear head on standardised features trains far
        # better, and keeping it here keeps `embed()` the raw embedding for other uses.
        self.register_buffer("embed_mean", torch.zeros(embedding_dim))
        self.register_buffer("embed_scale", torch.ones(embedding_dim))
        self.embedding_dim = embedding_dim
        self.num_classes = num_classes
        self.config = dict(config)
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.freeze_bn = False

    def train(self, mode: bool = True) -> StyleClassifier:
        super().train(mode)
        if mode and self.freeze_bn:
            for m in self.backbone.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalizer(x))

    def logits_from_embedding(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout((z - self.embed_mean) * self.embed_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_from_embedding(self.embed(x))

    def set_embedding_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise embeddings with these statistics (of the training set) before the head."""
        self.embed_mean.copy_(mean)
        self.embed_scale.copy_(1.0 / (std + 1e-6))

    def set_backbone_trainable(self, trainable: bool) -> None:
        for p in self.backbone.parameters():
            p.requires_grad_(trainable)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups from input to output, the head last: for gradual unfreezing (unfreeze
        from the end) and layer-wise learning-rate decay."""
        backbone = self.backbone
        groups = backbone.layer_groups() if isinstance(backbone, Backbone) else []
        groups = [g for g in groups if g]
        seen = {id(p) for g in groups for p in g}
        rest = [p for p in backbone.parameters() if id(p) not in seen]
        if rest:  # anything a backbone's grouping left out joins the first group
            groups = [rest + (groups[0] if groups else []), *groups[1:]]
        return [*groups, list(self.head.parameters())]

    def param_groups(
        self, lr: float, backbone_lr_mult: float = 1.0, layer_decay: float = 1.0
    ) -> list[dict[str, Any]]:
        """Head at ``lr``, backbone at ``lr * backbone_lr_mult`` (pretrained backbones want a
        smaller rate than a freshly initialised head). With ``layer_decay < 1`` each backbone
        group below the top one gets ``layer_decay`` times the rate of the group above it
        (layer-wise LR decay: early, generic layers move least). Frozen parameters are left
        out."""
        head = [p for p in self.head.parameters() if p.requires_grad]
        groups = [{"params": head, "lr": lr, "name": "head"}]
        whole = [list(self.backbone.parameters())]
        body = self.layer_groups()[:-1] if layer_decay != 1.0 else whole
        for depth, params in enumerate(reversed(body)):
            params = [p for p in params if p.requires_grad]
            if params:
                rate = lr * backbone_lr_mult * layer_decay**depth
                name = "backbone" if len(body) == 1 else f"backbone.{depth}"
                groups.append({"params": params, "lr": rate, "name": name})
        return groups


def style_index(style_names: list[str], name: str) -> int:
    """The row of style ``name`` in a style-conditioned model (a generator's table, a transfer
    model's bank); an unknown name is an error listing the known ones."""
    try:
        return style_names.index(name)
    except ValueError:
        raise WikiartError(f"unknown style {name!r}; this model knows {style_names}") from None
