"""`wikiart train transfer`: the AdaIN decoder trained with the shared loop on random (content,
style) pairs; writes ``model.pt`` (encoder, decoder, the styles' feature statistics and colour
statistics), ``history.csv``, ``loss.png`` and ``grid.png`` (test images in every style).

The losses are the paper's: the decoded image's features at the AdaIN layer against the AdaIN
target (content), and its per-channel means and standard deviations at every tap up to that
layer against the style image's (style), optionally after SWAG smoothing."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wikiart.checkpoints import load_model, make_payload, save_checkpoint
from wikiart.config_io import save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.loader import CachedImageDataset, cache_options, make_loader, prepare_split
from wikiart.data.scan import scan_folder
from wikiart.data.splits import cap_per_style, pick_per_style
from wikiart.data.transforms import train_transform
from wikiart.device import loader_workers
from wikiart.distributed import DistContext, barrier, check_agree, distributed, wrap
from wikiart.errors import WikiartError
from wikiart.eval.color_baseline import color_stats
from wikiart.models.transfer import StyleTransfer
from wikiart.report.grids import write_render_grid
from wikiart.train.loop import LoopConfig, StepOutput, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run
from wikiart.transfer.losses import loss_network, transfer_loss
from wikiart.transfer.settings import (
    KIND,
    TRANSFER_BANKS,
    TransferConfig,
    check_crop,
    checkpoint_path,
    require_inputs,
)

log = logging.getLogger(__name__)

LOSS_KEYS = ("train_loss", "train_content", "train_style", "train_identity")


def train_transfer(
    cfg: TransferConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Compute the styles' feature statistics, train the decoder with the shared loop (none with
    ``epochs = 0``: the ``init`` decoder is kept), then write ``loss.png`` and ``grid.png``.
    Returns the last epoch's row with ``seconds``."""
    require_inputs(cfg)
    with distributed(cfg.device) as (ctx, device):
        return _train(cfg, Path(out), ctx, device, progress and ctx.is_main)


def _train(
    cfg: TransferConfig, out: Path, ctx: DistContext, device: torch.device, progress: bool
) -> dict[str, Any]:
    t_start = time.perf_counter()
    ds = start_run(cfg, out)
    classes = ds.class_map()
    barrier(ctx)  # everyone has compared against the old config.json before it is replaced
    if ctx.is_main:
        save_config(cfg, out)
    cache = cache_options(cfg.data, ds.cache_source, progress)
    styles = prepare_split(ds.split("train"), classes, split="train", **cache)
    model = _build(cfg, classes, device)
    mean, std = style_bank(
        model, _bank_images(styles, cfg.bank_images, cfg.seed), len(classes), device, cfg.bank
    )
    model.set_style_bank(mean.to(device), std.to(device))
    colors = color_stats(styles, len(classes))
    extra = _payload_extra(model, cfg, colors)
    if cfg.epochs == 0:
        if ctx.is_main:
            _save_untrained(model, extra, out)
        history: list[dict[str, Any]] = []
    else:
        content = _content_data(cfg, ds.root, styles, progress)
        loader = _pair_loader(cfg, content, styles, ctx)
        log.info(
            "transfer: AdaIN at Lite0 taps %s (stride %d, %d channels), decoder %d parameters; "
            "%d content and %d style images, %d px crops, %d steps/epoch",
            model.adain_taps,
            model.stride,
            model.channels,
            sum(p.numel() for p in model.decoder.parameters()),
            len(content),
            len(styles),
            cfg.crop,
            len(loader),
        )
        history = _fit(model, loader, cfg, (ctx, device), out, progress, extra).history
        check_agree(model, ctx)
    if ctx.is_main:
        _write_figures(history, ds, classes, device, out, cache, cfg)
    row = dict(history[-1]) if history else {}
    row["styles"] = len(classes)
    row["seconds"] = time.perf_counter() - t_start
    return row


