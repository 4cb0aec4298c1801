"""Classification metrics (metrics.json schema) and the classifier plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wikiart.errors import WikiartError
from wikiart.eval.metrics import (
    PER_CLASS_COLUMNS,
    classification_metrics,
    confusion,
    minority_recall,
    per_class_rows,
    top_k_accuracy,
)
from wikiart.report.classifier_plots import plot_confusion, plot_history

CLASSES = ["A", "B", "C"]
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 0, 2, 1])
SCHEMA = {
    "n",
    "classes",
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "top5_accuracy",
    "per_class",
}


def test_hand_made_example() -> None:
    m = classification_metrics(Y_TRUE, Y_PRED, CLASSES)
    assert set(m) == SCHEMA
    assert m["n"] == 8
    assert m["classes"] == CLASSES
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2 + 1 / 2) / 3)
    f1 = {"A": 0.75, "B": 0.4, "C": 2 / 3}
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert m["top5_accuracy"] is None  # no scores given
    assert m["per_class"]["B"] == pytest.approx(
        {"precision": 1 / 3, "recall": 0.5, "f1": 0.4, "support": 2}
    )
    for name, row in m["per_class"].items():
        assert set(row) == {"precision", "recall", "f1", "support"}
        assert row["f1"] == pytest.approx(f1[name])
        assert isinstance(row["support"], int)


def test_probs_give_predictions_and_top5() -> None:
    rng = np.random.default_rng(0)
    num = 7
    y = np.array([0, 1, 2, 3])
    ranks = [0, 4, 5, 6]  # where each true class sits in that row's ranking (0 = best)
    probs = np.zeros((4, num))
    for i, (label, rank) in enumerate(zip(y, ranks, strict=True)):
        others = [c for c in rng.permutation(num) if c != label]
        order = [*others[:rank], label, *others[rank:]]
        probs[i, order] = np.linspace(0.5, 0.01, num)
    names = [f"s{c}" for c in range(num)]
    m = classification_metrics(y, probs, names)
    assert m["top5_accuracy"] == pytest.approx(0.5)  # ranks 0 and 4 are in the top 5
    assert m["accuracy"] == pytest.approx(0.25)
    same = classification_metrics(y, probs.argmax(axis=1), names, probs=probs)
    assert same == m
    assert top_k_accuracy(y, probs, k=1) == pytest.approx(0.25)


def test_top5_with_fewer_classes_uses_all() -> None:
    probs = np.eye(3)[Y_PRED]
    m = classification_metrics(Y_TRUE, probs, CLASSES)
    assert m["top5_accuracy"] == pytest.approx(1.0)  # k = min(5, 3)
    assert m["accuracy"] == pytest.approx(5 / 8)


def test_subset_of_classes() -> None:
    classes = ["A", "B", "C", "D"]
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])  # one prediction of C, a style absent from this split
    m = classification_metrics(y, pred, classes)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1.0) / 2)  # over A and B only
    assert list(m["per_class"]) == classes
    assert m["per_class"]["C"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["per_class"]["D"]["support"] == 0


def test_json_ready() -> None:
    probs = np.eye(3)[Y_PRED] * 0.9 + 0.03
    m = classification_metrics(Y_TRUE.astype(np.int32), probs, CLASSES)
    back = json.loads(json.dumps(m))
    assert back == m
    assert all(type(m[k]) is float for k in ("accuracy", "balanced_accuracy", "macro_f1"))
    assert type(m["n"]) is int


def test_bad_input() -> None:
    with pytest.raises(WikiartError):
        classification_metrics(np.array([], dtype=int), np.array([], dtype=int), CLASSES)
    with pytest.raises(WikiartError):
        classification_metrics(Y_TRUE, Y_PRED[:-1], CLASSES)
    with pytest.raises(WikiartError):
        classification_metrics(Y_TRUE, Y_PRED, CLASSES, probs=np.zeros((8, 4)))
    with pytest.raises(WikiartError):
        classification_metrics(np.array([0, 3]), np.array([0, 1]), CLASSES)


def test_confusion() -> None:
    cm = confusion(Y_TRUE, Y_PRED, 4)
    assert cm.shape == (4, 4)
    assert cm.sum() == len(Y_TRUE)
    assert cm.sum(axis=1).tolist() == [4, 2, 2, 0]
    assert np.trace(cm) == 5
    assert cm[1, 0] == 1 and cm[2, 1] == 1


def test_per_class_rows() -> None:
    m = classification_metrics(Y_TRUE, Y_PRED, CLASSES)
    rows = per_class_rows(m)
    assert [r["style"] for r in rows] == CLASSES
    assert all(tuple(r) == PER_CLASS_COLUMNS for r in rows)
    assert rows[0]["support"] == 4


def test_minority_recall() -> None:
    m = classification_metrics(Y_TRUE, Y_PRED, CLASSES)  # recalls A .75, B .5, C .5
    train = {"A": 100, "B": 20, "C": 5}
    assert minority_recall(m, train, k=1) == pytest.approx(0.5)
    assert minority_recall(m, {"A": 1, "B": 20, "C": 5}, k=2) == pytest.approx((0.75 + 0.5) / 2)
    assert minority_recall(m, train, k=10) == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    # a style absent from the evaluated split is skipped, not counted as recall 0
    m4 = classification_metrics(Y_TRUE, Y_PRED, [*CLASSES, "D"])
    assert minority_recall(m4, {**train, "D": 1}, k=1) == pytest.approx(0.5)


@pytest.mark.parametrize("num", [3, 27])
@pytest.mark.parametrize("normalize", [True, False])
def test_plot_confusion(tmp_path: Path, num: int, normalize: bool) -> None:
    rng = np.random.default_rng(num)
    y = rng.integers(0, num, size=200)
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, num, size=200))
    cm = confusion(y, pred, num)
    cm[0] = 0  # a style with no test images must not break the normalisation
    names = [f"Style_Name_{c}" for c in range(num)]
    out = plot_confusion(cm, names, tmp_path / "confusion.png", normalize=normalize)
    assert out.is_file() and out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_confusion_shape_mismatch(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_confusion(np.zeros((3, 3)), ["a", "b"], tmp_path / "x.png")


def test_plot_history(tmp_path: Path) -> None:
    history = [
        {"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "val_macro_f1": 0.2, "val_accuracy": 0.3},
        {"epoch": 2, "train_loss": 1.5, "val_macro_f1": "", "val_accuracy": 0.4},
        {"epoch": 3, "train_loss": "1.2", "val_loss": None, "val_accuracy": "0.5"},
    ]
    out = plot_history(history, tmp_path / "loss.png")
    assert out.is_file() and out.stat().st_size > 1000
    only_train = [{"epoch": e, "train_loss": 1.0 / e} for e in (1, 2)]
    assert plot_history(only_train, tmp_path / "only_train.png").stat().st_size > 1000
    assert plot_history([], tmp_path / "empty.png").stat().st_size > 1000
