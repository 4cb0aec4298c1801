"""Batch mixing regularisers for training from scratch: MixUp (Zhang et al. 2018, "mixup: Beyond
Empirical Risk Minimization") and CutMix (Yun et al. 2019, "CutMix: Regularization Strategy to
Train Strong Classifiers with Localizable Features").

Both pair each image of a batch with another image of the same batch (a random permutation) and
train on the loss ``lam * L(out, y) + (1 - lam) * L(out, y[perm])``, so they work with every
``--imbalance`` loss unchanged. CutMix pastes a box of the partner painting (``lam`` is the area
left of the original): each region of the input stays a real painting's brushwork, which suits
style. MixUp blends whole images.

Batches arrive as **uint8** on the training device (the model normalises its own input); mixing
keeps them uint8 (a MixUp blend is rounded: at most half a grey level). The random draws come
from torch's global CPU generator, which the training loop reseeds per epoch and checkpoints,
so a resumed run mixes exactly as an uninterrupted one, on every device.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from wikiart.config import MIXES  # the choices, declared with the settings


def _beta(alpha: float) -> float:
    """One draw of Beta(alpha, alpha) from torch's CPU generator."""
    gamma = torch.distributions.Gamma(torch.tensor([alpha, alpha]), torch.tensor([1.0, 1.0]))
    a, b = gamma.sample().tolist()
    share: float = a / (a + b) if a + b > 0 else 0.5
    return share


def _box(height: int, width: int, lam: float) -> tuple[int, int, int, int]:
    """A box covering about ``1 - lam`` of the image, centred uniformly (clipped at the edges)."""
    cut = math.sqrt(1.0 - lam)
    h, w = int(height * cut), int(width * cut)
    cy, cx = int(torch.randint(height, (1,))), int(torch.randint(width, (1,)))
    top, bottom = max(cy - h // 2, 0), min(cy + h // 2, height)
    left, right = max(cx - w // 2, 0), min(cx + w // 2, width)
    return top, bottom, left, right


def mix_batch(
    x: torch.Tensor, y: torch.Tensor, kind: str, alpha: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mix a batch: ``(mixed x, partner labels y[perm], lam)``; ``kind`` in `MIXES`.

    ``lam`` is the weight of the original labels (for CutMix, the exact share of pixels left
    from the original after clipping the box). ``none`` returns the batch unchanged, lam 1."""
    if kind not in MIXES:
        raise ValueError(f"unknown mix {kind!r}; expected one of {MIXES}")
    if kind == "none" or len(y) < 2 or alpha <= 0:
        return x, y, 1.0
    lam = _beta(alpha)
    perm = torch.randperm(len(y)).to(x.device)
    if kind == "mixup":
        mixed = x.float() * lam + x[perm].float() * (1.0 - lam)
        if x.dtype == torch.uint8:
            mixed = mixed.round_().clamp_(0, 255).to(torch.uint8)
        return mixed.contiguous(memory_format=_format(x)), y[perm], lam
    height, width = x.shape[-2:]
    top, bottom, left, right = _box(height, width, lam)
    mixed = x.clone()
    mixed[..., top:bottom, left:right] = x[perm][..., top:bottom, left:right]
    lam = 1.0 - (bottom - top) * (right - left) / (height * width)
    return mixed, y[perm], lam


def _format(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def mixed_loss(
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    logits: torch.Tensor,
    y: torch.Tensor,
    y_partner: torch.Tensor,
    lam: float,
) -> torch.Tensor:
    """``lam * criterion(logits, y) + (1 - lam) * criterion(logits, y_partner)``."""
    if lam >= 1.0:
        return criterion(logits, y)
    return lam * criterion(logits, y) + (1.0 - lam) * criterion(logits, y_partner)