@torch.no_grad()
def style_bank(
    model: StyleTransfer,
    data: CachedImageDataset,
    k: int,
    device: torch.device,
    method: str = "medoid",
    batch_size: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What a style name is rendered with: ``K x C`` channel means and standard deviations at
    the AdaIN taps, on the CPU. ``medoid``: those of the style's most typical painting (the one
    nearest all the others, statistics standardised over the collection); ``mean``: the average
    over its paintings, which regresses every style towards the collection's grey average."""
    if method not in TRANSFER_BANKS:
        raise ValueError(f"bank method must be one of {TRANSFER_BANKS}, got {method!r}")
    stats, labels = [], []
    for x, y in make_loader(data, batch_size=batch_size):
        mean, std = model.exemplar_statistics(x.to(device).float() / 255)
        stats.append(torch.cat([mean, std], 1).double().cpu())
        labels.append(y)
    table, ys = torch.cat(stats), torch.cat(labels)
    z = (table - table.mean(0)) / table.std(0).clamp_min(1e-8)
    c = model.channels
    out = torch.zeros(k, 2 * c, dtype=torch.float64)
    out[:, c:] = 1.0
    for style in range(k):
        rows = torch.nonzero(ys == style).flatten()
        if len(rows) == 0:
            continue
        if method == "mean":
            out[style] = table[rows].mean(0)
        else:
            nearest = torch.cdist(z[rows], z[rows]).sum(1).argmin()
            out[style] = table[rows[nearest]]
    return out[:, :c].float(), out[:, c:].float()


def _bank_images(data: CachedImageDataset, n: int, seed: int) -> CachedImageDataset:
    """At most ``n`` paintings of each style (all with ``n = 0``): a style's statistics settle
    long before thousands of images, and the encoder is slow."""
    return data.subset(cap_per_style(data.labels, n, seed)) if n > 0 else data


class _Pairs(torch.utils.data.Dataset):
    """Item ``i``: content image ``i`` (mod their number) and a random style image, each a
    random crop; the style draw uses torch's RNG, which the loader seeds per worker."""

    def __init__(
        self,
        content: CachedImageDataset,
        style: CachedImageDataset,
        crop: int,
        length: int,
        image_size: int,
    ) -> None:
        self.content, self.style, self.length = content, style, length
        self.crop = train_transform(crop, scale=native_scale(crop, image_size))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = int(torch.randint(len(self.style), (1,)))
        return self.crop(self.content.raw(i % len(self.content))), self.crop(self.style.raw(j))


def native_scale(crop: int, image_size: int) -> tuple[float, float]:
    """The area share of a cached image a training crop is cut from, so that a painting is
    seen at about its own scale (a ``crop``-pixel patch resized by 0.8x to 1.25x): strokes
    stay the size they have in the paintings whatever the crop. At 128 px of 224 px images
    about (0.21, 0.51)."""
    side = crop / image_size
    lo = min(1.0, (0.8 * side) ** 2)
    return lo, max(lo, min(1.0, (1.25 * side) ** 2))


def _content_data(
    cfg: TransferConfig, root: Path, styles: CachedImageDataset, progress: bool
) -> CachedImageDataset:
    """The content images: the ``content`` folder (cached like a dataset), else the paintings."""
    if cfg.content is None:
        return styles
    refs = scan_folder(cfg.content, "content")
    cache = cache_options(cfg.data, cfg.content, progress)
    data = prepare_split(refs, ClassMap(("content",)), split="content", **cache)
    if len(data) == 0:
        raise WikiartError(f"no usable images in the content folder {cfg.content}")
    return data


def _pair_loader(
    cfg: TransferConfig,
    content: CachedImageDataset,
    styles: CachedImageDataset,
    ctx: DistContext,
) -> torch.utils.data.DataLoader:
    """Batches of (content, style) crops; under torchrun each process takes its share."""
    length = cfg.steps_per_epoch * cfg.batch_size if cfg.steps_per_epoch else len(content)
    length = max(length, cfg.batch_size * ctx.world_size)
    pairs = _Pairs(content, styles, cfg.crop, length, cfg.data.image_size)
    sampler = None
    if ctx.enabled:
        sampler = torch.utils.data.DistributedSampler(
            pairs, ctx.world_size, ctx.rank, shuffle=True, seed=cfg.seed, drop_last=True
        )
    return make_loader(
        pairs,
        batch_size=cfg.batch_size,
        shuffle=True,
        sampler=sampler,
        seed=cfg.seed,
        num_workers=loader_workers(cfg.loader_workers),
        drop_last=True,
    )


