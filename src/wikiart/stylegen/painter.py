"""The style generator in an app (`wikiart serve`'s Re-paint tab, registered as the stylegen
job's ``repaint`` opener): a picture cropped to the generator's size, re-rendered in a named
style."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from wikiart.data.images import fit_image
from wikiart.errors import WikiartError
from wikiart.imaging import image_to_chw, unit_to_hwc
from wikiart.models.repaint import render_styles
from wikiart.models.stylegen import StyleGenerator
from wikiart.stylegen.render import load_stylegen


@dataclass
class GeneratorPainter:
    model: StyleGenerator
    exemplars: bool = False
    styles: list[str] = field(init=False)
    describe: str = field(init=False)

    def __post_init__(self) -> None:
        self.styles = list(self.model.style_names)
        self.describe = f"the style generator at {self.model.image_size} px"

    def paint(
        self, image: Image.Image, style: str | None, exemplar: Image.Image | None, alpha: float,
        keep_colors: bool, max_size: int,
    ) -> np.ndarray:  # fmt: skip
        """``image`` centre-cropped to the generator's size and rendered in ``style``; it paints
        by name only (``exemplar``, ``alpha`` and ``keep_colors`` do not apply)."""
        if style not in self.styles:
            raise WikiartError(f"unknown style {style!r}: choose one of {', '.join(self.styles)}")
        size = self.model.image_size
        x = image_to_chw(fit_image(image, size, "crop"))[None]
        index = self.styles.index(style)
        return unit_to_hwc(render_styles(self.model, x, [index])[0, 0])


def open_painter(
    checkpoint: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> GeneratorPainter:
    """A stylegen checkpoint as a painter."""
    model, _ = load_stylegen(checkpoint, device)
    return GeneratorPainter(model)
