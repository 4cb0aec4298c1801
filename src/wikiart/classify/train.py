"""`wikiart train classifier`: data -> cache -> loaders -> model -> the one training loop ->
metrics -> report. Three modes: ``finetune`` (everything trained end to end), ``frozen``
(embeddings computed once per image and cached on disk, a regularised linear head fitted on
them; `wikiart.classify.probe`) and ``probe+finetune`` (the pretrained presets: that head first,
then fine-tuning from it rather than from a random head, as in Kumar et al. 2022, "Fine-Tuning
can Distort Pretrained Features"; ``finetune_groups`` limits it to the top depth groups)."""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wikiart.checkpoints import unwrap
from wikiart.classify.infer import evaluate_refs, load_classifier, predict_logits, to_device
from wikiart.classify.presets import pretrained_arg, train_size, training_precision
from wikiart.classify.probe import fit_head
from wikiart.classify.report import write_report
from wikiart.classify.settings import ClassifierConfig
from wikiart.classify.stages import Stage, balanced_loader, payload_extra, val_numbers
from wikiart.config_io import save_config
from wikiart.data.balance import class_counts
from wikiart.data.dataset import Dataset, require_data
from wikiart.data.loader import cache_options, make_loader, prepare_split
from wikiart.data.splits import check_classifier_styles, stratified_split
from wikiart.data.transforms import eval_transform, train_transform
from wikiart.device import loader_workers
from wikiart.distributed import barrier, check_agree, init_distributed, shutdown, wrap
from wikiart.errors import WikiartError
from wikiart.models.registry import build_classifier, unfreeze_last
from wikiart.train.loop import FitResult, LoopConfig, StepOutput, fit, write_history_csv
from wikiart.train.losses import make_loss
from wikiart.train.mixing import mix_batch, mixed_loss
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)


