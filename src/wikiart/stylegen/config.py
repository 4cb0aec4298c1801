"""The stylegen job's settings: the checks a resolved config must pass (its defaults live in
`wikiart.config.StylegenConfig`), and what training needs before it starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wikiart.config import StylegenConfig
from wikiart.config_io import build_config
from wikiart.data.dataset import require_data
from wikiart.errors import WikiartError

KIND = "stylegen"


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> StylegenConfig:
    """Defaults <- TOML <- flags, checked."""
    return build_config(StylegenConfig, config_file, overrides)


def require_inputs(cfg: StylegenConfig) -> None:
    """Training data and a trained classifier file, named and present."""
    require_data(cfg.data.data)
    if cfg.classifier is None:
        raise WikiartError("no classifier: pass --classifier RUN/model.pt (a trained classifier)")
    if not Path(cfg.classifier).is_file():
        raise WikiartError(f"classifier checkpoint not found: {cfg.classifier}")
