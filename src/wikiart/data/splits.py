"""Carving a validation split out of the training split (never out of test), and picking a few
images of every style to show."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: about ``fraction`` of every class goes to validation, at least
    one image of every class with two or more, never a class's last image. Deterministic."""
    labels = np.asarray(labels)
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng([seed, 0x5EED])
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_val = 0
        if fraction > 0 and len(idx) >= 2:
            n_val = min(max(round(fraction * len(idx)), 1), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def cap_per_style(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``n`` items of each label, a seeded random choice per label."""
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(labels == c))[:n] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def pick_per_style(labels: np.ndarray, n: int, seed: int = 0) -> list[int]:
    """Up to ``n`` indices, one per style in turn (round robin), so every style is shown."""
    rng = np.random.default_rng(seed)
    by_style = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in np.unique(labels)]
    picked: list[int] = []
    while len(picked) < n and any(by_style):
        for group in by_style:
            if group and len(picked) < n:
                picked.append(group.pop())
    return picked
