"""One epoch of the training loop: the step function's contract (`StepOutput`), the training
pass over the loader (mixed precision, gradient clipping, optimizer and scheduler steps, the
weight average) and the evaluation that follows it."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from wikiart.checkpoints import unwrap
from wikiart.device import amp_dtype, autocast
from wikiart.errors import WikiartError
from wikiart.train.history import RESERVED_COLUMNS
from wikiart.train.loop_config import LoopConfig


@dataclass
class StepOutput:
    """What ``step_fn`` returns for one batch: the loss (scalar, with its graph), the number of
    samples it averages over (to weight the epoch mean) and extra numbers to average."""

    loss: torch.Tensor
    n: int
    metrics: dict[str, float | torch.Tensor] = field(default_factory=dict)


StepFn = Callable[[nn.Module, Any, torch.device], StepOutput]
EvalFn = Callable[[nn.Module], Mapping[str, float]]


def make_scaler(device: torch.device, amp: bool | str) -> torch.amp.GradScaler | None:
    """A GradScaler only where autocast runs in fp16 on CUDA: bf16 and fp32 need no scaling."""
    if device.type == "cuda" and amp_dtype(device, amp) == torch.float16:
        return torch.amp.GradScaler("cuda")
    return None


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


@dataclass
class _EpochSums:
    """The sample-weighted sums of one epoch. Step losses wait in ``pending_*`` as detached
    tensors and become floats only in `flush`, so the GPU is not synced every batch."""

    epoch: int
    seen: int = 0
    loss_sum: float = 0.0
    extra_sums: dict[str, float] = field(default_factory=dict)
    pending_loss: torch.Tensor | float = 0.0
    pending_extra: dict[str, torch.Tensor | float] = field(default_factory=dict)

    def add(self, out: StepOutput) -> None:
        """Count one step's loss and metrics, weighted by its number of samples."""
        n = int(out.n)
        self.seen += n
        self.pending_loss = self.pending_loss + out.loss.detach().float() * n
        for key, value in out.metrics.items():
            v: torch.Tensor | float = (
                value.detach().float() if isinstance(value, torch.Tensor) else float(value)
            )
            self.pending_extra[key] = self.pending_extra.get(key, 0.0) + v * n

    def flush(self, step: int) -> None:
        """Move the pending sums into the float sums; a non-finite loss stops training."""
        self.loss_sum += float(self.pending_loss)
        self.pending_loss = 0.0
        for key, value in self.pending_extra.items():
            self.extra_sums[key] = self.extra_sums.get(key, 0.0) + float(value)
        self.pending_extra.clear()
        if not math.isfinite(self.loss_sum):
            raise WikiartError(
                f"training loss became {self.loss_sum} in epoch {self.epoch} (step {step}); try "
                "a lower learning rate, a gradient clip, or turning mixed precision off"
            )

    def stats(self) -> dict[str, float]:
        """The epoch means: ``train_loss`` and each step metric as ``train_<name>``."""
        stats = {"train_loss": self.loss_sum / self.seen}
        stats.update({_train_key(k): v / self.seen for k, v in self.extra_sums.items()})
        return stats


def _progress_bar(loader: Iterable[Any], cfg: LoopConfig, epoch: int) -> tqdm:
    """The epoch's progress bar; shown only on the main process, with progress on, in a tty."""
    return tqdm(
        loader,
        total=_loader_len(loader),
        desc=f"epoch {epoch}/{cfg.epochs}",
        unit="batch",
        leave=False,
        dynamic_ncols=True,
        disable=not (cfg.progress and cfg.is_main and sys.stderr.isatty()),
    )


def _optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    cfg: LoopConfig,
    scaler: torch.amp.GradScaler | None,
    scheduler: Any,
    ema: AveragedModel | None,
) -> float:
    """Backward, clip, step (through the scaler if any), update the average and step a
    per-step scheduler; returns the LR the optimizer step used."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
    else:
        loss.backward()
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
    return lr


class TrainingRun(Protocol):
    """What `train_epoch` trains with (`wikiart.train.loop`'s record of one `fit` call)."""

    @property
    def model(self) -> nn.Module: ...
    @property
    def optimizer(self) -> torch.optim.Optimizer: ...
    @property
    def train_loader(self) -> Iterable[Any]: ...
    @property
    def step_fn(self) -> StepFn: ...
    @property
    def cfg(self) -> LoopConfig: ...
    @property
    def scaler(self) -> torch.amp.GradScaler | None: ...
    @property
    def scheduler(self) -> Any: ...
    @property
    def ema(self) -> AveragedModel | None: ...


def train_epoch(run: TrainingRun, epoch: int) -> tuple[dict[str, float], float, int]:
    """One pass over ``loader``: returns the averaged train numbers, the last LR used and the
    number of samples seen. Losses are summed detached and turned into floats every
    ``log_every`` steps, so no graph outlives its step and the GPU is not synced every batch."""
    model, optimizer, cfg, step_fn = run.model, run.optimizer, run.cfg, run.step_fn
    scaler, scheduler, ema = run.scaler, run.scheduler, run.ema
    device = cfg.device
    model.train()
    bar = _progress_bar(run.train_loader, cfg, epoch)
    sums = _EpochSums(epoch)
    lr = _current_lr(optimizer)
    start = time.perf_counter()
    step = 0
    try:
        for step, batch in enumerate(bar, 1):
            with autocast(device, cfg.amp):
                out = _check_step_output(step_fn(model, batch, device))
            lr = _optimizer_step(model, optimizer, out.loss, cfg, scaler, scheduler, ema)
            sums.add(out)
            if step % cfg.log_every == 0:
                sums.flush(step)
                rate = sums.seen / max(time.perf_counter() - start, 1e-9)
                loss = f"{sums.loss_sum / sums.seen:.4f}"
                bar.set_postfix(loss=loss, img_s=f"{rate:.0f}", refresh=False)
        sums.flush(step)
    finally:
        bar.close()
    if sums.seen == 0:
        raise WikiartError(
            f"the training loader gave no batches in epoch {epoch} "
            "(empty dataset, or fewer samples than one batch with drop_last?)"
        )
    return sums.stats(), lr, sums.seen


def evaluate(model: nn.Module, eval_fn: EvalFn | None) -> dict[str, float]:
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
