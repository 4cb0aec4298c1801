"""A Hugging Face text-to-image pipeline as a base for `wikiart train lora` and `wikiart sample`:
a Stable-Diffusion-shaped diffusers pipeline (a hub id or a local ``save_pretrained`` folder)
loaded quietly with one-line errors, and its LoRA adapter in diffusers' own terms: peft layers
added by ``unet.add_adapter``, written as ``pytorch_lora_weights.safetensors`` so that
``pipe.load_lora_weights(RUN)`` of any diffusers install reads it, and read back that way."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wikiart.diffusion.adapters import LORA_WEIGHTS, AdapterOnly, read_lora_info
from wikiart.diffusion.settings import LoraConfig
from wikiart.errors import WikiartError

#: Where LoRA layers go in the UNet: the attention projections (``auto`` on a pipeline, whose
#: UNet is mostly attention, as in diffusers' recipe), or those and the ResNet convolutions.
TARGET_MODULES: dict[str, list[str]] = {
    "auto": ["to_k", "to_q", "to_v", "to_out.0"],
    "attention": ["to_k", "to_q", "to_v", "to_out.0"],
    "attention+conv": ["to_k", "to_q", "to_v", "to_out.0", "conv1", "conv2"],
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")


def require_pipelines() -> None:
    """diffusers, peft and transformers installed, or a one-line error naming the extra."""
    try:
        import diffusers  # noqa: F401
        import peft  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise WikiartError(
            f"pipelines need the diffusion extra ({exc.name} is missing): "
            "pip install 'wikiart[diffusion]'"
        ) from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _is_hub_id(base: str) -> bool:
    return bool(_HUB_ID.match(base)) and not base.lower().endswith(_WEIGHT_SUFFIXES)


def looks_like_pipeline(base: str | os.PathLike[str]) -> bool:
    """Whether ``base`` names a diffusers pipeline: a local folder with ``model_index.json``, or
    a string that is no existing path and reads as a hub id (``org/name``)."""
    path = Path(base)
    if path.is_dir():
        return (path / "model_index.json").is_file()
    return not path.exists() and _is_hub_id(str(base))


def base_reference(base: str | os.PathLike[str]) -> str:
    """How ``lora.json`` records the base: the absolute path of a local folder, else the hub id."""
    path = Path(base)
    return str(path.resolve()) if path.exists() else str(base)


def load_pipeline(
    base: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
):
    """The Stable-Diffusion-shaped pipeline ``base`` names (a local ``save_pretrained`` folder or
    a hub id), on ``device`` in ``dtype`` (default fp32), without safety checker or progress
    bars. Anything unusable is a one-line `WikiartError` naming ``base``."""
    require_pipelines()
    from diffusers import StableDiffusionPipeline

    text = str(base)
    path = Path(base)
    if path.is_dir() and not (path / "model_index.json").is_file():
        raise WikiartError(
            f"{text} is not a diffusers pipeline folder (no model_index.json); expected a "
            "save_pretrained folder, a hub id, or a `train diffusion` RUN/model.pt"
        )
    if path.exists() and not path.is_dir():
        raise WikiartError(
            f"{text} is a file, not a diffusers pipeline (a folder with model_index.json, or a "
            "hub id such as org/name)"
        )
    if not path.exists() and not _is_hub_id(text):
        raise WikiartError(f"base {text} not found (no such folder, and not a hub id)")
    where = "" if path.exists() else " (not a local folder; tried as a hub id)"
    try:
        with _quiet_loading(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            pipe = StableDiffusionPipeline.from_pretrained(
                text,
                safety_checker=None,
                requires_safety_checker=False,
                torch_dtype=dtype or torch.float32,  # `dtype` in new diffusers, unknown in old
            )
    except Exception as exc:  # diffusers/transformers/hub errors of every kind
        raise WikiartError(
            f"could not load the diffusers pipeline {text}{where}: {_first_line(exc)}"
        ) from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(torch.device(device))


class _quiet_loading:
    """diffusers' and transformers' loading progress bars and notices (below warnings) off for
    the duration; restored after."""

    def __init__(self, keep_warnings: bool = True) -> None:
        self.keep_warnings = keep_warnings

    def __enter__(self) -> None:
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        self._bars = [m for m in (dlog, tlog) if m.is_progress_bar_enabled()]
        for module in self._bars:
            module.disable_progress_bar()
        self._levels = [(m, m.get_verbosity()) for m in (dlog, tlog)]
        for module, level in self._levels:
            module.set_verbosity(max(level, module.WARNING if self.keep_warnings else module.ERROR))

    def __exit__(self, *exc: Any) -> None:
        for module in self._bars:
            module.enable_progress_bar()
        for module, level in self._levels:
            module.set_verbosity(level)


def native_size(pipe: Any) -> int:
    """The image side the pipeline was made for: the UNet's latent size x the VAE's factor."""
    sample = pipe.unet.config.sample_size
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    return int(sample) * int(pipe.vae_scale_factor)


def open_pipeline(
    base: str | None, lora: str | os.PathLike[str] | None, device: torch.device | str
) -> tuple[Any, dict[str, Any], Path | None]:
    """The pipeline ``base`` (default: the LoRA run's own base) on ``device`` with the run's
    adapter loaded by diffusers' ``load_lora_weights``: ``(pipe, lora.json, run folder)``."""
    device = torch.device(device)
    info: dict[str, Any] = {}
    folder = None
    if lora is not None:
        folder, info = read_lora_info(lora)
        if info.get("base_type", "diffusers") != "diffusers":
            raise WikiartError(
                f"{folder} adapts a `train diffusion` model, not a diffusers pipeline"
            )
        if not (folder / LORA_WEIGHTS).is_file():
            raise WikiartError(f"{folder} has no {LORA_WEIGHTS} (training did not finish?)")
        base = base or info["base"]
    if not base:
        raise WikiartError("sampling a pipeline needs a base (a hub id or a local folder)")
    from wikiart.device import amp_dtype

    pipe = load_pipeline(base, device, amp_dtype(device, "auto"))
    if folder is not None:
        try:
            with _quiet_loading(keep_warnings=False):  # not: "no LoRA keys for the text encoder"
                pipe.load_lora_weights(str(folder), weight_name=LORA_WEIGHTS)
        except Exception as exc:
            raise WikiartError(
                f"could not load the adapter of {folder} into {base}: {_first_line(exc)}"
            ) from None
    return pipe, info, folder


def inject_pipeline_lora(unet: nn.Module, cfg: LoraConfig) -> tuple[AdapterOnly, list[str]]:
    """Freeze the UNet and add peft LoRA layers through diffusers' ``add_adapter`` (Gaussian A,
    zero B: the adapted UNet starts as the base); the adapter's weights in fp32."""
    from peft import LoraConfig as PeftLoraConfig

    targets = list(TARGET_MODULES[cfg.targets])
    unet.requires_grad_(False)
    unet.add_adapter(
        PeftLoraConfig(
            r=int(cfg.rank),
            lora_alpha=float(cfg.alpha if cfg.alpha is not None else cfg.rank),
            init_lora_weights="gaussian",
            target_modules=targets,
        )
    )
    adapter = AdapterOnly(unet, unet)
    params = adapter.trainable()
    if not params:
        raise WikiartError(f"no UNet layer matches the LoRA targets {targets}")
    for p in params:
        p.data = p.data.float()
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    return adapter, targets


def save_diffusers_lora(unet: nn.Module, out: Path, rank: int, alpha: float) -> Path:
    """Write the UNet's adapter as ``pytorch_lora_weights.safetensors`` in diffusers' format.
    diffusers reads an adapter saved this way with ``alpha = rank``, so a different alpha's
    scale ``alpha / rank`` is folded into the B (up) matrices: the loaded adapter acts the same."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(unet)
    scale = float(alpha) / float(rank)
    state = {
        k: (v * scale if scale != 1.0 and ".lora_B." in k else v)
        .detach()
        .float()
        .cpu()
        .contiguous()
        for k, v in state.items()
    }
    # diffusers' converter renames only the attention projections' keys (lora_A -> lora.down),
    # while its loader judges the whole file's naming by the first key: the convolutions' keys
    # are renamed the same way, or a file with both would lose one kind on loading.
    layers = {
        k.replace(".lora_A.", ".lora.down.").replace(".lora_B.", ".lora.up."): v
        for k, v in convert_state_dict_to_diffusers(state).items()
    }
    StableDiffusionPipeline.save_lora_weights(
        save_directory=str(out),
        unet_lora_layers=layers,
        weight_name=LORA_WEIGHTS,
        safe_serialization=True,
    )
    mask = os.umask(0)  # safetensors writes 0600: give the file the usual permissions
    os.umask(mask)
    os.chmod(out / LORA_WEIGHTS, 0o666 & ~mask)
    return out / LORA_WEIGHTS
