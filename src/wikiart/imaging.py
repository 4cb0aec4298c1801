"""Image tensors to what a PNG, a plot or a judge takes, named by the value range they read, and
a decoded picture to the tensor a model takes.

Models output float images in one of two ranges: ``[0, 1]`` ("unit": the style generator and the
AdaIN transfer model) or ``[-1, 1]`` ("signed": diffusion). Both round to uint8 the same way,
so an image saved as a PNG, shown in a grid or handed to a classifier is the same 8-bit image.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def image_to_chw(image: Image.Image) -> torch.Tensor:
    """An RGB picture -> a ``3 x H x W`` uint8 tensor (its own memory, not the picture's)."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)


def unit_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` float images -> uint8, clamped and rounded (what a saved PNG or a judge sees)."""
    return (x.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def signed_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` float images -> uint8, clamped and rounded."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)


def to_hwc(x: torch.Tensor) -> np.ndarray:
    """Channels-first images (``3 x H x W`` or ``N x 3 x H x W``) -> channels-last numpy arrays
    (``H x W x 3`` or ``N x H x W x 3``), the layout PIL and matplotlib take. Same dtype."""
    return x.movedim(-3, -1).numpy()


def unit_to_hwc(x: torch.Tensor) -> np.ndarray:
    """``[0, 1]`` float images, channels first -> channels-last uint8 numpy arrays."""
    return to_hwc(unit_to_uint8(x))
