"""The interface every style classifier shares, whatever its backbone.

A `StyleClassifier` takes uint8 (0-255) or already-normalised float images ``N x 3 x H x W``,
normalises uint8 input itself (its `Normalizer` buffers travel in its state_dict, so inference
preprocesses exactly as training did), and exposes:

- ``embed(x)``: the penultimate embedding ``N x embedding_dim`` (the style embedding later stages
  use: clustering, the style-conditioned generator);
- ``forward(x)``: class logits ``N x num_classes`` = ``head(embed(x))``;
- ``config``: the keyword arguments that rebuild it with ``build_classifier(**config)``;
- ``param_groups(lr, backbone_lr_mult)``: optimizer groups for discriminative learning rates;
- ``set_backbone_trainable(flag)``: freeze or unfreeze everything before the head.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wikiart.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Normalizer


class StyleClassifier(nn.Module):
    """Normaliser -> backbone (to an embedding) -> dropout -> linear head."""

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

    def param_groups(self, lr: float, backbone_lr_mult: float = 1.0) -> list[dict[str, Any]]:
        """Head at ``lr``, backbone at ``lr * backbone_lr_mult`` (pretrained backbones want a
        smaller rate than a freshly initialised head). Frozen parameters are left out."""
        head = [p for p in self.head.parameters() if p.requires_grad]
        body = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [{"params": head, "lr": lr, "name": "head"}]
        if body:
            groups.append({"params": body, "lr": lr * backbone_lr_mult, "name": "backbone"})
        return groups
