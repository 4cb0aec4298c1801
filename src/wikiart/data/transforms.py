"""Transforms on cached uint8 images.

Loader workers do only the geometric part (crops, flips) and hand over **uint8** batches: a
quarter of the bytes of float32 through worker shared memory and to the GPU. The float
conversion and normalisation happen once per batch on the training device (`normalize_batch`, or
the `Normalizer` module a model can own so its checkpoint carries its preprocessing). On the
1024 px benchmark copy this doubled the loader's images/s on 2 cores (bench/data_pipeline.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class RandomResizedCropFlip:
    """torchvision's RandomResizedCrop sampling plus a horizontal flip, as one call on uint8 CHW.

    The same crop distribution as ``v2.RandomResizedCrop`` (10 tries of area/log-ratio, then a
    centre crop), applied with ``v2.functional.resized_crop`` directly: about 25% less time per
    image than composing the v2 transform objects, which matters on a loader's hot path. Draws
    from torch's global RNG, which DataLoader seeds per worker."""

    def __init__(
        self,
        size: int,
        scale: tuple[float, float] = (0.6, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        hflip: bool = True,
    ) -> None:
        self.size = [size, size]
        self.scale = scale
        self.log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        self.ratio = ratio
        self.hflip = hflip

    def params(self, height: int, width: int) -> tuple[int, int, int, int]:
        area = height * width
        for _ in range(10):
            r = torch.empty(3).uniform_()
            target = area * (self.scale[0] + (self.scale[1] - self.scale[0]) * float(r[0]))
            aspect = math.exp(
                self.log_ratio[0] + (self.log_ratio[1] - self.log_ratio[0]) * float(r[1])
            )
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                top = int(torch.randint(0, height - h + 1, (1,)))
                left = int(torch.randint(0, width - w + 1, (1,)))
                return top, left, h, w
        in_ratio = width / height  # fallback: the largest centre crop within the ratio range
        if in_ratio < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            h, w = height, round(height * self.ratio[1])
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        top, left, h, w = self.params(img.shape[-2], img.shape[-1])
        out: torch.Tensor = F.resized_crop(img, top, left, h, w, self.size, antialias=True)
        if self.hflip and float(torch.rand(1)) < 0.5:
            out = out.flip(-1)
        return out


def train_transform(
    image_size: int, scale: tuple[float, float] = (0.6, 1.0), hflip: bool = True
) -> RandomResizedCropFlip:
    """Light, style-preserving augmentation on uint8 CHW: random resized crop and flip, no colour
    jitter (colour is part of style)."""
    return RandomResizedCropFlip(image_size, scale=scale, hflip=hflip)


def eval_transform(image_size: int) -> v2.Compose:
    """Deterministic: resize the shorter side and centre-crop (a no-op at the cached size)."""
    return v2.Compose([v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)])


def _affine(
    mean: Sequence[float], std: Sequence[float], device: torch.device | str, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    std_t = torch.tensor(std, device=device, dtype=dtype).view(1, -1, 1, 1)
    mean_t = torch.tensor(mean, device=device, dtype=dtype).view(1, -1, 1, 1)
    return 1.0 / (255.0 * std_t), -mean_t / std_t


def normalize_batch(
    x: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """uint8 ``N x C x H x W`` (0-255) -> normalised float, in one fused multiply-add."""
    scale, bias = _affine(mean, std, x.device, dtype)
    return torch.addcmul(bias, x.to(dtype), scale)


class Normalizer(nn.Module):
    """`normalize_batch` as a module with buffers: moves with the model, saved in its state."""

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(
        self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
    ) -> None:
        super().__init__()
        scale, bias = _affine(mean, std, "cpu", torch.float32)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return torch.addcmul(self.bias, x.to(self.scale.dtype), self.scale)
        return x  # already normalised float


def denormalize(
    x: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Normalised float -> [0, 1] for display."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    return (x * s + m).clamp(0, 1)
