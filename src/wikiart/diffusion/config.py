"""The diffusion jobs' settings: the checks a resolved config must pass (defaults live in
`wikiart.config.DiffusionConfig` and `LoraConfig`), and what training needs before it starts."""

from __future__ import annotations

import os
from typing import Any

from wikiart.config import DiffusionConfig, LoraConfig
from wikiart.config_io import build_config
from wikiart.data.dataset import require_data
from wikiart.errors import WikiartError
from wikiart.models.diffusion import require_diffusers

KIND = "diffusion"
LORA_KIND = "lora"


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> DiffusionConfig:
    """Defaults <- TOML <- flags, checked."""
    return build_config(DiffusionConfig, config_file, overrides)


def resolve_lora_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> LoraConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(LoraConfig, config_file, overrides)
    if cfg.batch_size % cfg.accumulate:
        raise WikiartError(
            f"batch_size {cfg.batch_size} must be a multiple of accumulate {cfg.accumulate} "
            "(each batch is split into that many micro-batches)"
        )
    return cfg


def require_inputs(cfg: DiffusionConfig | LoraConfig) -> None:
    """The diffusion extra installed and training data named and present (and for LoRA a
    base)."""
    require_diffusers()
    require_data(cfg.data.data)
    if isinstance(cfg, LoraConfig) and not cfg.base:
        raise WikiartError(
            "no base: pass --base (a Hugging Face pipeline id or folder, or a "
            "`train diffusion` RUN/model.pt)"
        )
