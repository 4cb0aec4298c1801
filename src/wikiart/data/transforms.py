"""Tensor transforms applied to cached uint8 images (CHW), on the fly, in loader workers."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def train_transform(
    image_size: int,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    scale: tuple[float, float] = (0.6, 1.0),
    hflip: bool = True,
) -> v2.Compose:
    """Light, style-preserving augmentation: crops and flips, no colour jitter (colour is style)."""
    steps: list[v2.Transform] = [
        v2.RandomResizedCrop(image_size, scale=scale, ratio=(3 / 4, 4 / 3), antialias=True)
    ]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(steps)


def eval_transform(
    image_size: int,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> v2.Compose:
    """Deterministic: resize the shorter side and centre-crop (a no-op at the cached size)."""
    return v2.Compose(
        [
            v2.Resize(image_size, antialias=True),
            v2.CenterCrop(image_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )


def denormalize(
    x: torch.Tensor,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """Undo `Normalize` for display: back to [0, 1]."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    return (x * s + m).clamp(0, 1)
