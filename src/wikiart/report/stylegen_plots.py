"""The render grid of the style-conditioned generator: rows are inputs, columns are the
original, its own-style reconstruction and each requested style, every column labelled."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wikiart.report.plots import image_grid


def plot_render_grid(
    cells: Sequence[Sequence[np.ndarray | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | os.PathLike[str],
    cell: float = 1.2,
) -> Path:
    """``cells[r][c]`` is an HWC uint8 image (or None: an empty cell)."""
    rows = [(row_labels[r] if r < len(row_labels) else "", cells[r]) for r in range(len(cells))]
    return image_grid(rows, path, cell=cell, col_labels=col_labels)
