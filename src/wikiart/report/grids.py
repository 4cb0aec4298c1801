"""Render grids of the models that re-paint images in named styles (the style generator, AdaIN
transfer): rows are inputs, columns are the original, its own-style reconstruction and each
requested style (or the content and each style), every column labelled."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from wikiart.imaging import to_hwc, unit_to_hwc
from wikiart.models.repaint import Repainter, render_styles


def plot_render_grid(
    cells: Sequence[Sequence[np.ndarray | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | os.PathLike[str],
    cell: float = 1.2,
) -> Path:
    """``cells[r][c]`` is an HWC uint8 image (or None: an empty cell)."""
    from wikiart.report.plots import image_grid  # matplotlib only once a grid is drawn

    rows = [(row_labels[r] if r < len(row_labels) else "", cells[r]) for r in range(len(cells))]
    return image_grid(rows, path, cell=cell, col_labels=col_labels)


def write_render_grid(
    model: Repainter,
    x: torch.Tensor,
    row_labels: Sequence[str],
    styles: Sequence[str] | None,
    path: Path,
) -> Path:
    """uint8 inputs ``N x 3 x S x S`` labelled with their own styles, as rows; columns: the
    original, its own-style reconstruction, then each of ``styles`` (default: every style)."""
    styles = list(model.style_names) if styles is None else list(styles)
    own = [model.style_index(s) for s in row_labels]
    idx = [model.style_index(s) for s in styles]
    r = render_styles(model, x, idx)
    own_r = (
        torch.stack([render_styles(model, x[i : i + 1], [own[i]])[0, 0] for i in range(len(x))])
        if len(x)
        else r[:, :0].squeeze(1)
    )
    cols = [to_hwc(x), unit_to_hwc(own_r)] + [unit_to_hwc(r[:, j]) for j in range(len(idx))]
    cells = [[c[i] for c in cols] for i in range(len(x))]
    return plot_render_grid(cells, list(row_labels), ["original", "own style", *styles], path)
