"""Per-epoch reseeding: what makes a resumed run bit-for-bit equal to an uninterrupted one.

Every epoch starts by reseeding python, numpy, torch and the train loader's generators from
``(seed, epoch)``, so epoch ``e`` sees the same shuffling and dropout masks whether or not the
process was restarted before it.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 63-bit seed for ``(seed, epoch)``: epochs get unrelated random streams."""
    hi, lo = np.random.SeedSequence([seed % 2**63, epoch]).generate_state(2, dtype=np.uint32)
    return ((int(hi) << 32) | int(lo)) & (2**63 - 1)


def _loader_generators(loader: Any) -> list[torch.Generator]:
    """The torch generators that decide a loader's order (its own, and its samplers')."""
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(loader, "batch_sampler", None)
    candidates = (
        getattr(loader, "generator", None),
        getattr(sampler, "generator", None),
        getattr(getattr(batch_sampler, "sampler", None), "generator", None),
    )
    found: list[torch.Generator] = []
    for gen in candidates:
        if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
            found.append(gen)
    return found


def reseed_epoch(seed: int, epoch: int, loader: Any = None) -> None:
    """Reseed every RNG training touches from ``(seed, epoch)``: what makes resume exact."""
    s = epoch_seed(seed, epoch)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)  # also seeds every CUDA device
    for gen in _loader_generators(loader):
        gen.manual_seed(s)
