"""`wikiart sample`: ``n`` images per style from a `Generator`, written as PNGs, and the labelled
sample grid that training runs and evaluations draw too."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from wikiart.diffusion.generate import ANY_STYLE, open_generator
from wikiart.errors import WikiartError
from wikiart.eval.generator import Generator, SampleOptions
from wikiart.files import save_image
from wikiart.imaging import to_hwc


def write_sample_grid(
    gen: Generator,
    styles: Sequence[str],
    path: str | os.PathLike[str],
    options: SampleOptions | None = None,
    *,
    images: dict[str, torch.Tensor] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """A labelled grid, one row of ``options.n`` samples per style (drawn with ``options``
    unless ``images`` are given); returns the images. ``labels``: a row label per style (e.g.
    with the judge's share)."""
    from wikiart.report.plots import image_grid

    options = options or SampleOptions()
    styles = list(styles) or list(gen.styles)
    if images is None:
        images = gen.sample_styles(styles, options)
    rows = [
        ((labels or {}).get(s, s), [to_hwc(im) for im in images[s][: options.n]]) for s in styles
    ]
    image_grid(rows, path, cell=1.0)
    return images


def sample_command(
    out: str | os.PathLike[str],
    styles: Sequence[str] | None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    base: str | None = None,
    lora: str | os.PathLike[str] | None = None,
    options: SampleOptions | None = None,
    device: str = "auto",
) -> list[Path]:
    """`wikiart sample`: ``options.n`` PNGs per style (``<Style>/seed<seed>_<j>.png``) and
    ``grid.png`` in ``out``; returns the images' paths."""
    options = options or SampleOptions()
    gen = open_generator(checkpoint, base=base, lora=lora, device=device)
    styles = list(styles or [])
    if not styles:
        if gen.styles == [ANY_STYLE]:
            styles = [ANY_STYLE]
        else:
            known = ", ".join(gen.styles) or "any name (a pipeline)"
            raise WikiartError(f"pass --style NAME...; this generator knows: {known}")
    for s in styles:
        gen.check_style(s)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = gen.sample_styles(list(styles), options)
    paths = []
    for s, imgs in images.items():
        folder = out / ("no_style" if s == ANY_STYLE else s)
        folder.mkdir(exist_ok=True)
        for j, img in enumerate(imgs):
            path = folder / f"seed{options.seed}_{j:03d}.png"
            save_image(Image.fromarray(to_hwc(img)), path)
            paths.append(path)
    write_sample_grid(gen, styles, out / "grid.png", options, images=images)
    return paths
