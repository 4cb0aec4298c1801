"""`wikiart transfer`: content images painted in styles given by name (the checkpoint's style
bank) or by an exemplar image, at the content's own size; one PNG per (content, style) and a
labelled ``grid.png``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wikiart.checkpoints import load_model
from wikiart.data.images import read_image_at_most
from wikiart.data.refs import display
from wikiart.device import resolve_device
from wikiart.errors import WikiartError
from wikiart.files import save_image
from wikiart.functional import preserve_color
from wikiart.imaging import to_hwc, unit_to_hwc, unit_to_uint8
from wikiart.models.transfer import StyleTransfer
from wikiart.transfer.settings import KIND, STYLE_SIZE, PaintConfig, checkpoint_path


def load_transfer(
    checkpoint: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[StyleTransfer, dict[str, Any]]:
    """A transfer model (encoder, decoder, style bank) rebuilt from its checkpoint alone, or
    the packaged one for ``builtin``."""
    _, model, payload = load_model(checkpoint_path(checkpoint), device, kind=KIND)
    return model, payload  # type: ignore[return-value]


@dataclass
class Style:
    """A target style: a name from the bank or an exemplar, as its AdaIN taps' statistics."""

    label: str
    mean: torch.Tensor  # C
    std: torch.Tensor  # C
    exemplar: torch.Tensor | None = None  # 3 x H x W uint8, for the grid


def resolve_style(model: StyleTransfer, spec: str, style_size: int = STYLE_SIZE) -> Style:
    """A style name the model knows, else an image file; anything else is one clear error."""
    if spec in model.style_names:
        i = model.style_index(spec)
        return Style(spec, model.style_mean[i], model.style_std[i])
    if not Path(spec).is_file():
        raise WikiartError(
            f"unknown style {spec!r}: neither a style this model knows "
            f"({', '.join(model.style_names)}) nor an image file"
        )
    img = read_image_at_most(spec, style_size)
    mean, std = style_statistics(model, img)
    return Style(Path(spec).stem, mean, std, img)


@torch.inference_mode()
def style_statistics(
    model: StyleTransfer, image: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """An exemplar's (``3 x H x W`` uint8) channel means and stds at the AdaIN taps."""
    mean, std = model.exemplar_statistics(image[None].to(model.style_mean.device).float() / 255)
    return mean[0], std[0]


@torch.inference_mode()
def paint(
    model: StyleTransfer,
    image: torch.Tensor,
    style: Style,
    *,
    alpha: float = 1.0,
    keep_colors: bool = False,
) -> torch.Tensor:
    """One content image (``3 x H x W`` uint8, any size) painted in ``style`` (`StyleTransfer.
    paint`: a small one scaled up to the model's ``min_side`` and back); ``3 x H x W`` in
    [0, 1] on the CPU."""
    dev = model.style_mean.device
    x01 = image[None].to(dev).float() / 255
    out = model.paint(x01, style.mean.to(dev), style.std.to(dev), alpha).float()
    if keep_colors:
        out = preserve_color(out, x01.float())
    return out[0].cpu()


def transfer_command(cfg: PaintConfig) -> list[Path]:
    """`wikiart transfer`: every content image in every style; returns the PNGs written (and
    writes ``grid.png``). Every input is checked before any work."""
    contents, styles = cfg.content, cfg.style
    if not contents:
        raise WikiartError("no --content image given")
    model, _ = load_transfer(cfg.checkpoint, resolve_device(cfg.device))
    if not styles:
        raise WikiartError(f"no --style given; this model knows {model.style_names}")
    targets = [resolve_style(model, s, cfg.style_size) for s in styles]
    images = [read_image_at_most(p, cfg.max_size) for p in contents]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    written, cells = [], []
    for i, (src, img) in enumerate(zip(contents, images, strict=True)):
        stem = _safe(Path(os.fsdecode(src)).stem)
        row = []
        for style in targets:
            result = paint(model, img, style, alpha=cfg.alpha, keep_colors=cfg.preserve_color)
            path = out / f"{i:03d}_{stem}_{_safe(style.label)}.png"
            _save_png(result, path)
            written.append(path)
            row.append(result)
        cells.append((img, row))
    _write_grid(cells, [Path(os.fsdecode(p)).name for p in contents], targets, out / "grid.png")
    return written


def _safe(name: str) -> str:
    """A file-name-safe form of a label."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "image"


def _save_png(x01: torch.Tensor, path: Path) -> None:
    from PIL import Image

    save_image(Image.fromarray(unit_to_hwc(x01)), path)


def _thumb(x: torch.Tensor, side: int = 256) -> np.ndarray:
    """A ``3 x H x W`` image (uint8 or [0, 1]) as an HWC uint8 thumbnail (longer side ``side``)."""
    from PIL import Image

    u8 = x if x.dtype == torch.uint8 else unit_to_uint8(x)
    im = Image.fromarray(to_hwc(u8))
    im.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(im)


def _write_grid(
    cells: list[tuple[torch.Tensor, list[torch.Tensor]]],
    names: list[str],
    styles: list[Style],
    path: Path,
) -> Path:
    """Rows: content images; columns: the content, then each style. A first row shows the
    style exemplars where styles were given as images."""
    from wikiart.report.grids import plot_render_grid

    rows: list[list[np.ndarray | None]] = []
    labels: list[str] = []
    if any(s.exemplar is not None for s in styles):
        rows.append([None, *(None if s.exemplar is None else _thumb(s.exemplar) for s in styles)])
        labels.append("style")
    for (img, results), name in zip(cells, names, strict=True):
        rows.append([_thumb(img), *(_thumb(r) for r in results)])
        labels.append(display(name))
    return plot_render_grid(rows, labels, ["content", *(s.label for s in styles)], path, cell=2.0)
