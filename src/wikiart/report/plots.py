"""Figures written as PNG files (matplotlib's non-interactive Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wikiart.files import save_figure


def plot_counts(counts: Mapping[str, Mapping[str, int]], path: str | os.PathLike[str]) -> Path:
    """Horizontal bars of images per style, one bar group per split (the imbalance at a glance)."""
    styles = sorted({s for c in counts.values() for s in c})
    splits = list(counts)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(styles) + 1.5))
    height = 0.8 / max(1, len(splits))
    y = np.arange(len(styles))
    for k, split in enumerate(splits):
        vals = [counts[split].get(s, 0) for s in styles]
        ax.barh(y + k * height, vals, height=height, label=split)
    ax.set_yticks(y + height * (len(splits) - 1) / 2, styles)
    ax.invert_yaxis()
    ax.set_xlabel("images")
    ax.set_title("Images per style")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)


def image_grid(
    rows: Sequence[tuple[str, Sequence[np.ndarray | None]]],
    path: str | os.PathLike[str],
    cell: float = 1.3,
    col_labels: Sequence[str] | None = None,
) -> Path:
    """A labelled grid: one row per label, its images (HWC uint8) side by side; a None image is
    an empty cell, and ``col_labels`` (if given) title the columns."""
    ncols = len(col_labels) if col_labels else max((len(imgs) for _, imgs in rows), default=1)
    nrows = max(len(rows), 1)
    top = 0.5 if col_labels else 0.0
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols + 1.6, cell * nrows + top), squeeze=False
    )
    for r in range(nrows):
        label, imgs = rows[r] if r < len(rows) else ("", [])
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(imgs) and imgs[c] is not None:
                ax.imshow(imgs[c])
            if r == 0 and col_labels:
                ax.set_title(col_labels[c].replace("_", " "), fontsize=8)
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return Path(path)
