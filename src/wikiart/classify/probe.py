"""The head-only stage (``frozen`` and the first half of ``probe+finetune``): embeddings of the
frozen backbone computed once per image and its mirror (kept in the feature cache,
`wikiart.data.features`), then a regularised linear head fitted on them, the multinomial logistic
regression of a linear probe, trained by the one training loop."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, TensorDataset

from wikiart.checkpoints import load_checkpoint
from wikiart.classify.infer import predict_logits
from wikiart.classify.stages import Stage, balanced_loader, payload_extra, val_numbers
from wikiart.data.balance import class_counts
from wikiart.data.features import FeatureStore, feature_file, image_keys
from wikiart.data.loader import make_loader
from wikiart.data.transforms import eval_transform
from wikiart.device import loader_workers
from wikiart.train.loop import FitResult, LoopConfig, StepOutput, fit
from wikiart.train.losses import make_loss
from wikiart.train.optim import make_scheduler

log = logging.getLogger(__name__)


def _store(model: nn.Module, st: Stage) -> FeatureStore:
    cfg = st.cfg
    spec = [model.config, cfg.data.image_size, cfg.data.fit, st.precision, cfg.channels_last]
    return FeatureStore(feature_file(spec, model.state_dict(), cfg.data.cache_dir))


def store_embeddings(
    model: nn.Module,
    data,
    store: FeatureStore,
    device: torch.device,
    *,
    image_size: int,
    precision: str,
    channels_last: bool,
    batch_size: int = 64,
) -> list[str]:
    """Embed (plain and mirrored) the images of ``data`` that ``store`` lacks and add them;
    returns the keys of every image of ``data``, in its order."""
    keys = image_keys(data.refs)
    missing = [i for i, k in enumerate(keys) if k not in store]
    if missing:
        todo = data.subset(np.array(missing), eval_transform(image_size))
        loader = make_loader(todo, batch_size=batch_size, num_workers=loader_workers(None))
        common = {"precision": precision, "channels_last": channels_last, "embed": True}
        plain = predict_logits(model, loader, device, **common)[0]
        mirror = predict_logits(model, loader, device, flip=True, **common)[0]
        store.add([keys[i] for i in missing], plain, mirror)
    return keys


def embeddings(model: nn.Module, datasets, st: Stage):
    """``((plain, mirrored), labels)`` per dataset, from the feature cache where it has them;
    the rest computed, added and saved once."""
    cfg, store = st.cfg, _store(model, st)
    keys = [
        store_embeddings(
            model, data, store, st.device, image_size=cfg.data.image_size,
            precision=st.precision, channels_last=cfg.channels_last,
            batch_size=max(cfg.batch_size, 64),
        )
        for data in datasets
    ]  # fmt: skip
    store.save()
    return [
        (store.get(ks), torch.as_tensor(data.labels, dtype=torch.long))
        for data, ks in zip(datasets, keys, strict=True)
    ]


def feature_stats(parts: list[torch.Tensor], chunk: int = 4096) -> tuple[torch.Tensor, ...]:
    """Mean and (unbiased) standard deviation over the rows of all ``parts``, in float64 and in
    chunks: no joined copy of the embeddings and no temporary their size."""
    n = sum(len(p) for p in parts)
    total = sum(p[i : i + chunk].double().sum(0) for p in parts for i in range(0, len(p), chunk))
    mean = total / max(n, 1)
    sq = sum(
        ((p[i : i + chunk].double() - mean) ** 2).sum(0)
        for p in parts
        for i in range(0, len(p), chunk)
    )
    std = (sq / max(n - 1, 1)).sqrt()
    return mean.float(), std.float()


def train_head(
    model, st: Stage, parts: list[torch.Tensor], labels, run_dir: Path, eval_fn=None
) -> FitResult:
    """A linear head on fixed embeddings (standardised with their statistics). ``parts``: the
    embedding tensors whose rows, in order, go with ``labels``, read in place (never joined:
    at 45k paintings each is a GB)."""
    cfg, device = st.cfg, st.device
    counts = class_counts(labels.numpy(), len(st.classes))
    criterion = make_loss(cfg.imbalance, counts, label_smoothing=cfg.label_smoothing).to(device)
    mean, std = feature_stats(parts)
    with torch.no_grad():
        model.set_embedding_stats(mean.to(device), std.to(device))
    bounds = np.cumsum([0] + [len(p) for p in parts])
    data = ConcatDataset(
        [
            TensorDataset(p, labels[a:b])
            for p, a, b in zip(parts, bounds[:-1], bounds[1:], strict=True)
        ]
    )
    loader = balanced_loader(data, labels.numpy(), cfg, len(st.classes), batch_size=256)
    # Adam with a coupled L2 penalty (decoupled weight decay regularised far too weakly here)
    opt = torch.optim.Adam(model.head.parameters(), lr=cfg.lr * 3, weight_decay=cfg.head_l2)

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        f, y = (t.to(dev) for t in batch)
        return StepOutput(criterion(m.logits_from_embedding(f), y), len(y))

    loop = LoopConfig.for_job(
        cfg,
        device,
        run_dir,
        st.progress,
        epochs=cfg.head_epochs,
        amp="fp32",
        grad_clip=None,
        patience=None,
        monitor=None,  # a convex, regularised fit: its last epoch, not a noisy validation pick
        is_main=st.ctx.is_main,  # every process fits the same head; one writes it
    )
    scheduler = make_scheduler(opt, cfg.schedule, len(loader) * cfg.head_epochs)
    extra = lambda: payload_extra(model, st)  # noqa: E731
    result = fit(
        model, opt, loader, step, loop, eval_fn=eval_fn, scheduler=scheduler,
        make_payload_extra=extra,
    )  # fmt: skip
    model.load_state_dict(load_checkpoint(result.best_path)["state_dict"])
    return result


def fit_head(model, st: Stage) -> FitResult:
    """Stage 1: embeddings of the frozen backbone, then only the head trained on them. In
    frozen mode the same recipe is then refitted on train + validation, as scikit-learn refits
    after cross-validation (nothing is chosen on validation here); the history shown stays that
    of the validated fit."""
    cfg, device = st.cfg, st.device
    model.set_backbone_trainable(False)
    t0 = time.perf_counter()
    ((f0, f1), y0), ((vf, _), vy) = embeddings(model, [st.train, st.val], st)
    log.info("head: embeddings of %d images ready in %.0fs", len(y0), time.perf_counter() - t0)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        logits = m.logits_from_embedding(vf.to(device)).float().cpu()
        return val_numbers(logits, vy, st)

    # the embeddings are read where they are (views of the feature store's tensors): N x
    # thousands of floats each, GBs at 45k images, never joined into another copy
    labels = torch.cat([y0, y0])
    result = train_head(model, st, [f0, f1], labels, st.out / "head", eval_fn)
    if cfg.mode == "frozen" and cfg.refit and len(vy):
        torch.manual_seed(cfg.seed)
        model.head.reset_parameters()
        labels = torch.cat([labels, vy])
        refit = train_head(model, st, [f0, f1, vf], labels, st.out / "head-refit")
        log.info("head refitted on %d train + validation embeddings", len(labels))
        result = dataclasses.replace(refit, history=result.history)
    model.set_backbone_trainable(True)
    return result
