"""Losses per imbalance strategy, checked against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wikiart.data.balance import class_weights
from wikiart.errors import WikiartError
from wikiart.train.losses import LogitAdjustedLoss, make_loss

COUNTS = np.array([60, 30, 10])


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(8, 3, generator=gen), torch.tensor([0, 1, 2, 0, 1, 2, 2, 0])


def hand_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -logp[torch.arange(len(target)), target].mean()


@pytest.mark.parametrize("tau", [1.0, 0.5, 2.0])
def test_logit_adjusted_matches_hand_computation(tau: float) -> None:
    logits, target = batch()
    loss = LogitAdjustedLoss.from_counts(COUNTS, tau=tau)
    prior = torch.tensor(COUNTS / COUNTS.sum(), dtype=torch.float32)
    want = hand_ce(logits + tau * torch.log(prior), target)
    assert torch.allclose(loss(logits, target), want, atol=1e-6)


def test_logit_adjusted_uniform_prior_is_plain_ce() -> None:
    logits, target = batch(1)
    loss = LogitAdjustedLoss.from_counts(np.array([5, 5, 5]))
    assert torch.allclose(loss(logits, target), nn.functional.cross_entropy(logits, target))
    smooth = LogitAdjustedLoss.from_counts(np.array([5, 5, 5]), label_smoothing=0.1)
    want = nn.functional.cross_entropy(logits, target, label_smoothing=0.1)
    assert torch.allclose(smooth(logits, target), want)


def test_logit_adjusted_prior_is_a_buffer() -> None:
    loss = LogitAdjustedLoss.from_counts(COUNTS)
    assert "log_prior" in dict(loss.named_buffers())
    assert not list(loss.parameters())
    loss = loss.to(torch.float64)
    assert loss.log_prior.dtype == torch.float64
    logits, target = batch()
    out = loss(logits.double(), target)
    assert out.dtype == torch.float64
    assert "log_prior" in loss.state_dict()


def test_logit_adjusted_checks_class_count() -> None:
    loss = LogitAdjustedLoss.from_counts(COUNTS)
    with pytest.raises(ValueError):
        loss(torch.zeros(2, 4), torch.tensor([0, 1]))


@pytest.mark.parametrize("kind", ["none", "resample", "sampler"])
def test_make_loss_plain_kinds(kind: str) -> None:
    loss = make_loss(kind, None, label_smoothing=0.1)
    assert type(loss) is nn.CrossEntropyLoss
    assert loss.weight is None
    assert loss.label_smoothing == 0.1


def test_make_loss_weighted_matches_hand_computation() -> None:
    logits, target = batch(2)
    loss = make_loss("weighted-loss", COUNTS)
    assert isinstance(loss, nn.CrossEntropyLoss)
    w = class_weights(COUNTS, "inverse")
    assert torch.equal(loss.weight, w)
    logp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    nll = -logp[torch.arange(len(target)), target]
    want = (w[target] * nll).sum() / w[target].sum()
    assert torch.allclose(loss(logits, target), want, atol=1e-6)
    eff = make_loss("weighted-loss", COUNTS, weight_scheme="effective", beta=0.9)
    assert torch.equal(eff.weight, class_weights(COUNTS, "effective", beta=0.9))


def test_make_loss_logit_adjust() -> None:
    loss = make_loss("logit-adjust", COUNTS, tau=0.7, label_smoothing=0.05)
    assert isinstance(loss, LogitAdjustedLoss)
    assert loss.tau == 0.7
    assert loss.label_smoothing == 0.05


def test_make_loss_errors() -> None:
    with pytest.raises(WikiartError):
        make_loss("focal", COUNTS)
    with pytest.raises(WikiartError):
        make_loss("weighted-loss", None)
    with pytest.raises(WikiartError):
        make_loss("logit-adjust", None)
