"""Images from a Hugging Face pipeline (with whatever adapter it has), each style from its
caption: the starting latents are drawn on the CPU from the seed and the style's name, so the
images do not depend on the batch size, on the other styles asked for, or on the device."""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from typing import Any

import torch

from wikiart.diffusion.captions import captions_for
from wikiart.diffusion.pipeline import native_size, open_pipeline
from wikiart.diffusion.sampling import make_sampler
from wikiart.errors import WikiartError
from wikiart.eval.generator import SampleOptions


def _style_seed(seed: int, style: str) -> int:
    """The noise seed of ``style``'s images: the same whichever other styles are requested."""
    return (int(seed) * 1_000_003 + zlib.crc32(style.encode("utf-8"))) % (2**63)


def run_defaults(info: dict[str, Any]) -> dict[str, Any]:
    """The sampling knobs a LoRA run's ``lora.json`` records (none without a run)."""
    out: dict[str, Any] = {k: info[k] for k in ("guidance", "sampler") if k in info}
    if "sample_steps" in info:
        out["steps"] = info["sample_steps"]
    return out


@torch.no_grad()
def generate(
    pipe: Any,
    captions: dict[str, str],
    options: SampleOptions,
    image_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """``options.n`` images per style (uint8 ``[n, 3, H, W]`` on the CPU) from ``pipe`` as it
    is (with whatever adapter it has), each style from its caption; a knob left ``None``:
    guidance 3, 25 steps, DDIM. The starting latents are drawn on the CPU from the seed and the
    style's name, so the images do not depend on the batch size, on the other styles asked for,
    or on the device's random generator."""
    opts = options.settled()
    n, seed, steps, batch_size = opts.n, opts.seed, opts.steps, opts.batch_size
    assert steps is not None and opts.sampler is not None
    if n < 1:
        raise WikiartError(f"the number of images must be >= 1, got {n}")
    if steps < 1:
        raise WikiartError(f"sampling steps must be >= 1, got {steps}")
    size = int(image_size or native_size(pipe))
    factor = int(pipe.vae_scale_factor)
    if size % factor:
        raise WikiartError(f"image size {size} is not a multiple of the VAE's factor {factor}")
    pipe.scheduler = make_sampler(opts.sampler, pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    unet = pipe.unet
    was_training = unet.training
    unet.eval()
    shape = (n, int(unet.config.in_channels), size // factor, size // factor)
    out: dict[str, torch.Tensor] = {}
    try:
        for style, caption in captions.items():
            gen = torch.Generator("cpu").manual_seed(_style_seed(seed, style))
            latents = torch.randn(shape, generator=gen)
            images = []
            for start in range(0, n, max(1, batch_size)):
                chunk = latents[start : start + batch_size]
                result = pipe(
                    prompt=[caption] * len(chunk),
                    height=size,
                    width=size,
                    num_inference_steps=steps,
                    guidance_scale=opts.guidance,
                    latents=chunk.to(pipe.device, unet.dtype),
                    generator=torch.Generator("cpu").manual_seed(_style_seed(seed, style) + start),
                    output_type="pt",
                )
                x = result.images.float().cpu()
                images.append((x * 255 + 0.5).clamp(0, 255).to(torch.uint8))
            out[style] = torch.cat(images)
    finally:
        unet.train(was_training)
    return out


def sample_pipeline(
    base: str | None,
    lora: str | os.PathLike[str] | None,
    styles: Sequence[str],
    options: SampleOptions,
    device: torch.device | str,
    captions: dict[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """``options.n`` images of each style, uint8 ``[n, 3, H, W]``, from the pipeline ``base``
    with, if given, the LoRA run ``lora`` loaded by diffusers' own ``load_lora_weights``.

    With ``lora``, styles are those of its ``lora.json`` (all of them when ``styles`` is empty;
    any other name is an `UnknownStyleError`), asked for by its captions, and ``base`` defaults
    to the one it was trained on; without, any style name is asked for by the default caption.
    ``captions`` overrides the caption of the styles it names; a knob ``options`` leaves
    ``None`` is the run's. Same seed, same images."""
    pipe, info, folder = open_pipeline(base, lora, device)
    chosen = captions_for(info, styles, folder, captions)
    opts = options.settled(run_defaults(info))
    return generate(pipe, chosen, opts, image_size=info.get("image_size") or None)
