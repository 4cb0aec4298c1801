"""What each style looks like, measured once on the training split: the frozen classifier's
per-style mean embeddings (the generator's style table, ``style_embeddings.pt``) and the average
Lite0 feature statistics (the texture term's target). The average colour statistics (the colour
baseline's target) are `wikiart.eval.color_baseline.color_stats`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from wikiart.checkpoints import FORMAT_VERSION, load_checkpoint, save_checkpoint
from wikiart.data.loader import make_loader
from wikiart.device import loader_workers
from wikiart.errors import WikiartError
from wikiart.functional import channel_mean_std

EMBEDDINGS_FILE = "style_embeddings.pt"


@torch.inference_mode()
def style_embeddings(
    clf: nn.Module,
    data: Dataset,
    classes: Sequence[str],
    device: torch.device,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Per-style mean penultimate embeddings of ``data`` (training images at the classifier's
    own size), with the mean and spread of all embeddings (to standardise the table)."""
    loader = make_loader(data, batch_size=batch_size, num_workers=loader_workers(None))
    feats, labels = [], []
    for x, y in loader:
        feats.append(clf.embed(x.to(device)).float().cpu())
        labels.append(y)
    z, lab = torch.cat(feats), torch.cat(labels)
    k = len(classes)
    counts = torch.bincount(lab, minlength=k)
    if (counts == 0).any():
        missing = [classes[i] for i in torch.nonzero(counts == 0).flatten().tolist()]
        raise WikiartError(f"no training images of style(s) {missing}: cannot embed them")
    means = torch.zeros(k, z.shape[1]).index_add_(0, lab, z) / counts[:, None]
    return {
        "classes": list(classes),
        "mean": means,
        "embed_mean": z.mean(0),
        "embed_std": z.std(0).clamp_min(1e-6),
        "counts": counts.tolist(),
    }


def standardised_table(emb: dict[str, Any]) -> torch.Tensor:
    """The style table the generator sees: per-style means standardised per dimension."""
    return (emb["mean"] - emb["embed_mean"]) / emb["embed_std"]


def save_style_embeddings(path: str | os.PathLike[str], emb: dict[str, Any]) -> None:
    """``style_embeddings.pt``: the table with its style names, written atomically like a
    checkpoint and read back with ``weights_only=True``."""
    save_checkpoint(path, {**emb, "kind": "style_embeddings", "format_version": FORMAT_VERSION})


def load_style_embeddings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``style_embeddings.pt`` back; any other file is a clear error."""
    emb = load_checkpoint(path)
    if emb.get("kind") != "style_embeddings":
        raise WikiartError(f"{path} is not a style embeddings file")
    return emb


@torch.no_grad()
def texture_stats(
    features: nn.Module,
    data: Dataset,
    k: int,
    device: torch.device,
    batch_size: int = 64,
) -> dict[str, list[torch.Tensor]]:
    """Per-style average, over the training images, of each image's per-channel mean and
    standard deviation in every layer of the frozen pretrained ``features`` (the statistics
    that AdaIN and neural style transfer treat as a texture's signature): ``{"mean": [k x C_l
    per layer], "std": [...]}``, on the CPU."""
    loader = make_loader(data, batch_size=batch_size)
    sums: list[torch.Tensor] = []
    counts = torch.zeros(k, dtype=torch.float64)
    for x, y in loader:
        maps = features(x.to(device).float() / 255)
        stats = [torch.cat([s.flatten(1) for s in channel_mean_std(m.float())], 1) for m in maps]
        if not sums:
            sums = [torch.zeros(k, st.shape[1], dtype=torch.float64) for st in stats]
        for acc, st in zip(sums, stats, strict=True):
            acc.index_add_(0, y, st.double().cpu())
        counts.index_add_(0, y, torch.ones(len(y), dtype=torch.float64))
    avg = [(acc / counts.clamp_min(1)[:, None]).float() for acc in sums]
    half = [a.shape[1] // 2 for a in avg]
    return {
        "mean": [a[:, :h].contiguous() for a, h in zip(avg, half, strict=True)],
        "std": [a[:, h:].contiguous() for a, h in zip(avg, half, strict=True)],
    }
