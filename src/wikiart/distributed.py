"""Distributed data parallel plumbing: the same `wikiart train ...` command under
``torchrun --nproc-per-node N`` trains one model on N processes (NCCL on GPUs, gloo on CPU).

Each process trains on its own share of every epoch (a distributed sampler that keeps the
imbalance strategy), gradients are averaged by DistributedDataParallel, and only the main
process writes files. Batch size is per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from wikiart.device import resolve_device
from wikiart.errors import WikiartError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device_name: str) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun set up (if any) and pick this process's device."""
    if not launched_by_torchrun():
        return DistContext(), resolve_device(device_name)
    ctx = DistContext(
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    device = resolve_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise WikiartError(f"distributed training supports cuda and cpu, not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    if ctx.is_main:
        log.info("distributed: %d processes, backend %s", ctx.world_size, backend)
    return ctx, device


def wrap(model: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``model`` when distributed; ``model`` itself otherwise."""
    if not ctx.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def parameters_agree(model: nn.Module, ctx: DistContext) -> bool:
    """True when every process holds bit-identical parameters (compared by checksum)."""
    if not ctx.enabled:
        return True
    flat = torch.cat([p.detach().double().flatten().cpu() for p in model.parameters()])
    weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64)
    local = torch.stack([flat.sum(), (flat * weights).sum(), flat.abs().max()])
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    local = local.to(backend_device)
    gathered = [torch.zeros_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, local)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def check_agree(model: nn.Module, ctx: DistContext) -> None:
    """After training under torchrun: every process must hold the same weights."""
    if not parameters_agree(model, ctx):
        raise WikiartError("distributed processes ended with different weights")
    if ctx.enabled and ctx.is_main:
        log.info("all %d processes hold identical weights", ctx.world_size)


@contextlib.contextmanager
def distributed(device_name: str) -> Iterator[tuple[DistContext, torch.device]]:
    """``init_distributed`` for the length of a training job, then the process group closed."""
    ctx, device = init_distributed(device_name)
    try:
        yield ctx, device
    finally:
        shutdown(ctx)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
