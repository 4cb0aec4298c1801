"""The start every training job shares: seeded generators, the dataset opened, the run folder
made, and on ``--resume`` a check that the settings are the run's own."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wikiart.config_io import check_same_run
from wikiart.data.dataset import Dataset, open_dataset
from wikiart.data.resplit import carve_test
from wikiart.device import seed_everything
from wikiart.errors import WikiartError
from wikiart.files import RUN_FILES, RUN_STATE, guard_out, make_dir

#: Set by ``wikiart train ... --dry-run``: `start_run` stops with `DryRun` once the settings,
#: the inputs and the run folder have been checked, before anything is written or trained.
DRY_RUN: contextvars.ContextVar[bool] = contextvars.ContextVar("wikiart_dry_run", default=False)


class DryRun(Exception):
    """Everything checked, nothing done: carries the opened dataset for the summary."""

    def __init__(self, dataset: Dataset) -> None:
        super().__init__("dry run")
        self.dataset = dataset


def start_run(cfg: Any, out: Path, check: Callable[[Dataset], None] | None = None) -> Dataset:
    """Seed everything, open ``cfg.data``'s dataset, make ``out`` (refusing to replace a run
    already there unless ``cfg.overwrite``; with ``cfg.resume``, refusing settings that differ
    from the run's ``config.json`` before anything overwrites it), carve the test split if
    asked, then run the job's ``check`` of the data. A dry run does the same checks on the same
    splits, writes nothing and stops with `DryRun`."""
    if cfg.resume and cfg.overwrite:
        raise WikiartError("--resume continues the run in --out, --overwrite replaces it: not both")
    dry = DRY_RUN.get()
    seed_everything(cfg.seed, cfg.deterministic)
    ds = open_dataset(cfg.data.data, split_csv=cfg.data.split_csv)
    guard_out(
        out, RUN_FILES, "a run", overwrite=cfg.overwrite, resume=cfg.resume,
        remove=() if dry else RUN_STATE,
    )  # fmt: skip
    if not dry:
        make_dir(out, "run folder")
    if cfg.resume:
        check_same_run(cfg, out)
    # --overwrite removes a saved test split (RUN_STATE): a dry run carves afresh, as the run will
    ds = carve_test(ds, cfg.data, None if dry and cfg.overwrite else out, cfg.seed, write=not dry)
    if check is not None:  # the job's own checks of its data, before any image is decoded
        check(ds)
    if dry:
        raise DryRun(ds)
    return ds
