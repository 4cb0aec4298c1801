"""Carving a validation split out of the training split (never out of test), picking a few
images of every style to show, and bounded random subsets of large collections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from wikiart.errors import WikiartError


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


def random_subset(n: int, bound: int, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of a random ``bound`` of ``n`` items, the same for the same arguments
    (None when ``n <= bound``: take them all)."""
    if n <= bound:
        return None
    rng = np.random.default_rng([seed, n, bound])
    return np.sort(rng.choice(n, size=bound, replace=False))


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


def check_classifier_styles(styles: Iterable[str], val_fraction: float | None) -> None:
    """A style classifier needs two styles or more in its training split (``styles``: the style
    of each training image), and (when validation is carved from train, ``val_fraction``) two
    images or more of every style: one for training and one for validation. Either shortfall is
    one line naming the styles."""
    counts = Counter(styles)
    if len(counts) < 2:
        found = ", ".join(sorted(counts)) or "none"
        raise WikiartError(
            f"the training split has {len(counts)} style ({found}); a style classifier needs "
            "at least two styles (one <Style>/ folder each)"
        )
    short = sorted(s for s, k in counts.items() if k < 2) if val_fraction else []
    if short:
        raise WikiartError(
            f"{len(short)} style(s) have a single training image, too few to hold one back "
            f"for validation (--val-fraction {val_fraction:g}): {', '.join(short[:10])}"
            f"{' ...' if len(short) > 10 else ''}; add images, give the data a valid/ "
            "folder, or leave those styles out"
        )
