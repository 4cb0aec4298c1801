"""Autoencoder figures: inputs above their reconstructions (PNG, matplotlib Agg)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wikiart.files import save_figure


def plot_reconstructions(
    inputs: np.ndarray,
    recons: np.ndarray,
    path: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
    title: str = "inputs (top) and reconstructions (bottom)",
    cell: float = 1.6,
) -> Path:
    """Two rows: the input images (``N x H x W x 3`` uint8) over their reconstructions, each
    column captioned with its style, so a blurred or colourless model is plain to see."""
    n = max(1, len(inputs))
    fig, axes = plt.subplots(2, n, figsize=(cell * n + 0.8, 2 * cell + 0.8), squeeze=False)
    for row, (images, name) in enumerate(((inputs, "input"), (recons, "reconstruction"))):
        for c in range(n):
            ax = axes[row][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c])
            if row == 0 and labels is not None and c < len(labels):
                ax.set_title(str(labels[c]).replace("_", " "), fontsize=7)
        axes[row][0].set_ylabel(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)
