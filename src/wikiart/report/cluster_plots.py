"""Scatter plots of embeddings in 2-D: one colour *and* one marker per style, with a legend, so
styles stay distinguishable in print and for colour-blind readers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wikiart.files import save_figure

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", "h", ">", "p", "d", "8", "H")


def style_look(index: int, count: int) -> tuple[tuple[float, ...], str]:
    """Colour and marker of style ``index`` of ``count``: colours from tab10/tab20, markers
    cycling on a different period, so no two of up to 150 styles look the same."""
    cmap = plt.get_cmap("tab10" if count <= 10 else "tab20")
    return cmap(index % cmap.N), MARKERS[index % len(MARKERS)]


def plot_scatter(
    points: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """``points``: ``N x 2``; ``labels``: style index per point."""
    points = np.asarray(points)
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(8.5, 6))
    for i, name in enumerate(classes):
        mask = labels == i
        if not mask.any():
            continue
        colour, marker = style_look(i, len(classes))
        ax.scatter(
            points[mask, 0],
            points[mask, 1],
            s=22,
            color=colour,
            marker=marker,
            alpha=0.8,
            linewidths=0.3,
            edgecolors="black",
            label=f"{name.replace('_', ' ')} ({int(mask.sum())})",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="style")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)
