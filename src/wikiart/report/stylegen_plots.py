"""The render grid of the style-conditioned generator: rows are inputs, columns are the
original, its own-style reconstruction and each requested style, every column labelled."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_render_grid(
    cells: Sequence[Sequence[np.ndarray | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | os.PathLike[str],
    cell: float = 1.2,
) -> Path:
    """``cells[r][c]`` is an HWC uint8 image (or None: an empty cell)."""
    nrows, ncols = max(len(cells), 1), len(col_labels)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols + 1.6, cell * nrows + 0.5), squeeze=False
    )
    for r in range(nrows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            img = cells[r][c] if r < len(cells) and c < len(cells[r]) else None
            if img is not None:
                ax.imshow(img)
            if r == 0:
                ax.set_title(col_labels[c].replace("_", " "), fontsize=8)
        if r < len(row_labels):
            axes[r][0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
