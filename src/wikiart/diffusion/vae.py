"""`wikiart train vae`: the latent autoencoder of latent diffusion, trained with the shared loop on
random crops of the training paintings (L1 + squared error + a small KL term, optionally a
perceptual term, and in a fine-tune an adversarial one: `wikiart.diffusion.vae_critic`), from
scratch or from a trained one (``--init``, ``--decoder-only``). Each epoch
measures the reconstruction PSNR of validation paintings (whole images) and the scale that
brings the training images' latents to unit variance; ``model.pt`` carries both. Writes
``model.pt``, ``history.csv``, ``loss.png`` and ``recon.png`` (paintings above their
reconstructions)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wikiart.builtins import checkpoint_path
from wikiart.checkpoints import load_model
from wikiart.config_io import save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.loader import CachedImageDataset, cache_options, prepare_split
from wikiart.data.splits import stratified_split
from wikiart.device import resolve_device
from wikiart.diffusion.batches import train_batches
from wikiart.diffusion.noise import to_signed
from wikiart.diffusion.settings import VAE_KIND, VaeConfig, require_inputs
from wikiart.diffusion.vae_critic import GAN_BETAS, AdversarialTerm
from wikiart.imaging import signed_to_uint8
from wikiart.models.perceptual import LiteFeatures, perceptual_distance, perceptual_features
from wikiart.models.vae import LatentCodec, vae_config
from wikiart.train.loop import LoopConfig, StepOutput, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)

#: Images whose latents set the scale, and validation images whose PSNR is reported.
SCALE_IMAGES = 256
VAL_IMAGES = 128
#: The network of ``--perceptual-weight``: not Lite0, whose pooled features `wikiart evaluate`
#: measures samples in, so that the autoencoder is not trained on the yardstick.
PERCEPTUAL_ARCH = "efficientnet-lite2"


def train_vae(cfg: VaeConfig, out: str | os.PathLike[str], *, progress: bool = False) -> dict:
    """Train the autoencoder; returns the last epoch's row with ``seconds``."""
    require_inputs(cfg)
    out = Path(out)
    t_start = time.perf_counter()
    device = resolve_device(cfg.device)
    ds = start_run(cfg, out)
    refs, val_refs = _train_val(ds, cfg)
    styles = sorted({r.style for r in refs})
    save_config(cfg, out)
    classes = ClassMap(tuple(styles))
    cache = cache_options(cfg.data, ds.cache_source, progress)
    data = prepare_split(refs, classes, split="train", **cache)
    val_refs = [r for r in val_refs if r.style in set(styles)]
    val = prepare_split(val_refs, classes, split="valid", **cache) if val_refs else data
    loader = train_batches(data, cfg, len(styles))
    model = _codec(cfg, device)
    log.info(
        "vae: %d parameters, latents %dx smaller per side with %d channels; %d training "
        "images at %d px, crops of %s, %d steps/epoch",
        sum(p.numel() for p in model.parameters()), model.factor, model.latent_channels,
        len(data), cfg.data.image_size, cfg.crop or "the whole image", len(loader),
    )  # fmt: skip
    scale_set = _first(data, SCALE_IMAGES)
    val_set = _first(val, VAL_IMAGES)
    result = _fit(model, loader, cfg, device, out, progress, (scale_set, val_set))
    if result.history:
        from wikiart.report.classifier_plots import plot_history

        plot_history(result.history, out / "loss.png", keys=("train_loss",), metric_keys=())
    _write_recon(model, val_set[: cfg.samples], out / "recon.png")
    row = dict(result.history[-1]) if result.history else {}
    row["seconds"] = time.perf_counter() - t_start
    return row


def _codec(cfg: VaeConfig, device: torch.device) -> LatentCodec:
    """A new autoencoder, or ``cfg.init``'s; with ``cfg.decoder_only`` its encoder frozen."""
    if cfg.init is None:
        return LatentCodec(vae_config(cfg.widths, cfg.latent_channels)).to(device)
    _, codec, _ = load_model(checkpoint_path(cfg.init, VAE_KIND, "the --init autoencoder"),
                             device, kind=VAE_KIND)  # fmt: skip
    assert isinstance(codec, LatentCodec)
    if cfg.decoder_only:
        for part in (codec.vae.encoder, codec.vae.quant_conv):
            part.requires_grad_(False)
    log.info("init: %s%s (its widths and latent channels)", cfg.init,
             ", decoder only" if cfg.decoder_only else "")  # fmt: skip
    return codec.train()


def _train_val(ds: Any, cfg: VaeConfig) -> tuple[list[Any], list[Any]]:
    """Training and validation paintings: ``valid/`` where the data has one, else a stratified
    ``val_fraction`` of train held out (the PSNR is of paintings the autoencoder never saw)."""
    refs = ds.split("train")
    if "valid" in ds.splits:
        return refs, ds.split("valid")
    names = sorted({r.style for r in refs})
    labels = np.array([names.index(r.style) for r in refs])
    tr, va = stratified_split(labels, cfg.data.val_fraction, cfg.seed)
    return [refs[i] for i in tr], [refs[i] for i in va]


