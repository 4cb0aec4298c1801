"""The forward noise process and what the network learns from it: images in ``[-1, 1]``, the
training noise schedule (diffusers' DDPM scheduler), the denoising loss with optional Min-SNR-γ
weighting, and labels dropped to "no style" so that one network learns both predictions that
classifier-free guidance mixes."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in ``[-1, 1]``."""
    return x.float().div(127.5).sub(1.0)


def make_noise_schedule(scheduler_config: dict):
    """The training noise schedule (diffusers' DDPM scheduler: add_noise, get_velocity)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(scheduler_config)


def diffusion_loss(
    model: nn.Module,
    noise_schedule: Any,
    x0: torch.Tensor,
    labels: torch.Tensor,
    snr_gamma: float | None = None,
) -> torch.Tensor:
    """The denoising objective: noise ``x0`` to a random step, predict the noise (or ``v``).
    ``snr_gamma``: Min-SNR-γ weighting (Hang et al. 2023), which keeps the nearly clean steps
    from dominating the loss and converges faster."""
    noise = torch.randn_like(x0)
    steps = noise_schedule.config.num_train_timesteps
    t = torch.randint(0, steps, (len(x0),), device=x0.device)
    noisy = noise_schedule.add_noise(x0, noise, t)
    v_pred = noise_schedule.config.prediction_type == "v_prediction"
    target = noise_schedule.get_velocity(x0, noise, t) if v_pred else noise
    err = (model(noisy, t, labels).float() - target.float()).pow(2).mean(dim=(1, 2, 3))
    if not snr_gamma:
        return err.mean()
    from diffusers.training_utils import compute_snr

    snr = compute_snr(noise_schedule, t)
    weight = snr.clamp(max=snr_gamma) / (snr + 1 if v_pred else snr)
    return (err * weight).mean()


def drop_labels(labels: torch.Tensor, null: int, p: float, unconditional: bool) -> torch.Tensor:
    """Labels with a share ``p`` replaced by "no style" (all of them when unconditional)."""
    if unconditional:
        return torch.full_like(labels, null)
    if p <= 0:
        return labels
    drop = torch.rand(labels.shape, device=labels.device) < p
    return torch.where(drop, torch.full_like(labels, null), labels)
