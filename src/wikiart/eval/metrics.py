"""Classification metrics in the ``metrics.json`` schema of the contract, as plain functions.

Accuracy alone flatters a model that only learns the big styles, so every evaluation also reports
balanced accuracy (mean per-class recall), macro-F1, top-5 accuracy and per-class numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from wikiart.errors import WikiartError

TOP_K = 5
PER_CLASS_KEYS = ("precision", "recall", "f1", "support")
PER_CLASS_COLUMNS = ("style", *PER_CLASS_KEYS)  # the header of per_class.csv


def _as_labels(y: Any, num_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise WikiartError(f"{what} must be a 1-D array of class indices, got shape {arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise WikiartError(
            f"{what} must lie in [0, {num_classes}), got range [{arr.min()}, {arr.max()}]"
        )
    return arr


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int = TOP_K) -> float:
    """Share of samples whose true class is among the ``min(k, classes)`` highest scores."""
    scores = np.asarray(probs, dtype=np.float64)
    k = max(1, min(int(k), scores.shape[1]))
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == np.asarray(y_true)[:, None]).any(axis=1).mean())


def classification_metrics(
    y_true: Any,
    y_pred_or_probs: Any,
    classes: Sequence[str],
    *,
    probs: np.ndarray | None = None,
) -> dict[str, Any]:
    """The ``metrics.json`` dict: ``n, classes, accuracy, balanced_accuracy, macro_f1,
    top5_accuracy, per_class{style: {precision, recall, f1, support}}``.

    ``y_pred_or_probs`` is either predicted indices (1-D) or class scores (2-D, ``n x classes``;
    predictions are then its argmax and it doubles as ``probs``). ``top5_accuracy`` needs scores
    and is ``None`` without them. When the split holds only some of the classes (a test folder
    with fewer styles), balanced accuracy and macro-F1 average over the classes *present in
    y_true*: averaging in absent classes would add zeros that say nothing about the model
    (sklearn's balanced accuracy already does this; macro-F1 is given those labels). ``per_class``
    still lists every class, with support 0 for absent ones. Values are plain Python numbers, so
    the dict goes straight to ``json.dumps``.
    """
    names = [str(c) for c in classes]
    num = len(names)
    if num == 0:
        raise WikiartError("metrics need at least one class")
    y = _as_labels(y_true, num, "y_true")
    if y.size == 0:
        raise WikiartError("no examples to evaluate")
    given = np.asarray(y_pred_or_probs)
    if given.ndim == 2:
        if probs is None:
            probs = given
        pred = given.argmax(axis=1)
    else:
        pred = given
    pred = _as_labels(pred, num, "y_pred")
    if len(pred) != len(y):
        raise WikiartError(f"{len(y)} true labels but {len(pred)} predictions")
    if probs is not None:
        probs = np.asarray(probs)
        if probs.shape != (len(y), num):
            raise WikiartError(f"probs must have shape {(len(y), num)}, got {probs.shape}")

    present = sorted(set(y.tolist()))
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": expected when the split lacks some styles.
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y, pred)
    macro = f1_score(y, pred, labels=present, average="macro", zero_division=0)
    prec, rec, f1, sup = precision_recall_fscore_support(
        y, pred, labels=list(range(num)), zero_division=0
    )
    per_class = {
        name: {
            "precision": float(prec[i]),
            "recall": float(rec[i]),
            "f1": float(f1[i]),
            "support": int(sup[i]),
        }
        for i, name in enumerate(names)
    }
    return {
        "n": len(y),
        "classes": names,
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(macro),
        "top5_accuracy": None if probs is None else top_k_accuracy(y, probs, TOP_K),
        "per_class": per_class,
    }


def confusion(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """``num_classes x num_classes`` counts, rows true and columns predicted, in class order
    (absent classes keep their row and column, so the matrix lines up with the class map)."""
    y = _as_labels(y_true, num_classes, "y_true")
    p = _as_labels(y_pred, num_classes, "y_pred")
    return cast(
        np.ndarray, confusion_matrix(y, p, labels=list(range(num_classes))).astype(np.int64)
    )


def per_class_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``per_class.csv`` (style, precision, recall, f1, support) in class order."""
    per = metrics["per_class"]
    order = metrics.get("classes") or list(per)
    return [{"style": name, **{k: per[name][k] for k in PER_CLASS_KEYS}} for name in order]


def minority_recall(
    metrics: Mapping[str, Any], counts_by_class: Mapping[str, int], k: int = 3
) -> float:
    """Mean recall of the ``k`` styles with the fewest *training* images (ties by name).

    The imbalance benchmark's headline: a strategy that helps rare styles raises it. Only styles
    that occur in the evaluated split count (the recall of an absent style is undefined, not 0);
    if fewer than ``k`` qualify, the mean is over those."""
    if k < 1:
        raise WikiartError(f"k must be at least 1, got {k}")
    per = metrics["per_class"]
    eligible = [name for name in counts_by_class if name in per and int(per[name]["support"]) > 0]
    if not eligible:
        raise WikiartError("no style with training counts occurs in the evaluated split")
    rare = sorted(eligible, key=lambda name: (counts_by_class[name], name))[:k]
    return sum(float(per[name]["recall"]) for name in rare) / len(rare)
