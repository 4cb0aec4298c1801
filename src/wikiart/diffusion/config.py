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


def _check_common(cfg: DiffusionConfig | LoraConfig) -> None:
    if not 0 <= cfg.label_dropout < 1:
        raise WikiartError(f"label_dropout must be in [0, 1), got {cfg.label_dropout}")
    if cfg.steps_per_epoch is not None and cfg.steps_per_epoch < 1:
        raise WikiartError(f"steps_per_epoch must be >= 1, got {cfg.steps_per_epoch}")
    if cfg.sample_steps < 1:
        raise WikiartError(f"sample_steps must be >= 1, got {cfg.sample_steps}")
    if cfg.guidance < 0:
        raise WikiartError(f"guidance must be >= 0, got {cfg.guidance}")
    if cfg.samples < 1:
        raise WikiartError(f"samples must be >= 1, got {cfg.samples}")


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> DiffusionConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(DiffusionConfig, config_file, overrides)
    _check_common(cfg)
    if cfg.data.image_size < 8:
        raise WikiartError(f"image_size must be >= 8, got {cfg.data.image_size}")
    if cfg.sample_every < 0:
        raise WikiartError(f"sample_every must be >= 0, got {cfg.sample_every}")
    return cfg


def resolve_lora_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> LoraConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(LoraConfig, config_file, overrides)
    _check_common(cfg)
    if cfg.rank < 1:
        raise WikiartError(f"rank must be >= 1, got {cfg.rank}")
    if cfg.alpha is not None and cfg.alpha <= 0:
        raise WikiartError(f"alpha must be > 0, got {cfg.alpha}")
    if cfg.accumulate < 1:
        raise WikiartError(f"accumulate must be >= 1, got {cfg.accumulate}")
    if cfg.batch_size % cfg.accumulate:
        raise WikiartError(
            f"batch_size {cfg.batch_size} must be a multiple of accumulate {cfg.accumulate} "
            "(each batch is split into that many micro-batches)"
        )
    if cfg.data.image_size < 0:
        raise WikiartError(
            f"image_size must be >= 0 (0: the base's own), got {cfg.data.image_size}"
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