def fit_all(model: nn.Module, st: Stage) -> FitResult:
    """The end-to-end stage: every parameter trained on augmented images from the cache (as
    DistributedDataParallel under torchrun)."""
    cfg, device, ctx = st.cfg, st.device, st.ctx
    kw = {"batch_size": cfg.batch_size, "num_workers": loader_workers(cfg.loader_workers)}
    loader = balanced_loader(st.train, st.train.labels, cfg, len(st.classes), ctx, **kw)
    val_loader = make_loader(st.val, **kw)
    if cfg.finetune_groups >= 0:  # gradual unfreezing's first step: the top groups only
        unfreeze_last(model, cfg.finetune_groups)
    groups = model.param_groups(cfg.lr, cfg.backbone_lr_mult, cfg.layer_decay)
    opt = make_optimizer(groups, cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.freeze_bn = cfg.freeze_bn
    plain = model
    model = wrap(model, ctx, device)

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        x, y = batch
        x, y = to_device(x, dev, cfg.channels_last), y.to(dev)
        x, y_partner, lam = mix_batch(x, y, cfg.mix, cfg.mix_alpha)
        return StepOutput(mixed_loss(st.criterion, m(x), y, y_partner, lam), len(y))

    def eval_fn(m: nn.Module) -> dict[str, float]:  # the live model, or its EMA
        logits, labels = predict_logits(
            unwrap(m), val_loader, device, precision=st.precision, channels_last=cfg.channels_last
        )
        return val_numbers(logits, labels, st)

    loop = LoopConfig.for_job(
        cfg, device, st.out, st.progress, amp=st.precision, monitor="val_macro_f1",
        is_main=ctx.is_main, ema_decay=cfg.ema_decay,
    )  # fmt: skip
    result = fit(
        model, opt, loader, step, loop, eval_fn=eval_fn,
        scheduler=make_scheduler(opt, cfg.schedule, len(loader) * cfg.epochs),
        make_payload_extra=lambda: payload_extra(plain, st),
    )  # fmt: skip
    check_agree(plain, ctx)
    return result


def train_classifier(
    cfg: ClassifierConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Train, select the best epoch by validation macro-F1, evaluate it on the test split and
    write the run folder (see the contract). Returns the test metrics (or {} without test)."""
    require_data(cfg.data.data)
    out = Path(out)
    t_start = time.perf_counter()
    ctx, device = init_distributed(cfg.device)
    try:
        return _train(cfg, out, ctx, device, progress and ctx.is_main, t_start)
    finally:
        shutdown(ctx)


def _splits(cfg: ClassifierConfig, ds, classes, cache: dict[str, Any]):
    """The augmenting training set and the whole-image validation set (``valid/``, or a
    stratified share of train)."""
    size = cfg.data.image_size
    full = prepare_split(ds.split("train"), classes, split="train", **cache)
    augment = train_transform(train_size(cfg), scale=(cfg.crop_scale, cfg.crop_max))
    if "valid" in ds.splits:
        val = prepare_split(ds.split("valid"), classes, split="valid", **cache)
        val.transform = eval_transform(size)
        return full.subset(np.arange(len(full)), augment), val
    tr, va = stratified_split(full.labels, cfg.data.val_fraction, cfg.seed)
    if len(va) == 0:
        raise WikiartError("validation split is empty: raise --val-fraction or add valid/")
    return full.subset(tr, augment), full.subset(va, eval_transform(size))


def _check_styles(cfg: ClassifierConfig, ds: Dataset) -> None:
    """Two styles or more, and two images of each where validation is carved from train
    (before any image is decoded, and in a dry run)."""
    carve = None if "valid" in ds.splits else cfg.data.val_fraction
    check_classifier_styles((r.style for r in ds.split("train")), carve)


def _stage(cfg: ClassifierConfig, out: Path, ctx, device, progress: bool) -> tuple[Stage, Any]:
    """Run folder, data and loss: the `Stage` the training stages share, and the dataset."""
    ds = start_run(cfg, out, check=functools.partial(_check_styles, cfg))
    classes = ds.class_map()
    barrier(ctx)  # everyone has compared against the old config.json before it is replaced
    if ctx.is_main:
        save_config(cfg, out)
        classes.save(out / "classes.json")
    cache = cache_options(cfg.data, ds.cache_source, progress)
    train, val = _splits(cfg, ds, classes, cache)
    counts = class_counts(train.labels, len(classes))
    log.info(
        "train %d / val %d images, %d styles, imbalance %s, device %s",
        len(train), len(val), len(classes), cfg.imbalance, device,
    )  # fmt: skip
    criterion = make_loss(cfg.imbalance, counts, label_smoothing=cfg.label_smoothing).to(device)
    precision = training_precision(cfg, device)
    st = Stage(cfg, train, val, classes, counts, criterion, device, precision, out, progress, ctx)
    return st, (ds, cache)


def _train(cfg: ClassifierConfig, out: Path, ctx, device, progress: bool, t_start: float):
    st, (ds, cache) = _stage(cfg, out, ctx, device, progress)
    model = build_classifier(
        cfg.arch, len(st.classes), pretrained=pretrained_arg(cfg), features=cfg.features,
        dropout=cfg.dropout,
    ).to(device)  # fmt: skip
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    result = None
    resuming_stage2 = cfg.resume and cfg.mode == "probe+finetune" and (out / "last.pt").exists()
    if cfg.mode in ("frozen", "probe+finetune") and not resuming_stage2:
        result = fit_head(model, st)
    if cfg.mode in ("finetune", "probe+finetune") and cfg.epochs > 0:
        result = fit_all(model, st)
    if result is None:
        raise WikiartError("nothing to train: epochs is 0")
    if not ctx.is_main:
        return {}
    if result.best_path != out / "model.pt":
        os.replace(result.best_path, out / "model.pt")  # frozen mode: the head run's best
    _write_history_files(out, result.history)
    metrics: dict[str, Any] = {}
    if "test" in ds.splits:
        model, payload = load_classifier(out / "model.pt", device)
        metrics = evaluate_refs(
            model, payload, ds.split("test"), out, device=device, tta=cfg.tta,
            batch_size=max(cfg.batch_size, 64), cache=cache, precision=st.precision,
        )  # fmt: skip
    seconds = time.perf_counter() - t_start
    write_report(out, cfg, st.classes, st.counts, result.history, metrics, seconds)
    return metrics


def _write_history_files(out: Path, history: list[dict[str, Any]]) -> None:
    """history.csv (the contract's; a head-only run trains in a subfolder) and loss.png."""
    from wikiart.report.classifier_plots import plot_history

    write_history_csv(out / "history.csv", history)
    plot_history(history, out / "loss.png")
