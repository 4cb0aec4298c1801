"""A trained classifier at work: logits for a loader, metrics on a split (`wikiart evaluate`),
top-k styles of image files (`wikiart predict`). Every input is preprocessed exactly as in
training, from the checkpoint's own ``preprocess`` and class list."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wikiart.checkpoints import load_model
from wikiart.config import EvaluateConfig
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_eval_split
from wikiart.data.images import read_image_file
from wikiart.data.loader import make_loader, prepare_split
from wikiart.data.refs import display
from wikiart.data.transforms import eval_transform
from wikiart.device import autocast, inference_precision, loader_workers, resolve_device
from wikiart.eval.metrics import classification_metrics, confusion, per_class_rows
from wikiart.files import write_csv, write_json

KIND = "classifier"


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    loader: Iterable[Any],
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
        x = to_device(x, device, channels_last)
        if flip:
            x = x.flip(-1)
        with autocast(device, precision):
            out = fn(x).float()
            if tta:
                out = (out + fn(x.flip(-1)).float()) / 2
        outs.append(out.cpu())
        labels.append(y)
    return torch.cat(outs), torch.cat(labels)


def metrics_from_logits(
    logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]
) -> dict[str, Any]:
    probs = torch.softmax(logits, dim=1).numpy()
    return classification_metrics(labels.numpy(), probs.argmax(axis=1), list(classes), probs=probs)


def load_classifier(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a classifier from its checkpoint alone (architecture, classes, preprocessing)."""
    _, model, payload = load_model(path, device, kind=KIND)
    return model, payload


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
    metrics = metrics_from_logits(logits, labels, classes.classes)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    write_csv(out / "per_class.csv", per_class_rows(metrics))
    cm = confusion(labels.numpy(), logits.argmax(1).numpy(), len(classes))
    plot_confusion(cm, classes.classes, out / "confusion.png")
    return metrics


def evaluate_checkpoint(cfg: EvaluateConfig, progress: bool = False) -> dict[str, Any]:
    """`wikiart evaluate` of a classifier checkpoint: ``cfg.data`` is a split folder or a dataset
    root (its test/ is used, or the test split the checkpoint's run carved for itself)."""
    device = resolve_device(cfg.device)
    model, payload = load_classifier(cfg.checkpoint, device)
    root, refs = open_eval_split(cfg.data, checkpoint=cfg.checkpoint)
    cache = {"source": root, "cache_root": cfg.cache_dir, "workers": None, "progress": progress}
    return evaluate_refs(
        model, payload, refs, Path(cfg.out), device=device, tta=cfg.tta,
        batch_size=cfg.batch_size, cache=cache, precision=inference_precision(payload, device),
    )  # fmt: skip


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
        x = read_image_file(path, pre["image_size"], pre.get("fit", "crop"))[None]
        logits, _ = predict_logits(
            model,
            [(x, torch.zeros(1, dtype=torch.long))],
            dev,
            precision=inference_precision(payload, dev),
            tta=tta,
            channels_last=bool(pre.get("channels_last")),
        )
        probs = torch.softmax(logits[0], dim=0)
        top = torch.topk(probs, min(top_k, len(classes)))
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
