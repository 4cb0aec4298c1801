"""An exponential moving average (EMA) of a model's weights, for evaluation and checkpoints.

Small datasets trained from scratch give a noisy validation curve: the weights of one step sit
somewhere on the noise of the last few batches. The average of the recent weights is a smoother,
usually better model (Polyak & Juditsky 1992; the ``ModelEma`` of timm's ImageNet recipes). The
loop trains the live model and evaluates, selects and saves the average.

Built on ``torch.optim.swa_utils.AveragedModel`` with its buffers averaged too (BatchNorm running
statistics follow the averaged weights). The decay warms up as in TensorFlow's
``ExponentialMovingAverage(num_updates=...)``: ``min(decay, (1 + t) / (10 + t))`` after ``t``
updates, so the first steps' random weights do not linger in a short run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from wikiart.errors import WikiartError


def ema_multi_avg_fn(
    decay: float,
) -> Callable[[Sequence[torch.Tensor], Sequence[torch.Tensor], torch.Tensor | int], None]:
    """``AveragedModel``'s ``multi_avg_fn`` for a warmed-up EMA. Integer buffers (BatchNorm's
    ``num_batches_tracked``) are copied, not averaged."""

    def update(
        averaged: Sequence[torch.Tensor], current: Sequence[torch.Tensor], n: torch.Tensor | int
    ) -> None:
        steps = float(n)
        d = min(decay, (1.0 + steps) / (10.0 + steps))
        if averaged and averaged[0].is_floating_point():
            torch._foreach_lerp_(list(averaged), list(current), 1.0 - d)
        else:
            for a, c in zip(averaged, current, strict=True):
                a.copy_(c)

    return update


def check_ema_decay(decay: float) -> None:
    """A clear error unless ``decay`` is 0 (no average) or in (0, 1)."""
    if not 0.0 <= decay < 1.0:
        raise WikiartError(f"ema_decay must be in [0, 1) (0: off), got {decay}")


def make_ema(model: nn.Module, decay: float) -> AveragedModel:
    """A copy of ``model`` (unwrapped: no DDP) whose weights and buffers follow an EMA of
    ``model``'s after each ``update_parameters(model)``. ``decay`` in (0, 1)."""
    if not 0.0 < decay < 1.0:
        raise WikiartError(f"the EMA decay must be in (0, 1), got {decay}")
    return AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(decay), use_buffers=True)
