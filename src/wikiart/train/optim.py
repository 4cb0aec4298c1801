"""The optimizer and learning-rate schedule every job builds, from their names in its config."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from wikiart.config import OPTIMIZERS, SCHEDULES  # the choices, declared with the settings
from wikiart.errors import WikiartError


def make_optimizer(
    params: Iterable[Any],
    name: str = "adamw",
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay), or SGD with Nesterov momentum 0.9 and weight decay as an
    L2 penalty in the gradient: the classic recipe for ResNets trained from scratch. ``params``:
    parameters or parameter groups (each group may carry its own ``lr``); ``betas``: AdamW's."""
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    raise WikiartError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")


def make_scheduler(
    opt: torch.optim.Optimizer,
    name: str,
    total_steps: int,
    *,
    pct_start: float = 0.2,
    cycle_momentum: bool = True,
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Stepped once per batch over ``total_steps``: ``onecycle`` (warm-up over ``pct_start`` of
    the run to each group's own LR, then cosine annealing; with ``cycle_momentum`` Adam's beta1
    cycles 0.95 -> 0.85 -> 0.95 as the LR rises and falls, without it the optimizer's own betas
    stay), ``cosine`` (annealing from the start) or ``constant`` (None: no scheduler)."""
    total = max(1, total_steps)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=[g["lr"] for g in opt.param_groups],
            total_steps=total,
            pct_start=pct_start,
            cycle_momentum=cycle_momentum,
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if name == "constant":
        return None
    raise WikiartError(f"unknown schedule {name!r}; expected one of {SCHEDULES}")
