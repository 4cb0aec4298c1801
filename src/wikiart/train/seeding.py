"""Random generators: per-epoch reseeding, and their states saved in a resumable ``last.pt``.
Together they make a resumed run bit-for-bit equal to an uninterrupted one.

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


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch (CPU, and CUDA when present) RNG states as plain data."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": (py_version, tuple(py_state), py_gauss),
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng`; a CUDA state is restored only on a machine with CUDA."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    if "numpy" in state:
        np_state = state["numpy"]
        keys = np.asarray(torch.as_tensor(np_state["keys"]).numpy(), dtype=np.uint32)
        np.random.set_state(
            (
                np_state["name"],
                keys,
                int(np_state["pos"]),
                int(np_state["has_gauss"]),
                float(np_state["cached_gaussian"]),
            )
        )
    if "torch" in state:
        torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8).cpu())
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available():
        count = min(len(cuda_states), torch.cuda.device_count())
        for i in range(count):
            torch.cuda.set_rng_state(torch.as_tensor(cuda_states[i]).cpu(), device=i)
