"""Imbalance strategies for the training split: pure maths on label arrays (numpy + torch only).

WikiArt styles range from a few hundred to many thousand images, so a plain classifier learns the
big styles and ignores the rest. Each ``--imbalance`` choice is built from one function here:

- ``resample``: `resample_indices`, an exact, deterministic target count per style. It is applied
  to the *training* indices only; validation and test data are never resampled, so their metrics
  describe the real distribution.
- ``sampler``: `make_weighted_sampler`, weighted random sampling with its own seeded generator.
- ``weighted-loss``: `class_weights` (inverse, sqrt-inverse or effective-number weights).
- ``logit-adjust``: `log_priors`, the training-time logit adjustment of Menon et al. (2021).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from wikiart.errors import WikiartError

WEIGHT_SCHEMES = ("inverse", "sqrt-inverse", "effective")
TARGETS = ("median", "mean", "max", "min")

_EPS = 1e-12


def _labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels as a 1-D int64 array, checked against ``num_classes`` (bad labels fail loudly)."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise WikiartError(f"labels must be a 1-D array, got shape {arr.shape}")
    if num_classes < 1:
        raise WikiartError(f"num_classes must be at least 1, got {num_classes}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise WikiartError(f"labels must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise WikiartError(
            f"labels must lie in [0, {num_classes}), got range [{arr.min()}, {arr.max()}]"
        )
    return arr


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per class (int64, length ``num_classes``; absent classes count 0)."""
    return np.bincount(_labels(labels, num_classes), minlength=num_classes).astype(np.int64)


def _resolve_target(target: int | str, counts: np.ndarray) -> int:
    """The per-class count asked for: an int, or a statistic of the non-empty class counts."""
    present = counts[counts > 0]
    if isinstance(target, str):
        if target not in TARGETS:
            raise WikiartError(
                f"resample target must be an int or one of {TARGETS}, got {target!r}"
            )
        stats: dict[str, Callable[[np.ndarray], Any]] = {
            "median": np.median,
            "mean": np.mean,
            "max": np.max,
            "min": np.min,
        }
        stat = stats[target]
        return max(1, int(np.round(stat(present))))
    if isinstance(target, bool) or not isinstance(target, int | np.integer) or target < 1:
        raise WikiartError(f"resample target must be a positive int, got {target!r}")
    return int(target)


def resample_indices(
    labels: np.ndarray, num_classes: int, *, target: int | str = "median", seed: int
) -> np.ndarray:
    """Training indices in which every non-empty class occurs exactly ``target`` times.

    The course's oversampling drew with replacement and touched the test set; this one is exact and
    deterministic. A class above the target is subsampled without replacement; a class below it is
    tiled, so each of its images is used ``target // n`` or ``target // n + 1`` times (the remainder
    drawn without replacement), which keeps every minority image and repeats none more than needed.
    ``target`` is an int or ``"median"``/``"mean"``/``"max"``/``"min"`` of the non-empty class
    counts (rounded, at least 1). Classes with no images are skipped. The result (int64 indices
    into ``labels``) is shuffled; the same seed gives the same array. Use it on the training split
    only: evaluation data is never resampled.
    """
    arr = _labels(labels, num_classes)
    counts = np.bincount(arr, minlength=num_classes)
    if not counts.any():
        raise WikiartError("cannot resample an empty label array")
    want = _resolve_target(target, counts)
    rng = np.random.default_rng(seed)
    parts = []
    for c in range(num_classes):
        idx = np.flatnonzero(arr == c)
        n = len(idx)
        if n == 0:
            continue
        if n >= want:
            parts.append(rng.choice(idx, size=want, replace=False))
        else:
            reps, rest = divmod(want, n)
            parts.append(np.tile(idx, reps))
            parts.append(rng.choice(idx, size=rest, replace=False))
    out = np.concatenate(parts).astype(np.int64, copy=False)
    return out[rng.permutation(len(out))]


def sampler_weights(labels: np.ndarray, num_classes: int, power: float = 1.0) -> np.ndarray:
    """Per-sample weights proportional to ``count(class) ** -power`` (float64).

    ``power=1`` makes every class equally likely per draw; ``power=0.5`` is a softer middle way."""
    arr = _labels(labels, num_classes)
    counts = np.bincount(arr, minlength=num_classes).astype(np.float64)
    per_class = np.zeros(num_classes, dtype=np.float64)
    nz = counts > 0
    per_class[nz] = counts[nz] ** -float(power)
    weights: np.ndarray = per_class[arr]
    return weights


