"""What the diffusion trainers feed the shared training loop: the styles chosen, the training
batches (class-balanced by default), and the step that splits a batch into micro-batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from wikiart.data.balance import DistributedWeightedSampler, make_weighted_sampler
from wikiart.data.loader import CachedImageDataset, make_loader
from wikiart.device import loader_workers
from wikiart.diffusion.noise import to_signed
from wikiart.distributed import DistContext
from wikiart.errors import UnknownStyleError, WikiartError
from wikiart.train.epoch import StepOutput


def select_styles(
    available: Iterable[str],
    styles: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[str]:
    """The sorted styles to train on: ``styles`` (all by default) minus ``exclude``; a name the
    data does not have is an error naming those it has."""
    have = sorted(set(available))
    for name in [*(styles or []), *(exclude or [])]:
        if name not in have:
            raise UnknownStyleError(f"unknown style {name!r}; the data has: {', '.join(have)}")
    chosen = [s for s in (sorted(set(styles)) if styles else have) if s not in set(exclude or [])]
    if not chosen:
        raise WikiartError("no styles left to train on (--styles / --exclude-styles)")
    return chosen


class _Flip:
    """Random horizontal flip of a CHW uint8 image (picklable for loader workers)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1) if torch.rand(()) < 0.5 else x


class LatentItems(torch.utils.data.Dataset):
    """Training images already encoded by a latent autoencoder (and their mirror images, for
    random flips): ``(latent, label)`` items, encoded once instead of every step."""

    def __init__(self, latents: torch.Tensor, mirrored: torch.Tensor | None, labels: Any) -> None:
        self.latents, self.mirrored = latents, mirrored
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.latents)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self.mirrored is not None and torch.rand(()) < 0.5:
            return self.mirrored[i], int(self.labels[i])
        return self.latents[i], int(self.labels[i])


@torch.inference_mode()
def encode_items(
    data: CachedImageDataset, encode: Callable[[torch.Tensor], torch.Tensor], flip: bool,
    device: torch.device, batch_size: int = 64,
) -> LatentItems:  # fmt: skip
    """Every image of ``data`` (and its mirror image when ``flip``) through ``encode``
    (`StyleDiffusion.encode`), kept on the CPU."""
    plain, mirrored = [], []
    for start in range(0, len(data), batch_size):
        u8 = torch.stack([data[i][0] for i in range(start, min(start + batch_size, len(data)))])
        x = to_signed(u8.to(device))
        plain.append(encode(x).float().cpu())
        if flip:
            mirrored.append(encode(x.flip(-1)).float().cpu())
    return LatentItems(torch.cat(plain), torch.cat(mirrored) if flip else None, data.labels)


def train_batches(
    data: CachedImageDataset,
    cfg: Any,
    num_classes: int,
    encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
    ctx: DistContext | None = None,
) -> torch.utils.data.DataLoader:
    """Batches of uint8 images and labels (or, with ``encode``, of the images' latents, encoded
    once): with ``cfg.balance == "sampler"`` every style is drawn equally often (rare styles are
    learnt too); an epoch is ``cfg.steps_per_epoch`` batches (default: as many images as the
    split has). Under torchrun (``ctx``) each process draws its share of the epoch's batches
    (with replacement, whatever the balance)."""
    if len(data) == 0:
        raise WikiartError("no usable training images")
    n = len(data) if cfg.steps_per_epoch is None else int(cfg.steps_per_epoch) * cfg.batch_size
    if n < 1:
        raise WikiartError(f"steps_per_epoch must be >= 1, got {cfg.steps_per_epoch}")
    items: torch.utils.data.Dataset
    if encode is not None:
        items = encode_items(data, encode, bool(cfg.flip), torch.device(device))
    else:
        items = data.subset(np.arange(len(data)), _Flip() if cfg.flip else None)
    sampler: torch.utils.data.Sampler[int]
    if ctx is not None and ctx.enabled:  # torchrun: one draw per epoch, split over processes
        power = 1.0 if cfg.balance == "sampler" else 0.0  # 0: every image equally likely
        sampler = DistributedWeightedSampler(
            data.labels, num_classes, ctx.world_size, ctx.rank, seed=cfg.seed, num_samples=n,
            power=power,
        )  # fmt: skip
        n = len(sampler)
    elif cfg.balance == "sampler":
        sampler = make_weighted_sampler(data.labels, num_classes, num_samples=n, seed=cfg.seed)
    else:
        gen = torch.Generator().manual_seed(cfg.seed)
        sampler = torch.utils.data.RandomSampler(items, num_samples=n, generator=gen)
    return make_loader(
        items,
        batch_size=cfg.batch_size,
        sampler=sampler,
        seed=cfg.seed,
        num_workers=0 if encode is not None else loader_workers(cfg.loader_workers),
        drop_last=n > cfg.batch_size,
    )


def diffusable(x: torch.Tensor) -> torch.Tensor:
    """A batch as the UNet diffuses it: uint8 images -> ``[-1, 1]``; latents as they are."""
    return to_signed(x) if x.dtype == torch.uint8 else x.float()


def accumulating_step(
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    params: list[nn.Parameter],
    accumulate: int,
):
    """The loop's ``step_fn``. With ``accumulate > 1`` the batch is split into micro-batches;
    the gradients of all but the last are taken at once (their graphs freed) and carried into
    the returned loss by a term whose value is zero and whose gradient is theirs, so the loop's
    single ``backward`` yields the whole batch's mean gradient."""

    def step(model: nn.Module, batch: Any, device: torch.device) -> StepOutput:
        x = batch[0].to(device, non_blocking=True)
        y = batch[1].to(device, non_blocking=True)
        if accumulate == 1:
            return StepOutput(loss_fn(model, x, y), len(x))
        xs, ys = x.chunk(accumulate), y.chunk(accumulate)
        grads = [torch.zeros_like(p) for p in params]
        done = torch.zeros((), device=device)
        for xi, yi in zip(xs[:-1], ys[:-1], strict=True):
            part = loss_fn(model, xi, yi) * (len(xi) / len(x))
            taken = torch.autograd.grad(part, params, allow_unused=True)
            for acc, g in zip(grads, taken, strict=True):
                if g is not None:
                    acc.add_(g)
            done = done + part.detach().float()
        last = loss_fn(model, xs[-1], ys[-1]) * (len(xs[-1]) / len(x))
        carried = cast(torch.Tensor, sum((p * g).sum() for p, g in zip(params, grads, strict=True)))
        return StepOutput(last + (carried - carried.detach()) + done, len(x))

    return step
