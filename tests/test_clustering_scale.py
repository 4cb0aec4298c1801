"""Large collections: the quadratic parts of clustering and the app's map work on bounded random
subsets (bounds lowered here so that tiny synthetic data crosses them)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from wikiart.clustering import Embeddings, cluster_embeddings
from wikiart.data.splits import random_subset
from wikiart.eval import clustering as C
from wikiart.serve import gallery as G
from wikiart.serve.gallery_map import draw_map


@pytest.fixture
def blobs():
    x, y = make_blobs(n_samples=240, centers=4, n_features=6, cluster_std=0.4, random_state=1)
    return x, y


def test_random_subset_is_bounded_sorted_and_repeatable():
    assert random_subset(10, 10) is None
    rows = random_subset(100, 30, seed=3)
    assert rows is not None and len(rows) == 30 and len(set(rows.tolist())) == 30
    assert (np.diff(rows) > 0).all() and rows.max() < 100
    assert np.array_equal(rows, random_subset(100, 30, seed=3))
    assert not np.array_equal(rows, random_subset(100, 30, seed=4))


@pytest.mark.parametrize("method", ["agglomerative", "spectral"])
def test_fit_on_a_subset_assigns_every_point(blobs, monkeypatch, method):
    x, y = blobs
    monkeypatch.setattr(C, "FIT_MAX", 60)
    fitted_on = []
    fit_predict = C._fit_predict

    def recording(xs, *args):
        fitted_on.append(len(xs))
        return fit_predict(xs, *args)

    monkeypatch.setattr(C, "_fit_predict", recording)
    assignment = C.cluster(x, method, 4, seed=0)
    assert fitted_on == [60]  # the method saw the subset only
    assert assignment.shape == (240,) and set(np.unique(assignment)) <= set(range(4))
    # the points outside the fitted 60 joined their blob's cluster
    assert C.score_clusters(x, y, assignment)["ari"] > 0.95


def test_bounded_scores_agree_with_the_full_ones(blobs, monkeypatch):
    x, y = blobs
    full = C.evaluate_embedding(x, y, ["kmeans", "agglomerative"], seed=0)
    assert full["subsets"] == {}
    monkeypatch.setattr(C, "FIT_MAX", 50)
    monkeypatch.setattr(C, "SCORE_MAX", 40)
    monkeypatch.setattr(C, "KNN_QUERIES", 30)
    part = C.evaluate_embedding(x, y, ["kmeans", "agglomerative"], seed=0)
    assert part["subsets"] == {"fit": 50, "silhouette": 40, "knn_queries": 30}
    assert abs(part["silhouette_styles"] - full["silhouette_styles"]) < 0.1
    assert part["knn_accuracy"] == pytest.approx(full["knn_accuracy"], abs=0.05)
    assert part["methods"]["agglomerative"]["nmi"] > 0.9


def test_knn_on_query_rows_matches_the_full_leave_one_out():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 3)), rng.integers(0, 3, 80)
    rows = np.array([0, 5, 17, 79])
    assert np.array_equal(C.knn_predict(x, y, 5, rows), C.knn_predict(x, y, 5)[rows])


def test_plots_show_a_bounded_subset(blobs, tmp_path, monkeypatch):
    x, y = blobs
    monkeypatch.setattr(C, "PLOT_MAX", 100)
    emb = Embeddings(
        x.astype(np.float32), y, [f"s{i}.jpg" for i in range(240)], ["a", "b", "c", "d"], "test"
    )
    res = cluster_embeddings(emb, tmp_path, methods=["kmeans"], seed=0)
    assert res["subsets"]["plot"] == 100 and res["n"] == 240
    assert (tmp_path / "scatter_tsne.png").stat().st_size > 0


def test_the_map_leaves_points_out_beyond_its_bound(monkeypatch):
    monkeypatch.setattr(G, "MAP_POINTS", 40)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(90, 5)).astype(np.float32)
    xy = G.project_2d(vectors)
    drawn = np.isfinite(xy).all(axis=1)
    assert xy.shape == (90, 2) and drawn.sum() == 40
    labels = ["a" if i % 2 else "b" for i in range(90)]
    gmap = draw_map(xy, ["a", "b"], labels)
    # a click anywhere finds only drawn points
    for px, py in gmap.pixels[drawn][:10]:
        i = gmap.point_at(px, py)
        assert i is not None and drawn[i]
    for px, py in np.random.default_rng(1).uniform(0, 900, size=(50, 2)):
        i = gmap.point_at(px, py)
        assert i is None or drawn[i]
