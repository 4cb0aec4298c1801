"""Resuming a run: restoring the model, optimizer, scheduler, scaler, weight average, companion,
RNG states and the loop's progress from ``last.pt``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from wikiart.checkpoints import load_checkpoint, unwrap
from wikiart.errors import WikiartError
from wikiart.train.loop_config import LoopConfig
from wikiart.train.save import Companion
from wikiart.train.seeding import restore_rng
from wikiart.train.state import LoopState

log = logging.getLogger(__name__)


def _load_resumable(path: Path, kind: str) -> dict[str, Any]:
    """``last.pt``, checked to hold loop and optimizer state of a ``kind`` run."""
    ckpt = load_checkpoint(path, map_location="cpu")
    if "loop" not in ckpt or "optimizer" not in ckpt:
        raise WikiartError(f"{path} cannot be resumed from (no loop/optimizer state)")
    if ckpt.get("kind") != kind:
        raise WikiartError(
            f"{path} holds a {ckpt.get('kind')!r} run, not {kind!r}; use another run folder"
        )
    return ckpt


def _restore_weights(
    path: Path, ckpt: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Load the model's and optimizer's state; a mismatch is a one-line error."""
    try:
        unwrap(model).load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WikiartError(
            f"{path} does not fit this model/optimizer (settings changed since it was "
            f"written?): {first[:200]}"
        ) from None


def _restore_training_helpers(
    path: Path,
    ckpt: dict[str, Any],
    scheduler: Any,
    scaler: torch.amp.GradScaler | None,
    ema: AveragedModel | None,
) -> None:
    """Load the scheduler, scaler and weight average this run uses, saying what is missing
    (or, for a weight average this run does not keep, dropped)."""
    if scheduler is not None:
        if "scheduler" in ckpt:
            scheduler.load_state_dict(ckpt["scheduler"])
        else:
            log.warning("resume: %s has no scheduler state; the schedule restarts", path.name)
    if scaler is not None and "scaler" in ckpt:
        scaler.load_state_dict(ckpt["scaler"])
    if ema is not None:
        if "ema" in ckpt:
            ema.load_state_dict(ckpt["ema"])
        else:
            log.warning("resume: %s has no weight average; it starts from here", path.name)
            ema.n_averaged.zero_()
    elif "ema" in ckpt:
        log.warning(
            "resume: %s also holds a weight average, which this run (no ema_decay) drops: "
            "model.pt will hold the live weights from here",
            path.name,
        )


def resume(
    path: Path,
    cfg: LoopConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler | None,
    kind: str,
    ema: AveragedModel | None = None,
    companion: Companion | None = None,
) -> LoopState | None:
    """Restore everything from ``last.pt``; ``None`` when there is nothing to resume."""
    if not path.exists():
        log.info("resume: no %s in %s yet; starting from scratch", path.name, path.parent)
        return None
    ckpt = _load_resumable(path, kind)
    _restore_weights(path, ckpt, model, optimizer)
    _restore_training_helpers(path, ckpt, scheduler, scaler, ema)
    if companion is not None:
        if "companion" not in ckpt:
            raise WikiartError(f"{path} has no state of what this run trains beside the model")
        companion.load_state_dict(ckpt["companion"])
    if "rng" in ckpt:
        restore_rng(ckpt["rng"])
    state = LoopState.from_dict(ckpt["loop"])
    if state.seed != cfg.seed:
        log.warning(
            "resume: the run was started with seed %d, now %d; later epochs will not match an "
            "uninterrupted run",
            state.seed,
            cfg.seed,
        )
        state.seed = cfg.seed
    log.info("resuming from %s: %d of %d epoch(s) done", path, state.epoch, cfg.epochs)
    return state
