"""`wikiart train lora`: LoRA adapters (peft) trained onto a frozen base, which is either a Hugging
Face text-to-image pipeline (`wikiart.diffusion.pipeline_lora`) or a `train diffusion` checkpoint
(here).

On a `train diffusion` base each style trains under its own class when the base knows it, and
under the base's "no style" class when it does not (a style held out of the base, or any style
of an unconditional base): the adapter then *is* the condition, and sampling guides the adapted
network against the base with its adapters off. Only the adapter is saved: ``model.pt`` (kind
``lora``, with the base's path and digest), ``pytorch_lora_weights.safetensors`` (peft's keys
under ``unet.``, the layout diffusers uses) and ``lora.json``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wikiart.builtins import BUILTIN, is_builtin
from wikiart.checkpoints import load_model
from wikiart.config_io import save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.loader import cache_options, prepare_split
from wikiart.diffusion.adapters import (
    AdapterOnly,
    base_checkpoint,
    inject_lora,
    is_wikiart_checkpoint,
    target_modules,
    write_adapter,
)
from wikiart.diffusion.batches import (
    accumulating_step,
    diffusable,
    select_styles,
    train_batches,
)
from wikiart.diffusion.generate import open_generator
from wikiart.diffusion.noise import diffusion_loss, drop_labels, make_noise_schedule
from wikiart.diffusion.sample import write_sample_grid
from wikiart.diffusion.settings import KIND, LORA_KIND, LoraConfig, require_inputs
from wikiart.distributed import (
    DistContext,
    barrier,
    check_agree,
    distributed,
    launched_by_torchrun,
    wrap,
)
from wikiart.errors import WikiartError
from wikiart.eval.generator import SampleOptions
from wikiart.files import file_digest
from wikiart.models.diffusion import StyleDiffusion
from wikiart.report.classifier_plots import plot_history
from wikiart.train.loop import LoopConfig, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)


def train_lora(cfg: LoraConfig, out: str | os.PathLike[str], *, progress: bool = False) -> dict:
    """Train an adapter onto ``cfg.base``; returns the last epoch's row with ``seconds`` and
    the adapter's and base's sizes."""
    require_inputs(cfg)
    assert cfg.base is not None
    if not is_wikiart_checkpoint(cfg.base):
        if launched_by_torchrun():
            raise WikiartError(
                "under torchrun, LoRA trains on builtin or a `train diffusion` base; a "
                "pipeline's LoRA runs as one process"
            )
        from wikiart.diffusion.pipeline_lora import train_pipeline_lora

        return train_pipeline_lora(cfg, Path(out), progress=progress)
    if launched_by_torchrun() and cfg.accumulate > 1:
        raise WikiartError(
            "under torchrun, --accumulate must be 1: each process trains its share of a batch"
        )
    with distributed(cfg.device) as (ctx, device):
        return _train_on_checkpoint(cfg, Path(out), ctx, device, progress and ctx.is_main)


def _style_classes(base: StyleDiffusion, styles: Sequence[str]) -> dict[str, int]:
    """Each style's class on the base: its own where the base knows it, else "no style"."""
    return {s: (base.style_names.index(s) if s in base.style_names else base.null_class)
            for s in styles}  # fmt: skip


