"""Sampling a class-conditional diffusion model: DDIM or DPM-Solver (diffusers' schedulers) with
classifier-free guidance.

Guidance mixes two predictions, ``uncond + g * (cond - uncond)``. For a style the model knows,
``cond`` is its class and ``uncond`` the "no style" class of the same network. A LoRA adapter
trained on a style the base never saw conditions through the adapter instead: ``cond`` is the
adapted network and ``uncond`` the base with its adapters switched off, both at "no style".

The starting noise is drawn on the CPU from ``seed`` (image ``j`` of a request always gets the
same noise), so the same seed gives the same images whatever the batch size, and the same
start on every device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from wikiart.device import autocast
from wikiart.errors import WikiartError
from wikiart.eval.generator import SampleOptions

Predict = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def make_sampler(name: str, scheduler_config: Any):
    """A diffusers DDIM or DPM-Solver++ (multistep) scheduler over a model's own noise schedule
    (a `StyleDiffusion`'s or a pipeline's)."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(scheduler_config)
    if name == "dpm":
        return DPMSolverMultistepScheduler.from_config(scheduler_config)
    raise WikiartError(f"unknown sampler {name!r}; expected ddim or dpm")


def noise_at(draws: Sequence[int], shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    """The starting noise (pixels or latents of ``shape``) of each of ``draws`` (draw indices)
    under generator seed ``seed``: images never depend on how requests are batched."""
    out = torch.empty(len(draws), *shape)
    for j, draw in enumerate(draws):
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(draw))
        out[j] = torch.randn(*shape, generator=gen)
    return out


@dataclass
class Guided:
    """What one batch is denoised with: ``predict(x, t, labels)`` and, for guidance against
    another network (an adapter's base), ``predict_uncond``; ``null`` is "no style"."""

    predict: Predict
    null: int
    predict_uncond: Predict | None = None

    def __call__(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, g: float) -> torch.Tensor:
        if g == 1.0:
            return self.predict(x, t, y).float()
        null = torch.full_like(y, self.null)
        if self.predict_uncond is not None:
            cond = self.predict(x, t, y).float()
            uncond = self.predict_uncond(x, t, null).float()
        else:
            both = self.predict(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null])).float()
            cond, uncond = both.chunk(2)
        return uncond + g * (cond - uncond)


@torch.inference_mode()
def denoise(
    guided: Guided,
    labels: Sequence[int],
    options: SampleOptions,
    *,
    shape: tuple[int, int, int],
    scheduler_config: dict,
    device: torch.device | str = "cpu",
    precision: str = "auto",
    draws: Sequence[int] | None = None,
) -> torch.Tensor:
    """Sample one image per label with ``options``' seed, knobs and batch size (a knob left
    ``None``: guidance 3, 25 steps, DDIM; ``options.n`` is not read: the labels say how many);
    ``shape`` is that of one sample (pixels or latents). Returns the float samples on the CPU,
    as diffused: `StyleDiffusion.decode` makes them images. ``draws``: the draw index of each
    label's starting noise (default: its position), so that samples of several requests batched
    together are those each request gives alone."""
    opts = options.settled()
    steps, guidance, batch_size = opts.steps, opts.guidance, opts.batch_size
    assert steps is not None and guidance is not None and opts.sampler is not None
    if steps < 1:
        raise WikiartError(f"sampling steps must be >= 1, got {steps}")
    if guidance < 0:
        raise WikiartError(f"guidance must be >= 0, got {guidance}")
    device = torch.device(device)
    draws = list(draws) if draws is not None else list(range(len(labels)))
    if len(draws) != len(labels):
        raise ValueError(f"{len(draws)} draws for {len(labels)} labels")
    out = []
    for start in range(0, len(labels), batch_size):
        chunk = list(labels[start : start + batch_size])
        x = noise_at(draws[start : start + batch_size], shape, opts.seed).to(device)
        y = torch.tensor(chunk, device=device, dtype=torch.long)
        sched = make_sampler(opts.sampler, scheduler_config)
        sched.set_timesteps(steps, device=device)
        x = x * sched.init_noise_sigma
        for t in sched.timesteps:
            inp = sched.scale_model_input(x, t)
            tt = t.expand(len(chunk)).to(device)
            with autocast(device, precision):
                pred = guided(inp, tt, y, guidance)
            x = sched.step(pred.float(), t, x).prev_sample
        out.append(x.float().cpu())
    if not out:
        return torch.zeros(0, *shape)
    return torch.cat(out)


def model_predict(model: nn.Module) -> Predict:
    """The ``predict`` of a `StyleDiffusion` (or a module that calls one)."""
    return lambda x, t, y: model(x, t, y)
