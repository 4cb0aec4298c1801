"""`wikiart train lora` when the base is a Hugging Face text-to-image pipeline (a hub id or a
local ``save_pretrained`` folder) rather than a `train diffusion` checkpoint.

Training follows diffusers' LoRA text-to-image recipe (``train_text_to_image_lora.py``): the VAE,
the text encoder and the UNet are frozen, peft LoRA layers (diffusers' own ``unet.add_adapter``)
on the UNet's attention projections (optionally its ResNet convolutions too) are the only
trainable weights, kept in fp32; each image is encoded to VAE latents, noised at a random
timestep, and the UNet learns the noise (or the velocity, per the scheduler's prediction type)
given the embedding of its style's caption. Captions are fixed per style ("a painting in the
style of Cubism", optionally with a rare token per style), so their embeddings are computed once;
a share of them (``label_dropout``) is replaced by the empty caption, which is what
classifier-free guidance contrasts with at sampling time.

The run goes through the shared training loop (`wikiart.train.loop.fit`: history, checkpoints,
resume, mixed precision), which saves the adapter alone (`AdapterOnly`). At the end the adapter
is also written as ``pytorch_lora_weights.safetensors`` in diffusers' format, so
``pipe.load_lora_weights(RUN)`` of any diffusers install reads it, beside ``lora.json`` (base,
styles, captions), ``loss.png`` and ``grid.png``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wikiart.checkpoints import load_checkpoint
from wikiart.config_io import save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.loader import cache_options, prepare_split
from wikiart.device import amp_dtype, resolve_device
from wikiart.diffusion.adapters import AdapterOnly, write_lora_info
from wikiart.diffusion.batches import accumulating_step, select_styles, train_batches
from wikiart.diffusion.captions import encode_captions, style_captions
from wikiart.diffusion.noise import make_noise_schedule, to_signed
from wikiart.diffusion.pipeline import (
    base_reference,
    inject_pipeline_lora,
    load_pipeline,
    native_size,
    require_pipelines,
    save_diffusers_lora,
)
from wikiart.diffusion.pipeline_sample import generate
from wikiart.diffusion.settings import LoraConfig, check_lora
from wikiart.errors import WikiartError
from wikiart.eval.generator import SampleOptions
from wikiart.report.classifier_plots import plot_history
from wikiart.report.plots import image_grid
from wikiart.train.loop import LoopConfig, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)


def train_pipeline_lora(
    cfg: LoraConfig, out: str | os.PathLike[str], progress: bool = False
) -> dict[str, Any]:
    """Train a LoRA adapter onto the pipeline ``cfg.base`` with the shared loop; write
    ``pytorch_lora_weights.safetensors`` (diffusers' format), ``lora.json``, ``config.json``,
    ``history.csv``, ``model.pt``/``last.pt`` (adapter only), ``loss.png`` and ``grid.png``.

    Gradient accumulation (``cfg.accumulate = k``): the loader gives batches of
    ``cfg.batch_size`` and each optimizer step splits its batch into ``k`` micro-batches whose
    gradients are taken one after the other, so the effective batch is ``batch_size`` and the
    memory that of ``batch_size / k`` images. (With fp16 loss scaling the micro-batch gradients
    but the last are taken unscaled; bf16 and fp32 are unaffected.)

    Returns the last epoch's history row with ``seconds``, ``adapter_bytes`` and ``base_bytes``
    (parameter bytes of the adapter and of the UNet it adapts)."""
    require_pipelines()
    check_lora(cfg)
    out = Path(out)
    started = time.perf_counter()
    device = resolve_device(cfg.device)
    pipe = load_pipeline(str(cfg.base), device, amp_dtype(device, cfg.precision))
    ds = start_run(cfg, out)
    refs = ds.split("train")
    styles = select_styles((r.style for r in refs), cfg.styles, cfg.exclude_styles)
    save_config(cfg, out)  # the base and the styles are usable: the run starts
    size = int(cfg.data.image_size or native_size(pipe))
    if size % int(pipe.vae_scale_factor):
        raise WikiartError(
            f"image size {size} is not a multiple of the VAE's factor {pipe.vae_scale_factor}"
        )
    keep = set(styles)
    cache = {**cache_options(cfg.data, ds.cache_source, progress), "image_size": size}
    data = prepare_split(
        [r for r in refs if r.style in keep], ClassMap(tuple(styles)), split="train", **cache
    )
    loader = train_batches(data, cfg, len(styles))
    captions = style_captions(styles, cfg.caption, cfg.rare_tokens)
    table = encode_captions(pipe, [*captions.values(), ""])  # the last row: no caption
    adapter, targets = inject_pipeline_lora(pipe.unet, cfg)
    log.info(
        "lora: %d styles, %d training images at %d px, rank %d, %d adapter parameters on %s",
        len(styles),
        len(data),
        size,
        cfg.rank,
        sum(p.numel() for p in adapter.trainable()),
        device,
    )
    info = {
        "base": base_reference(str(cfg.base)),
        "base_type": "diffusers",
        "styles": styles,
        "captions": captions,
        "rank": int(cfg.rank),
        "alpha": float(cfg.alpha if cfg.alpha is not None else cfg.rank),
        "targets": targets,
        "image_size": size,
        "guidance": float(cfg.guidance),
        "sample_steps": int(cfg.sample_steps),
        "sampler": cfg.sampler,
    }
    loop = LoopConfig.for_job(cfg, device, out, progress, patience=None)
    result = _fit(adapter, pipe, table, loader, cfg, loop, info)
    _finish(adapter, pipe, result.history, cfg, out, info)
    row: dict[str, Any] = dict(result.history[-1]) if result.history else {}
    adapter_ids = {id(p) for p in adapter.trainable()}
    row["seconds"] = time.perf_counter() - started
    row["adapter_bytes"] = sum(_nbytes(p) for p in adapter.trainable())
    row["base_bytes"] = sum(_nbytes(p) for p in pipe.unet.parameters() if id(p) not in adapter_ids)
    return row


def _nbytes(p: torch.Tensor) -> int:
    return p.numel() * p.element_size()


def _fit(
    adapter: AdapterOnly,
    pipe: Any,
    table: torch.Tensor,
    loader: torch.utils.data.DataLoader,
    cfg: LoraConfig,
    loop: LoopConfig,
    info: dict[str, Any],
) -> Any:
    """AdamW on the adapter with cosine annealing over the run, through the shared loop."""
    params = adapter.trainable()
    opt = make_optimizer(params, "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "cosine", len(loader) * cfg.epochs)
    noise_scheduler = make_noise_schedule(pipe.scheduler.config)
    loss_fn = _latent_loss(pipe.vae, noise_scheduler, table, cfg.label_dropout)
    step = accumulating_step(loss_fn, params, cfg.accumulate)
    extra = {
        "kind": "lora",
        "model_config": {
            k: info[k]
            for k in ("base", "base_type", "rank", "alpha", "targets", "captions", "image_size")
        },
        "classes": list(info["styles"]),
        "preprocess": {"image_size": info["image_size"], "fit": cfg.data.fit},
    }
    return fit(adapter, opt, loader, step, loop, scheduler=sched, make_payload_extra=lambda: extra)


LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _latent_loss(
    vae: Any, noise_scheduler: Any, table: torch.Tensor, label_dropout: float
) -> LossFn:
    """``loss(unet, images, labels)``: the recipe's MSE between the UNet's prediction and the
    noise (or velocity) at random timesteps, given each style's caption embedding (the empty
    caption's, the table's last row, for a ``label_dropout`` share)."""
    scaling = float(vae.config.scaling_factor)
    shift = getattr(vae.config, "shift_factor", None)
    prediction = noise_scheduler.config.prediction_type
    if prediction not in ("epsilon", "v_prediction"):
        raise WikiartError(
            f"the base's scheduler predicts {prediction!r}; LoRA training "
            "supports epsilon and v_prediction"
        )
    steps = int(noise_scheduler.config.num_train_timesteps)
    null = table.shape[0] - 1

    def loss(unet: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dev = x.device
        with torch.no_grad():
            pixels = to_signed(x).to(vae.dtype)
            latents = vae.encode(pixels).latent_dist.sample()
            if shift is not None:
                latents = latents - float(shift)
            latents = latents.float() * scaling
        noise = torch.randn_like(latents)
        t = torch.randint(0, steps, (len(x),), device=dev, dtype=torch.long)
        noisy = noise_scheduler.add_noise(latents, noise, t)
        target = (
            noise if prediction == "epsilon" else noise_scheduler.get_velocity(latents, noise, t)
        )
        if label_dropout > 0:
            y = torch.where(torch.rand(len(y), device=dev) < label_dropout, null, y)
        context = table[y]
        pred = unet(noisy, t, encoder_hidden_states=context).sample
        return F.mse_loss(pred.float(), target.float())

    return loss


def _finish(
    adapter: AdapterOnly,
    pipe: Any,
    history: list[dict[str, Any]],
    cfg: LoraConfig,
    out: Path,
    info: dict[str, Any],
) -> None:
    """The saved ``model.pt`` adapter as ``pytorch_lora_weights.safetensors``, ``lora.json``,
    ``loss.png`` and ``grid.png`` (``cfg.samples`` images per style, one row each)."""
    best = out / "model.pt"
    if best.exists():
        adapter.load_state_dict(load_checkpoint(best)["state_dict"])
    save_diffusers_lora(pipe.unet, out, info["rank"], info["alpha"])
    write_lora_info(out, info)
    plot_history(history, out / "loss.png", keys=("train_loss",), metric_keys=())
    if cfg.samples > 0:
        options = SampleOptions(
            cfg.samples, cfg.seed, cfg.guidance, cfg.sample_steps, cfg.sampler, cfg.batch_size
        )
        images = generate(pipe, info["captions"], options, image_size=info["image_size"])
        rows = [
            (style.replace("_", " "), [img.permute(1, 2, 0).numpy() for img in imgs])
            for style, imgs in images.items()
        ]
        image_grid(rows, out / "grid.png")
