"""Style transfer in an app (`wikiart serve`'s Re-paint tab, registered as the transfer job's
``repaint`` opener): any picture at its own size, in a named style or like an uploaded painting."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from wikiart.errors import WikiartError
from wikiart.imaging import image_to_chw, unit_to_hwc
from wikiart.models.transfer import StyleTransfer
from wikiart.transfer.settings import STYLE_SIZE
from wikiart.transfer.stylize import Style, load_transfer, paint, resolve_style, style_statistics


@dataclass
class TransferPainter:
    model: StyleTransfer
    exemplars: bool = True
    describe: str = "style transfer (AdaIN) at the picture's own size"
    styles: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.styles = list(self.model.style_names)

    def paint(
        self, image: Image.Image, style: str | None, exemplar: Image.Image | None, alpha: float,
        keep_colors: bool, max_size: int,
    ) -> np.ndarray:  # fmt: skip
        """``image`` scaled down to ``max_size`` at most and painted in ``style`` (a name of the
        model's), or like ``exemplar`` when one is given."""
        if exemplar is not None:
            exemplar.thumbnail((STYLE_SIZE, STYLE_SIZE), Image.Resampling.LANCZOS)
            target = Style("upload", *style_statistics(self.model, image_to_chw(exemplar)))
        elif style in self.styles:  # a name only: resolve_style would also open a file of that name
            target = resolve_style(self.model, style)
        else:
            raise WikiartError(
                f"unknown style {style!r}: choose one of {', '.join(self.styles)}, or upload a "
                "painting"
            )
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
        out = paint(self.model, image_to_chw(image), target, alpha=alpha, keep_colors=keep_colors)
        return unit_to_hwc(out)


def open_painter(
    checkpoint: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> TransferPainter:
    """A transfer checkpoint (or ``builtin``) as a painter."""
    model, _ = load_transfer(checkpoint, device)
    return TransferPainter(model)
