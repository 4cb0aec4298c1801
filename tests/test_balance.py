"""Imbalance strategies: exact resampling, the weighted sampler, class weights and log priors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wikiart.config import IMBALANCE
from wikiart.data.balance import (
    class_counts,
    class_weights,
    log_priors,
    make_weighted_sampler,
    resample_indices,
    sampler_weights,
)
from wikiart.errors import WikiartError

# 4 classes: 40, 10, 3 and 0 (class 3 is empty) images, interleaved so indices are not sorted.
COUNTS = np.array([40, 10, 3, 0])


def make_labels(counts: np.ndarray = COUNTS, seed: int = 0) -> np.ndarray:
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(labels)


def test_imbalance_names() -> None:
    assert IMBALANCE == ("none", "resample", "sampler", "weighted-loss", "logit-adjust")


def test_class_counts() -> None:
    labels = make_labels()
    counts = class_counts(labels, 4)
    assert counts.dtype == np.int64
    assert counts.tolist() == COUNTS.tolist()
    assert class_counts(np.array([], dtype=np.int64), 2).tolist() == [0, 0]
    with pytest.raises(WikiartError):
        class_counts(np.array([0, 4]), 4)


@pytest.mark.parametrize(("target", "want"), [(7, 7), (25, 25), ("median", 10), ("max", 40)])
def test_resample_exact_counts(target: int | str, want: int) -> None:
    labels = make_labels()
    idx = resample_indices(labels, 4, target=target, seed=1)
    assert idx.dtype == np.int64
    assert ((idx >= 0) & (idx < len(labels))).all()
    got = np.bincount(labels[idx], minlength=4)
    assert got.tolist() == [want, want, want, 0]  # the empty class is skipped, not crashed on


def test_resample_mean_target() -> None:
    labels = make_labels()
    idx = resample_indices(labels, 4, target="mean", seed=0)
    assert np.bincount(labels[idx], minlength=4).tolist() == [18, 18, 18, 0]  # (40+10+3)/3


def test_resample_deterministic_per_seed() -> None:
    labels = make_labels()
    a = resample_indices(labels, 4, target="median", seed=3)
    b = resample_indices(labels, 4, target="median", seed=3)
    c = resample_indices(labels, 4, target="median", seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_resample_tiles_minority_evenly() -> None:
    labels = make_labels()
    target = 25
    idx = resample_indices(labels, 4, target=target, seed=5)
    uses = np.bincount(idx, minlength=len(labels))
    for c in (1, 2):  # classes below target: every image used floor or ceil times
        members = np.flatnonzero(labels == c)
        n = len(members)
        assert uses[members].min() >= target // n
        assert uses[members].max() <= -(-target // n)
        assert uses[members].sum() == target
    # the class above target is subsampled without replacement
    big = np.flatnonzero(labels == 0)
    assert uses[big].max() == 1
    assert uses[big].sum() == target


def test_resample_is_shuffled() -> None:
    labels = make_labels()
    idx = resample_indices(labels, 4, target="max", seed=0)
    # not grouped by class: the labels along the array change class many times
    assert (np.diff(labels[idx]) != 0).sum() > 20


def test_resample_bad_input() -> None:
    labels = make_labels()
    with pytest.raises(WikiartError):
        resample_indices(labels, 4, target="mode", seed=0)
    with pytest.raises(WikiartError):
        resample_indices(labels, 4, target=0, seed=0)
    with pytest.raises(WikiartError):
        resample_indices(np.array([], dtype=np.int64), 4, seed=0)


def test_sampler_weights_inverse_frequency() -> None:
    labels = make_labels()
    w = sampler_weights(labels, 4)
    assert w.shape == labels.shape
    for c, n in enumerate(COUNTS[:3]):
        assert np.allclose(w[labels == c], 1.0 / n)
    # each class carries the same total weight
    totals = np.bincount(labels, weights=w, minlength=4)
    assert np.allclose(totals[:3], 1.0)
    w_half = sampler_weights(labels, 4, power=0.5)
    assert np.allclose(w_half[labels == 1], 10**-0.5)


def test_weighted_sampler_balances_and_reseeds() -> None:
    labels = make_labels()
    sampler = make_weighted_sampler(labels, 4, num_samples=6000, seed=0)
    assert isinstance(sampler.generator, torch.Generator)
    first = list(sampler)
    assert len(first) == 6000
    share = np.bincount(labels[first], minlength=4) / 6000
    assert np.allclose(share[:3], 1 / 3, atol=0.04)
    assert share[3] == 0
    sampler.generator.manual_seed(0)
    assert list(sampler) == first  # reseeding reproduces the draw sequence
    sampler.generator.manual_seed(1)
    assert list(sampler) != first
    assert len(make_weighted_sampler(labels, 4, seed=0)) == len(labels)


@pytest.mark.parametrize("scheme", ["inverse", "sqrt-inverse", "effective"])
def test_class_weights_normalised_and_ordered(scheme: str) -> None:
    counts = np.array([500, 50, 5, 0])
    w = class_weights(counts, scheme=scheme, beta=0.99)
    assert w.dtype == torch.float32
    wn = w.double().numpy()
    assert np.isclose((wn * counts).sum() / counts.sum(), 1.0)
    assert wn[0] < wn[1] < wn[2]  # rarer class -> larger weight
    assert wn[3] == 0.0


def test_class_weights_values() -> None:
    counts = np.array([30, 10])
    w = class_weights(counts, "inverse").double().numpy()
    assert np.isclose(w[1] / w[0], 3.0)
    w = class_weights(counts, "sqrt-inverse").double().numpy()
    assert np.isclose(w[1] / w[0], np.sqrt(3.0))
    beta = 0.9
    w = class_weights(counts, "effective", beta=beta).double().numpy()
    raw = (1 - beta) / (1 - beta ** counts.astype(float))
    assert np.isclose(w[1] / w[0], raw[1] / raw[0])


def test_effective_number_beta_zero_is_uniform() -> None:
    w = class_weights(np.array([1000, 10, 1]), "effective", beta=0.0)
    assert torch.allclose(w, torch.ones(3))


def test_class_weights_bad_input() -> None:
    with pytest.raises(WikiartError):
        class_weights(np.array([3, 4]), "cubic")
    with pytest.raises(WikiartError):
        class_weights(np.array([0, 0]))
    with pytest.raises(WikiartError):
        class_weights(np.array([3, 4]), "effective", beta=1.0)


def test_log_priors() -> None:
    lp = log_priors(np.array([30, 10, 0]))
    assert lp.dtype == torch.float32
    assert torch.allclose(lp[:2], torch.log(torch.tensor([0.75, 0.25])))
    assert torch.isfinite(lp).all()
    assert lp[2] < lp[1]
