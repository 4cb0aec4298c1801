"""The class-conditional pixel diffusion model: a diffusers `UNet2DModel` with a class embedding,
wrapped with what sampling needs to know (style names, the "no style" class, the noise schedule).

With a latent autoencoder (``vae``, `wikiart.models.vae`) the UNet works on its latents (latent
diffusion): ``encode`` maps training images to what is diffused, ``decode`` maps samples back to
images; without one both are the identity and the UNet works on pixels.

Class ``len(style_names)`` is "no style": training drops labels to it now and then, so one network
predicts both the conditional and the unconditional noise (classifier-free guidance). An
unconditional model has no styles and only that class. Images live in ``[-1, 1]``.
Needs the ``diffusion`` extra (diffusers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from wikiart.errors import WikiartError
from wikiart.models.vae import LatentCodec

#: diffusers' name of each ``--noise-schedule`` choice.
BETA_SCHEDULES = {"cosine": "squaredcos_cap_v2", "linear": "linear"}
#: How far out an estimate of clean latents (unit variance) is clipped while sampling.
LATENT_CLIP = 5.0


def require_diffusers() -> None:
    """A clear error where the ``diffusion`` extra is not installed."""
    try:
        import diffusers  # noqa: F401
        import peft  # noqa: F401
    except ImportError:
        raise WikiartError(
            "diffusion needs the 'diffusion' extra: pip install 'wikiart[diffusion]'"
        ) from None


def scheduler_config(
    schedule: str = "cosine",
    prediction: str = "v_prediction",
    timesteps: int = 1000,
    latent: bool = False,
) -> dict[str, Any]:
    """The noise schedule as a diffusers scheduler config (plain data, stored in checkpoints).

    Every sampler clips its estimate of the clean image to the image range (DDIM's
    ``clip_sample``, DPM-Solver's thresholding at 1): near the end of the cosine schedule that
    estimate divides by a vanishing signal level, and one unclipped step ruins a sample. Latents
    (unit variance, no fixed range) are only clipped far out, at ``LATENT_CLIP``."""
    if schedule not in BETA_SCHEDULES:
        raise WikiartError(f"unknown noise schedule {schedule!r}; expected {list(BETA_SCHEDULES)}")
    return {
        "num_train_timesteps": int(timesteps),
        "beta_schedule": BETA_SCHEDULES[schedule],
        "prediction_type": prediction,
        "clip_sample": True,
        "clip_sample_range": LATENT_CLIP if latent else 1.0,
        "thresholding": not latent,
        "sample_max_value": 1.0,
    }


def unet_config(
    image_size: int,
    num_classes: int,
    widths: Sequence[int] = (32, 64, 64),
    layers_per_block: int = 1,
    attention_levels: int = 1,
    channels: int = 3,
) -> dict[str, Any]:
    """`UNet2DModel` keyword arguments: ``widths`` channels per resolution, self-attention in the
    ``attention_levels`` lowest ones, a class embedding of ``num_classes`` (+ "no style");
    ``image_size`` and ``channels`` are those of what is diffused (pixels, or latents)."""
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 8 or any(w % 8 for w in widths):
        raise WikiartError(f"UNet widths must be multiples of 8, got {widths}")
    levels = len(widths)
    if image_size % (2 ** (levels - 1)):
        raise WikiartError(
            f"image size {image_size} is not divisible by {2 ** (levels - 1)} "
            f"({levels} UNet resolutions)"
        )
    if not 0 <= attention_levels <= levels:
        raise WikiartError(f"attention_levels must be in [0, {levels}], got {attention_levels}")
    attn = [i >= levels - attention_levels for i in range(levels)]
    return {
        "sample_size": int(image_size),
        "in_channels": int(channels),
        "out_channels": int(channels),
        "block_out_channels": widths,
        "layers_per_block": int(layers_per_block),
        "down_block_types": ["AttnDownBlock2D" if a else "DownBlock2D" for a in attn],
        "up_block_types": ["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
        "attention_head_dim": 8 if min(widths) < 64 else 32,
        "norm_num_groups": 8 if min(widths) < 64 else 32,
        "num_class_embeds": int(num_classes) + 1,
    }


class StyleDiffusion(nn.Module):
    """``forward(x_t, t, labels)`` -> the UNet's prediction (noise or v). ``labels`` index
    ``style_names``; `null_class` is "no style". ``vae``: a `LatentCodec`'s config (frozen: only
    the UNet trains)."""

    def __init__(
        self,
        unet_kwargs: dict[str, Any],
        style_names: Sequence[str],
        scheduler: dict[str, Any],
        unconditional: bool = False,
        vae: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        require_diffusers()
        from diffusers import UNet2DModel

        self.style_names = [str(s) for s in style_names]
        self.unconditional = bool(unconditional)
        if unet_kwargs.get("num_class_embeds") != len(self.style_names) + 1:
            raise WikiartError("the UNet's class embedding must hold every style + 'no style'")
        self.unet_kwargs = dict(unet_kwargs)
        self.scheduler_config = dict(scheduler)
        self.unet = UNet2DModel(**unet_kwargs)
        self.codec: LatentCodec | None = None
        if vae is not None:
            self.codec = LatentCodec(vae)
            self.codec.requires_grad_(False).eval()
            if self.codec.latent_channels != unet_kwargs.get("in_channels"):
                raise WikiartError("the UNet's channels must be the autoencoder's latent channels")

    @property
    def null_class(self) -> int:
        return len(self.style_names)

    @property
    def image_size(self) -> int:
        """The side of the images made (pixels), whether diffused as pixels or latents."""
        factor = self.codec.factor if self.codec is not None else 1
        return int(self.unet_kwargs["sample_size"]) * factor

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """The shape of what is diffused: ``(channels, side, side)`` of pixels or latents."""
        side = int(self.unet_kwargs["sample_size"])
        return (int(self.unet_kwargs.get("in_channels", 3)), side, side)

    def train(self, mode: bool = True) -> StyleDiffusion:
        super().train(mode)
        if self.codec is not None:
            self.codec.eval()  # frozen
        return self

    def trainable(self) -> list[nn.Parameter]:
        """The UNet's parameters (the autoencoder is frozen)."""
        return [p for p in self.unet.parameters() if p.requires_grad]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in ``[-1, 1]`` -> what the UNet diffuses."""
        if self.codec is None:
            return x
        with torch.no_grad():
            return self.codec.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """What the UNet diffused -> images in ``[-1, 1]``."""
        if self.codec is None:
            return z.clamp(-1, 1)
        with torch.no_grad():
            return self.codec.decode(z)

    @property
    def config(self) -> dict[str, Any]:
        """What `build_diffusion` rebuilds this model from."""
        return {
            "unet": dict(self.unet_kwargs),
            "style_names": list(self.style_names),
            "scheduler": dict(self.scheduler_config),
            "unconditional": self.unconditional,
            "vae": self.codec.config["vae"] if self.codec is not None else None,
        }

    def style_index(self, name: str) -> int:
        if name not in self.style_names:
            known = ", ".join(self.style_names) or "none (an unconditional model)"
            raise WikiartError(f"unknown style {name!r}; this model knows: {known}")
        return self.style_names.index(name)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t, class_labels=labels).sample


def build_diffusion(
    unet: dict[str, Any],
    style_names: Sequence[str],
    scheduler: dict[str, Any],
    unconditional: bool = False,
    vae: dict[str, Any] | None = None,
) -> StyleDiffusion:
    """Rebuild a `StyleDiffusion` from its `config` (weights not loaded)."""
    return StyleDiffusion(unet, style_names, scheduler, unconditional, vae)


def from_checkpoint(payload: dict[str, Any]) -> StyleDiffusion:
    """A `train diffusion` checkpoint's model (weights not loaded yet)."""
    return build_diffusion(**payload["model_config"])
