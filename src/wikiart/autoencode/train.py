"""`wikiart train autoencoder`: dataset -> cache -> the model (``style``: `StyleAutoencoder` over
frozen pretrained statistics, trained by `wikiart.autoencode.style_train`; ``pixel``: the
`ConvAutoencoder` on uint8 loaders, normalising inside) -> the one training loop -> ``model.pt``,
``history.csv``, ``loss.png``, ``reconstructions.png``. The best epoch is chosen by validation
loss on a share of train."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wikiart.autoencode import style_train
from wikiart.autoencode.loss import ReconstructionLoss
from wikiart.autoencode.settings import KIND, STYLE_PRESET, AutoencoderConfig, default_model
from wikiart.checkpoints import load_model
from wikiart.config_io import build_config, peek, save_config
from wikiart.data.dataset import require_data
from wikiart.data.loader import CachedImageDataset, cache_options, make_loader, prepare_split
from wikiart.data.splits import pick_per_style, stratified_split
from wikiart.data.transforms import eval_transform, train_transform
from wikiart.device import autocast, loader_workers, resolve_device
from wikiart.errors import WikiartError
from wikiart.functional import ssim
from wikiart.models.autoencoder import ConvAutoencoder, parse_bottleneck
from wikiart.models.perceptual import perceptual_features
from wikiart.models.style_autoencoder import StyleAutoencoder
from wikiart.train.loop import LoopConfig, StepOutput, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> AutoencoderConfig:
    """Defaults <- the model's preset (the style model: 224 px, its epochs and rates) <- TOML <-
    flags, checked. Without a ``model``: style where the pretrained extra is installed."""
    model = peek(config_file, overrides, "model") or default_model()
    preset = STYLE_PRESET if model == "style" else {}
    cfg = build_config(AutoencoderConfig, config_file, {**overrides, "model": model}, preset)
    parse_bottleneck(cfg.bottleneck)
    if cfg.model == "style":
        style_train.check_settings(cfg)
    return cfg


def _target(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x


def _payload_extra(model: nn.Module, classes: list[str], cfg: AutoencoderConfig) -> dict:
    loss = (
        f"style statistics + {cfg.invariance_weight:g} x view invariance"
        if cfg.model == "style"
        else cfg.loss
    )
    return {
        "kind": KIND,
        "model_config": dict(model.config),
        "classes": list(classes),
        "preprocess": {
            "image_size": cfg.data.image_size,
            "fit": cfg.data.fit,
            "mean": list(model.mean),
            "std": list(model.std),
        },
        "loss": loss,
    }


@torch.inference_mode()
def _val_numbers(model, loader, loss_fn, device, precision) -> dict[str, float]:
    total = {"val_loss": 0.0, "val_mse": 0.0, "val_ssim": 0.0}
    n = 0
    for x, _ in loader:
        x = x.to(device)
        with autocast(device, precision):
            recon = model(x)
        target = _target(x)
        loss, parts = loss_fn(recon, target)
        k = len(x)
        total["val_loss"] += float(loss) * k
        total["val_mse"] += float(parts["mse"]) * k
        total["val_ssim"] += float(ssim(recon.float(), target).sum())
        n += k
    return {key: v / max(n, 1) for key, v in total.items()}


def _loaders(cfg: AutoencoderConfig, full: CachedImageDataset):
    """Train (mildly augmented: the code should describe the painting, not one exact crop of
    it) and validation loaders over a stratified split of the training images."""
    size = cfg.data.image_size
    tr, va = stratified_split(full.labels, cfg.data.val_fraction, cfg.seed)
    if len(va) == 0:
        raise WikiartError("validation split is empty: raise --val-fraction")
    train = full.subset(tr, train_transform(size, scale=(0.8, 1.0)))
    val = full.subset(va, eval_transform(size))
    kw = {"batch_size": cfg.batch_size, "num_workers": loader_workers(cfg.loader_workers)}
    drop_last = len(train) > cfg.batch_size
    return make_loader(train, shuffle=True, seed=cfg.seed, drop_last=drop_last, **kw), (
        make_loader(val, **kw)
    )


def train_autoencoder(
    cfg: AutoencoderConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Train with the shared loop (best epoch by validation loss, carved from train), then write
    ``loss.png`` and ``reconstructions.png``. Returns the best epoch's validation numbers."""
    require_data(cfg.data.data)
    out, t_start = Path(out), time.perf_counter()
    device = resolve_device(cfg.device)
    ds = start_run(cfg, out)
    classes = ds.class_map()
    save_config(cfg, out)
    classes.save(out / "classes.json")
    cache = cache_options(cfg.data, ds.cache_source, progress)
    full = prepare_split(ds.split("train"), classes, split="train", **cache)
    loop = LoopConfig.for_job(cfg, device, out, progress, monitor="val_loss", mode="min")
    if cfg.model == "style":
        result = _fit_style(cfg, ds, classes, full, cache, loop, device)
    else:
        result = _fit_pixel(cfg, full, classes, loop, device)
    _, model, _ = load_model(out / "model.pt", device, kind=KIND)
    _write_figures(model, ds, classes, out, cfg, cache, device, result.history)
    best = next((r for r in result.history if r["epoch"] == result.best_epoch), {})
    summary = {k: float(v) for k, v in best.items() if k.startswith("val_") or k == "epoch"}
    summary["seconds"] = time.perf_counter() - t_start
    return summary


