"""The one training loop every model uses; what a batch means lives in the ``step_fn`` passed in.

The loop owns what every model needs the same way: mixed precision, gradient clipping, the LR
scheduler, a progress bar, evaluation, ``history.csv``, checkpoints (``last.pt`` to resume,
``model.pt`` for inference), early stopping, resuming, and an optional EMA of the weights
(``ema_decay``: the average is what is evaluated, selected and saved as ``model.pt``).

Resuming is bit-for-bit on CPU: every epoch starts by reseeding python, numpy, torch and the
train loader's generators from ``(seed, epoch)``, so epoch ``e`` sees the same shuffling and
dropout masks whether or not the process was restarted before it. Loader workers must not be
persistent (``make_loader`` never makes them so): workers started each epoch take their seeds from
the reseeded generator, so augmentation inside workers is identical after a resume too.

This module holds `fit` and its epoch-by-epoch control; the parts live next to it:
``loop_config`` (`LoopConfig`), ``epoch`` (`StepOutput`, one training pass, evaluation),
``history`` (rows, log lines, ``history.csv``), ``state`` (progress, best epoch), ``save``
(``model.pt``/``last.pt`` each epoch), ``resume`` and ``seeding`` (per-epoch reseeding).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from wikiart.checkpoints import unwrap
from wikiart.errors import WikiartError
from wikiart.train.ema import make_ema
from wikiart.train.epoch import EvalFn, StepFn, StepOutput

# `fit` looks these three up in this module, so they can be replaced here.
from wikiart.train.epoch import evaluate as _evaluate
from wikiart.train.epoch import make_scaler as _make_scaler
from wikiart.train.epoch import train_epoch as _train_epoch
from wikiart.train.history import RESERVED_COLUMNS, epoch_line, epoch_row, write_history_csv
from wikiart.train.loop_config import LoopConfig
from wikiart.train.resume import resume
from wikiart.train.save import PAYLOAD_EXTRA_DEFAULTS, Companion, payload_extra, save_epoch
from wikiart.train.seeding import epoch_seed, reseed_epoch
from wikiart.train.state import LoopState, track_best

__all__ = [
    "PAYLOAD_EXTRA_DEFAULTS",
    "RESERVED_COLUMNS",
    "EvalFn",
    "FitResult",
    "LoopConfig",
    "StepFn",
    "StepOutput",
    "epoch_seed",
    "fit",
    "reseed_epoch",
    "write_history_csv",
]

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What a `fit` call leaves behind (the full history, also of epochs before a resume)."""

    history: list[dict[str, float]]
    best_metric: float | None
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    epochs_done: int
    resumed_from: int
    last_path: Path
    best_path: Path


