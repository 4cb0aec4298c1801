"""The start every training job shares: seeded generators, the dataset opened, the run folder
made, and on ``--resume`` a check that the settings are the run's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wikiart.config_io import check_same_run
from wikiart.data.dataset import Dataset, open_dataset
from wikiart.data.resplit import carve_test
from wikiart.device import seed_everything


def start_run(cfg: Any, out: Path) -> Dataset:
    """Seed everything, open ``cfg.data``'s dataset, make ``out``; with ``cfg.resume``, refuse
    settings that differ from the run's ``config.json`` (before anything overwrites it)."""
    seed_everything(cfg.seed, cfg.deterministic)
    ds = open_dataset(cfg.data.data, split_csv=cfg.data.split_csv)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.resume:
        check_same_run(cfg, out)
    return carve_test(ds, cfg.data, out, cfg.seed)