def _first(data: CachedImageDataset, n: int) -> torch.Tensor:
    """Up to ``n`` images spread evenly over ``data`` (uint8, NCHW)."""
    idx = np.linspace(0, len(data) - 1, min(n, len(data))).round().astype(int)
    return torch.stack([data[int(i)][0] for i in idx])


def _random_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """One random ``size`` crop per batch (the loop reseeds torch every epoch)."""
    if not size or size >= x.shape[-1]:
        return x
    i, j = (int(v) for v in torch.randint(0, x.shape[-1] - size + 1, (2,)))
    return x[..., i : i + size, j : j + size]


def vae_loss(
    model: nn.Module,
    x: torch.Tensor,
    kl_weight: float,
    mse_weight: float,
    perceptual: tuple[LiteFeatures, float] | None = None,
    adversarial: AdversarialTerm | None = None,
) -> torch.Tensor:
    """L1 + ``mse_weight`` x squared error + ``kl_weight`` x KL (per value), plus
    ``perceptual``'s weight x the perceptual distance in its features, plus ``adversarial``'s
    term (which also takes its critic's step)."""
    recon, posterior = model(x)
    err = recon.float() - x
    loss = err.abs().mean() + mse_weight * err.pow(2).mean()
    if perceptual is not None:
        features, weight = perceptual
        loss = loss + weight * perceptual_distance(features, (recon + 1) / 2, (x + 1) / 2)
    if adversarial is not None:
        loss = loss + adversarial(x, recon, loss)
    return loss + kl_weight * posterior.kl().mean() / x[0].numel()


def _fit(
    model: LatentCodec,
    loader: Any,
    cfg: VaeConfig,
    device: torch.device,
    out: Path,
    progress: bool,
    images: tuple[torch.Tensor, torch.Tensor],
) -> Any:
    trained = [p for p in model.parameters() if p.requires_grad]
    adversarial = None
    if cfg.adversarial_weight > 0:  # GAN betas for both players, kept from momentum cycling
        last_layer = model.vae.decoder.conv_out.weight
        adversarial = AdversarialTerm(cfg.adversarial_weight, cfg.lr, last_layer, device)
    betas = GAN_BETAS if adversarial is not None else (0.9, 0.999)
    opt = make_optimizer(trained, "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay, betas=betas)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.1,
                           cycle_momentum=adversarial is None)  # fmt: skip
    scale_set, val_set = images
    perceptual = None
    if cfg.perceptual_weight > 0:
        perceptual = (perceptual_features(device, PERCEPTUAL_ARCH), cfg.perceptual_weight)

    def step(m: nn.Module, batch: Any, dev: torch.device) -> StepOutput:
        x = _random_crop(to_signed(batch[0].to(dev, non_blocking=True)), cfg.crop)
        loss = vae_loss(m, x, cfg.kl_weight, cfg.mse_weight, perceptual, adversarial)
        return StepOutput(loss, len(x))

    def evaluate(m: nn.Module) -> dict[str, float]:
        codec = model  # the plain module: its scale is what model.pt carries
        if not cfg.decoder_only:  # a frozen encoder keeps its init's latents, and their scale
            scale = 1.0 / float(_latents(codec, scale_set, device).std().clamp_min(1e-6))
            with torch.inference_mode(False):
                codec.scale.fill_(scale)
        return {"val_psnr": psnr(codec, val_set, device), "latent_scale": float(codec.scale)}

    def extra() -> dict[str, Any]:
        return {
            "kind": VAE_KIND,
            "model_config": model.config,
            "classes": [],
            "preprocess": {"image_size": cfg.data.image_size, "range": [-1.0, 1.0]},
        }

    loop = LoopConfig.for_job(cfg, device, out, progress)
    return fit(model, opt, loader, step, loop, eval_fn=evaluate, scheduler=sched,
               make_payload_extra=extra, companion=adversarial)  # fmt: skip


def _latents(codec: LatentCodec, u8: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Unscaled latents of ``u8`` images."""
    out = [codec.encode(to_signed(b.to(device))) / codec.scale for b in u8.split(32)]
    return torch.cat(out).float()


@torch.inference_mode()
def reconstruct(codec: LatentCodec, u8: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 images through the autoencoder, as uint8 images on the CPU."""
    parts = [codec.decode(codec.encode(to_signed(b.to(device)))).cpu() for b in u8.split(32)]
    return signed_to_uint8(torch.cat(parts))


def psnr(codec: LatentCodec, u8: torch.Tensor, device: torch.device) -> float:
    """Mean peak signal-to-noise ratio (dB) of the reconstructions of ``u8``."""
    rec = reconstruct(codec, u8, device).float()
    mse = (rec - u8.float()).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-3)
    return float((10 * torch.log10(255.0**2 / mse)).mean())


def _write_recon(codec: LatentCodec, u8: torch.Tensor, path: Path) -> None:
    from wikiart.imaging import to_hwc
    from wikiart.report.plots import image_grid

    device = next(codec.parameters()).device
    rec = reconstruct(codec.eval(), u8, device)
    rows = [("painting", [to_hwc(x) for x in u8]), ("reconstruction", [to_hwc(x) for x in rec])]
    image_grid(rows, path, cell=1.0)
