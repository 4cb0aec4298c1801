"""`wikiart train stylegen`: embed the styles with the frozen classifier, then train the generator
with the shared loop and `StylegenLoss`; writes ``model.pt``, ``style_embeddings.pt``,
``history.csv``, ``loss.png`` and a ``grid.png`` of test renders."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wikiart.config_io import save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import Dataset
from wikiart.data.loader import CachedImageDataset, cache_options, make_loader, prepare_split
from wikiart.data.splits import pick_per_style
from wikiart.data.transforms import train_transform
from wikiart.device import loader_workers, resolve_device
from wikiart.eval.color_baseline import color_stats
from wikiart.eval.judge import load_frozen_classifier
from wikiart.files import file_digest
from wikiart.models.perceptual import optional_perceptual_features
from wikiart.models.stylegen import StyleGenerator
from wikiart.report.grids import write_render_grid
from wikiart.stylegen.loss import StylegenLoss
from wikiart.stylegen.render import load_stylegen
from wikiart.stylegen.settings import KIND, StylegenConfig, require_inputs
from wikiart.stylegen.styles import (
    EMBEDDINGS_FILE,
    load_style_embeddings,
    save_style_embeddings,
    standardised_table,
    style_embeddings,
    texture_stats,
)
from wikiart.train.loop import LoopConfig, StepOutput, fit
from wikiart.train.optim import make_optimizer, make_scheduler
from wikiart.train.run import start_run

log = logging.getLogger(__name__)

#: The history columns drawn in ``loss.png`` (the rest stay in ``history.csv``).
LOSS_KEYS = (
    "train_loss",
    "train_rec",
    "train_style_ce",
    "train_layout",
    "train_content",
    "train_texture",
)


def train_stylegen(
    cfg: StylegenConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Embed the styles with the frozen classifier, train the generator with the shared loop,
    then write ``loss.png`` and a ``grid.png`` of test renders. Returns the last epoch's row."""
    require_inputs(cfg)
    out = Path(out)
    t_start = time.perf_counter()
    device = resolve_device(cfg.device)
    ds = start_run(cfg, out)  # opening the dataset draws no random numbers
    clf, clf_payload = load_frozen_classifier(cfg.classifier, device)  # type: ignore[arg-type]
    classes = ClassMap(tuple(clf_payload["classes"]))
    save_config(cfg, out)
    cache = cache_options(cfg.data, ds.cache_source, progress)
    emb = _embed_styles(cfg, out, clf, clf_payload, ds, classes, device, cache)
    full = prepare_split(ds.split("train"), classes, split="train", **cache)
    colors = color_stats(full, len(classes))
    loader = _train_loader(cfg, full)
    model = _build_generator(cfg, classes, emb, device, len(loader.dataset))
    features = (
        optional_perceptual_features(device)
        if cfg.content_weight > 0 or cfg.texture_weight > 0
        else None
    )
    texture = None
    if features is not None and cfg.texture_weight > 0:
        texture = texture_stats(features, full, len(classes), device, cfg.batch_size)
    clf_size = int(cfg.classifier_size or clf_payload["preprocess"]["image_size"])
    loss = StylegenLoss(clf, clf_size, cfg, features, emb, texture).to(device)
    loop = LoopConfig.for_job(cfg, device, out, progress, patience=None)
    result = _fit(model, loss, loader, cfg, loop, colors, texture)
    _write_figures(result.history, cfg, ds, classes, device, out, cache)
    row = dict(result.history[-1]) if result.history else {}
    row["seconds"] = time.perf_counter() - t_start
    return row


def _embed_styles(
    cfg: StylegenConfig,
    out: Path,
    clf: nn.Module,
    clf_payload: dict[str, Any],
    ds: Dataset,
    classes: ClassMap,
    device: torch.device,
    cache: dict[str, Any],
) -> dict[str, Any]:
    """The style table: read back from ``style_embeddings.pt`` when resuming, otherwise the
    classifier's per-style mean embeddings of the training images at its own size (saved)."""
    emb_path = out / EMBEDDINGS_FILE
    if cfg.resume and emb_path.exists():
        return load_style_embeddings(emb_path)
    clf_pre = clf_payload["preprocess"]
    at_clf_size = {**cache, "image_size": clf_pre["image_size"], "fit": clf_pre.get("fit", "crop")}
    at_clf = prepare_split(ds.split("train"), classes, split="train", **at_clf_size)
    emb = style_embeddings(clf, at_clf, classes.classes, device, cfg.batch_size)
    emb["classifier"] = str(cfg.classifier)
    save_style_embeddings(emb_path, emb)
    return emb


