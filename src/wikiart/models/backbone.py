"""What every backbone shares: image -> embedding, foreign weights, layer groups, frozen BatchNorm.

A backbone takes a normalised float batch ``N x 3 x H x W`` and returns ``N x embedding_dim``.
`StyleClassifier` puts a normaliser in front and a dropout + linear head behind it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from wikiart.errors import WikiartError
from wikiart.models.weights import load_weights

FEATURES = ("pool", "stats")


def check_features(features: str, allowed: tuple[str, ...], arch: str) -> None:
    if features not in allowed:
        raise WikiartError(
            f"features={features!r} is not available for {arch!r}; expected one of {allowed}"
        )


def has_params(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


class Backbone(nn.Module):
    """Base class of the backbones: shared behaviour, no layers of its own."""

    embedding_dim: int
    #: Key prefixes of the original classifier in a foreign weights file (``fc.``, ``_fc.``):
    #: the style head replaces it, so these keys are the only ones a load may leave unused.
    head_prefixes: tuple[str, ...] = ()

    @property
    def weights_target(self) -> nn.Module:
        """The module a foreign weights file maps onto: the wrapped network where there is one
        (its keys are torchvision's/the weight package's own), else the backbone itself."""
        return self

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters from input to output in a few depth groups, for gradual unfreezing and
        layer-wise learning rates. Default: one group per top-level child with parameters."""
        target = self.weights_target
        return [list(m.parameters()) for m in target.children() if has_params(m)]

    def load_pretrained(self, state: Mapping[str, torch.Tensor], source: str) -> None:
        """Load a foreign model's weights (keys as in ``weights_target``, classifier ignored), or
        this package's own: a whole classifier's state_dict (``backbone.*`` keys; normaliser and
        head left out) or a backbone's (keys as in ``self.state_dict()``)."""
        if any(k.startswith("backbone.") for k in state):
            prefix = "backbone."
            inner = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            load_weights(self, inner, source=source)
            return
        target = self.weights_target
        if target is not self and state and all(k.startswith("net.") for k in state):
            target = self
        load_weights(target, state, ignore_prefixes=self.head_prefixes, source=source)

    def train(self, mode: bool = True) -> Backbone:
        """As usual, except that a BatchNorm whose parameters are all frozen stays in eval mode:
        a frozen layer must not keep drifting its running statistics on training batches (nor
        normalise with batch statistics it was not trained with). So after
        ``set_backbone_trainable(False)`` the next ``model.train()`` leaves the backbone's
        BatchNorms in eval mode; after unfreezing, ``model.train()`` puts them back in train mode.
        Feature caching should still run under ``model.eval()`` (dropout off everywhere)."""
        super().train(mode)
        if mode:
            for m in self.modules():
                frozen = not any(p.requires_grad for p in m.parameters(recurse=False))
                if isinstance(m, _BatchNorm) and m.affine and frozen:
                    m.eval()
        return self