@dataclass
class _Run:
    """What one `fit` call trains with and keeps track of, shared by its per-epoch helpers."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    train_loader: Iterable[Any]
    step_fn: StepFn
    cfg: LoopConfig
    eval_fn: EvalFn | None
    scheduler: Any
    make_payload_extra: Callable[[], dict[str, Any]] | None
    companion: Companion | None
    scaler: torch.amp.GradScaler | None
    ema: AveragedModel | None
    state: LoopState
    started: float  # time.perf_counter() when fit was called
    resumed_from: int

    @property
    def last_path(self) -> Path:
        return self.cfg.run_dir / self.cfg.checkpoint_name

    @property
    def best_path(self) -> Path:
        return self.cfg.run_dir / self.cfg.best_name

    @property
    def history_path(self) -> Path:
        return self.cfg.run_dir / "history.csv"


def _check_fit_args(cfg: LoopConfig, scheduler: Any, eval_fn: EvalFn | None) -> None:
    """Settings that only make sense together with the scheduler and eval_fn passed in."""
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and cfg.scheduler_interval == "step":
        raise WikiartError("ReduceLROnPlateau steps on a metric: use scheduler_interval='epoch'")
    if cfg.monitor is not None and eval_fn is None and not cfg.monitor.startswith("train_"):
        raise WikiartError(f"monitor {cfg.monitor!r} needs an eval_fn that computes it")


def _initial_state(
    cfg: LoopConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler | None,
    kind: str,
    ema: AveragedModel | None,
    companion: Companion | None,
) -> LoopState:
    """A fresh loop state, or with ``cfg.resume`` the one restored from ``last.pt``."""
    last_path = cfg.run_dir / cfg.checkpoint_name
    state = LoopState(seed=cfg.seed)
    if cfg.resume:
        state = (
            resume(last_path, cfg, model, optimizer, scheduler, scaler, kind, ema, companion)
            or state
        )
    elif last_path.exists():
        log.info(
            "starting a new run in %s (its old %s will be replaced)", cfg.run_dir, last_path.name
        )
    return state


def _result(run: _Run) -> FitResult:
    state = run.state
    return FitResult(
        history=state.history,
        best_metric=state.best,
        best_epoch=state.best_epoch,
        stopped_early=state.stopped_early,
        seconds=time.perf_counter() - run.started,
        epochs_done=state.epoch,
        resumed_from=run.resumed_from,
        last_path=run.last_path,
        best_path=run.best_path,
    )


def _nothing_left(run: _Run) -> bool:
    """Whether the (resumed) run has already stopped early or trained all its epochs."""
    cfg, state = run.cfg, run.state
    # Judged by today's patience: resuming a stopped run with more patience continues it.
    state.stopped_early = cfg.patience is not None and state.bad_epochs >= cfg.patience
    if state.stopped_early or state.epoch >= cfg.epochs:
        if cfg.resume and state.epoch:
            log.info("%s: nothing left to train (%d epoch(s) done)", run.last_path, state.epoch)
        return True
    return False


def _step_epoch_scheduler(run: _Run, row: dict[str, Any]) -> None:
    """Step a per-epoch scheduler after evaluation (ReduceLROnPlateau on the monitor)."""
    scheduler, cfg = run.scheduler, run.cfg
    if scheduler is not None and cfg.scheduler_interval == "epoch":
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(float(row[cfg.monitor or "train_loss"]))
        else:
            scheduler.step()


def _run_epoch(run: _Run, epoch: int) -> tuple[dict[str, Any], int, bool]:
    """Reseed, train, evaluate, record and save one epoch; returns its history row, the
    number of samples seen and whether it is the best epoch so far."""
    cfg, state = run.cfg, run.state
    epoch_start = time.perf_counter()
    reseed_epoch(cfg.seed, epoch, run.train_loader)
    sampler: Any = getattr(run.train_loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new shuffle per epoch
        sampler.set_epoch(epoch)
    train_stats, lr, seen = _train_epoch(run, epoch)
    metrics = _evaluate(run.model if run.ema is None else run.ema.module, run.eval_fn)
    row = epoch_row(epoch, train_stats, metrics, lr, epoch_start)
    is_best = track_best(cfg, state, epoch, row)
    _step_epoch_scheduler(run, row)
    state.epoch = epoch
    state.history.append(row)
    state.stopped_early = cfg.patience is not None and state.bad_epochs >= cfg.patience
    if cfg.is_main:
        save_epoch(run, is_best, row)
    return row, seen, is_best


def _warn_interrupted(epoch: int, last_path: Path) -> None:
    """Say where an interrupted run can be resumed from."""
    if epoch > 1:  # last.pt is written atomically, so it still holds epoch - 1
        log.warning(
            "interrupted in epoch %d; %s holds epoch %d: run again with --resume to "
            "continue from there",
            epoch,
            last_path,
            epoch - 1,
        )
    else:
        log.warning("interrupted in epoch %d, before any checkpoint was written", epoch)


def _log_early_stop(cfg: LoopConfig, state: LoopState) -> None:
    log.info(
        "early stop: %s did not improve for %d epoch(s); best %.4g at epoch %d",
        cfg.monitor,
        state.bad_epochs,
        state.best if state.best is not None else float("nan"),
        state.best_epoch or 0,
    )


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable[Any],
    step_fn: StepFn,
    cfg: LoopConfig,
    *,
    eval_fn: EvalFn | None = None,
    scheduler: Any = None,
    make_payload_extra: Callable[[], dict[str, Any]] | None = None,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    companion: Companion | None = None,
) -> FitResult:
    """Train ``model`` for ``cfg.epochs`` epochs (1-based), resuming from ``last.pt`` if asked.

    ``step_fn(model, batch, device)`` moves the batch and returns a `StepOutput`; ``eval_fn``
    returns the epoch's metrics; ``make_payload_extra()`` gives the checkpoint's kind,
    model_config, classes and preprocess; ``companion`` is what else the steps train (a critic
    and its optimizer), kept in ``last.pt`` beside the model and restored with it. Each epoch
    appends a row to ``history.csv``, writes ``model.pt`` when ``monitor`` improved (every epoch
    without a monitor), then ``last.pt``."""
    started = time.perf_counter()
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    _check_fit_args(cfg, scheduler, eval_fn)
    scaler = _make_scaler(cfg.device, cfg.amp)
    kind = payload_extra(make_payload_extra)["kind"]
    ema = make_ema(unwrap(model), cfg.ema_decay) if cfg.ema_decay > 0 else None
    state = _initial_state(cfg, model, optimizer, scheduler, scaler, kind, ema, companion)
    run = _Run(
        model,
        optimizer,
        train_loader,
        step_fn,
        cfg,
        eval_fn,
        scheduler,
        make_payload_extra,
        companion,
        scaler,
        ema,
        state,
        started,
        resumed_from=state.epoch,
    )
    if _nothing_left(run):
        return _result(run)

    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        try:
            row, seen, is_best = _run_epoch(run, epoch)
        except KeyboardInterrupt:
            _warn_interrupted(epoch, run.last_path)
            raise
        log.info(epoch_line(epoch, cfg.epochs, row, seen, is_best and cfg.monitor is not None))
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if state.stopped_early:
            _log_early_stop(cfg, state)
            break
    return _result(run)
