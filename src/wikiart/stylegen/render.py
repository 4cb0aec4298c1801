"""Rendering with a trained generator: `wikiart render` (one PNG per image and style, and
``grid.png``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from wikiart.checkpoints import load_model
from wikiart.data.images import read_image_file
from wikiart.device import resolve_device
from wikiart.errors import WikiartError
from wikiart.files import save_image
from wikiart.imaging import to_hwc, unit_to_hwc
from wikiart.models.repaint import render_styles
from wikiart.models.stylegen import StyleGenerator
from wikiart.report.grids import plot_render_grid
from wikiart.stylegen.settings import KIND, RenderConfig


def load_stylegen(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[StyleGenerator, dict[str, Any]]:
    """Rebuild a style generator (with its style table) from its checkpoint alone."""
    _, model, payload = load_model(path, device, kind=KIND)
    return model, payload  # type: ignore[return-value]


def render_command(cfg: RenderConfig) -> list[Path]:
    """`wikiart render`: one PNG per (image, style) and ``grid.png``; returns the PNGs."""
    from PIL import Image

    images, styles = cfg.image, cfg.style
    model, payload = load_stylegen(cfg.checkpoint, resolve_device(cfg.device))
    if not styles:
        raise WikiartError(f"no --style given; this model knows {model.style_names}")
    idx = [model.style_index(s) for s in styles]  # unknown names fail before any work
    fit = payload["preprocess"].get("fit", "crop")
    x = torch.stack([read_image_file(p, model.image_size, fit) for p in images])
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    r = render_styles(model, x, idx)
    written = []
    for i, src in enumerate(images):
        stem = Path(os.fsdecode(src)).stem
        for j, name in enumerate(styles):
            path = out / f"{i:03d}_{stem}_{name}.png"
            save_image(Image.fromarray(unit_to_hwc(r[i : i + 1, j])[0]), path)
            written.append(path)
    _grid_for_files(model, x, [Path(os.fsdecode(p)) for p in images], list(styles), out)
    return written


def _grid_for_files(
    model: StyleGenerator, x: torch.Tensor, paths: list[Path], styles: list[str], out: Path
) -> Path:
    """The render grid for image files: an image's own style is its parent folder's name
    (the WikiArt layout) when the model knows it; otherwise that cell stays empty."""
    r = render_styles(model, x, [model.style_index(s) for s in styles])
    rows, labels = [], []
    for i, path in enumerate(paths):
        own_name = path.parent.name if path.parent.name in model.style_names else None
        own = None
        if own_name is not None:
            own_r = render_styles(model, x[i : i + 1], [model.style_index(own_name)])
            own = unit_to_hwc(own_r[:, 0])[0]
        rows.append(
            [
                to_hwc(x[i]),
                own,
                *(unit_to_hwc(r[i : i + 1, j])[0] for j in range(len(styles))),
            ]
        )
        labels.append(f"{path.name}\n({own_name})" if own_name else path.name)
    return plot_render_grid(rows, labels, ["original", "own style", *styles], out / "grid.png")
