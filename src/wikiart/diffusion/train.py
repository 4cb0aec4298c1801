"""`wikiart train diffusion`: a class-conditional pixel diffusion model trained from scratch with
the shared loop; writes ``model.pt`` (the EMA weights, the UNet config, the noise schedule and
the style names), ``history.csv``, ``loss.png``, ``samples_epochNNN.png`` every
``sample_every`` epochs and a final ``grid.png`` (one row of samples per style)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wikiart.builtins import checkpoint_path
from wikiart.checkpoints import load_model
from wikiart.config_io import save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.loader import cache_options, prepare_split
from wikiart.diffusion.batches import diffusable, select_styles, train_batches
from wikiart.diffusion.generate import open_generator
from wikiart.diffusion.noise import diffusion_loss, drop_labels, make_noise_schedule
from wikiart.diffusion.sample import write_sample_grid
from wikiart.diffusion.settings import KIND, VAE_KIND, DiffusionConfig, require_inputs
from wikiart.distributed import DistContext, barrier, check_agree, distributed, wrap
from wikiart.errors import WikiartError
from wikiart.eval.generator import SampleOptions
from wikiart.models.diffusion import StyleDiffusion, scheduler_config, unet_config
from wikiart.models.vae import LatentCodec
from wikiart.train.loop import LoopConfig, StepOutput, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)


def train_diffusion(
    cfg: DiffusionConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Train the model with the shared loop (class-balanced batches, labels dropped to "no
    style" for guidance, an EMA of the weights), then draw the sample grids. Under torchrun
    every process trains its share of each epoch (DistributedDataParallel) and the main one
    writes the run. Returns the last epoch's row with ``seconds``."""
    require_inputs(cfg)
    with distributed(cfg.device) as (ctx, device):
        return _train(cfg, Path(out), ctx, device, progress and ctx.is_main)


def _train(
    cfg: DiffusionConfig, out: Path, ctx: DistContext, device: torch.device, progress: bool
) -> dict[str, Any]:
    t_start = time.perf_counter()
    ds = start_run(cfg, out)
    train_refs = ds.split("train")
    styles = select_styles((r.style for r in train_refs), cfg.styles, cfg.exclude_styles)
    keep = set(styles)
    refs = [r for r in train_refs if r.style in keep]
    barrier(ctx)  # everyone has compared against the old config.json before it is replaced
    if ctx.is_main:
        save_config(cfg, out)
    data = prepare_split(
        refs,
        ClassMap(tuple(styles)),
        split="train",
        **cache_options(cfg.data, ds.cache_source, progress),
    )
    model = build_model(cfg, [] if cfg.unconditional else styles, device)
    encode = model.encode if model.codec is not None else None
    loader = train_batches(data, cfg, len(styles), encode, device, ctx)
    log.info(
        "diffusion: %s, %d UNet parameters; %d training images of %d style(s) at %d px, "
        "diffused as %s, %d steps/epoch",
        "unconditional" if cfg.unconditional else "class-conditional",
        sum(p.numel() for p in model.trainable()),
        len(data),
        len(styles),
        cfg.data.image_size,
        "x".join(map(str, model.sample_shape)) + (" latents" if encode else " pixels"),
        len(loader),
    )
    result = _fit(model, loader, cfg, (ctx, device), out, progress, styles)
    check_agree(model, ctx)
    if ctx.is_main:
        _write_figures(result.history, cfg, out, device)
    row = dict(result.history[-1]) if result.history else {}
    row["seconds"] = time.perf_counter() - t_start
    return row


def build_model(
    cfg: DiffusionConfig, styles: Sequence[str], device: torch.device
) -> StyleDiffusion:
    """The untrained model: a UNet on pixels, or on the latents of ``cfg.vae`` (whose trained
    weights it then holds, frozen); with ``cfg.init`` that model, trained, to fine-tune."""
    if cfg.init is not None:
        return _init_model(cfg, styles, device)
    size, channels, vae = cfg.data.image_size, 3, None
    if cfg.vae:
        _, codec, _ = load_model(cfg.vae, "cpu", kind=VAE_KIND)
        assert isinstance(codec, LatentCodec)
        if size % codec.factor:
            raise WikiartError(
                f"--image-size {size} is not divisible by the autoencoder's factor {codec.factor}"
            )
        size, channels, vae = size // codec.factor, codec.latent_channels, codec
    model = StyleDiffusion(
        unet_config(
            size, len(styles), cfg.widths, cfg.layers_per_block, cfg.attention_levels, channels
        ),
        styles,
        scheduler_config(cfg.noise_schedule, cfg.prediction, cfg.train_timesteps, vae is not None),
        unconditional=cfg.unconditional,
        vae=vae.config["vae"] if vae is not None else None,
    )
    if vae is not None and model.codec is not None:
        model.codec.load_state_dict(vae.state_dict())
    return model.to(device)


