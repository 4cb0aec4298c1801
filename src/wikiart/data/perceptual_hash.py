"""The 64-bit DCT perceptual hash of a picture, and the search for near-duplicate pairs among
many hashes.

Near-duplicate pairs (hashes at most a few bits apart) are found with the pigeonhole band trick,
not an all-pairs loop, so tens of thousands of images are quick.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image
from scipy.fft import dctn


# -- perceptual hash and near-duplicate search ------------------------------------------------
def phash(im: Image.Image) -> int:
    """64-bit DCT perceptual hash: grayscale 32x32, DCT, the top-left 8x8 low frequencies, each
    bit set where a coefficient exceeds the median of the 63 non-DC ones. Robust to re-saving,
    recompression and mild resizing; changes with the picture's structure."""
    small = im.convert("L").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=3.0)
    coeffs = dctn(np.asarray(small, dtype=np.float64), type=2, norm="ortho")[:8, :8].ravel()
    median = np.median(coeffs[1:])
    bits = coeffs > median
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (a ^ b).bit_count()


def _popcount64(x: np.ndarray) -> np.ndarray:
    counts: np.ndarray
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        counts = np.bitwise_count(x).astype(np.int64)
        return counts
    as_bytes = x.astype(np.uint64).view(np.uint8).reshape(-1, 8)
    counts = np.unpackbits(as_bytes, axis=1).sum(axis=1).astype(np.int64)
    return counts


def _band_masks(threshold: int) -> list[tuple[int, int]]:
    """(shift, mask) of ``threshold + 1`` bands covering the 64 bits."""
    bands = threshold + 1
    base, extra = divmod(64, bands)
    out, shift = [], 0
    for b in range(bands):
        width = base + (1 if b < extra else 0)
        out.append((shift, (1 << width) - 1))
        shift += width
    return out


def _equal_value_pairs(values: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """All index pairs (i, j) with ``values[i] == values[j]``, i != j, in batches of at most
    ``len(values)``: work is proportional to the number of pairs, never n^2, and memory to n."""
    order = np.argsort(values, kind="stable")
    sv = values[order]
    n = len(sv)
    starts = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]])
    ends = np.r_[starts[1:], n]
    group_end = np.repeat(ends, ends - starts)
    alive = np.arange(n)
    d = 1
    while True:
        # positions whose group still holds a member ``d`` places further on
        alive = alive[group_end[alive] - alive > d]
        if not alive.size:
            return
        yield order[alive], order[alive + d]
        d += 1


def near_duplicate_pairs(hashes: Sequence[int], threshold: int) -> list[tuple[int, int, int]]:
    """Every ``(i, j, distance)`` with ``i < j`` and ``hamming(hashes[i], hashes[j]) <=
    threshold``, sorted. Two hashes within ``threshold`` bits agree exactly on at least one of
    ``threshold + 1`` bands (pigeonhole), so only pairs sharing a band value are compared. Made
    for small thresholds: candidates grow about 2x per extra bit of threshold."""
    if not 0 <= threshold < 64:
        raise ValueError(f"threshold must be in 0..63, got {threshold}")
    h = np.asarray([int(x) & 0xFFFFFFFFFFFFFFFF for x in hashes], dtype=np.uint64)
    if len(h) < 2:
        return []
    # Work on distinct values; repeats are expanded at the end.
    uniq, inverse = np.unique(h, return_inverse=True)
    inverse = inverse.ravel()
    found = []
    for shift, mask in _band_masks(threshold):
        band = (uniq >> np.uint64(shift)) & np.uint64(mask)
        for a, b in _equal_value_pairs(band):
            dist = _popcount64(uniq[a] ^ uniq[b])
            keep = dist <= threshold
            if keep.any():
                a, b = a[keep], b[keep]
                found.append(np.stack([np.minimum(a, b), np.maximum(a, b), dist[keep]], axis=1))
    # A pair sharing several bands was found once per band: keep it once.
    near = np.unique(np.concatenate(found), axis=0) if found else np.empty((0, 3), np.int64)

    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))

    def members(k: int) -> list[int]:
        picked: list[int] = order[bounds[k] : bounds[k + 1]].tolist()
        return picked

    out: list[tuple[int, int, int]] = []
    for k in np.flatnonzero(np.diff(bounds) > 1).tolist():  # repeated values: distance 0
        idx = members(k)
        out += [(idx[x], idx[y], 0) for x in range(len(idx)) for y in range(x + 1, len(idx))]
    for ga, gb, d in near.tolist():
        out += [(min(i, j), max(i, j), d) for i in members(ga) for j in members(gb)]
    out.sort()
    return out
