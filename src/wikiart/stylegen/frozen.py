"""The frozen networks the generator is trained against and judged by: the training classifier,
the independent judge and the ImageNet Lite0 features, and how renders are shown to them."""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wikiart.checkpoints import load_model
from wikiart.errors import WikiartError
from wikiart.files import file_digest  # noqa: F401 (imported from here by the job)
from wikiart.models.perceptual import perceptual_features

log = logging.getLogger(__name__)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no gradients: a judge of renders, never trained by them."""
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def load_frozen_classifier(
    path: str | os.PathLike[str], device: torch.device
) -> tuple[nn.Module, dict[str, Any]]:
    """A classifier checkpoint rebuilt on ``device``, frozen: ``(model, payload)``."""
    _, model, payload = load_model(path, device, kind="classifier")
    return freeze(model), payload


def lite_features(device: torch.device) -> nn.Module | None:
    """The frozen ImageNet Lite0 early stages, or None where its weights package is missing
    (the terms that need them are then left out, with a warning)."""
    try:
        return perceptual_features(device)
    except WikiartError as exc:
        log.warning("no pretrained features (%s)", exc)
        return None


def as_model_input(normalizer: nn.Module, x01: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` float images -> what a model with this `Normalizer` expects from uint8 input
    (its own mean/std, differentiably): renders go through exactly the classifier's
    preprocessing."""
    return torch.addcmul(normalizer.bias, x01 * 255.0, normalizer.scale)


def classifier_view(clf: nn.Module, x01: torch.Tensor, size: int) -> torch.Tensor:
    """Renders resized to the classifier's input size and normalised its way."""
    if x01.shape[-1] != size:
        x01 = F.interpolate(x01, size=(size, size), mode="bilinear", antialias=True)
    return as_model_input(clf.normalizer, x01)


def to_uint8(x01: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` float images -> uint8, rounded (what a saved PNG or a judge sees)."""
    return (x01.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8)
