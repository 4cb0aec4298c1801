"""What the classifier's training stages share: the `Stage` they run in (config, data, loss,
device, run folder), the training loader with the imbalance strategy's sampling, the checkpoint's
classifier fields and the validation numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from wikiart.classify.infer import KIND, metrics_from_logits
from wikiart.classify.settings import ClassifierConfig
from wikiart.data.balance import (
    DistributedWeightedSampler,
    make_weighted_sampler,
    resample_indices,
)
from wikiart.data.classmap import ClassMap
from wikiart.data.loader import make_loader


@dataclass
class Stage:
    """Everything a training stage needs besides the model."""

    cfg: ClassifierConfig
    train: Any  # CachedImageDataset (augmenting)
    val: Any  # CachedImageDataset (whole images)
    classes: ClassMap
    counts: np.ndarray  # training images per class
    criterion: nn.Module
    device: torch.device
    precision: str
    out: Path
    progress: bool
    ctx: Any  # wikiart.distributed context


def balanced_loader(dataset, labels: np.ndarray, cfg: ClassifierConfig, k: int, ctx=None, **kw):
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


def payload_extra(model: nn.Module, st: Stage) -> dict[str, Any]:
    """The classifier's checkpoint fields: what `wikiart.checkpoints.load_model` rebuilds it
    from, and the preprocessing inference repeats."""
    cfg = st.cfg
    return {
        "kind": KIND,
        "model_config": model.config,
        "classes": list(st.classes.classes),
        "preprocess": {
            "image_size": cfg.data.image_size,
            "fit": cfg.data.fit,
            "mean": list(model.mean),
            "std": list(model.std),
            "channels_last": cfg.channels_last,
            # what inference uses too, so `wikiart evaluate` reproduces the run's metrics.json
            "precision": st.precision,
        },
        "train_counts": [int(c) for c in st.counts],
        "imbalance": cfg.imbalance,
    }


def val_numbers(logits: torch.Tensor, labels: torch.Tensor, st: Stage) -> dict[str, float]:
    m = metrics_from_logits(logits, labels, st.classes.classes)
    return {
        "val_loss": float(st.criterion(logits.to(st.device), labels.to(st.device))),
        "val_accuracy": m["accuracy"],
        "val_balanced_accuracy": m["balanced_accuracy"],
        "val_macro_f1": m["macro_f1"],
    }
