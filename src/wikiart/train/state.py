"""The loop's own progress (`LoopState`, saved in ``last.pt`` under ``loop``) and how an
epoch's monitored number updates the best epoch and the early-stopping count."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wikiart.errors import WikiartError
from wikiart.train.loop_config import LoopConfig


@dataclass
class LoopState:
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
    def from_dict(cls, d: Mapping[str, Any]) -> LoopState:
        return cls(
            epoch=int(d["epoch"]),
            best=None if d.get("best") is None else float(d["best"]),
            best_epoch=None if d.get("best_epoch") is None else int(d["best_epoch"]),
            bad_epochs=int(d.get("bad_epochs", 0)),
            stopped_early=bool(d.get("stopped_early", False)),
            seed=int(d.get("seed", 0)),
            history=[dict(row) for row in d.get("history", [])],
        )


def _improved(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def track_best(cfg: LoopConfig, state: LoopState, epoch: int, row: Mapping[str, Any]) -> bool:
    """Whether ``epoch`` is the new best (every epoch is without a monitor); updates the best
    value, best epoch and the count of epochs without improvement in ``state``."""
    if cfg.monitor is None:
        state.best_epoch = epoch
        return True
    if cfg.monitor not in row:
        raise WikiartError(f"monitor {cfg.monitor!r} is not among this epoch's numbers {list(row)}")
    value = float(row[cfg.monitor])
    is_best = _improved(value, state.best, cfg.mode)
    if is_best:
        state.best, state.best_epoch, state.bad_epochs = value, epoch, 0
    else:
        state.bad_epochs += 1
    return is_best
