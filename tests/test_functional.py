"""Pure maths (`wikiart.functional`) and image conversions (`wikiart.imaging`), checked against
hand-made tensors and definitions."""

from __future__ import annotations

import math

import pytest
import torch

from wikiart.functional import (
    adain,
    channel_mean_std,
    covariance_statistics,
    gram_matrix,
    rms_normalize,
    style_statistics,
)
from wikiart.imaging import signed_to_uint8, to_hwc, unit_to_hwc, unit_to_uint8


def test_channel_mean_std_exact_on_a_hand_made_map() -> None:
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 5.0], [5.0, 5.0]]]])  # 1 x 2 x 2 x 2
    mean, std = channel_mean_std(x, eps=0.0)
    assert torch.equal(mean, torch.tensor([[2.5, 5.0]]))
    assert torch.allclose(std, torch.tensor([[math.sqrt(1.25), 0.0]]))  # population std
    _, std_eps = channel_mean_std(x)
    assert torch.allclose(std_eps, torch.sqrt(torch.tensor([[1.25, 0.0]]) + 1e-5))
    with pytest.raises(ValueError):
        channel_mean_std(torch.zeros(2, 3))


def test_style_statistics_layout_normalisation_and_gradients() -> None:
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 5.0], [5.0, 5.0]]]], requires_grad=True)
    b = torch.full((1, 1, 3, 3), 2.0)  # another depth, another size
    raw = style_statistics([a, b], normalize=False, eps=0.0)
    assert torch.allclose(raw, torch.tensor([[2.5, 5.0, math.sqrt(1.25), 0.0, 2.0, 0.0]]))
    normed = style_statistics([a, b])
    assert normed.shape == (1, 6)
    for block in (normed[:, :4], normed[:, 4:]):  # each layer's [mean, std] at unit RMS
        assert torch.allclose(block.pow(2).mean(), torch.tensor(1.0), atol=1e-4)
    normed.sum().backward()  # a constant channel: finite gradients thanks to eps
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(rms_normalize(torch.tensor([[3.0, 4.0]])).pow(2).mean(), torch.ones(()))
    half = style_statistics([a.detach().bfloat16(), b.bfloat16()])
    assert half.dtype == torch.bfloat16 and torch.allclose(half.float(), normed, atol=2e-2)


def test_covariance_statistics_exact_on_a_hand_made_map() -> None:
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = torch.stack([a, 2 * a, -a, torch.full((2, 2), 7.0)]).unsqueeze(0)  # 1 x 4 x 2 x 2
    cov = torch.cov(x.reshape(4, 4), correction=0)  # 1.25 * [[1, 2, -1, 0], [2, 4, -2, 0], ...]
    rows, cols = torch.triu_indices(4, 4)
    upper = cov[rows, cols]
    signed = torch.sign(upper) * torch.sqrt(upper.abs())
    out = covariance_statistics(x, eps=0.0)
    assert out.shape == (1, 10)
    assert torch.allclose(out[0], rms_normalize(signed))
    assert out[0, 2] < 0 and out[0, 3] == 0  # anti-correlated channels keep their sign
    assert torch.allclose(out.pow(2).mean(), torch.tensor(1.0), atol=1e-5)
    y = torch.randn(3, 5, 4, 4, requires_grad=True)
    covariance_statistics(y).sum().backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        covariance_statistics(torch.zeros(2, 3))


def test_gram_matrix_against_its_definition_and_centred_is_the_covariance() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5)
    flat = x.reshape(2, 3, 20)
    want = torch.einsum("ncp,ndp->ncd", flat, flat) / 20
    assert torch.allclose(gram_matrix(x), want, atol=1e-6)
    cov = gram_matrix(x, center=True)
    for i in range(2):
        assert torch.allclose(cov[i], torch.cov(flat[i], correction=0), atol=1e-5)
    assert gram_matrix(x.bfloat16()).dtype == torch.float32  # computed in fp32
    with pytest.raises(ValueError):
        gram_matrix(torch.zeros(2, 3))


def test_adain_sets_the_given_statistics_and_keeps_the_dtype() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8) * 4 + 7
    gamma = torch.tensor([[0.5, 2.0, 1.0], [3.0, 1.0, 0.1]])
    beta = torch.tensor([[1.0, -1.0, 0.0], [0.0, 5.0, 2.0]])
    mean, std = channel_mean_std(adain(x, gamma, beta))
    assert torch.allclose(mean, beta, atol=1e-4) and torch.allclose(std, gamma, atol=1e-3)
    assert adain(x.bfloat16(), gamma, beta).dtype == torch.bfloat16
    keep_mean, keep_std = channel_mean_std(x, keepdim=True)
    assert keep_mean.shape == (2, 3, 1, 1) and keep_std.shape == (2, 3, 1, 1)


def test_unit_to_uint8_clamps_and_rounds_half_up() -> None:
    x = torch.tensor([0.0, 1.0, -0.5, 1.5, 0.5, 0.25, 1 / 255, 0.49 / 255, 0.51 / 255])
    got = unit_to_uint8(x)
    assert got.dtype == torch.uint8
    assert got.tolist() == [0, 255, 0, 255, 128, 64, 1, 0, 1]
    assert unit_to_uint8(x.half()).tolist() == got.tolist()  # any float dtype, same rounding


def test_signed_to_uint8_clamps_and_rounds_half_up() -> None:
    x = torch.tensor([-1.0, 1.0, 0.0, -2.0, 2.0, -0.5, 0.5, -1 + 0.49 / 127.5, -1 + 0.51 / 127.5])
    got = signed_to_uint8(x)
    assert got.dtype == torch.uint8
    assert got.tolist() == [0, 255, 128, 0, 255, 64, 191, 0, 1]


def test_to_hwc_moves_channels_last_for_one_image_or_a_batch() -> None:
    x = torch.arange(2 * 3 * 2 * 4, dtype=torch.uint8).reshape(2, 3, 2, 4)
    batch, one = to_hwc(x), to_hwc(x[1])
    assert batch.shape == (2, 2, 4, 3) and one.shape == (2, 4, 3) and one.dtype.name == "uint8"
    assert batch[1, 1, 2, 0] == x[1, 0, 1, 2] and (one == batch[1]).all()
    u = unit_to_hwc(torch.tensor([[[0.0, 0.5]], [[1.0, 2.0]], [[-1.0, 0.25]]]))  # 3 x 1 x 2
    assert u.tolist() == [[[0, 255, 0], [128, 255, 64]]]
