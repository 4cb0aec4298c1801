"""The style classifier job: train (`wikiart train classifier`), evaluate and predict.

Data flows one way: dataset -> cache -> loaders -> model -> the one training loop -> metrics ->
report. Three modes: ``finetune`` (everything trained end to end; the default from scratch),
``frozen`` (embeddings computed once per image and cached on disk, a regularised linear head
fitted on them) and ``probe+finetune`` (the default for pretrained backbones: that head first,
then fine-tuning from it rather than from a random head, as in Kumar et al. 2022, "Fine-Tuning
can Distort Pretrained Features"; ``finetune_groups`` limits it to the top depth groups).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from wikiart.config import (
    ClassifierConfig,
    build_config,
    check_same_run,
    peek,
    save_config,
)
from wikiart.data.balance import (
    DistributedWeightedSampler,
    class_counts,
    make_weighted_sampler,
    resample_indices,
)
from wikiart.data.cache import default_cache_root
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_dataset, open_eval_split
from wikiart.data.images import decode_fitted
from wikiart.data.loader import cache_options, make_loader, prepare_split
from wikiart.data.refs import display
from wikiart.data.splits import stratified_split
from wikiart.data.transforms import eval_transform, train_transform
from wikiart.device import autocast, cpu_supports_bf16, loader_workers, resolve_device
from wikiart.device import seed_everything as seed_all
from wikiart.distributed import barrier, init_distributed, parameters_agree, shutdown, wrap
from wikiart.errors import WikiartError
from wikiart.eval.metrics import classification_metrics, confusion, per_class_rows
from wikiart.models.registry import build_classifier, unfreeze_last
from wikiart.train.checkpoint import check_kind, load_checkpoint, load_weights, unwrap
from wikiart.train.ema import check_ema_decay
from wikiart.train.loop import LoopConfig, StepOutput, fit, write_history_csv
from wikiart.train.losses import make_loss
from wikiart.train.mixing import MIXES, mix_batch, mixed_loss

log = logging.getLogger(__name__)

KIND = "classifier"
MODES = ("finetune", "frozen", "probe+finetune")
SCHEDULES = ("onecycle", "cosine", "constant")
OPTIMIZERS = ("adamw", "sgd")

_SMALL = {"data": {"image_size": 96}, "batch_size": 64, "lr": 2e-3, "epochs": 25}
#: ``small-resnet`` from scratch, chosen on validation macro-F1 (README): style statistics of
#: its four stages, trained on crops of 1/4 to 4/5 of each painting at 3/4 of the image size and
#: evaluated on whole paintings at 128 px (FixRes), 40 epochs: best validation 0.437 against
#: 0.382-0.409 for 25-50 epochs on whole 96 px images (with or without CutMix).
_SMALL_RESNET = {
    **_SMALL,
    "data": {"image_size": 128},
    "features": "stats",
    "train_scale": 0.75,
    "crop_scale": 0.25,
    "crop_max": 0.8,
    "epochs": 40,
}
_LITE = {
    # Chosen on validation macro-F1 alone (bench/finetune_recipes.py, 3 seeds, each with its own
    # validation split; README): a linear probe on frozen style statistics at 288 px, then
    # 5 epochs fine-tuning the top 3 depth groups (stride 16, stride 32, head conv) at 3e-4 with
    # BatchNorm statistics kept: val 0.676 +- 0.008 against 0.657 +- 0.009 for the probe alone.
    # Fine-tuning every layer for 3 epochs (backbone at 1e-4 or 3e-5, live or frozen BatchNorm,
    # layer-wise decay, other crops) and the top 2 groups only scored below the probe alone.
    "data": {"image_size": 288},
    "pretrained": "auto",
    "features": "stats",
    "mode": "probe+finetune",
    "finetune_groups": 3,
    "freeze_bn": True,
    "head_l2": 0.3,
    "epochs": 5,
    "batch_size": 32,
    "lr": 3e-4,
    "backbone_lr_mult": 1.0,
    "weight_decay": 0.01,
}
#: Defaults per architecture; a TOML file and flags override them.
ARCH_PRESETS: dict[str, dict[str, Any]] = {
    "seed-cnn": {**_SMALL, "lr": 1e-3},
    "small-resnet": _SMALL_RESNET,
    "resnet18": {**_SMALL, "lr": 1e-3},
    "efficientnet-lite0": _LITE,
    "efficientnet-lite1": {**_LITE, "data": {"image_size": 304}},
    "efficientnet-lite2": {**_LITE, "data": {"image_size": 320}},
}


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> ClassifierConfig:
    """Defaults <- the architecture's preset <- TOML <- flags."""
    arch = peek(config_file, overrides, "arch") or ClassifierConfig.arch
    cfg = build_config(ClassifierConfig, config_file, overrides, ARCH_PRESETS.get(arch, {}))
    if cfg.mode not in MODES:
        raise WikiartError(f"unknown mode {cfg.mode!r}; expected one of {MODES}")
    if cfg.schedule not in SCHEDULES:
        raise WikiartError(f"unknown schedule {cfg.schedule!r}; expected one of {SCHEDULES}")
    if not 0.0 < cfg.crop_scale <= cfg.crop_max <= 1.0:
        raise WikiartError(
            f"training crops need 0 < crop_scale <= crop_max <= 1, got {cfg.crop_scale} and "
            f"{cfg.crop_max}"
        )
    if not 0.0 < cfg.train_scale <= 1.0 or train_size(cfg) < 8:
        raise WikiartError(
            f"train_scale must be in (0, 1] and give crops of 8 px or more, got {cfg.train_scale} "
            f"at image size {cfg.data.image_size}"
        )
    if cfg.mix not in MIXES:
        raise WikiartError(f"unknown mix {cfg.mix!r}; expected one of {MIXES}")
    if cfg.mix != "none" and cfg.mix_alpha <= 0:
        raise WikiartError(f"mix_alpha must be > 0, got {cfg.mix_alpha}")
    if cfg.weight_decay < 0:
        raise WikiartError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if cfg.dropout is not None and not 0.0 <= cfg.dropout < 1.0:
        raise WikiartError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.optimizer not in OPTIMIZERS:
        raise WikiartError(f"unknown optimizer {cfg.optimizer!r}; expected one of {OPTIMIZERS}")
    check_ema_decay(cfg.ema_decay)  # before any data is read, not when the loop starts
    if cfg.finetune_groups < -1:
        raise WikiartError(f"finetune_groups must be -1 (all) or >= 0, got {cfg.finetune_groups}")
    if not 0.0 < cfg.layer_decay <= 1.0:
        raise WikiartError(f"layer_decay must be in (0, 1], got {cfg.layer_decay}")
    if cfg.data.data is None:
        raise WikiartError("no training data: pass --data DIR (or `data` in the config file)")
    return cfg


