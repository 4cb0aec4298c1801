"""A PatchGAN critic (Isola et al. 2017): a small fully convolutional network that scores each
overlapping patch of an image as real or generated, so a decoder trained against it is pushed
toward the local texture of paintings rather than their blurred average. The critic of the
autoencoders of latent diffusion (Esser et al. 2021, Rombach et al. 2022), sized here for 64 to
256 px images: two stride-2 stages, then two stride-1 ones (each score sees a 34 px patch)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PatchCritic(nn.Module):
    """``[-1, 1]`` images ``(N, 3, H, W)`` -> patch scores ``(N, 1, H/4 - 2, W/4 - 2)``."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        w = int(width)
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            nn.GroupNorm(8, 2 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 1, 1),
            nn.GroupNorm(8, 4 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 4, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def hinge_critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic's hinge loss on its scores of real and generated patches."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def adaptive_weight(
    reconstruction: torch.Tensor, adversarial: torch.Tensor, last_layer: torch.Tensor
) -> torch.Tensor:
    """The weight that gives the adversarial term a gradient at the generator's last layer as
    large as the reconstruction term's (Esser et al. 2021, eq. 7), clamped to [0, 1e4]."""
    g_rec = torch.autograd.grad(reconstruction, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adversarial, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0, 1e4).detach()
