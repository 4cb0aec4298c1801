"""What the loop writes after each epoch: ``history.csv``, ``model.pt`` when the epoch is the
best, then ``last.pt`` with everything a resume needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from wikiart.checkpoints import make_payload, save_checkpoint
from wikiart.train.history import write_history_csv
from wikiart.train.seeding import capture_rng
from wikiart.train.state import LoopState

PAYLOAD_EXTRA_DEFAULTS: dict[str, Any] = {
    "kind": "model",
    "model_config": {},
    "classes": None,
    "preprocess": {},
}


class Companion(Protocol):
    """State a run trains beside its model (e.g. a critic and its optimizer): ``last.pt`` holds
    it as ``companion``, so a resume restores it with the model."""

    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EpochRun(Protocol):
    """What `save_epoch` reads of a training run (`wikiart.train.loop`'s record of one `fit`)."""

    @property
    def state(self) -> LoopState: ...
    @property
    def model(self) -> nn.Module: ...
    @property
    def optimizer(self) -> torch.optim.Optimizer: ...
    @property
    def scheduler(self) -> Any: ...
    @property
    def scaler(self) -> torch.amp.GradScaler | None: ...
    @property
    def ema(self) -> AveragedModel | None: ...
    @property
    def companion(self) -> Companion | None: ...
    @property
    def make_payload_extra(self) -> Callable[[], dict[str, Any]] | None: ...
    @property
    def history_path(self) -> Path: ...
    @property
    def best_path(self) -> Path: ...
    @property
    def last_path(self) -> Path: ...


def save_epoch(run: EpochRun, is_best: bool, row: dict[str, Any]) -> None:
    """history.csv, then model.pt (if best), then last.pt: a crash in between re-trains this
    epoch on resume and rewrites the same model.pt, never leaving last.pt ahead of the best.
    With an EMA, model.pt holds the average and last.pt both the live weights and the average."""
    state, ema = run.state, run.ema
    write_history_csv(run.history_path, state.history)
    extra = payload_extra(run.make_payload_extra)
    if is_best:
        evaluated = run.model if ema is None else ema.module
        save_checkpoint(
            run.best_path, _build_payload(extra, model=evaluated, epoch=state.epoch, metrics=row)
        )
    last = _build_payload(
        extra,
        model=run.model,
        epoch=state.epoch,
        metrics=row,
        optimizer=run.optimizer,
        scheduler=run.scheduler,
        scaler=run.scaler,
        loop_state=state.to_dict(),
        rng=capture_rng(),
    )
    if ema is not None:
        last["ema"] = ema.state_dict()
    if run.companion is not None:
        last["companion"] = run.companion.state_dict()
    save_checkpoint(run.last_path, last)


def payload_extra(make_payload_extra: Callable[[], dict[str, Any]] | None) -> dict[str, Any]:
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