def _build(cfg: TransferConfig, classes: ClassMap, device: torch.device) -> StyleTransfer:
    """The model: the ``init`` checkpoint's encoder and decoder, else the offline ImageNet
    encoder and a fresh decoder."""
    styles = list(classes.classes)
    if cfg.init is not None:
        _, init, _ = load_model(checkpoint_path(cfg.init), "cpu", kind=KIND)
        log.info("init %s: its layer %d and widths %s", cfg.init, init.layer, init.config["widths"])
        if cfg.epochs > 0:
            check_crop(cfg.crop, init.stride)
        model = StyleTransfer(
            styles,
            layer=init.layer,
            levels=init.levels,
            widths=init.config["widths"],
            encoder=init.config["encoder"],
            image_size=cfg.data.image_size,
            min_side=cfg.crop if cfg.epochs > 0 else init.min_side,
        )
        model.encoder.load_state_dict(init.encoder.state_dict())
        model.decoder.load_state_dict(init.decoder.state_dict())
        return model.to(device)
    model = StyleTransfer(
        styles,
        layer=cfg.layer,
        levels=cfg.levels,
        widths=cfg.widths,
        encoder=cfg.encoder,
        image_size=cfg.data.image_size,
        min_side=cfg.crop,
        pretrained=True,
        encoder_weights=cfg.encoder_weights,
    )
    return model.to(device)


def _payload_extra(model: StyleTransfer, cfg: TransferConfig, colors: dict) -> dict[str, Any]:
    """What a transfer checkpoint carries beside the weights (the style bank is in them)."""
    return {
        "kind": KIND,
        "model_config": dict(model.config),
        "classes": list(model.style_names),
        "preprocess": {"image_size": model.image_size, "fit": cfg.data.fit, "range": [0.0, 1.0]},
        "color_stats": colors,
        "data": str(cfg.data.data),
        "content": str(cfg.content) if cfg.content else None,
        "init": str(cfg.init) if cfg.init else None,
    }


def _save_untrained(model: StyleTransfer, extra: dict[str, Any], out: Path) -> None:
    """``model.pt`` of an ``epochs = 0`` run: the init decoder with this collection's styles."""
    payload = make_payload(
        kind=extra["kind"],
        model_config=extra["model_config"],
        model=model,
        classes=extra["classes"],
        preprocess=extra["preprocess"],
        epoch=0,
        metrics={},
    )
    rest = {k: v for k, v in extra.items() if k not in payload}
    save_checkpoint(out / "model.pt", {**payload, **rest})


def _fit(
    model: StyleTransfer,
    loader: torch.utils.data.DataLoader,
    cfg: TransferConfig,
    where: tuple[DistContext, torch.device],
    out: Path,
    progress: bool,
    extra: dict[str, Any],
) -> Any:
    """Adam on the decoder alone, one-cycle schedule, through the shared loop (under torchrun
    the decoder is wrapped in DistributedDataParallel)."""
    ctx, device = where
    decoder = wrap(model.decoder, ctx, device)
    net = loss_network(model, cfg.style_depth)
    params = list(model.decoder.parameters())
    opt = make_optimizer(params, "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.1)

    def step(m: nn.Module, batch: Any, dev: torch.device) -> StepOutput:
        c = batch[0].to(dev, non_blocking=True).float() / 255
        s = batch[1].to(dev, non_blocking=True).float() / 255
        loss, parts = transfer_loss(
            m,  # type: ignore[arg-type]
            c,
            s,
            style_weight=cfg.style_weight,
            content_weight=cfg.content_weight,
            identity_weight=cfg.identity_weight,
            smoothing=cfg.smoothing,
            decoder=decoder,
            loss_net=net,
        )
        return StepOutput(loss, len(c), parts)

    loop = LoopConfig.for_job(cfg, device, out, progress, patience=None, is_main=ctx.is_main)
    return fit(model, opt, loader, step, loop, scheduler=sched, make_payload_extra=lambda: extra)


def _write_figures(
    history: list[dict[str, Any]],
    ds: Any,
    classes: ClassMap,
    device: torch.device,
    out: Path,
    cache: dict[str, Any],
    cfg: TransferConfig,
) -> None:
    """``loss.png`` and ``grid.png``: test images (training images where there is no test
    split) restyled to every style by name with the saved ``model.pt``."""
    from wikiart.report.classifier_plots import plot_history

    if history:
        plot_history(history, out / "loss.png", keys=LOSS_KEYS, metric_keys=())
    _, model, _ = load_model(out / "model.pt", device, kind=KIND)
    split = "test" if "test" in ds.splits else "train"
    data = prepare_split(ds.split(split), classes, split=split, **cache)
    pick = pick_per_style(data.labels, cfg.samples, cfg.seed)
    if not pick:
        return
    x = torch.stack([data.raw(i) for i in pick])
    labels = [classes.classes[data.labels[i]] for i in pick]
    write_render_grid(model, x, labels, None, out / "grid.png")  # type: ignore[arg-type]
