"""The colour baseline a re-painting model is measured against: each image's per-channel colour
mean and spread moved to the target style's average (`wikiart.functional.match_channel_stats`).
The per-style averages are measured once on the training split and stored in the model's
checkpoint (``color_stats``)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from wikiart.data.loader import make_loader


def color_stats(data: Dataset[Any], k: int, batch_size: int = 128) -> dict[str, list[Any]]:
    """Per-style average of each image's per-channel colour mean and spread (in [0, 1]): what
    the colour-statistics baseline moves an image to."""
    loader = make_loader(data, batch_size=batch_size)
    sums = torch.zeros(k, 2, 3, dtype=torch.float64)
    counts = torch.zeros(k, dtype=torch.float64)
    for x, y in loader:
        x01 = x.double() / 255
        m = x01.mean(dim=(2, 3))
        s = x01.var(dim=(2, 3), unbiased=False).add(1e-5).sqrt()
        sums.index_add_(0, y, torch.stack([m, s], 1))
        counts.index_add_(0, y, torch.ones(len(y), dtype=torch.float64))
    avg = sums / counts.clamp_min(1)[:, None, None]
    return {"mean": avg[:, 0].float().tolist(), "std": avg[:, 1].float().tolist()}
