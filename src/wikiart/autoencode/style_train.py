"""`wikiart train autoencoder --model style` (the default with the pretrained extra): the frozen
backbone's standardised style statistics of several views of each training painting, computed
once, then the one training loop over them (`wikiart.models.style_autoencoder`).

Views: 0 the whole painting (what ``encode`` sees at use time), 1 its mirror, 2.. random crops
(``crop_scale`` to 1 of the area, mirrored at random), each drawn from a seed, so a restarted
run (``--resume``) embeds exactly the same views again. A step encodes two random views of each
painting: the loss is the decoder's error on the whole painting's statistics, plus
``invariance_weight`` times the distance between the two codes (relative to the code's
spread, so it cannot be met by shrinking the code), plus the preview decoder's pixel error on
the code with its gradient stopped (it learns to render the code, never shapes it)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchvision.transforms import v2

from wikiart.autoencode.settings import AutoencoderConfig
from wikiart.clustering.embed import run_batches
from wikiart.data.features import feature_file, image_keys
from wikiart.data.loader import CachedImageDataset, make_loader
from wikiart.data.splits import stratified_split
from wikiart.data.transforms import eval_transform, train_transform
from wikiart.device import loader_workers
from wikiart.errors import WikiartError
from wikiart.files import atomic_open
from wikiart.models.style_autoencoder import StyleAutoencoder, preview_stages
from wikiart.train.loop import FitResult, LoopConfig, StepOutput, fit
from wikiart.train.optim import make_optimizer, make_scheduler

log = logging.getLogger(__name__)


def check_settings(cfg: AutoencoderConfig) -> None:
    """What the ranges (crop_scale, invariance_weight: `wikiart.config` limits) do not say,
    checked before any data is read."""
    preview_stages(cfg.preview_size)
    if cfg.data.image_size < 32:
        raise WikiartError(
            f"the style model reads the backbone at --image-size {cfg.data.image_size}: at least 32"
        )


def view_transform(view: int, image_size: int, crop_scale: float):
    """View 0: the whole painting; 1: its mirror; 2..: a random crop (randomly mirrored)."""
    whole = eval_transform(image_size)
    if view == 0:
        return whole
    if view == 1:
        return v2.Compose([whole, v2.RandomHorizontalFlip(p=1.0)])
    return train_transform(image_size, scale=(crop_scale, 1.0))


def views_file(model: StyleAutoencoder, data, views: int, cfg: AutoencoderConfig) -> Path:
    """Where the views of exactly these paintings, drawn this way by this backbone, are cached
    (the feature cache's folder): other runs with other code sizes or weights, and a resumed
    run, reuse them."""
    spec = [
        "style-views/1", model.config["arch"], cfg.data.image_size, cfg.data.fit, cfg.crop_scale,
        cfg.seed, views, cfg.precision, image_keys(data.refs),
    ]  # fmt: skip
    state = model.backbone.backbone.state_dict()
    return feature_file(spec, state, cfg.data.cache_dir, skip_prefixes=())


def embed_views(
    model: StyleAutoencoder,
    data: CachedImageDataset,
    views: int,
    cfg: AutoencoderConfig,
    device: torch.device,
) -> torch.Tensor:
    """``N x views x D`` raw (unstandardised) backbone statistics, stored as fp16 (half the
    memory; the statistics are O(1) numbers, well inside its precision); read from the feature
    cache when it has them."""
    path = views_file(model, data, views, cfg)
    if path.exists():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored.shape == (len(data), views, model.stats_dim):
                log.info("style statistics of %d paintings x %d views: cached", len(data), views)
                return stored
        except Exception as exc:  # a cache: a damaged file is only a miss
            log.warning("ignoring unreadable view cache %s (%s)", path, exc)
    out = _compute_views(model, data, views, cfg, device)
    try:
        with atomic_open(path, "wb") as fh:
            torch.save(out, fh)
    except WikiartError as exc:
        log.warning("%s; the views are computed again next time", exc)
    return out


@torch.inference_mode()
def _compute_views(
    model: StyleAutoencoder,
    data: CachedImageDataset,
    views: int,
    cfg: AutoencoderConfig,
    device: torch.device,
) -> torch.Tensor:
    model.eval()  # the backbone's BatchNorms use (and keep) their ImageNet statistics
    out = []
    for v in range(views):
        data.transform = view_transform(v, cfg.data.image_size, cfg.crop_scale)
        torch.manual_seed(cfg.seed * 1000 + v)  # the crops drawn in this process (0 workers)
        loader = make_loader(
            data, batch_size=64, num_workers=loader_workers(cfg.loader_workers),
            seed=cfg.seed * 1000 + v,
        )  # fmt: skip
        stats = run_batches(model.backbone.embed, loader, device, cfg.precision)
        out.append(torch.from_numpy(stats).half())
        log.info("style statistics of view %d/%d of %d paintings", v + 1, views, len(data))
    return torch.stack(out, dim=1)


class ViewsAndPreviews(Dataset):
    """Item ``i``: the standardised statistics of painting ``i``'s views and its preview-size
    image (uint8, from the memory-mapped cache)."""

    def __init__(self, views: torch.Tensor, images: CachedImageDataset) -> None:
        if len(views) != len(images):
            raise WikiartError(f"{len(views)} view sets but {len(images)} images")
        self.views, self.images = views, images

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.views[i], self.images[i][0]


def code_spread(codes: torch.Tensor) -> torch.Tensor | float:
    """The codes' mean variance over the batch (what the invariance distance is relative to);
    1 for a batch of one, which has no spread."""
    if len(codes) < 2:
        return 1.0
    return codes.var(dim=0).mean().clamp_min(1e-6)


def style_losses(
    m: StyleAutoencoder, views: torch.Tensor, images: torch.Tensor, cfg: AutoencoderConfig
) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]:
    """The loss of one batch (two random views of each painting) and its parts."""
    views = views.float()
    n, k = views.shape[:2]
    rows = torch.arange(n, device=views.device)
    pick = torch.randint(0, k, (2, n), device=views.device)
    code_a = m.encode_statistics(views[rows, pick[0]])
    code_b = m.encode_statistics(views[rows, pick[1]])
    stats = F.mse_loss(m.decode_stats(code_a), views[:, 0])
    spread = code_spread(code_a.detach())
    invariance = ((code_a - code_b) ** 2).mean() / spread
    target = images.float() / 255.0
    preview = F.mse_loss(m.preview(code_a.detach()).float(), target)
    loss = stats + cfg.invariance_weight * invariance + preview
    parts: dict[str, float | torch.Tensor] = {
        "stats": stats.detach(), "invariance": invariance.detach(), "preview_mse": preview.detach()
    }  # fmt: skip
    return loss, parts


@torch.inference_mode()
def val_numbers(
    m: StyleAutoencoder, loader, cfg: AutoencoderConfig, device: torch.device
) -> dict[str, float]:
    """Validation: the statistics' reconstruction error from the whole painting, the codes'
    distance between the whole and a crop (view 2, or the mirror), the preview's pixel error;
    ``val_loss`` (what picks the best epoch) is the first plus the weighted second."""
    m.eval()
    totals = {"val_stats": 0.0, "val_invariance": 0.0, "val_preview_mse": 0.0}
    n = 0
    for views, images in loader:
        views, images = views.to(device).float(), images.to(device)
        whole = m.encode_statistics(views[:, 0])
        other = m.encode_statistics(views[:, min(2, views.shape[1] - 1)])
        spread = code_spread(whole)
        k = len(views)
        totals["val_stats"] += float(F.mse_loss(m.decode_stats(whole), views[:, 0])) * k
        totals["val_invariance"] += float(((whole - other) ** 2).mean() / spread) * k
        recon = m.preview(whole).float()
        totals["val_preview_mse"] += float(F.mse_loss(recon, images.float() / 255.0)) * k
        n += k
    out = {key: v / max(n, 1) for key, v in totals.items()}
    out["val_loss"] = out["val_stats"] + cfg.invariance_weight * out["val_invariance"]
    return out


def standardised_views(
    model: StyleAutoencoder,
    full: CachedImageDataset,
    parts: dict[str, np.ndarray],
    cfg: AutoencoderConfig,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """The views of the training (``cfg.views``) and validation (the whole, its mirror, one
    crop) paintings, standardised with the training paintings' whole-view statistics (which the
    model keeps), as fp16."""
    views = {
        name: embed_views(model, full.subset(idx), cfg.views if name == "train" else 3, cfg, device)
        for name, idx in parts.items()
    }
    whole = views["train"][:, 0].float()
    mean, std = whole.mean(0), whole.std(0) if len(whole) > 1 else torch.ones_like(whole[0])
    with torch.no_grad():
        model.set_stats_standardisation(mean.to(device), std.to(device))
    scale = model.stats_scale.cpu()
    return {name: ((v.float() - mean) * scale).half() for name, v in views.items()}


def fit_style(
    model: StyleAutoencoder,
    full: CachedImageDataset,
    previews: CachedImageDataset,
    cfg: AutoencoderConfig,
    loop: LoopConfig,
    payload_extra,
) -> FitResult:
    """Split train/validation (stratified), embed the views, standardise, train."""
    tr, va = stratified_split(full.labels, cfg.data.val_fraction, cfg.seed)
    if len(va) == 0:
        raise WikiartError("validation split is empty: raise --val-fraction")
    device = loop.device
    views = standardised_views(model, full, {"train": tr, "val": va}, cfg, device)
    kw: dict[str, Any] = {
        "batch_size": cfg.batch_size, "num_workers": loader_workers(cfg.loader_workers)
    }  # fmt: skip
    train = ViewsAndPreviews(views["train"], previews.subset(tr, eval_transform(cfg.preview_size)))
    val = ViewsAndPreviews(views["val"], previews.subset(va, eval_transform(cfg.preview_size)))
    loader = make_loader(
        train, shuffle=True, seed=cfg.seed, drop_last=len(train) > cfg.batch_size, **kw
    )
    val_loader = make_loader(val, **kw)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(params, "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.15)

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        v, images = (t.to(dev, non_blocking=True) for t in batch)
        loss, parts = style_losses(m, v, images, cfg)  # type: ignore[arg-type]
        return StepOutput(loss, len(v), parts)

    log.info(
        "style autoencoder: %d statistics -> %d-d code; train %d / val %d paintings, %d views",
        model.stats_dim, model.code_dim, len(train), len(val), cfg.views,
    )  # fmt: skip
    return fit(
        model, opt, loader, step, loop,
        eval_fn=lambda m: val_numbers(m, val_loader, cfg, device),  # type: ignore[arg-type]
        scheduler=sched, make_payload_extra=payload_extra,
    )  # fmt: skip


def build_model(cfg: AutoencoderConfig, device: torch.device) -> StyleAutoencoder:
    return StyleAutoencoder(
        image_size=cfg.data.image_size, code_dim=cfg.code_dim, hidden=cfg.hidden,
        preview_size=cfg.preview_size, pretrained=True,
    ).to(device)  # fmt: skip


def history_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The loss curves and the metric plotted in ``loss.png``."""
    return ("train_loss", "val_loss", "train_stats", "val_stats"), ("val_invariance",)
