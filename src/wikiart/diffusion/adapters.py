"""LoRA adapters on a `train diffusion` model: where the layers go (peft), the adapter-only view
of a model that the training loop saves, the files beside a LoRA run (``lora.json`` and the
adapter as ``pytorch_lora_weights.safetensors``), and the adapted model loaded back from them or
rebuilt from a ``lora`` checkpoint. (A pipeline's adapters are diffusers' own: see
`wikiart.diffusion.pipeline`.)"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from wikiart.builtins import checkpoint_path, is_builtin
from wikiart.checkpoints import load_checkpoint, load_model
from wikiart.diffusion.settings import KIND
from wikiart.errors import WikiartError
from wikiart.files import atomic_open, file_digest, write_json

#: Beside every LoRA run: the base, the styles and how each is asked for.
LORA_FILE = "lora.json"
#: The adapter weights, in the layout diffusers' ``load_lora_weights`` reads.
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"

ATTENTION = ["to_q", "to_k", "to_v", "to_out.0"]
CONVS = ["conv1", "conv2"]


def is_wikiart_checkpoint(base: str | os.PathLike[str]) -> bool:
    """``builtin`` or a file (a `train diffusion` ``model.pt``) rather than a pipeline folder or
    hub id."""
    return is_builtin(base) or Path(base).is_file()


def base_checkpoint(base: str | os.PathLike[str]) -> Path:
    """A `train diffusion` base by path, or ``builtin`` (the packaged base)."""
    return checkpoint_path(base, KIND, "the base checkpoint")


def target_modules(targets: str) -> list[str]:
    """peft's target module names for ``targets`` ("auto" is attention+conv here)."""
    return ATTENTION + (CONVS if targets in ("attention+conv", "auto") else [])


def targets_name(info: dict[str, Any]) -> str:
    """The ``targets`` setting that gave a run's recorded target modules."""
    return "attention+conv" if set(CONVS) & set(info.get("targets", [])) else "attention"


def inject_lora(unet: nn.Module, rank: int, alpha: float | None, targets: str) -> None:
    """Add LoRA layers (peft) to ``unet``'s ``targets``; everything else is frozen."""
    from peft import LoraConfig as PeftLora
    from peft import inject_adapter_in_model

    for p in unet.parameters():
        p.requires_grad_(False)
    config = PeftLora(
        r=int(rank), lora_alpha=float(alpha or rank), target_modules=target_modules(targets)
    )
    inject_adapter_in_model(config, unet)


class AdapterOnly(nn.Module):
    """A model with LoRA layers injected (peft) whose ``state_dict`` is the adapter alone: what
    the training loop writes to ``model.pt``/``last.pt`` and reads back on resume, instead of the
    frozen base's weights. ``inner`` is the module the adapters were injected into."""

    def __init__(self, model: nn.Module, inner: nn.Module, adapter_name: str = "default") -> None:
        super().__init__()
        self.model = model
        self.inner = inner
        self.adapter_name = adapter_name

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        from peft import get_peft_model_state_dict

        sd = get_peft_model_state_dict(self.inner, adapter_name=self.adapter_name)
        return {k: v.detach().clone() for k, v in sd.items()}

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        from peft import set_peft_model_state_dict

        expected = set(self.state_dict())
        got = set(state_dict)
        if strict and expected != got:
            missing, extra = sorted(expected - got)[:3], sorted(got - expected)[:3]
            raise RuntimeError(f"adapter weights differ: missing {missing}, unexpected {extra}")
        return set_peft_model_state_dict(self.inner, state_dict, adapter_name=self.adapter_name)

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in self.inner.parameters() if p.requires_grad]


