import numpy as np
import pytest

from wikiart.data.splits import stratified_split


def test_every_class_in_both_parts_and_disjoint():
    labels = np.array([0] * 50 + [1] * 10 + [2] * 2 + [3] * 1)
    tr, va = stratified_split(labels, 0.1, seed=0)
    assert set(tr) | set(va) == set(range(len(labels))) and not set(tr) & set(va)
    counts = np.bincount(labels[va], minlength=4)
    assert counts.tolist() == [5, 1, 1, 0]  # rounding, at least one, never the last image
    assert np.bincount(labels[tr], minlength=4).min() >= 1


def test_deterministic_and_seed_dependent():
    labels = np.repeat(np.arange(5), 20)
    a = stratified_split(labels, 0.2, seed=1)
    b = stratified_split(labels, 0.2, seed=1)
    c = stratified_split(labels, 0.2, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_zero_fraction_and_bad_fraction():
    tr, va = stratified_split(np.arange(4) % 2, 0.0, seed=0)
    assert len(va) == 0 and len(tr) == 4
    with pytest.raises(ValueError):
        stratified_split(np.zeros(3), 1.0, seed=0)
