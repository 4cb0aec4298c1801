"""What the diffusion trainers share: choosing the styles, the training batches (class-balanced
by default), images in ``[-1, 1]``, and the adapter-only view of a model that the training loop
saves when only LoRA weights are trained."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wikiart.data.balance import make_weighted_sampler
from wikiart.data.loader import CachedImageDataset, make_loader
from wikiart.device import loader_workers
from wikiart.errors import UnknownStyleError, WikiartError
from wikiart.files import write_json
from wikiart.train.epoch import StepOutput

#: Beside every LoRA run: the base, the styles and how each is asked for.
LORA_FILE = "lora.json"
#: The adapter weights, in the layout diffusers' ``load_lora_weights`` reads.
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"


def select_styles(
    available: Iterable[str],
    styles: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[str]:
    """The sorted styles to train on: ``styles`` (all by default) minus ``exclude``; a name the
    data does not have is an error naming those it has."""
    have = sorted(set(available))
    for name in [*(styles or []), *(exclude or [])]:
        if name not in have:
            raise UnknownStyleError(f"unknown style {name!r}; the data has: {', '.join(have)}")
    chosen = [s for s in (sorted(set(styles)) if styles else have) if s not in set(exclude or [])]
    if not chosen:
        raise WikiartError("no styles left to train on (--styles / --exclude-styles)")
    return chosen


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in ``[-1, 1]``."""
    return x.float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in ``[-1, 1]`` -> uint8, rounded."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)


class _Flip:
    """Random horizontal flip of a CHW uint8 image (picklable for loader workers)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1) if torch.rand(()) < 0.5 else x


def train_batches(
    data: CachedImageDataset,
    cfg: Any,
    num_classes: int,
) -> torch.utils.data.DataLoader:
    """Batches of uint8 images and labels: with ``cfg.balance == "sampler"`` every style is drawn
    equally often (rare styles are learnt too); an epoch is ``cfg.steps_per_epoch`` batches
    (default: as many images as the split has)."""
    if len(data) == 0:
        raise WikiartError("no usable training images")
    n = len(data) if cfg.steps_per_epoch is None else int(cfg.steps_per_epoch) * cfg.batch_size
    if n < 1:
        raise WikiartError(f"steps_per_epoch must be >= 1, got {cfg.steps_per_epoch}")
    items = data.subset(np.arange(len(data)), _Flip() if cfg.flip else None)
    if cfg.balance == "sampler":
        sampler = make_weighted_sampler(data.labels, num_classes, num_samples=n, seed=cfg.seed)
    else:
        gen = torch.Generator().manual_seed(cfg.seed)
        sampler = torch.utils.data.RandomSampler(items, num_samples=n, generator=gen)
    return make_loader(
        items,
        batch_size=cfg.batch_size,
        sampler=sampler,
        seed=cfg.seed,
        num_workers=loader_workers(cfg.loader_workers),
        drop_last=n > cfg.batch_size,
    )


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

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:  # type: ignore[override]
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
    import json

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


def accumulating_step(
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    params: list[nn.Parameter],
    accumulate: int,
):
    """The loop's ``step_fn``. With ``accumulate > 1`` the batch is split into micro-batches;
    the gradients of all but the last are taken at once (their graphs freed) and carried into
    the returned loss by a term whose value is zero and whose gradient is theirs, so the loop's
    single ``backward`` yields the whole batch's mean gradient."""

    def step(model: nn.Module, batch: Any, device: torch.device) -> StepOutput:
        x = batch[0].to(device, non_blocking=True)
        y = batch[1].to(device, non_blocking=True)
        if accumulate == 1:
            return StepOutput(loss_fn(model, x, y), len(x))
        xs, ys = x.chunk(accumulate), y.chunk(accumulate)
        grads = [torch.zeros_like(p) for p in params]
        done = torch.zeros((), device=device)
        for xi, yi in zip(xs[:-1], ys[:-1], strict=True):
            part = loss_fn(model, xi, yi) * (len(xi) / len(x))
            taken = torch.autograd.grad(part, params, allow_unused=True)
            for acc, g in zip(grads, taken, strict=True):
                if g is not None:
                    acc.add_(g)
            done = done + part.detach().float()
        last = loss_fn(model, xs[-1], ys[-1]) * (len(xs[-1]) / len(x))
        carried = sum((p * g).sum() for p, g in zip(params, grads, strict=True))
        return StepOutput(last + (carried - carried.detach()) + done, len(x))

    return step