def _train_loader(cfg: StylegenConfig, full: CachedImageDataset) -> torch.utils.data.DataLoader:
    """The shuffled, augmented (random resized crop) training batches."""
    size = cfg.data.image_size
    train = full.subset(np.arange(len(full)), train_transform(size, scale=(0.8, 1.0)))
    return make_loader(
        train,
        batch_size=cfg.batch_size,
        shuffle=True,
        seed=cfg.seed,
        num_workers=loader_workers(cfg.loader_workers),
        drop_last=len(train) > cfg.batch_size,
    )


def _build_generator(
    cfg: StylegenConfig,
    classes: ClassMap,
    emb: dict[str, Any],
    device: torch.device,
    n_train: int,
) -> StyleGenerator:
    """A fresh generator over the standardised style table, on ``device``."""
    size = cfg.data.image_size
    model = StyleGenerator(
        size,
        list(classes.classes),
        standardised_table(emb),
        widths=cfg.widths,
        code_channels=cfg.code_channels,
        hidden=cfg.hidden,
        norm=cfg.norm,
        skips=cfg.skips,
        padding=cfg.padding,
    ).to(device)
    log.info(
        "stylegen: %d styles, embedding %d, code %s, %d parameters; %d training images at %d px",
        len(classes),
        model.style_dim,
        "x".join(map(str, model.code_shape)),
        sum(p.numel() for p in model.parameters()),
        n_train,
        size,
    )
    return model


def _fit(
    model: StyleGenerator,
    loss: StylegenLoss,
    loader: torch.utils.data.DataLoader,
    cfg: StylegenConfig,
    loop: LoopConfig,
    colors: dict[str, list],
    texture: dict[str, list[torch.Tensor]] | None,
) -> Any:
    """AdamW with a one-cycle schedule over the whole run, through the shared loop (nothing is
    monitored: every epoch is kept)."""
    opt = make_optimizer(model.parameters(), "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "onecycle", len(loader) * cfg.epochs, pct_start=0.15)

    def step(m: nn.Module, batch: Any, dev: torch.device) -> StepOutput:
        x = batch[0].to(dev, non_blocking=True)
        y = batch[1].to(dev, non_blocking=True)
        value, parts = loss(m, x, y)
        return StepOutput(value, len(x), parts)

    classifier = str(cfg.classifier)
    clf_info = {"path": classifier, "sha256": file_digest(classifier)}
    return fit(
        model,
        opt,
        loader,
        step,
        loop,
        scheduler=sched,
        make_payload_extra=lambda: _payload_extra(model, cfg, colors, clf_info, texture),
    )


def _payload_extra(
    model: StyleGenerator,
    cfg: StylegenConfig,
    colors: dict,
    clf_info: dict,
    texture: dict[str, list[torch.Tensor]] | None = None,
) -> dict[str, Any]:
    """What a stylegen checkpoint carries beside the weights: rebuild config, styles,
    preprocessing, the colour baseline's and texture term's targets, the training classifier."""
    extra = {} if texture is None else {"texture_stats": texture}
    return {
        **extra,
        "kind": KIND,
        "model_config": dict(model.config),
        "classes": list(model.style_names),
        "preprocess": {
            "image_size": model.image_size,
            "fit": cfg.data.fit,
            "mean": list(model.mean),
            "std": list(model.std),
        },
        "color_stats": colors,
        "classifier": clf_info,
    }


def _write_figures(
    history: list[dict[str, Any]],
    cfg: StylegenConfig,
    ds: Dataset,
    classes: ClassMap,
    device: torch.device,
    out: Path,
    cache: dict[str, Any],
) -> None:
    """``loss.png``, and ``grid.png``: test images (training images where there is no test
    split) rendered in every style by the saved ``model.pt``."""
    from wikiart.report.classifier_plots import plot_history

    plot_history(history, out / "loss.png", keys=LOSS_KEYS, metric_keys=("train_style_acc",))
    gen, _ = load_stylegen(out / "model.pt", device)
    size = cfg.data.image_size
    split = "test" if "test" in ds.splits else "train"
    test = prepare_split(ds.split(split), classes, split=split, **cache)
    pick = pick_per_style(test.labels, cfg.samples, cfg.seed)
    x = torch.stack([test.raw(i) for i in pick]) if pick else torch.zeros(0, 3, size, size)
    write_render_grid(
        gen, x, [classes.classes[test.labels[i]] for i in pick], None, out / "grid.png"
    )
