"""Structural similarity (SSIM, Wang et al. 2004) as a plain, differentiable torch function.

Used as a reconstruction loss term (``1 - ssim``): MSE alone is minimised by a blurred average,
while SSIM compares local means, contrasts and correlations, so it rewards keeping edges and
texture. Also a figure of merit for reconstructions and re-rendered images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

K1, K2 = 0.01, 0.03


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None):
    """A normalised ``size x size`` Gaussian kernel (the one of the SSIM paper)."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean SSIM per image of two ``N x C x H x W`` batches in ``[0, data_range]``: shape ``N``.

    Local statistics under a Gaussian window (valid positions only, no padding), per channel,
    averaged over positions and channels. Images smaller than the window use a window of their
    own size. Computed in fp32 whatever the input precision."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(
            f"ssim needs two N x C x H x W batches of one shape, got {x.shape}, {y.shape}"
        )
    x, y = x.float(), y.float()
    size = min(window, x.shape[-2], x.shape[-1])
    channels = x.shape[1]
    kernel = gaussian_window(size, sigma, x.dtype, x.device).expand(channels, 1, size, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)

    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cov + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return (num / den).mean(dim=(1, 2, 3))