def _init_model(
    cfg: DiffusionConfig, styles: Sequence[str], device: torch.device
) -> StyleDiffusion:
    """``cfg.init``'s model (``builtin`` or a `train diffusion` ``model.pt``), whose styles and
    size the run must share."""
    assert cfg.init is not None
    path = checkpoint_path(cfg.init, KIND, "the --init checkpoint")
    _, model, _ = load_model(path, device, kind=KIND)
    assert isinstance(model, StyleDiffusion)
    if list(model.style_names) != list(styles):
        raise WikiartError(
            f"--init {cfg.init} knows the styles {model.style_names}, the run trains on "
            f"{list(styles)}: fine-tune on the same styles (--styles), or adapt it to new ones "
            "with `wikiart train lora --base`"
        )
    if model.image_size != cfg.data.image_size:
        raise WikiartError(
            f"--init {cfg.init} works at {model.image_size} px: pass --image-size "
            f"{model.image_size}"
        )
    log.info("init: %s (%s px, %d styles)", cfg.init, model.image_size, len(styles))
    return model


def _fit(
    model: StyleDiffusion,
    loader: torch.utils.data.DataLoader,
    cfg: DiffusionConfig,
    where: tuple[DistContext, torch.device],
    out: Path,
    progress: bool,
    styles: Sequence[str],
) -> Any:
    """AdamW with a one-cycle schedule through the shared loop (DistributedDataParallel under
    torchrun); every epoch's EMA is saved."""
    ctx, device = where
    opt = make_optimizer(model.trainable(), "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.1)
    noise_schedule = make_noise_schedule(model.scheduler_config)
    null = model.null_class

    def step(m: nn.Module, batch: Any, dev: torch.device) -> StepOutput:
        x0 = diffusable(batch[0].to(dev, non_blocking=True))
        y = drop_labels(batch[1].to(dev), null, cfg.label_dropout, cfg.unconditional)
        return StepOutput(diffusion_loss(m, noise_schedule, x0, y, cfg.snr_gamma), len(x0))

    def extra() -> dict[str, Any]:
        return _payload_extra(model, cfg, styles)

    def on_epoch_end(epoch: int, row: dict[str, Any]) -> None:
        if not ctx.is_main:
            return
        if cfg.sample_every and epoch % cfg.sample_every == 0 and epoch < cfg.epochs:
            _sample_grid(out / "model.pt", cfg, device, out / f"samples_epoch{epoch:03d}.png")

    loop = LoopConfig.for_job(
        cfg, device, out, progress, ema_decay=cfg.ema_decay, is_main=ctx.is_main
    )
    return fit(
        wrap(model, ctx, device),
        opt,
        loader,
        step,
        loop,
        scheduler=sched,
        make_payload_extra=extra,
        on_epoch_end=on_epoch_end,
    )


def _payload_extra(
    model: StyleDiffusion, cfg: DiffusionConfig, styles: Sequence[str]
) -> dict[str, Any]:
    """What a diffusion checkpoint carries beside the weights."""
    return {
        "kind": KIND,
        "model_config": model.config,
        "classes": list(model.style_names),
        "preprocess": {"image_size": model.image_size, "fit": cfg.data.fit, "range": [-1.0, 1.0]},
        "trained_on": list(styles),
        "sampling": {
            "sampler": cfg.sampler,
            "steps": cfg.sample_steps,
            "guidance": cfg.guidance,
        },
        "data": str(cfg.data.data),
    }


def _sample_grid(checkpoint: Path, cfg: DiffusionConfig, device: torch.device, path: Path) -> None:
    gen = open_generator(checkpoint=checkpoint, device=device)
    options = SampleOptions(cfg.samples, cfg.seed, cfg.guidance, cfg.sample_steps, cfg.sampler)
    write_sample_grid(gen, gen.styles, path, options)


def _write_figures(
    history: list[dict[str, Any]], cfg: DiffusionConfig, out: Path, device: torch.device
) -> None:
    """``loss.png`` and ``grid.png`` (samples of the saved ``model.pt``)."""
    from wikiart.report.classifier_plots import plot_history

    if history:
        plot_history(history, out / "loss.png", keys=("train_loss",), metric_keys=())
    _sample_grid(out / "model.pt", cfg, device, out / "grid.png")