def train_size(cfg: ClassifierConfig) -> int:
    """The side of the training crops. Below the image size (``train_scale`` < 1), the model
    trains on parts of the paintings at the cached resolution and is evaluated on whole
    paintings at that resolution: the brushwork keeps its scale, and the model sees more of it
    at test time (Touvron et al. 2019, "Fixing the train-test resolution discrepancy")."""
    return round(cfg.data.image_size * cfg.train_scale)


def _precision(cfg: ClassifierConfig, device: torch.device) -> str:
    """``auto`` on a CPU with native bf16 (AVX512-BF16 / AMX) trains with bf16 autocast, as on a
    GPU: about 4x faster for EfficientNet-Lite, 1.5x for `seed-cnn` at 416 px (README,
    bench/train_throughput.py: 104.2 against 69.4 img/s); `seed-cnn` lost no accuracy in bf16
    (README, one seed). Elsewhere
    ``auto`` is fp32 on a CPU (`device.amp_dtype`)."""
    if cfg.precision == "auto" and device.type == "cpu" and cpu_supports_bf16():
        return "bf16"
    return cfg.precision


def _pretrained_arg(cfg: ClassifierConfig) -> str | bool | None:
    if cfg.pretrained in (None, "", "none"):
        return None
    return True if cfg.pretrained == "auto" else cfg.pretrained


