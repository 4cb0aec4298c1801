"""Style statistics of feature maps: the pure maths behind ``features="stats"``.

Style lives in texture and colour statistics more than in the objects a feature map locates, so a
style embedding summarises each layer by its per-channel mean and standard deviation (the AdaIN
summary, Huang & Belongie 2017) instead of only average-pooling the last layer. Full Gram matrices
(Gatys et al.) would be ``C^2`` numbers per layer (1.6 M for a 1280-channel head): the mean/std
pair keeps ``2C`` and is what AdaIN showed to carry most of the style.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 for bf16/fp16 activations (a variance in bf16 loses most of its digits), else as is."""
    return torch.promote_types(dtype, torch.float32)


def channel_mean_std(x: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation over the spatial positions.

    ``x``: ``N x C x H x W`` (any memory format). Returns two ``N x C`` tensors in at least fp32.
    The std is the population one, ``sqrt(var + eps)``: the ``eps`` keeps the gradient finite for
    a channel that is constant (a dead ReLU6 channel), where ``sqrt`` has an infinite slope."""
    if x.dim() != 4:
        raise ValueError(f"expected an N x C x H x W feature map, got shape {tuple(x.shape)}")
    x = x.to(_compute_dtype(x.dtype))
    var, mean = torch.var_mean(x, dim=(2, 3), correction=0)
    return mean, torch.sqrt(var + eps)


def rms_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Scale each row to unit root-mean-square, so every layer enters the embedding with the same
    per-number scale whatever its activation range (block outputs are unbounded, the ReLU6 head is
    in [0, 6]); a layer with more channels still contributes more numbers."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


def style_statistics(
    features: Sequence[torch.Tensor], normalize: bool = True, eps: float = 1e-5
) -> torch.Tensor:
    """Concatenated ``[mean_1, std_1, mean_2, std_2, ...]`` of several feature maps.

    ``features``: ``N x C_i x H_i x W_i`` maps from different depths (their sizes may differ).
    Returns ``N x sum(2 * C_i)`` in the dtype of the first map (bf16 under autocast, so a linear
    head after it runs in the same precision as the rest), computed in at least fp32. With
    ``normalize``, each layer's ``[mean, std]`` block is RMS-normalised (`rms_normalize`)."""
    if not features:
        raise ValueError("style_statistics needs at least one feature map")
    parts = []
    for f in features:
        mean, std = channel_mean_std(f, eps)
        block = torch.cat([mean, std], dim=1)
        parts.append(rms_normalize(block) if normalize else block)
    return torch.cat(parts, dim=1).to(features[0].dtype)


def covariance_statistics(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Second-order style statistics of one map: the upper triangle (diagonal included) of each
    sample's ``C x C`` channel covariance over the spatial positions, a centred Gram matrix
    (Gatys et al. 2016), with the signed square root and normalisation of bilinear pooling (Lin
    et al. 2015), RMS-normalised as a block (`rms_normalize`).

    ``x``: ``N x C x H x W``. Returns ``N x C(C+1)/2`` in at least fp32. Which channels fire
    *together* is what mean and std per channel cannot say; keep ``C`` small (a 1x1 projection
    first), as the size grows with ``C^2``."""
    if x.dim() != 4:
        raise ValueError(f"expected an N x C x H x W feature map, got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    flat = x.to(_compute_dtype(x.dtype)).reshape(n, c, -1)
    flat = flat - flat.mean(dim=2, keepdim=True)
    cov = flat @ flat.transpose(1, 2) / flat.shape[2]
    rows, cols = torch.triu_indices(c, c, device=x.device)
    upper = cov[:, rows, cols]
    return rms_normalize(torch.sign(upper) * torch.sqrt(upper.abs() + eps))
