"""Classifier figures: the confusion matrix and the training curves (PNG, matplotlib Agg)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from wikiart.files import save_figure

ANNOTATE_MAX_CLASSES = 30


def plot_confusion(
    cm: np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike[str],
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Path:
    """A heat map of ``cm`` (rows true, columns predicted), class names on both axes.

    Row-normalised by default so that rare styles are as readable as common ones (each row shows
    where that style's images went; the diagonal is its recall). Cells are annotated (percent or
    counts) when there are at most 30 classes; beyond that the numbers would not fit."""
    counts = np.asarray(cm, dtype=np.float64)
    num = len(classes)
    if counts.shape != (num, num):
        raise ValueError(f"confusion matrix shape {counts.shape} does not match {num} classes")
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        values = 100 * np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        vmax, bar_label = 100.0, "% of the true style's images"
    else:
        values = counts
        vmax, bar_label = max(1.0, float(counts.max(initial=0.0))), "images"

    side = min(24.0, max(4.5, 0.42 * num + 2.5))
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(bar_label)
    ticks = np.arange(num)
    label_size = 9 if num <= 15 else 7 if num <= 30 else 6
    ax.set_xticks(ticks, list(classes), rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, list(classes))
    ax.tick_params(labelsize=label_size)
    ax.set_xlabel("predicted style")
    ax.set_ylabel("true style")
    ax.set_title(title)

    if num <= ANNOTATE_MAX_CLASSES:
        text_size = 8 if num <= 12 else 6 if num <= 20 else 5
        for i in range(num):
            for j in range(num):
                v = values[i, j]
                if counts[i, j] == 0:
                    continue  # empty cells stay blank: easier to see where the mass is
                text = f"{v:.0f}" if normalize else f"{int(counts[i, j])}"
                colour = "white" if v > 0.6 * vmax else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=text_size, color=colour)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of ``key``, skipping rows where it is missing, empty or not a number."""
    xs: list[float] = []
    ys: list[float] = []
    for i, row in enumerate(history):
        value = row.get(key)
        if value is None or value == "":
            continue
        try:
            y = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(y):
            continue
        try:
            x = float(row.get("epoch", i + 1))
        except (TypeError, ValueError):
            x = float(i + 1)
        xs.append(x)
        ys.append(y)
    return xs, ys


def _panel(ax: Any, history: Sequence[Mapping[str, Any]], keys: Sequence[str], ylabel: str) -> None:
    drawn = 0
    for key in keys:
        xs, ys = _series(history, key)
        if ys:
            ax.plot(xs, ys, marker="o" if len(ys) < 30 else None, markersize=3, label=key)
            drawn += 1
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def plot_history(
    history: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    keys: Sequence[str] = ("train_loss", "val_loss"),
    metric_keys: Sequence[str] = ("val_macro_f1", "val_accuracy"),
) -> Path:
    """Loss curves (left) and validation metrics (right) against the epoch.

    Rows are ``history.csv`` rows (dicts); a key missing from some or all rows, or an empty cell,
    is skipped rather than failing, since a run without validation data has no val metrics."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    _panel(left, history, keys, "loss")
    left.set_title("Loss")
    _panel(right, history, metric_keys, "score")
    right.set_title("Metrics")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)
