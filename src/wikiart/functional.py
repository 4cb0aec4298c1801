"""Pure maths on tensors, unit-tested directly and shared by every job: channel statistics and
the style embeddings built from them, AdaIN and the losses of AdaIN style transfer, activation
smoothing, Gram matrices, colour-statistics transfer, luminance-only transfer and SSIM.

Style lives in texture and colour statistics more than in the objects a feature map locates, so a
style embedding summarises each layer by its per-channel mean and standard deviation (the AdaIN
summary, Huang & Belongie 2017) instead of only average-pooling the last layer. Full Gram matrices
(Gatys et al.) would be ``C^2`` numbers per layer (1.6 M for a 1280-channel head): the mean/std
pair keeps ``2C`` and is what AdaIN showed to carry most of the style.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 for bf16/fp16 activations (a variance in bf16 loses most of its digits), else as is."""
    return torch.promote_types(dtype, torch.float32)


def channel_mean_std(
    x: torch.Tensor, eps: float = 1e-5, *, keepdim: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation over the spatial positions.

    ``x``: ``N x C x H x W`` (any memory format). Returns two ``N x C`` tensors in at least fp32
    (``N x C x 1 x 1`` with ``keepdim``, ready to broadcast against ``x``).
    The std is the population one, ``sqrt(var + eps)``: the ``eps`` keeps the gradient finite for
    a channel that is constant (a dead ReLU6 channel), where ``sqrt`` has an infinite slope."""
    if x.dim() != 4:
        raise ValueError(f"expected an N x C x H x W feature map, got shape {tuple(x.shape)}")
    x = x.to(_compute_dtype(x.dtype))
    var, mean = torch.var_mean(x, dim=(2, 3), correction=0, keepdim=keepdim)
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
    c = x.shape[1]
    cov = gram_matrix(x, center=True)
    rows, cols = torch.triu_indices(c, c, device=x.device)
    upper = cov[:, rows, cols]
    return rms_normalize(torch.sign(upper) * torch.sqrt(upper.abs() + eps))


def gram_matrix(x: torch.Tensor, *, center: bool = False) -> torch.Tensor:
    """Each sample's ``C x C`` Gram matrix of channel correlations over the spatial positions,
    divided by ``H x W`` (Gatys et al. 2016); ``center`` subtracts the channel means first (a
    covariance). ``x``: ``N x C x H x W``; returns ``N x C x C`` in at least fp32."""
    if x.dim() != 4:
        raise ValueError(f"expected an N x C x H x W feature map, got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    flat = x.to(_compute_dtype(x.dtype)).reshape(n, c, -1)
    if center:
        flat = flat - flat.mean(dim=2, keepdim=True)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def adain(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation (Huang & Belongie 2017): ``x`` (``N x C x H x W``) with its
    channel statistics replaced by standard deviation ``gamma`` and mean ``beta`` (each
    ``N x C``)."""
    mean, std = channel_mean_std(x, keepdim=True)
    return ((x - mean) / std * gamma[..., None, None] + beta[..., None, None]).to(x.dtype)


def match_channel_stats(
    x: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor
) -> torch.Tensor:
    """Colour-statistics transfer: each image's per-channel mean and spread set to the target's
    (``N x 3`` or ``3``), clamped to ``[0, 1]``. ``x`` is ``N x 3 x H x W`` in [0, 1]. The
    baseline a style generator has to beat: a colour shift with no texture."""
    mean, std = channel_mean_std(x.float(), keepdim=True)
    tm = target_mean.float().reshape(-1, x.shape[1], 1, 1)
    ts = target_std.float().reshape(-1, x.shape[1], 1, 1)
    return ((x.float() - mean) / std * ts + tm).clamp(0, 1)


#: SSIM's stabilising constants (Wang et al. 2004), times the data range.
SSIM_K1, SSIM_K2 = 0.01, 0.03


def gaussian_window(
    size: int = 11,
    sigma: float = 1.5,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A normalised ``size x size`` Gaussian kernel (the one of the SSIM paper)."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean structural similarity (SSIM, Wang et al. 2004) per image of two ``N x C x H x W``
    batches in ``[0, data_range]``: shape ``N``. Differentiable, so ``1 - ssim`` is a loss term:
    MSE alone is minimised by a blurred average, while SSIM compares local means, contrasts and
    correlations, so it rewards keeping edges and texture.

    Local statistics under a Gaussian window (valid positions only, no padding), per channel,
    averaged over positions and channels. Images smaller than the window use a window of their
    own size. Computed in fp32 whatever the input precision."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(
            f"ssim needs two N x C x H x W batches of one shape, got {x.shape}, {y.shape}"
        )
    x, y = x.float(), y.float()
    size = min(window, x.shape[-2], x.shape[-1])
    channels = x.shape[1]
    kernel = gaussian_window(size, sigma, x.dtype, x.device).expand(channels, 1, size, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)

    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cov + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return (num / den).mean(dim=(1, 2, 3))


def blend(content: torch.Tensor, stylised: torch.Tensor, alpha: float) -> torch.Tensor:
    """AdaIN's content-style trade-off (Huang & Belongie 2017, eq. 14): ``alpha`` of the
    stylised features and ``1 - alpha`` of the content's; ``alpha = 0`` is the content itself."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return torch.lerp(content, stylised.to(content.dtype), alpha)


def smooth_activations(x: torch.Tensor, temperature: float) -> torch.Tensor:
    """SWAG smoothing (Wang, Li & Vasconcelos, CVPR 2021): each sample's whole feature map
    through a softmax at ``temperature``, rescaled by its number of elements (so the values
    average 1). Residual encoders have a few huge, peaky activations that dominate mean/std
    statistics; the softmax compresses them so that the style statistics see the rest.
    ``temperature <= 0`` returns ``x`` unchanged."""
    if temperature <= 0:
        return x
    if x.dim() != 4:
        raise ValueError(f"expected an N x C x H x W feature map, got shape {tuple(x.shape)}")
    n = x.shape[0]
    flat = x.to(_compute_dtype(x.dtype)).reshape(n, -1)
    return (torch.softmax(flat / temperature, dim=1) * flat.shape[1]).reshape(x.shape)


def mean_std_loss(
    got: Sequence[torch.Tensor],
    want: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """AdaIN's style loss: over layers, the mean squared difference of each map's per-channel
    means plus that of its standard deviations, against target ``(mean, std)`` pairs (``N x C``
    or ``C``, broadcast over the batch). Summed over layers, averaged over batch and channels."""
    if len(got) != len(want) or not got:
        raise ValueError(f"mean_std_loss needs one target per map, got {len(got)} and {len(want)}")
    terms = []
    for g, (wm, ws) in zip(got, want, strict=True):
        gm, gs = channel_mean_std(g)
        terms.append(
            F.mse_loss(gm, wm.to(gm).expand_as(gm)) + F.mse_loss(gs, ws.to(gs).expand_as(gs))
        )
    return torch.stack(terms).sum()


def content_loss(got: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """AdaIN's content loss: the mean squared distance of the output's features to the AdaIN
    target (not to the content image's features), in fp32."""
    return F.mse_loss(got.float(), target.float())


#: RGB -> YUV (BT.601, the luma weights of JPEG and PIL's "L" mode).
_RGB_TO_YUV = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]]
)


def preserve_color(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer (Gatys et al. 2016, "Preserving colour in neural artistic style
    transfer"): the stylised image's luma (Y) with the content's chroma (U, V). Both
    ``N x 3 x H x W`` (or ``3 x H x W``) in [0, 1] of one size; returns [0, 1]."""
    if stylised.shape != content.shape or stylised.shape[-3] != 3:
        raise ValueError(
            f"preserve_color needs two RGB images of one shape, got {stylised.shape}, "
            f"{content.shape}"
        )
    m = _RGB_TO_YUV.to(device=stylised.device, dtype=torch.float32)
    yuv_s = torch.einsum("ij,...jhw->...ihw", m, stylised.float())
    yuv_c = torch.einsum("ij,...jhw->...ihw", m, content.float())
    mixed = torch.cat([yuv_s[..., :1, :, :], yuv_c[..., 1:, :, :]], dim=-3)
    return torch.einsum("ij,...jhw->...ihw", torch.linalg.inv(m), mixed).clamp(0, 1)
