"""The stylegen job's settings: its defaults and the checks a resolved config must pass."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wikiart.config import StylegenConfig, build_config
from wikiart.errors import WikiartError
from wikiart.models.stylegen import check_padding

KIND = "stylegen"
#: Defaults of the stylegen job: small images (CPU time bounds the run; the content code is
#: 64 x 8 x 8 at 64 px), then a TOML file and flags override them.
PRESETS: dict[str, Any] = {"data": {"image_size": 64}, "epochs": 10, "batch_size": 16, "lr": 2e-3}


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> StylegenConfig:
    """Defaults <- `PRESETS` <- TOML <- flags, checked."""
    cfg = build_config(StylegenConfig, config_file, overrides, PRESETS)
    if cfg.data.data is None:
        raise WikiartError("no training data: pass --data DIR (or `data` in the config file)")
    if cfg.classifier is None:
        raise WikiartError("no classifier: pass --classifier RUN/model.pt (a trained classifier)")
    if not Path(cfg.classifier).is_file():
        raise WikiartError(f"classifier checkpoint not found: {cfg.classifier}")
    weights = (cfg.rec_weight, cfg.style_weight, cfg.content_weight, cfg.code_weight)
    if min(*weights, cfg.stats_weight, cfg.texture_weight, cfg.layout_weight, cfg.style_margin) < 0:
        raise WikiartError("stylegen loss weights must be >= 0")
    check_padding(cfg.padding)
    return cfg