def set_adapters_enabled(module: nn.Module, enabled: bool) -> None:
    """Switch every peft LoRA layer of ``module`` on or off (off: the base model's output)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for layer in module.modules():
        if isinstance(layer, BaseTunerLayer):
            layer.enable_adapters(enabled)


def write_lora_info(out: Path, info: dict[str, Any]) -> Path:
    """``lora.json``: ``{"base", "base_type" ("wikiart" | "diffusers"), "styles", ...}``."""
    return write_json(out / LORA_FILE, info)


def read_lora_info(run: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """A LoRA run's folder (given as the folder or any file in it) and its ``lora.json``."""
    path = Path(run)
    folder = path if path.is_dir() else path.parent
    info_path = folder / LORA_FILE
    if not info_path.is_file():
        raise WikiartError(f"{run} is not a LoRA run (no {LORA_FILE} in {folder})")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as exc:
        raise WikiartError(f"{info_path} is unreadable: {exc}") from None
    if not isinstance(info, dict) or "base" not in info or "styles" not in info:
        raise WikiartError(f"{info_path} lacks its base or styles")
    return folder, info


def write_adapter(out: Path, info: dict[str, Any]) -> None:
    """``pytorch_lora_weights.safetensors`` (the saved ``model.pt``'s adapter, keys under
    ``unet.``) and ``lora.json``."""
    from safetensors.torch import save

    adapter = load_checkpoint(out / "model.pt")["state_dict"]
    tensors = {f"unet.{k}": v.contiguous() for k, v in adapter.items()}
    with atomic_open(out / LORA_WEIGHTS, "wb") as fh:  # whole or absent; umask permissions
        fh.write(save(tensors, metadata={"format": "pt"}))
    write_lora_info(out, info)


def load_adapted(
    folder: Path, info: dict[str, Any], device: torch.device, base: str | None = None
) -> tuple[AdapterOnly, dict[str, Any], dict[str, int]]:
    """A base `train diffusion` model with a LoRA run's adapter: ``(model, payload,
    style -> class)``. A base whose digest differs from the one trained on is refused."""
    from safetensors.torch import load_file

    base_path = base_checkpoint(base or info["base"])
    if info.get("base_sha256") and file_digest(base_path) != info["base_sha256"]:
        raise WikiartError(
            f"{base_path} is not the base this adapter was trained on (its content differs)"
        )
    _, net, payload = load_model(base_path, device, kind=KIND)
    unet = cast(nn.Module, net.unet)
    inject_lora(unet, int(info["rank"]), float(info["alpha"]), targets_name(info))
    model = AdapterOnly(net, unet)
    weights = folder / LORA_WEIGHTS
    try:
        tensors = load_file(str(weights), device=str(device))
    except (OSError, zipfile.BadZipFile, Exception) as exc:
        raise WikiartError(f"cannot read the adapter {weights}: {exc}") from None
    adapter = {k.removeprefix("unet."): v for k, v in tensors.items()}
    try:
        model.load_state_dict(adapter)
    except RuntimeError as exc:
        raise WikiartError(f"{weights} does not fit its base: {exc}") from None
    payload = {**payload, "sampling": {
        "sampler": info.get("sampler", "ddim"), "steps": info.get("sample_steps", 25),
        "guidance": info.get("guidance", 3.0)}}  # fmt: skip
    classes = {str(k): int(v) for k, v in info["style_classes"].items()}
    return model.to(device).eval(), payload, classes


def build_lora_model(payload: dict[str, Any]) -> nn.Module:
    """A ``lora`` checkpoint's model before its weights are loaded: the `train diffusion` base
    rebuilt from its own checkpoint, with empty LoRA layers that the payload's adapter weights
    then fill (pipeline adapters load through diffusers instead)."""
    info = payload["model_config"]
    if info.get("base_type") != "wikiart":
        raise ValueError("a pipeline's adapter: use `wikiart sample --base BASE --lora RUN`")
    _, net, _ = load_model(base_checkpoint(info["base"]), "cpu", kind=KIND)
    unet = cast(nn.Module, net.unet)
    inject_lora(unet, int(info["rank"]), float(info["alpha"]), targets_name(info))
    return AdapterOnly(net, unet)