# -- batches ---------------------------------------------------------------------------------
def _to_device(x: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    *,
    precision: str = "auto",
    tta: bool = False,
    flip: bool = False,
    channels_last: bool = False,
    embed: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (embeddings with ``embed``) and labels for a whole loader, as fp32 CPU tensors.
    ``flip`` uses the mirror images; ``tta`` averages each image and its mirror."""
    model.eval()
    fn = model.embed if embed else model
    outs, labels = [], []
    for x, y in loader:
        x = _to_device(x, device, channels_last)
        if flip:
            x = x.flip(-1)
        with autocast(device, precision):
            out = fn(x).float()
            if tta:
                out = (out + fn(x.flip(-1)).float()) / 2
        outs.append(out.cpu())
        labels.append(y)
    return torch.cat(outs), torch.cat(labels)


def _metrics_from_logits(
    logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]
) -> dict[str, Any]:
    probs = torch.softmax(logits, dim=1).numpy()
    return classification_metrics(labels.numpy(), probs.argmax(axis=1), list(classes), probs=probs)


def _val_numbers(logits, labels, classes, criterion, device) -> dict[str, float]:
    m = _metrics_from_logits(logits, labels, classes)
    return {
        "val_loss": float(criterion(logits.to(device), labels.to(device))),
        "val_accuracy": m["accuracy"],
        "val_balanced_accuracy": m["balanced_accuracy"],
        "val_macro_f1": m["macro_f1"],
    }


# -- training --------------------------------------------------------------------------------
def _optimizer(groups: list[dict[str, Any]], cfg: ClassifierConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay), or SGD with Nesterov momentum 0.9 and weight decay as an
    L2 penalty in the gradient: the classic recipe for ResNets trained from scratch."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
        )
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, cfg: ClassifierConfig, steps: int, epochs: int):
    total = max(1, steps * epochs)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=total, pct_start=0.2
        )
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    return None


def _balanced_loader(dataset, labels: np.ndarray, cfg: ClassifierConfig, k: int, ctx=None, **kw):
    """The training loader with the imbalance strategy's sampling (training split only); under
    torchrun each process gets its share through a distributed sampler of the same kind."""
    dist = ctx is not None and ctx.enabled
    sampler = None
    if cfg.imbalance == "resample":
        dataset = torch.utils.data.Subset(dataset, resample_indices(labels, k, seed=cfg.seed))
    elif cfg.imbalance == "sampler":
        sampler = (
            DistributedWeightedSampler(labels, k, ctx.world_size, ctx.rank, seed=cfg.seed)
            if dist
            else make_weighted_sampler(labels, k, seed=cfg.seed)
        )
    if dist and sampler is None:
        sampler = DistributedSampler(
            dataset, ctx.world_size, ctx.rank, shuffle=True, seed=cfg.seed, drop_last=True
        )
    # drop a ragged last batch (a batch of one breaks BatchNorm) unless it is the only one
    per_process = len(sampler) if sampler is not None else len(dataset)
    drop_last = per_process > kw["batch_size"]
    return make_loader(
        dataset, shuffle=True, sampler=sampler, seed=cfg.seed, drop_last=drop_last, **kw
    )


def _payload_extra(
    model, classes: ClassMap, cfg: ClassifierConfig, counts, device: torch.device
) -> dict[str, Any]:
    return {
        "kind": KIND,
        "model_config": model.config,
        "classes": list(classes.classes),
        "preprocess": {
            "image_size": cfg.data.image_size,
            "fit": cfg.data.fit,
            "mean": list(model.mean),
            "std": list(model.std),
            "channels_last": cfg.channels_last,
            # what inference uses too, so `wikiart evaluate` reproduces the run's metrics.json
            "precision": _precision(cfg, device),
        },
        "train_counts": [int(c) for c in counts],
        "imbalance": cfg.imbalance,
    }


def _feature_file(model: nn.Module, cfg: ClassifierConfig, precision: str) -> Path:
    """Where embeddings of this exact backbone (config and weights) and preprocessing live."""
    digest = hashlib.sha1()
    spec = [model.config, cfg.data.image_size, cfg.data.fit, precision, cfg.channels_last]
    digest.update(json.dumps(spec, sort_keys=True).encode())
    for key, tensor in model.state_dict().items():  # weights and input normalisation, not head
        if not key.startswith("head."):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
    root = Path(cfg.data.cache_dir) if cfg.data.cache_dir else default_cache_root()
    return root / "features" / f"{digest.hexdigest()[:20]}.pt"


def _embeddings(model, datasets, path: Path, cfg, device, precision):
    """Embeddings of every image of each dataset and of its mirror image, computed once per
    image and kept in one file on disk (keyed by file path, size and mtime), so later runs with
    other seeds or imbalance strategies reuse them. Returns ``((plain, mirrored), labels)`` per
    dataset; the file is read once and written at most once."""
    stored: dict[str, Any] = {"keys": [], "plain": None, "mirror": None}
    if path.exists():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged feature file is only a cache miss
            log.warning("ignoring unreadable feature cache %s (%s)", path, exc)
    keys = [[f"{r.key}|{r.size}|{r.mtime_ns}" for r in data.refs] for data in datasets]
    row = {k: i for i, k in enumerate(stored["keys"])}
    new_keys: list[str] = []
    pending: set[str] = set()
    new_plain, new_mirror = [], []
    for data, ks in zip(datasets, keys, strict=True):
        missing = [i for i, k in enumerate(ks) if k not in row and k not in pending]
        if not missing:
            continue
        todo = data.subset(np.array(missing), eval_transform(cfg.data.image_size))
        kw = {"batch_size": max(cfg.batch_size, 64), "num_workers": loader_workers(None)}
        loader = make_loader(todo, **kw)
        common = {"precision": precision, "channels_last": cfg.channels_last, "embed": True}
        new_plain.append(predict_logits(model, loader, device, **common)[0])
        new_mirror.append(predict_logits(model, loader, device, flip=True, **common)[0])
        new_keys += [ks[i] for i in missing]
        pending.update(ks[i] for i in missing)
    if new_keys:
        parts = [stored["plain"]] if stored["plain"] is not None else []
        mirrors = [stored["mirror"]] if stored["mirror"] is not None else []
        stored = {
            "keys": stored["keys"] + new_keys,
            "plain": torch.cat(parts + new_plain),
            "mirror": torch.cat(mirrors + new_mirror),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(stored, tmp)
        os.replace(tmp, path)
        row = {k: i for i, k in enumerate(stored["keys"])}
    out = []
    for data, ks in zip(datasets, keys, strict=True):
        idx = torch.tensor([row[k] for k in ks], dtype=torch.long)
        labels = torch.as_tensor(data.labels, dtype=torch.long)
        out.append(((stored["plain"][idx], stored["mirror"][idx]), labels))
    return out


def _train_head(model, cfg, feats, labels, classes, device, run_dir, progress, ctx, eval_fn=None):
    """A linear head on fixed embeddings (standardised with their statistics): the regularised
    multinomial logistic regression of a linear probe, trained by the one training loop."""
    counts = class_counts(labels.numpy(), len(classes))
    criterion = make_loss(cfg.imbalance, counts, label_smoothing=cfg.label_smoothing).to(device)
    with torch.no_grad():
        model.set_embedding_stats(feats.mean(0).to(device), feats.std(0).to(device))
    data = TensorDataset(feats, labels)
    loader = _balanced_loader(data, labels.numpy(), cfg, len(classes), batch_size=256)
    # Adam with a coupled L2 penalty (decoupled weight decay regularised far too weakly here)
    opt = torch.optim.Adam(model.head.parameters(), lr=cfg.lr * 3, weight_decay=cfg.head_l2)

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        f, y = (t.to(dev) for t in batch)
        return StepOutput(criterion(m.logits_from_embedding(f), y), len(y))

    loop = LoopConfig.for_job(
        cfg,
        device,
        run_dir,
        progress,
        epochs=cfg.head_epochs,
        amp="fp32",
        grad_clip=None,
        patience=None,
        monitor=None,  # a convex, regularised fit: its last epoch, not a noisy validation pick
        is_main=ctx.is_main,  # every process fits the same head; one writes it
    )
    result = fit(
        model,
        opt,
        loader,
        step,
        loop,
        eval_fn=eval_fn,
        scheduler=_scheduler(opt, cfg, len(loader), cfg.head_epochs),
        make_payload_extra=lambda: _payload_extra(model, classes, cfg, counts, device),
    )
    model.load_state_dict(load_checkpoint(result.best_path)["state_dict"])
    return result


def _fit_head(
    model, cfg, train, val, classes, counts, criterion, device, precision, out, progress, ctx
):
    """Stage 1 (``frozen`` / ``probe+finetune``): embeddings of the frozen backbone computed
    once (cached on disk), for each training image and its mirror, then only the head is
    trained on them. In frozen mode the same recipe is then refitted on train + validation, as
    scikit-learn refits after cross-validation (nothing is chosen on validation here); the
    history shown stays that of the validated fit."""
    model.set_backbone_trainable(False)
    t0 = time.perf_counter()
    store = _feature_file(model, cfg, precision)
    ((f0, f1), y0), ((vf, _), vy) = _embeddings(model, [train, val], store, cfg, device, precision)
    log.info("head: embeddings of %d images ready in %.0fs", len(y0), time.perf_counter() - t0)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        logits = m.logits_from_embedding(vf.to(device)).float().cpu()
        return _val_numbers(logits, vy, classes, criterion, device)

    feats, labels = torch.cat([f0, f1]), torch.cat([y0, y0])
    result = _train_head(
        model, cfg, feats, labels, classes, device, out / "head", progress, ctx, eval_fn
    )
    if cfg.mode == "frozen" and cfg.refit and len(vy):
        torch.manual_seed(cfg.seed)
        model.head.reset_parameters()
        feats, labels = torch.cat([feats, vf]), torch.cat([labels, vy])
        refit = _train_head(
            model, cfg, feats, labels, classes, device, out / "head-refit", progress, ctx
        )
        log.info("head refitted on %d train + validation embeddings", len(labels))
        result = dataclasses.replace(refit, history=result.history)
    model.set_backbone_trainable(True)
    return result


def _fit_all(
    model, cfg, train, val, classes, counts, criterion, device, precision, out, progress, ctx
):
    """The end-to-end stage: every parameter trained on augmented images from the cache (as
    DistributedDataParallel under torchrun)."""
    kw = {"batch_size": cfg.batch_size, "num_workers": loader_workers(cfg.loader_workers)}
    loader = _balanced_loader(train, train.labels, cfg, len(classes), ctx, **kw)
    val_loader = make_loader(val, **kw)
    if cfg.finetune_groups >= 0:  # gradual unfreezing's first step: the top groups only
        unfreeze_last(model, cfg.finetune_groups)
    opt = _optimizer(model.param_groups(cfg.lr, cfg.backbone_lr_mult, cfg.layer_decay), cfg)
    model.freeze_bn = cfg.freeze_bn
    plain = model
    model = wrap(model, ctx, device)

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        x, y = batch
        x, y = _to_device(x, dev, cfg.channels_last), y.to(dev)
        x, y_partner, lam = mix_batch(x, y, cfg.mix, cfg.mix_alpha)
        return StepOutput(mixed_loss(criterion, m(x), y, y_partner, lam), len(y))

    def eval_fn(m: nn.Module) -> dict[str, float]:  # the live model, or its EMA
        logits, labels = predict_logits(
            unwrap(m), val_loader, device, precision=precision, channels_last=cfg.channels_last
        )
        return _val_numbers(logits, labels, classes, criterion, device)

    loop = LoopConfig.for_job(
        cfg,
        device,
        out,
        progress,
        amp=precision,
        monitor="val_macro_f1",
        is_main=ctx.is_main,
        ema_decay=cfg.ema_decay,
    )
    result = fit(
        model,
        opt,
        loader,
        step,
        loop,
        eval_fn=eval_fn,
        scheduler=_scheduler(opt, cfg, len(loader), cfg.epochs),
        make_payload_extra=lambda: _payload_extra(plain, classes, cfg, counts, device),
    )
    if not parameters_agree(plain, ctx):
        raise WikiartError("distributed processes ended with different weights")
    if ctx.enabled and ctx.is_main:
        log.info("all %d processes hold identical weights", ctx.world_size)
    return result


def train_classifier(
    cfg: ClassifierConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Train, select the best epoch by validation macro-F1, evaluate it on the test split and
    write the run folder (see the contract). Returns the test metrics (or {} without test)."""
    out = Path(out)
    t_start = time.perf_counter()
    ctx, device = init_distributed(cfg.device)
    try:
        return _train(cfg, out, ctx, device, progress and ctx.is_main, t_start)
    finally:
        shutdown(ctx)


def _train(cfg: ClassifierConfig, out: Path, ctx, device, progress: bool, t_start: float):
    seed_all(cfg.seed, cfg.deterministic)
    ds = open_dataset(cfg.data.data, split_csv=cfg.data.split_csv)
    classes = ds.class_map()
    out.mkdir(parents=True, exist_ok=True)
    if cfg.resume:
        check_same_run(cfg, out)
    barrier(ctx)  # everyone has compared against the old config.json before it is replaced
    if ctx.is_main:
        save_config(cfg, out)
        classes.save(out / "classes.json")
    cache = cache_options(cfg.data, ds.root, progress)
    size = cfg.data.image_size
    full = prepare_split(ds.split("train"), classes, split="train", **cache)
    augment = train_transform(train_size(cfg), scale=(cfg.crop_scale, cfg.crop_max))
    if "valid" in ds.splits:
        train = full.subset(np.arange(len(full)), augment)
        val = prepare_split(ds.split("valid"), classes, split="valid", **cache)
        val.transform = eval_transform(size)
    else:
        tr, va = stratified_split(full.labels, cfg.data.val_fraction, cfg.seed)
        if len(va) == 0:
            raise WikiartError("validation split is empty: raise --val-fraction or add valid/")
        train, val = full.subset(tr, augment), full.subset(va, eval_transform(size))
    counts = class_counts(train.labels, len(classes))
    log.info(
        "train %d / val %d images, %d styles, imbalance %s, device %s",
        len(train),
        len(val),
        len(classes),
        cfg.imbalance,
        device,
    )
    precision = _precision(cfg, device)
    criterion = make_loss(cfg.imbalance, counts, label_smoothing=cfg.label_smoothing).to(device)
    model = build_classifier(
        cfg.arch,
        len(classes),
        pretrained=_pretrained_arg(cfg),
        features=cfg.features,
        dropout=cfg.dropout,
    ).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    stages = (train, val, classes, counts, criterion, device, precision, out, progress, ctx)
    result = None
    resuming_stage2 = cfg.resume and cfg.mode == "probe+finetune" and (out / "last.pt").exists()
    if cfg.mode in ("frozen", "probe+finetune") and not resuming_stage2:
        result = _fit_head(model, cfg, *stages)
    if cfg.mode in ("finetune", "probe+finetune") and cfg.epochs > 0:
        result = _fit_all(model, cfg, *stages)
    if result is None:
        raise WikiartError("nothing to train: epochs is 0")
    if not ctx.is_main:
        return {}
    if result.best_path != out / "model.pt":
        os.replace(result.best_path, out / "model.pt")  # frozen mode: the head run's best
    history = result.history
    _write_history_files(out, history)

    metrics: dict[str, Any] = {}
    if "test" in ds.splits:
        model, payload = load_classifier(out / "model.pt", device)
        metrics = evaluate_refs(
            model,
            payload,
            ds.split("test"),
            out,
            device=device,
            tta=cfg.tta,
            batch_size=max(cfg.batch_size, 64),
            cache=cache,
            precision=precision,
        )
    _write_report(out, cfg, classes, counts, history, metrics, time.perf_counter() - t_start)
    return metrics


def _write_history_files(out: Path, history: list[dict[str, Any]]) -> None:
    """history.csv (the contract's; a head-only run trains in a subfolder) and loss.png."""
    from wikiart.report.classifier_plots import plot_history

    write_history_csv(out / "history.csv", history)
    plot_history(history, out / "loss.png")


# -- evaluation and prediction ---------------------------------------------------------------
def inference_precision(payload: dict[str, Any], device: torch.device) -> str:
    """The precision the run used for inference, where this device can do it."""
    stored = payload["preprocess"].get("precision", "auto")
    if stored == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
        return "fp32"
    return stored


def load_classifier(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a classifier from its checkpoint alone (architecture, classes, preprocessing)."""
    payload = load_checkpoint(path)
    check_kind(payload, KIND, path)
    cfg = dict(payload["model_config"])
    cfg["pretrained"] = None
    arch = cfg.pop("arch")
    num_classes = cfg.pop("num_classes", len(payload["classes"]))
    model = build_classifier(arch, num_classes, **cfg)
    load_weights(model, payload, path)
    model = model.to(device)
    if payload["preprocess"].get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    return model.eval(), payload


def evaluate_refs(
    model: nn.Module,
    payload: dict[str, Any],
    refs,
    out: Path,
    *,
    device: torch.device,
    tta: bool = True,
    batch_size: int = 64,
    cache: dict[str, Any],
    precision: str = "auto",
) -> dict[str, Any]:
    """Metrics of a classifier on ``refs``, mapped by style name through the checkpoint's own
    class list; writes metrics.json, per_class.csv and confusion.png into ``out``."""
    from wikiart.report.classifier_plots import plot_confusion

    classes = ClassMap(tuple(payload["classes"]))
    pre = payload["preprocess"]
    cache = {**cache, "image_size": pre["image_size"], "fit": pre.get("fit", "crop")}
    data = prepare_split(refs, classes, split="test", **cache)
    data.transform = eval_transform(pre["image_size"])
    loader = make_loader(data, batch_size=batch_size, num_workers=loader_workers(None))
    logits, labels = predict_logits(
        model,
        loader,
        device,
        precision=precision,
        tta=tta,
        channels_last=bool(pre.get("channels_last")),
    )
    metrics = _metrics_from_logits(logits, labels, classes.classes)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "metrics.json", metrics)
    with open(out / "per_class.csv", "w", newline="", encoding="utf-8") as fh:
        rows = per_class_rows(metrics)
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cm = confusion(labels.numpy(), logits.argmax(1).numpy(), len(classes))
    plot_confusion(cm, classes.classes, out / "confusion.png")
    return metrics


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
    tta: bool = True,
    batch_size: int = 64,
    cache_dir: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """`wikiart evaluate`: DATA is a split folder or a dataset root (its test/ is used)."""
    dev = resolve_device(device)
    model, payload = load_classifier(checkpoint, dev)
    root, refs = open_eval_split(data)
    cache = {"source": root, "cache_root": cache_dir, "workers": None, "progress": progress}
    return evaluate_refs(
        model,
        payload,
        refs,
        Path(out),
        device=dev,
        tta=tta,
        batch_size=batch_size,
        cache=cache,
        precision=inference_precision(payload, dev),
    )


def predict_images(
    checkpoint: str | os.PathLike[str],
    images: Sequence[str | os.PathLike[str]],
    *,
    top_k: int = 5,
    device: str = "auto",
    tta: bool = True,
) -> list[dict[str, Any]]:
    """Top-k styles with probabilities for each image file, preprocessed as in training."""
    dev = resolve_device(device)
    model, payload = load_classifier(checkpoint, dev)
    pre = payload["preprocess"]
    classes = payload["classes"]
    results = []
    for path in images:
        try:
            with open(path, "rb") as fh:
                arr = decode_fitted(fh.read(), pre["image_size"], pre.get("fit", "crop"))
        except OSError as exc:
            raise WikiartError(f"cannot read {display(path)}: {exc.strerror or exc}") from None
        except Exception as exc:
            raise WikiartError(f"{display(path)} is not a usable image: {exc}") from None
        x = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None]
        batch = [(x, torch.zeros(1, dtype=torch.long))]
        logits, _ = predict_logits(
            model,
            batch,
            dev,
            precision=inference_precision(payload, dev),
            tta=tta,
            channels_last=bool(pre.get("channels_last")),
        )
        probs = torch.softmax(logits[0], dim=0)
        k = min(top_k, len(classes))
        top = torch.topk(probs, k)
        results.append(
            {
                "image": display(path),
                "top": [
                    {"style": classes[i], "probability": round(float(p), 4)}
                    for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
                ],
            }
        )
    return results


# -- files -----------------------------------------------------------------------------------
def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _write_report(out: Path, cfg, classes, counts, history, metrics, seconds: float) -> None:
    lines = [
        f"# Style classifier: {cfg.arch}",
        "",
        f"- data: `{cfg.data.data}`, {len(classes)} styles, image size {cfg.data.image_size}",
        f"- mode {cfg.mode}, imbalance `{cfg.imbalance}`, {len(history)} epochs recorded, "
        f"wall time {seconds / 60:.1f} min",
        "",
    ]
    if metrics:
        lines += [
            "## Test split",
            "",
            "| n | accuracy | balanced accuracy | macro-F1 | top-5 |",
            "|---:|---:|---:|---:|---:|",
            f"| {metrics['n']} | {metrics['accuracy']:.3f} | {metrics['balanced_accuracy']:.3f} "
            f"| {metrics['macro_f1']:.3f} | {_fmt(metrics['top5_accuracy'])} |",
            "",
            "| style | train images | precision | recall | F1 | test support |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for i, name in enumerate(classes.classes):
            pc = metrics["per_class"][name]
            lines.append(
                f"| {name} | {int(counts[i])} | {pc['precision']:.3f} | {pc['recall']:.3f} "
                f"| {pc['f1']:.3f} | {pc['support']} |"
            )
        lines += ["", "![confusion matrix](confusion.png)", ""]
    lines += ["## Training", "", "![loss](loss.png)", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
