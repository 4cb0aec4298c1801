"""What the style generator and the AdaIN transfer model share: both re-paint an image in any
of their named styles by encoding it once and decoding the code in each style. Their render
grids and their evaluation by an independent judge need only this interface."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import nn


class Repainter(Protocol):
    """A model that re-paints images in its named styles (`StyleGenerator`, `StyleTransfer`)."""

    style_names: list[str]
    image_size: int

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]: ...

    def decode(self, codes: tuple[torch.Tensor, ...], style: torch.Tensor) -> torch.Tensor: ...

    def style_index(self, name: str) -> int: ...

    def parameters(self) -> Iterator[nn.Parameter]: ...

    def eval(self) -> Any: ...


@torch.inference_mode()
def render_styles(
    model: Repainter, x: torch.Tensor, styles: Sequence[int], batch_size: int = 64
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


class Painter(Protocol):
    """A re-painting model at work in an app (`wikiart serve`'s Re-paint tab): it paints a whole
    picture in one of its ``styles`` and returns ``H x W x 3`` uint8. ``exemplars``: it can also
    paint like an uploaded painting, with a style strength (``alpha``) and the picture's own
    colours kept on request; ``describe``: how it paints, for the page."""

    styles: list[str]
    exemplars: bool
    describe: str

    def paint(
        self, image: Any, style: str | None, exemplar: Any, alpha: float, keep_colors: bool,
        max_size: int,
    ) -> Any: ...  # fmt: skip
