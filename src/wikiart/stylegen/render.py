"""Rendering with a trained generator: `wikiart render` (one PNG per image and style, and
``grid.png``), and the render grids of training and evaluation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wikiart.checkpoints import load_model
from wikiart.data.images import read_image_file
from wikiart.device import resolve_device
from wikiart.errors import WikiartError
from wikiart.files import save_image
from wikiart.models.stylegen import StyleGenerator
from wikiart.stylegen.frozen import to_uint8
from wikiart.stylegen.settings import KIND


def load_stylegen(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[StyleGenerator, dict[str, Any]]:
    """Rebuild a style generator (with its style table) from its checkpoint alone."""
    _, model, payload = load_model(path, device, kind=KIND)
    return model, payload  # type: ignore[return-value]


@torch.inference_mode()
def render(
    model: StyleGenerator, x: torch.Tensor, styles: Sequence[int], batch_size: int = 64
) -> torch.Tensor:
    """uint8 images ``N x 3 x S x S`` -> ``N x len(styles) x 3 x S x S`` renders in [0, 1]."""
    device = next(model.parameters()).device
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        code = model.encode(xb)
        per = [
            model.decode(code, torch.full((len(xb),), s, device=device, dtype=torch.long))
            for s in styles
        ]
        outs.append(torch.stack(per, 1).float().cpu())
    if not outs:
        return torch.zeros(0, len(styles), 3, model.image_size, model.image_size)
    return torch.cat(outs)


def _hwc(t: torch.Tensor) -> np.ndarray:
    """``N x 3 x H x W`` renders in [0, 1] -> ``N x H x W x 3`` uint8 arrays."""
    return to_uint8(t).permute(0, 2, 3, 1).numpy()


def write_grid(
    model: StyleGenerator,
    x: torch.Tensor,
    row_labels: Sequence[str],
    styles: Sequence[str] | None,
    path: Path,
) -> Path:
    """Rows: inputs; columns: original, own-style reconstruction, then each style."""
    from wikiart.report.stylegen_plots import plot_render_grid

    styles = list(model.style_names) if styles is None else list(styles)
    own = [model.style_index(s) for s in row_labels]
    idx = [model.style_index(s) for s in styles]
    r = render(model, x, idx)
    own_r = (
        torch.stack([render(model, x[i : i + 1], [own[i]])[0, 0] for i in range(len(x))])
        if len(x)
        else r[:, :0].squeeze(1)
    )
    cols = [x.permute(0, 2, 3, 1).numpy(), _hwc(own_r)] + [_hwc(r[:, j]) for j in range(len(idx))]
    cells = [[c[i] for c in cols] for i in range(len(x))]
    return plot_render_grid(cells, list(row_labels), ["original", "own style", *styles], path)


def render_command(
    checkpoint: str | os.PathLike[str],
    images: Sequence[str | os.PathLike[str]],
    styles: Sequence[str],
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
) -> list[Path]:
    """`wikiart render`: one PNG per (image, style) and ``grid.png``; returns the PNGs."""
    from PIL import Image

    dev = resolve_device(device)
    model, payload = load_stylegen(checkpoint, dev)
    if not styles:
        raise WikiartError(f"no --style given; this model knows {model.style_names}")
    idx = [model.style_index(s) for s in styles]  # unknown names fail before any work
    fit = payload["preprocess"].get("fit", "crop")
    x = torch.stack([read_image_file(p, model.image_size, fit) for p in images])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = render(model, x, idx)
    written = []
    for i, src in enumerate(images):
        stem = Path(os.fsdecode(src)).stem
        for j, name in enumerate(styles):
            path = out / f"{i:03d}_{stem}_{name}.png"
            save_image(Image.fromarray(_hwc(r[i : i + 1, j])[0]), path)
            written.append(path)
    _grid_for_files(model, x, [Path(os.fsdecode(p)) for p in images], list(styles), out)
    return written


def _grid_for_files(
    model: StyleGenerator, x: torch.Tensor, paths: list[Path], styles: list[str], out: Path
) -> Path:
    """The render grid for image files: an image's own style is its parent folder's name
    (the WikiArt layout) when the model knows it; otherwise that cell stays empty."""
    from wikiart.report.stylegen_plots import plot_render_grid

    r = render(model, x, [model.style_index(s) for s in styles])
    rows, labels = [], []
    for i, path in enumerate(paths):
        own_name = path.parent.name if path.parent.name in model.style_names else None
        own = None
        if own_name is not None:
            own = _hwc(render(model, x[i : i + 1], [model.style_index(own_name)])[:, 0])[0]
        rows.append(
            [
                x[i].permute(1, 2, 0).numpy(),
                own,
                *(_hwc(r[i : i + 1, j])[0] for j in range(len(styles))),
            ]
        )
        labels.append(f"{path.name}\n({own_name})" if own_name else path.name)
    return plot_render_grid(rows, labels, ["original", "own style", *styles], out / "grid.png")
