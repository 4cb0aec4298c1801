"""bench/cv.py's folds and summary: stratified, artist-disjoint, copies kept together, and the
spreads it prints computed as documented."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from wikiart.data.refs import ImageRef

BENCH = Path(__file__).resolve().parents[1] / "bench" / "cv.py"


@pytest.fixture(scope="module")
def cv():
    spec = importlib.util.spec_from_file_location("bench_cv", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cv"] = module
    spec.loader.exec_module(module)
    return module


def _refs(n_styles: int = 3, artists: int = 12, each: int = 4) -> list[ImageRef]:
    out = []
    for a in range(artists):
        for i in range(each):
            style = f"S{(a + i) % n_styles}"
            out.append(ImageRef(style, f"/x/{style}/painter{a}_work{i}.jpg", 1, 0))
    return out


def test_folds_are_artist_disjoint_stratified_and_cover_everything(cv) -> None:
    refs = _refs()
    folds = cv.fold_indices(refs, 4, seed=0, together=[])
    seen = np.concatenate(folds)
    assert sorted(seen.tolist()) == list(range(len(refs)))  # each image held out exactly once
    artist = [r.path.split("/")[-1].split("_")[0] for r in refs]
    owners = [{artist[i] for i in f} for f in folds]
    for i in range(len(folds)):
        for j in range(i + 1, len(folds)):
            assert not owners[i] & owners[j]
    for f in folds:  # every style in every held-out fold
        assert {refs[i].style for i in f} == {"S0", "S1", "S2"}


def test_copies_by_two_artists_share_a_fold(cv) -> None:
    refs = _refs()
    a = next(i for i, r in enumerate(refs) if "painter0_" in r.path)
    b = next(i for i, r in enumerate(refs) if "painter7_" in r.path)
    for seed in range(5):
        folds = cv.fold_indices(refs, 4, seed=seed, together=[[a, b]])
        where = {k for k, f in enumerate(folds) for i in f if i in (a, b)}
        assert len(where) == 1
        owners_a = {k for k, f in enumerate(folds) for i in f if "painter0_" in refs[i].path}
        assert owners_a == where  # the copy took its whole artist along


def test_too_few_groups_is_a_clear_error(cv) -> None:
    with pytest.raises(SystemExit, match="cannot make 5 folds"):
        cv.fold_indices(_refs(artists=3), 5, seed=0, together=[])


def test_summary_spreads(cv) -> None:
    rows = [
        {"candidate": "a", "seed": s, "fold": f, "macro_f1": v, "accuracy": v,
         "balanced_accuracy": v, "minutes": 1.0}
        for s, vals in ((0, (0.5, 0.7)), (1, (0.6, 0.8)))
        for f, v in enumerate(vals)
    ]  # fmt: skip
    e = cv.summarise(rows)["a"]
    assert e["macro_f1"] == pytest.approx(0.65)
    assert e["macro_f1_fold_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert e["macro_f1_seed_sd"] == pytest.approx(np.std([0.6, 0.7], ddof=1))
    assert e["runs"] == 4 and e["minutes"] == 1.0


def test_candidate_parsing(cv) -> None:
    name, settings = cv.parse_candidate(
        "mine:arch=efficientnet-lite1,image-size=240,ema_decay=0.99"
    )
    assert name == "mine"
    assert settings == {"arch": "efficientnet-lite1", "image_size": 240, "ema_decay": 0.99}
    with pytest.raises(SystemExit):
        cv.parse_candidate("nobody")


def test_by_image_ignores_artists_but_not_copies(cv) -> None:
    refs = _refs(artists=2, each=12)
    folds = cv.fold_indices(refs, 4, seed=0, together=[[0, 13]], by="image")
    assert len(folds) == 4
    assert sum(0 in f and 13 in f for f in folds) == 1
