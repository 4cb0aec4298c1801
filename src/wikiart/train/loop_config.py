"""`LoopConfig`: how the training loop runs (epochs, device, run folder and its policies)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from wikiart.errors import WikiartError
from wikiart.train.ema import check_ema_decay


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