def _fit_style(cfg, ds, classes, full, cache, loop: LoopConfig, device):
    """The style model: the preview images come from their own (small) cache of the same
    paintings."""
    previews = prepare_split(
        ds.split("train"), classes, split="train", **{**cache, "image_size": cfg.preview_size}
    )
    if len(previews) != len(full):
        raise WikiartError("the preview cache and the image cache disagree on the paintings")
    model = style_train.build_model(cfg, device)
    extra = lambda: _payload_extra(model, list(classes.classes), cfg)  # noqa: E731
    return style_train.fit_style(model, full, previews, cfg, loop, extra)


def _fit_pixel(cfg, full, classes, loop: LoopConfig, device):
    """The course's pixel autoencoder."""
    loader, val_loader = _loaders(cfg, full)
    model = ConvAutoencoder(cfg.data.image_size, cfg.bottleneck, cfg.widths).to(device)
    log.info(
        "autoencoder %s code (%d numbers), %d parameters; train %d / val %d images at %d px",
        model.config["bottleneck"], model.code_dim, sum(p.numel() for p in model.parameters()),
        len(loader.dataset), len(val_loader.dataset), cfg.data.image_size,
    )  # fmt: skip
    features = perceptual_features(device) if cfg.loss == "mse+perceptual" else None
    loss_fn = ReconstructionLoss(cfg.loss, cfg.ssim_weight, features, cfg.perceptual_weight)
    return _fit(model, loss_fn, loader, val_loader, cfg, loop, classes)


def _fit(model, loss_fn, loader, val_loader, cfg, loop: LoopConfig, classes):
    opt = make_optimizer(model.parameters(), "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.15)

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        x = batch[0].to(dev, non_blocking=True)
        loss, parts = loss_fn(m(x), _target(x))
        return StepOutput(loss, len(x), parts)

    return fit(
        model, opt, loader, step, loop,
        eval_fn=lambda m: _val_numbers(m, val_loader, loss_fn, loop.device, cfg.precision),
        scheduler=sched,
        make_payload_extra=lambda: _payload_extra(model, list(classes.classes), cfg),
    )  # fmt: skip


def _write_figures(model, ds, classes, out, cfg, cache, device, history) -> None:
    from wikiart.report.autoencoder_plots import plot_reconstructions
    from wikiart.report.classifier_plots import plot_history

    if cfg.model == "style":
        keys, metrics = style_train.history_keys()
    else:
        keys, metrics = ("train_loss", "val_loss"), ("val_ssim",)
        if cfg.loss != "mse":  # the MSE part of a combined loss, on the same axes
            keys += ("train_mse", "val_mse")
    plot_history(history, out / "loss.png", keys=keys, metric_keys=metrics)
    split = "test" if "test" in ds.splits else "train"
    data = prepare_split(ds.split(split), classes, split=split, **cache)
    data.transform = eval_transform(cfg.data.image_size)
    pick = pick_per_style(data.labels, cfg.reconstructions, cfg.seed)
    inputs, recons = reconstruct(model, data, pick, device)
    if cfg.model == "style":
        what = (
            f"previews rendered from the {model.code_dim}-number style code (bottom): what "
            "the code holds, not a pixel copy"
        )
    else:
        what = f"their reconstructions (bottom), code {model.config['bottleneck']}"
    plot_reconstructions(
        inputs,
        recons,
        out / "reconstructions.png",
        labels=[classes.classes[data.labels[i]] for i in pick],
        title=f"{split} images (top) and {what}",
    )


@torch.inference_mode()
def reconstruct(
    model: ConvAutoencoder | StyleAutoencoder,
    data: CachedImageDataset,
    indices: list[int],
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and reconstructions of ``data[indices]`` as ``N x H x W x 3`` uint8 arrays."""
    if not indices:
        empty = np.zeros((0, model.image_size, model.image_size, 3), np.uint8)
        return empty, empty
    x = torch.stack([data[i][0] for i in indices]).to(device)
    model.eval()
    recon = model(x).float().clamp(0, 1)
    to_u8 = lambda t: (t.permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return x.permute(0, 2, 3, 1).cpu().numpy(), to_u8(recon)