def make_weighted_sampler(
    labels: np.ndarray,
    num_classes: int,
    *,
    num_samples: int | None = None,
    seed: int,
    power: float = 1.0,
) -> WeightedRandomSampler:
    """A `WeightedRandomSampler` (with replacement) over the training split.

    It owns a seeded ``torch.Generator`` (``sampler.generator``) so that the training loop can
    reseed it per epoch and a resumed run draws the same samples. ``num_samples`` defaults to
    the split's size, so an epoch keeps its usual length."""
    weights = sampler_weights(labels, num_classes, power)
    if weights.size == 0:
        raise WikiartError("cannot build a sampler over an empty label array")
    n = len(weights) if num_samples is None else int(num_samples)
    if n < 1:
        raise WikiartError(f"num_samples must be at least 1, got {num_samples}")
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return WeightedRandomSampler(
        cast(Sequence[float], torch.as_tensor(weights, dtype=torch.double)),
        num_samples=n,
        replacement=True,
        generator=gen,
    )


def class_weights(counts: np.ndarray, scheme: str = "inverse", beta: float = 0.999) -> torch.Tensor:
    """Per-class loss weights (float32), rarer classes weigh more.

    ``inverse`` is ``1/n``, ``sqrt-inverse`` is ``1/sqrt(n)``, ``effective`` is Cui et al.
    (2019)'s ``(1 - beta) / (1 - beta**n)`` (``beta -> 0`` gives uniform weights, ``beta -> 1``
    approaches ``inverse``). Weights are scaled so that ``sum(w * n) / sum(n) == 1``: the mean
    weight per training sample is 1, so the loss scale, and thus the learning rate, stays
    comparable with the unweighted loss. Classes with no images get weight 0."""
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0:
        raise WikiartError(f"counts must be a non-empty 1-D array, got shape {n.shape}")
    if (n < 0).any():
        raise WikiartError("counts must not be negative")
    if not (n > 0).any():
        raise WikiartError("class weights need at least one class with images")
    nz = n > 0
    w = np.zeros_like(n)
    if scheme == "inverse":
        w[nz] = 1.0 / n[nz]
    elif scheme == "sqrt-inverse":
        w[nz] = 1.0 / np.sqrt(n[nz])
    elif scheme == "effective":
        if not 0.0 <= beta < 1.0:
            raise WikiartError(f"effective-number beta must be in [0, 1), got {beta}")
        w[nz] = (1.0 - beta) / (1.0 - np.power(beta, n[nz]))
    else:
        raise WikiartError(
            f"unknown class weight scheme {scheme!r}; expected one of {WEIGHT_SCHEMES}"
        )
    w *= n.sum() / (w * n).sum()
    return torch.as_tensor(w, dtype=torch.float32)


def log_priors(counts: np.ndarray) -> torch.Tensor:
    """Log class frequencies (float32) of the training split, for logit adjustment.

    An empty class gets ``log(1e-12)`` instead of ``-inf`` so the adjusted logits stay finite."""
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0:
        raise WikiartError(f"counts must be a non-empty 1-D array, got shape {n.shape}")
    if (n < 0).any() or n.sum() <= 0:
        raise WikiartError("log priors need non-negative counts with at least one image")
    p = n / n.sum()
    return torch.as_tensor(np.log(np.maximum(p, _EPS)), dtype=torch.float32)


class DistributedWeightedSampler(torch.utils.data.Sampler[int]):
    """Weighted sampling with replacement, split across distributed processes.

    Every process draws the same sequence (seeded by ``seed`` and the epoch, see `set_epoch`)
    and keeps every ``num_replicas``-th index from its ``rank``: together the processes see
    one weighted draw per epoch, as `make_weighted_sampler` gives a single process."""

    def __init__(
        self,
        labels: np.ndarray,
        num_classes: int,
        num_replicas: int,
        rank: int,
        *,
        seed: int,
        num_samples: int | None = None,
        power: float = 1.0,
    ) -> None:
        self.weights = torch.as_tensor(
            sampler_weights(labels, num_classes, power), dtype=torch.double
        )
        total = len(labels) if num_samples is None else int(num_samples)
        self.per_rank = -(-total // num_replicas)
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator()
        gen.manual_seed(self.seed * 1_000_003 + self.epoch)
        draw = torch.multinomial(
            self.weights, self.per_rank * self.num_replicas, replacement=True, generator=gen
        )
        return iter(draw[self.rank :: self.num_replicas].tolist())
