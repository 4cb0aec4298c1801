"""Device choice, mixed precision and seeding: the only place that knows about hardware."""

from __future__ import annotations

import os
import random
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch

from wikiart.config import DEVICES, PRECISIONS  # the choices, declared with the settings
from wikiart.errors import WikiartError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda, then mps, then cpu. An explicit device that is absent is a clear error."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise WikiartError(f"unknown device {name!r}; expected one of {DEVICES}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise WikiartError("--device cuda was asked for but CUDA is not available")
    if kind == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise WikiartError("--device mps was asked for but MPS is not available")
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """True where oneDNN has native bf16 kernels (AVX512-BF16 / AMX): there bf16 autocast is
    several times faster than fp32 (EfficientNet-Lite0 inference: 19 -> 77+ img/s)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_dtype(device: torch.device, precision: bool | str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: plain fp32).

    ``auto``: bf16 on CUDA (fp16 where bf16 is unsupported), fp16 on MPS, fp32 on CPU (exact and
    bit-for-bit resumable; ask for ``bf16`` explicitly on a CPU that supports it)."""
    if precision is True:
        precision = "auto"
    if precision is False or precision == "fp32":
        return None
    if precision not in PRECISIONS:
        raise WikiartError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return None
    return torch.bfloat16 if precision == "bf16" else torch.float16


def inference_precision(payload: dict[str, Any], device: torch.device) -> str:
    """The precision a checkpoint's run used for inference (its ``preprocess["precision"]``),
    where this device can do it: bf16 falls back to fp32 on a CPU without bf16 kernels."""
    stored: str = payload["preprocess"].get("precision", "auto")
    if stored == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
        return "fp32"
    return stored


def autocast(device: torch.device, precision: bool | str = "auto") -> AbstractContextManager[None]:
    """Mixed precision per `amp_dtype`; a no-op context for fp32."""
    dtype = amp_dtype(device, precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (all devices); optionally ask for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def loader_workers(requested: int | None = None) -> int:
    """DataLoader worker count: one per core but one (left to the training process), at most 4;
    so 1 on a 2-core machine and 0 on a single core. Reading cached uint8 rows is cheap: more
    workers mostly add processes (bench/data_pipeline.py, bench/train_throughput.py)."""
    if requested is not None:
        return max(0, requested)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(4, (cores or 1) - 1))
