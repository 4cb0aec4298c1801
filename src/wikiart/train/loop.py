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
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from wikiart.device import amp_dtype, autocast
from wikiart.errors import WikiartError
from wikiart.train.checkpoint import (
    capture_rng,
    load_checkpoint,
    make_payload,
    restore_rng,
    save_checkpoint,
    unwrap,
)
from wikiart.train.ema import check_ema_decay, make_ema

log = logging.getLogger(__name__)

RESERVED_COLUMNS = ("epoch", "train_loss", "lr", "seconds")
PAYLOAD_EXTRA_DEFAULTS: dict[str, Any] = {
    "kind": "model",
    "model_config": {},
    "classes": None,
    "preprocess": {},
}


@dataclass
class StepOutput:
    """What ``step_fn`` returns for one batch: the loss (scalar, with its graph), the number of
    samples it averages over (to weight the epoch mean) and extra numbers to average."""

    loss: torch.Tensor
    n: int
    metrics: dict[str, float | torch.Tensor] = field(default_factory=dict)


StepFn = Callable[[nn.Module, Any, torch.device], StepOutput]
EvalFn = Callable[[nn.Module], Mapping[str, float]]


@dataclass
class LoopConfig:
    """How to train (not what): epochs, device, where the run lives, and the loop's policies.

    ``monitor`` names a key of the epoch row (an eval metric such as ``"val_macro_f1"``, or
    ``"train_loss"``); ``mode`` says whether bigger is better. ``scheduler_interval`` says when
    the scheduler steps: after every optimizer step, or once per epoch (after evaluation)."""

    epochs: int
    device: torch.device
    run_dir: Path
    seed: int = 0
    amp: bool | str = (
        True  # see wikiart.device.amp_dtype: True/'auto', False/'fp32', 'bf16', 'fp16'
    )
    grad_clip: float | None = None
    monitor: str | None = None
    mode: Literal["max", "min"] = "max"
    patience: int | None = None
    resume: bool = False
    progress: bool = True
    checkpoint_name: str = "last.pt"
    best_name: str = "model.pt"
    log_every: int = 1
    scheduler_interval: Literal["step", "epoch"] = "step"
    is_main: bool = True  # distributed runs: only the main process writes files and bars
    ema_decay: float = 0.0  # > 0: evaluate, select and save an EMA of the weights (train.ema)

    @classmethod
    def for_job(
        cls, cfg: Any, device: torch.device, run_dir: Path, progress: bool, **overrides: Any
    ) -> LoopConfig:
        """The loop settings every training job takes from its config (``TrainConfig``'s
        epochs, seed, precision, grad_clip, patience, resume), with ``overrides`` on top."""
        values: dict[str, Any] = {
            "epochs": cfg.epochs,
            "device": device,
            "run_dir": run_dir,
            "seed": cfg.seed,
            "amp": cfg.precision,
            "grad_clip": cfg.grad_clip,
            "patience": cfg.patience,
            "resume": cfg.resume,
            "progress": progress,
        }
        return cls(**{**values, **overrides})

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        self.run_dir = Path(self.run_dir)
        if self.epochs < 0:
            raise WikiartError(f"epochs must be >= 0, got {self.epochs}")
        if self.mode not in ("max", "min"):
            raise WikiartError(f"mode must be 'max' or 'min', got {self.mode!r}")
        if self.scheduler_interval not in ("step", "epoch"):
            raise WikiartError(
                f"scheduler_interval must be 'step' or 'epoch', got {self.scheduler_interval!r}"
            )
        if self.patience is not None:
            if self.patience < 1:
                raise WikiartError(f"patience must be >= 1, got {self.patience}")
            if self.monitor is None:
                raise WikiartError("patience (early stopping) needs a metric to monitor")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise WikiartError(f"grad_clip must be > 0, got {self.grad_clip}")
        if self.log_every < 1:
            raise WikiartError(f"log_every must be >= 1, got {self.log_every}")
        check_ema_decay(self.ema_decay)
        if self.checkpoint_name == self.best_name:
            raise WikiartError("checkpoint_name and best_name must differ")


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
class _LoopState:
    """The loop's own progress, saved in ``last.pt`` under ``loop``."""

    epoch: int = 0
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early,
            "seed": self.seed,
            "history": [dict(row) for row in self.history],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> _LoopState:
        return cls(
            epoch=int(d["epoch"]),
            best=None if d.get("best") is None else float(d["best"]),
            best_epoch=None if d.get("best_epoch") is None else int(d["best_epoch"]),
            bad_epochs=int(d.get("bad_epochs", 0)),
            stopped_early=bool(d.get("stopped_early", False)),
            seed=int(d.get("seed", 0)),
            history=[dict(row) for row in d.get("history", [])],
        )


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 63-bit seed for ``(seed, epoch)``: epochs get unrelated random streams."""
    hi, lo = np.random.SeedSequence([seed % 2**63, epoch]).generate_state(2, dtype=np.uint32)
    return ((int(hi) << 32) | int(lo)) & (2**63 - 1)


def _loader_generators(loader: Any) -> list[torch.Generator]:
    """The torch generators that decide a loader's order (its own, and its samplers')."""
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(loader, "batch_sampler", None)
    candidates = (
        getattr(loader, "generator", None),
        getattr(sampler, "generator", None),
        getattr(getattr(batch_sampler, "sampler", None), "generator", None),
    )
    found: list[torch.Generator] = []
    for gen in candidates:
        if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
            found.append(gen)
    return found


def reseed_epoch(seed: int, epoch: int, loader: Any = None) -> None:
    """Reseed every RNG training touches from ``(seed, epoch)``: what makes resume exact."""
    s = epoch_seed(seed, epoch)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)  # also seeds every CUDA device
    for gen in _loader_generators(loader):
        gen.manual_seed(s)


def _make_scaler(device: torch.device, amp: bool | str) -> torch.amp.GradScaler | None:
    """A GradScaler only where autocast runs in fp16 on CUDA: bf16 and fp32 need no scaling."""
    if device.type == "cuda" and amp_dtype(device, amp) == torch.float16:
        return torch.amp.GradScaler("cuda")
    return None


def write_history_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``history.csv`` atomically; columns in first-seen order, gaps as empty cells."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"metric {name!r} must be a single number, got shape {value.shape}")
        return float(value.detach().item())
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {name!r} must be a number, got {value!r}") from None


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return _to_float("lr", optimizer.param_groups[0]["lr"])


def _check_step_output(out: Any) -> StepOutput:
    if not isinstance(out, StepOutput):
        raise TypeError(f"step_fn must return a StepOutput, got {type(out).__name__}")
    if not isinstance(out.loss, torch.Tensor) or out.loss.numel() != 1:
        raise ValueError("StepOutput.loss must be a scalar tensor (reduce the batch, e.g. .mean())")
    if not out.loss.requires_grad:
        raise ValueError(
            "StepOutput.loss has no graph (computed under no_grad, or no trainable parameters?)"
        )
    if int(out.n) <= 0:
        raise ValueError(f"StepOutput.n must be the batch size (> 0), got {out.n}")
    return out


def _train_key(name: str) -> str:
    return name if name.startswith("train_") else f"train_{name}"


def _loader_len(loader: Iterable[Any]) -> int | None:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return None


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable[Any],
    step_fn: StepFn,
    cfg: LoopConfig,
    epoch: int,
    scaler: torch.amp.GradScaler | None,
    scheduler: Any,
    ema: AveragedModel | None = None,
) -> tuple[dict[str, float], float, int]:
    """One pass over ``loader``: returns the averaged train numbers, the last LR used and the
    number of samples seen. Losses are summed detached and turned into floats every
    ``log_every`` steps, so no graph outlives its step and the GPU is not synced every batch."""
    device = cfg.device
    model.train()
    bar = tqdm(
        loader,
        total=_loader_len(loader),
        desc=f"epoch {epoch}/{cfg.epochs}",
        unit="batch",
        leave=False,
        dynamic_ncols=True,
        disable=not (cfg.progress and cfg.is_main and sys.stderr.isatty()),
    )
    seen = 0
    loss_sum = 0.0
    extra_sums: dict[str, float] = {}
    pending_loss: torch.Tensor | float = 0.0
    pending_extra: dict[str, torch.Tensor | float] = {}
    lr = _current_lr(optimizer)
    start = time.perf_counter()

    def flush(step: int) -> None:
        nonlocal loss_sum, pending_loss
        loss_sum += float(pending_loss)
        pending_loss = 0.0
        for key, value in pending_extra.items():
            extra_sums[key] = extra_sums.get(key, 0.0) + float(value)
        pending_extra.clear()
        if not math.isfinite(loss_sum):
            raise WikiartError(
                f"training loss became {loss_sum} in epoch {epoch} (step {step}); try a lower "
                "learning rate, a gradient clip, or turning mixed precision off"
            )

    step = 0
    try:
        for step, batch in enumerate(bar, 1):
            with autocast(device, cfg.amp):
                out = _check_step_output(step_fn(model, batch, device))
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(out.loss).backward()
            else:
                out.loss.backward()
            if cfg.grad_clip is not None:
                if scaler is not None:
                    scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = _current_lr(optimizer)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if ema is not None:
                ema.update_parameters(unwrap(model))
            if scheduler is not None and cfg.scheduler_interval == "step":
                scheduler.step()

            n = int(out.n)
            seen += n
            pending_loss = pending_loss + out.loss.detach().float() * n
            for key, value in out.metrics.items():
                v = value.detach().float() if isinstance(value, torch.Tensor) else float(value)
                pending_extra[key] = pending_extra.get(key, 0.0) + v * n
            if step % cfg.log_every == 0:
                flush(step)
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", img_s=f"{rate:.0f}", refresh=False)
        flush(step)
    finally:
        bar.close()
    if seen == 0:
        raise WikiartError(
            f"the training loader gave no batches in epoch {epoch} "
            "(empty dataset, or fewer samples than one batch with drop_last?)"
        )
    stats = {"train_loss": loss_sum / seen}
    stats.update({_train_key(k): v / seen for k, v in extra_sums.items()})
    return stats, lr, seen


def _evaluate(model: nn.Module, eval_fn: EvalFn | None) -> dict[str, float]:
    """Run ``eval_fn`` in eval mode without autograd; values become plain floats."""
    if eval_fn is None:
        return {}
    model.eval()
    with torch.inference_mode():
        raw = eval_fn(model)
    metrics = {str(k): _to_float(str(k), v) for k, v in dict(raw).items()}
    clash = [k for k in metrics if k in RESERVED_COLUMNS]
    if clash:
        raise ValueError(f"eval_fn returned reserved history columns {clash}; rename them")
    return metrics


def _improved(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def _save_epoch(
    cfg: LoopConfig,
    state: _LoopState,
    history_path: Path,
    best_path: Path,
    last_path: Path,
    is_best: bool,
    row: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler | None,
    make_payload_extra: Callable[[], dict[str, Any]] | None,
    ema: AveragedModel | None = None,
) -> None:
    """history.csv, then model.pt (if best), then last.pt: a crash in between re-trains this
    epoch on resume and rewrites the same model.pt, never leaving last.pt ahead of the best.
    With an EMA, model.pt holds the average and last.pt both the live weights and the average."""
    write_history_csv(history_path, state.history)
    extra = _payload_extra(make_payload_extra)
    if is_best:
        evaluated = model if ema is None else ema.module
        save_checkpoint(
            best_path, _build_payload(extra, model=evaluated, epoch=state.epoch, metrics=row)
        )
    last = _build_payload(
        extra,
        model=model,
        epoch=state.epoch,
        metrics=row,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        loop_state=state.to_dict(),
        rng=capture_rng(),
    )
    if ema is not None:
        last["ema"] = ema.state_dict()
    save_checkpoint(last_path, last)


def _payload_extra(make_payload_extra: Callable[[], dict[str, Any]] | None) -> dict[str, Any]:
    """kind/model_config/classes/preprocess for `make_payload` plus any other top-level keys."""
    extra = dict(PAYLOAD_EXTRA_DEFAULTS)
    if make_payload_extra is not None:
        extra.update(make_payload_extra())
    return extra


def _build_payload(extra: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    known = {k: extra[k] for k in PAYLOAD_EXTRA_DEFAULTS}
    payload = make_payload(**known, **kwargs)
    for key, value in extra.items():
        if key in PAYLOAD_EXTRA_DEFAULTS:
            continue
        if key in payload:
            raise ValueError(f"make_payload_extra may not override checkpoint key {key!r}")
        payload[key] = value
    return payload


def _resume(
    path: Path,
    cfg: LoopConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler | None,
    kind: str,
    ema: AveragedModel | None = None,
) -> _LoopState | None:
    """Restore everything from ``last.pt``; ``None`` when there is nothing to resume."""
    if not path.exists():
        log.info("resume: no %s in %s yet; starting from scratch", path.name, path.parent)
        return None
    ckpt = load_checkpoint(path, map_location="cpu")
    if "loop" not in ckpt or "optimizer" not in ckpt:
        raise WikiartError(f"{path} cannot be resumed from (no loop/optimizer state)")
    if ckpt.get("kind") != kind:
        raise WikiartError(
            f"{path} holds a {ckpt.get('kind')!r} run, not {kind!r}; use another run folder"
        )
    try:
        unwrap(model).load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WikiartError(
            f"{path} does not fit this model/optimizer (settings changed since it was "
            f"written?): {first[:200]}"
        ) from None
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
    if "rng" in ckpt:
        restore_rng(ckpt["rng"])
    state = _LoopState.from_dict(ckpt["loop"])
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


def _epoch_line(epoch: int, total: int, row: Mapping[str, Any], seen: int, best: bool) -> str:
    parts = [f"epoch {epoch}/{total}"]
    for key, value in row.items():
        if key in ("epoch", "lr", "seconds"):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    secs = float(row["seconds"])
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{secs:.1f}s ({seen / max(secs, 1e-9):.0f} samples/s)")
    return "  ".join(parts) + ("  *best" if best else "")


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
) -> FitResult:
    """Train ``model`` for ``cfg.epochs`` epochs (1-based), resuming from ``last.pt`` if asked.

    ``step_fn(model, batch, device)`` moves the batch and returns a `StepOutput`; ``eval_fn``
    returns the epoch's metrics; ``make_payload_extra()`` gives the checkpoint's kind,
    model_config, classes and preprocess. Each epoch appends a row to ``history.csv``, writes
    ``model.pt`` when ``monitor`` improved (every epoch without a monitor), then ``last.pt``."""
    started = time.perf_counter()
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    last_path = run_dir / cfg.checkpoint_name
    best_path = run_dir / cfg.best_name
    history_path = run_dir / "history.csv"
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and cfg.scheduler_interval == "step":
        raise WikiartError("ReduceLROnPlateau steps on a metric: use scheduler_interval='epoch'")
    if cfg.monitor is not None and eval_fn is None and not cfg.monitor.startswith("train_"):
        raise WikiartError(f"monitor {cfg.monitor!r} needs an eval_fn that computes it")

    scaler = _make_scaler(cfg.device, cfg.amp)
    extra = _payload_extra(make_payload_extra)
    ema = make_ema(unwrap(model), cfg.ema_decay) if cfg.ema_decay > 0 else None
    state = _LoopState(seed=cfg.seed)
    if cfg.resume:
        state = (
            _resume(last_path, cfg, model, optimizer, scheduler, scaler, extra["kind"], ema)
            or state
        )
    elif last_path.exists():
        log.info("starting a new run in %s (its old %s will be replaced)", run_dir, last_path.name)
    resumed_from = state.epoch

    def result() -> FitResult:
        return FitResult(
            history=state.history,
            best_metric=state.best,
            best_epoch=state.best_epoch,
            stopped_early=state.stopped_early,
            seconds=time.perf_counter() - started,
            epochs_done=state.epoch,
            resumed_from=resumed_from,
            last_path=last_path,
            best_path=best_path,
        )

    # Judged by today's patience: resuming a stopped run with more patience continues it.
    state.stopped_early = cfg.patience is not None and state.bad_epochs >= cfg.patience
    if state.stopped_early or state.epoch >= cfg.epochs:
        if cfg.resume and state.epoch:
            log.info("%s: nothing left to train (%d epoch(s) done)", last_path, state.epoch)
        return result()

    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        try:
            epoch_start = time.perf_counter()
            reseed_epoch(cfg.seed, epoch, train_loader)
            sampler = getattr(train_loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new shuffle per epoch
                sampler.set_epoch(epoch)
            train_stats, lr, seen = _train_epoch(
                model, optimizer, train_loader, step_fn, cfg, epoch, scaler, scheduler, ema
            )
            metrics = _evaluate(model if ema is None else ema.module, eval_fn)
            if clash := sorted(set(metrics) & set(train_stats)):
                raise ValueError(f"eval_fn metrics {clash} clash with the train numbers")
            row: dict[str, Any] = {"epoch": epoch, **train_stats, **metrics, "lr": lr}
            row["seconds"] = time.perf_counter() - epoch_start

            if cfg.monitor is None:
                is_best = True
                state.best_epoch = epoch
            else:
                if cfg.monitor not in row:
                    raise WikiartError(
                        f"monitor {cfg.monitor!r} is not among this epoch's numbers {list(row)}"
                    )
                value = float(row[cfg.monitor])
                is_best = _improved(value, state.best, cfg.mode)
                if is_best:
                    state.best, state.best_epoch, state.bad_epochs = value, epoch, 0
                else:
                    state.bad_epochs += 1
            if scheduler is not None and cfg.scheduler_interval == "epoch":
                if plateau:
                    scheduler.step(float(row[cfg.monitor or "train_loss"]))
                else:
                    scheduler.step()
            state.epoch = epoch
            state.history.append(row)
            state.stopped_early = cfg.patience is not None and state.bad_epochs >= cfg.patience
            if cfg.is_main:
                _save_epoch(
                    cfg,
                    state,
                    history_path,
                    best_path,
                    last_path,
                    is_best,
                    row,
                    model,
                    optimizer,
                    scheduler,
                    scaler,
                    make_payload_extra,
                    ema,
                )
        except KeyboardInterrupt:
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
            raise
        log.info(_epoch_line(epoch, cfg.epochs, row, seen, is_best and cfg.monitor is not None))
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if state.stopped_early:
            log.info(
                "early stop: %s did not improve for %d epoch(s); best %.4g at epoch %d",
                cfg.monitor,
                state.bad_epochs,
                state.best if state.best is not None else float("nan"),
                state.best_epoch or 0,
            )
            break
    return result()
