"""Clustering scores on synthetic blobs with known labels, normalisation, projections."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from wikiart.clustering import Embeddings
from wikiart.errors import WikiartError
from wikiart.eval import clustering as C


@pytest.fixture
def blobs():
    x, y = make_blobs(n_samples=150, centers=5, n_features=8, cluster_std=0.5, random_state=0)
    return x, y


@pytest.mark.parametrize("method", C.METHODS)
def test_well_separated_blobs_score_near_perfect(blobs, method):
    x, y = blobs
    res = C.evaluate_embedding(x, y, [method], seed=0)
    assert res["k"] == 5 and res["n"] == 150 and res["method"] == method
    assert res["nmi"] > 0.95 and res["ari"] > 0.95
    assert res["knn_accuracy"] > 0.97
    assert res["silhouette"] > 0.5 and res["silhouette_styles"] > 0.5


def test_shuffled_labels_score_near_zero(blobs):
    x, y = blobs
    y_shuffled = np.random.default_rng(0).permutation(y)
    res = C.evaluate_embedding(x, y_shuffled, ["kmeans", "agglomerative"], seed=0)
    assert abs(res["ari"]) < 0.05 and res["nmi"] < 0.1
    assert res["knn_accuracy"] < 0.4  # chance is 0.2
    assert res["silhouette"] > 0.5  # the clusters are still there; they just are not the labels
    assert res["silhouette_styles"] < 0.1


def test_knn_accuracy_leaves_the_point_out():
    # each point's only same-label point is far away; its own position must not count
    x = np.array([[0.0], [10.0], [0.1], [10.1], [0.2], [10.2]])
    y = np.array([0, 0, 1, 1, 2, 2])
    assert C.knn_accuracy(x, y, k=1) == 0.0
    # exact duplicates: the other copy is a neighbour, the point itself is not
    x2 = np.array([[0.0], [0.0], [5.0], [5.0]])
    assert C.knn_accuracy(x2, np.array([0, 0, 1, 1]), k=1) == 1.0


def test_knn_tie_goes_to_the_nearer_neighbour():
    # point 0's two nearest are label 1 (d=1) and label 2 (d=2): a 1-1 tie, won by label 1
    y = np.array([0, 1, 2])
    assert C.knn_predict(np.array([[0.0], [1.0], [-2.0]]), y, k=2)[0] == 1
    assert C.knn_predict(np.array([[0.0], [2.0], [-1.0]]), y, k=2)[0] == 2


def test_normalizations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)) * np.array([1, 10, 100, 1, 1, 0])
    s = C.normalize_embeddings(x, "standard")
    assert np.allclose(s.mean(0), 0) and np.allclose(s[:, :5].std(0), 1) and np.all(s[:, 5] == 0)
    w = C.normalize_embeddings(x, "pca-whiten", max_dims=3)
    assert w.shape == (40, 3) and np.allclose(w.std(0), 1, atol=0.05)
    assert np.array_equal(C.normalize_embeddings(x, "none"), x)
    with pytest.raises(WikiartError):
        C.normalize_embeddings(x, "zca")


def test_projections_and_silhouette_edge_cases(blobs):
    x, _ = blobs
    pts, ratio = C.project_pca(x)
    assert pts.shape == (150, 2) and 0 < ratio[1] <= ratio[0] <= 1
    assert C.project_tsne(x[:30]).shape == (30, 2)
    assert np.isnan(C.silhouette(x, np.zeros(len(x), dtype=int)))
    with pytest.raises(WikiartError):
        C.cluster(x, "dbscan", 3)


def test_embeddings_npz_round_trip(tmp_path):
    emb = Embeddings(
        vectors=np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32),
        labels=np.array([0, 1, 1, 0, 2]),
        paths=["a/x.jpg", "b/y é.jpg", "b/z.png", "a/w.jpg", "c/v.jpg"],
        classes=["A", "B", "C"],
        source="raw pixels",
    )
    path = emb.save(tmp_path / "embeddings.npz")
    with np.load(path, allow_pickle=False) as z:  # plain arrays, no pickle needed
        assert set(z.files) >= {"vectors", "labels", "paths"}
    back = Embeddings.load(path)
    assert np.array_equal(back.vectors, emb.vectors) and np.array_equal(back.labels, emb.labels)
    assert back.paths == emb.paths and back.classes == emb.classes and back.source == emb.source


def test_comparison_table_has_one_row_per_source(blobs):
    from wikiart.clustering import TABLE_HEADER, format_table, table_rows

    x, y = blobs
    res = C.evaluate_embedding(x, y, ["kmeans"])
    res.update(source="blobs", dims=8, seconds={"embed": 1.0, "cluster": 0.5})
    rows = table_rows([res, {**res, "source": "again"}])
    assert [r[0] for r in rows] == ["blobs", "again"] and len(rows[0]) == len(TABLE_HEADER)
    assert rows[0][7] == 1.5  # seconds: embedding + clustering
    lines = format_table([res]).splitlines()
    assert len(lines) == 3 and lines[2].startswith("| blobs | 8 | ")
