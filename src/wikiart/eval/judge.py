"""Frozen classifiers that judge renders: the classifier a generator is trained against, and
the independent judge that scores a re-painting model's style swaps (never the same network,
so a render that only fools the training classifier earns nothing)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wikiart.checkpoints import load_model
from wikiart.errors import WikiartError
from wikiart.files import file_digest
from wikiart.imaging import unit_to_uint8
from wikiart.models.repaint import Repainter


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


@dataclass
class Judge:
    """The independent judge: renders at the re-painting model's size -> its predicted
    classes."""

    model: nn.Module
    size: int  # the judge's input size
    image_size: int  # the re-painting model's
    to_judge: torch.Tensor  # the model's style index -> the judge's class index

    def predict(self, x01: torch.Tensor) -> torch.Tensor:
        """``[0, 1]`` renders -> the judge's classes, seen as 8-bit images at its size."""
        u8 = unit_to_uint8(x01)
        if self.size != self.image_size:
            size = (self.size, self.size)
            u8 = unit_to_uint8(F.interpolate(u8.float() / 255, size=size, mode="bilinear"))
        labels: torch.Tensor = self.model(u8).float().argmax(1)
        return labels


def load_judge(
    judge: str | os.PathLike[str],
    payload: dict[str, Any],
    model: Repainter,
    device: torch.device,
) -> tuple[Judge, dict[str, Any]]:
    """The judge checkpoint, refused when it is the classifier ``model`` was trained against
    (its checkpoint ``payload`` names it, by path and content) or does not know every style of
    the model: ``(judge, its payload)``."""
    if not Path(judge).is_file():
        raise WikiartError(f"judge checkpoint not found: {judge}")
    trained_with = payload.get("classifier", {})
    same_path = trained_with.get("path") and Path(trained_with["path"]).resolve() == (
        Path(judge).resolve()
    )
    if same_path or trained_with.get("sha256") == file_digest(judge):
        raise WikiartError(
            f"the judge {judge} is the classifier this generator was trained against; train an "
            "independent judge (another --arch or --seed) and pass that"
        )
    jm, jp = load_frozen_classifier(judge, device)
    judge_classes = list(jp["classes"])
    missing = [s for s in model.style_names if s not in judge_classes]
    if missing:
        raise WikiartError(f"the judge does not know style(s) {missing}; it knows {judge_classes}")
    to_judge = torch.tensor([judge_classes.index(s) for s in model.style_names], device=device)
    size = int(jp["preprocess"]["image_size"])
    return Judge(jm, size, model.image_size, to_judge), jp
