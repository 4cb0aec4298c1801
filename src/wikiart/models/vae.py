"""The latent autoencoder of latent diffusion: a diffusers `AutoencoderKL` that maps images in
``[-1, 1]`` to latents ``factor`` times smaller per side and back, with the scale that brings
its latents to unit variance (measured on the training images after training, as Stable
Diffusion's 0.18215 was).

Diffusing in its latent space costs what diffusing at ``image_size / factor`` pixels costs,
which is what makes a 64 px (or larger) base trainable on a CPU. Needs the ``diffusion`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from wikiart.errors import WikiartError


def vae_config(
    widths: Sequence[int] = (32, 64, 128),
    latent_channels: int = 4,
    layers_per_block: int = 1,
) -> dict[str, Any]:
    """`AutoencoderKL` keyword arguments: ``widths`` channels per resolution (each step down
    halves the side: the latent is ``2 ** (len(widths) - 1)`` times smaller), no attention (a
    purely convolutional autoencoder trains on crops and works at any size)."""
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 8 or any(w % 8 for w in widths):
        raise WikiartError(f"autoencoder widths must be 2+ multiples of 8, got {widths}")
    return {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * len(widths),
        "up_block_types": ["UpDecoderBlock2D"] * len(widths),
        "block_out_channels": widths,
        "layers_per_block": int(layers_per_block),
        "latent_channels": int(latent_channels),
        "norm_num_groups": 8,
        "mid_block_add_attention": False,
    }


class LatentCodec(nn.Module):
    """``encode(x)`` -> scaled latents (the posterior's mean), ``decode(z)`` -> images in
    ``[-1, 1]``; ``forward(x)`` -> ``(reconstruction, posterior)`` for training."""

    scale: torch.Tensor  # a buffer: 1 / the latents' standard deviation on training images

    def __init__(self, config: dict[str, Any], scale: float = 1.0) -> None:
        super().__init__()
        try:
            from diffusers import AutoencoderKL
        except ImportError:
            raise WikiartError(
                "diffusion needs the 'diffusion' extra: pip install 'wikiart[diffusion]'"
            ) from None

        self.vae_kwargs = dict(config)
        self.vae = AutoencoderKL(**config)
        self.register_buffer("scale", torch.tensor(float(scale)))

    @property
    def factor(self) -> int:
        return int(2 ** (len(self.vae_kwargs["block_out_channels"]) - 1))

    @property
    def latent_channels(self) -> int:
        return int(self.vae_kwargs["latent_channels"])

    @property
    def config(self) -> dict[str, Any]:
        """What `from_config` rebuilds this codec from (the scale travels as a buffer)."""
        return {"vae": dict(self.vae_kwargs)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(x).latent_dist.mean * self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z / self.scale).sample.clamp(-1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        posterior = self.vae.encode(x).latent_dist
        return self.vae.decode(posterior.sample()).sample, posterior


def from_config(config: dict[str, Any]) -> LatentCodec:
    return LatentCodec(config["vae"])


def from_checkpoint(payload: dict[str, Any]) -> LatentCodec:
    """A `train vae` checkpoint's codec (weights, the scale among them, not loaded yet)."""
    return from_config(payload["model_config"])