def _train_on_checkpoint(
    cfg: LoraConfig, out: Path, ctx: DistContext, device: torch.device, progress: bool
) -> dict[str, Any]:
    t_start = time.perf_counter()
    base_file = base_checkpoint(cfg.base)  # type: ignore[arg-type]
    _, base, _ = load_model(base_file, device, kind=KIND)
    assert isinstance(base, StyleDiffusion)
    size = cfg.data.image_size or base.image_size
    if size != base.image_size:
        raise WikiartError(
            f"the base works at {base.image_size} px; pass --image-size {base.image_size} (or 0)"
        )
    ds = start_run(cfg, out)
    train_refs = ds.split("train")
    styles = select_styles((r.style for r in train_refs), cfg.styles, cfg.exclude_styles)
    classes = _style_classes(base, styles)
    new = [s for s, c in classes.items() if c == base.null_class]
    if len(new) > 1:
        raise WikiartError(
            f"styles {', '.join(new)} are all new to the base and would share its 'no style' "
            "class: train one adapter per new style (--styles NAME)"
        )
    refs = [r for r in train_refs if r.style in set(styles)]
    barrier(ctx)  # everyone has compared against the old config.json before it is replaced
    if ctx.is_main:
        save_config(cfg, out)
    cache = cache_options(cfg.data, ds.cache_source, progress) | {"image_size": size}
    data = prepare_split(refs, ClassMap(tuple(styles)), split="train", **cache)
    encode = base.encode if base.codec is not None else None
    loader = train_batches(data, cfg, len(styles), encode, device, ctx)
    inject_lora(base.unet, cfg.rank, cfg.alpha, cfg.targets)
    model = AdapterOnly(base, base.unet)
    adapter_n = sum(p.numel() for p in model.trainable())
    base_n = sum(p.numel() for p in base.unet.parameters()) - adapter_n  # what it adapts
    log.info(
        "LoRA r=%d on %s: %d adapter parameters (%.1f%% of the base's %d); style(s) new to the "
        "base, trained under 'no style': %s",
        cfg.rank, cfg.base, adapter_n, 100 * adapter_n / base_n, base_n, ", ".join(new) or "none",
    )  # fmt: skip
    info = {
        "base": BUILTIN if is_builtin(cfg.base) else str(base_file.resolve()),
        "base_type": "wikiart",
        "base_sha256": file_digest(base_file),
        "styles": styles,
        "style_classes": classes,
        "rank": cfg.rank,
        "alpha": float(cfg.alpha or cfg.rank),
        "targets": target_modules(cfg.targets),
        "image_size": size,
        "sampler": cfg.sampler,
        "sample_steps": cfg.sample_steps,
        "guidance": cfg.guidance,
        "adapter_parameters": adapter_n,
        "base_parameters": base_n,
    }
    loop = LoopConfig.for_job(cfg, device, out, progress, is_main=ctx.is_main)
    result = _fit(model, base, loader, cfg, loop, info, ctx)
    check_agree(model, ctx)
    if ctx.is_main:
        write_adapter(out, info)
        _write_figures(result.history, cfg, out, device)
    row = dict(result.history[-1]) if result.history else {}
    row |= {"seconds": time.perf_counter() - t_start, "adapter_parameters": adapter_n}
    row["base_parameters"] = base_n
    return row


def _fit(
    model: AdapterOnly,
    base: StyleDiffusion,
    loader: Any,
    cfg: LoraConfig,
    loop: LoopConfig,
    info: dict[str, Any],
    ctx: DistContext,
) -> Any:
    """AdamW with a one-cycle schedule on the adapter alone, through the shared loop; each
    style's images train under its class on the base (``info["style_classes"]``)."""
    classes: dict[str, int] = info["style_classes"]
    styles = list(info["styles"])
    opt = make_optimizer(model.trainable(), "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.1)
    noise_schedule = make_noise_schedule(base.scheduler_config)
    to_base = torch.tensor([classes[s] for s in styles], device=loop.device)
    null = base.null_class

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = drop_labels(to_base[y], null, cfg.label_dropout, False)
        return diffusion_loss(m, noise_schedule, diffusable(x), y, cfg.snr_gamma)

    step = accumulating_step(loss, model.trainable(), cfg.accumulate)

    def extra() -> dict[str, Any]:
        return {
            "kind": LORA_KIND,
            "model_config": dict(info),
            "classes": list(styles),
            "preprocess": {"image_size": base.image_size, "fit": cfg.data.fit},
            "sampling": {"sampler": cfg.sampler, "steps": cfg.sample_steps,
                         "guidance": cfg.guidance},
        }  # fmt: skip

    trained = wrap(model, ctx, loop.device)
    return fit(trained, opt, loader, step, loop, scheduler=sched, make_payload_extra=extra)


def _write_figures(
    history: list[dict[str, Any]], cfg: LoraConfig, out: Path, device: torch.device
) -> None:
    if history:
        plot_history(history, out / "loss.png", keys=("train_loss",), metric_keys=())
    gen = open_generator(out, device=device)
    write_sample_grid(gen, gen.styles, out / "grid.png", SampleOptions(cfg.samples, cfg.seed))
