"""Do styles cluster? Scores of an embedding against the style labels, as plain functions.

Two questions, kept apart:

- *unsupervised*: cluster the vectors (k-means and other scikit-learn methods, ``k`` = number of
  styles) and compare clusters with styles: NMI and ARI (0 for chance, 1 for identical
  partitions) and the silhouette of the clusters found (how well separated they are at all);
- *neighbourhood*: leave-one-out 5-nearest-neighbour style accuracy: are a painting's nearest
  neighbours of its style, whether or not the styles form blobs k-means can find.

Plus the 2-D projections the scatter plots use (PCA, t-SNE, and UMAP when installed).

Large collections: the parts that grow with the square of the number of points work on a random
subset once it is larger than a bound, the same subset for a given seed
(`wikiart.data.splits.random_subset`): Ward's linkage is fitted on ``FIT_MAX`` points (it keeps
n^2/2 distances, 8 GB at 45,000 points, and its time grows faster than n^2) and every other
point joins the cluster whose centre is nearest; the silhouette is the mean over ``SCORE_MAX``
points (scikit-learn's ``sample_size``); the leave-one-out k-NN accuracy is that of
``KNN_QUERIES`` points, each against all the others; the t-SNE and UMAP plots show ``PLOT_MAX``
points. Below the bounds every point is used.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from wikiart.config import CLUSTER_METHODS, NORMALIZATIONS  # declared with the settings
from wikiart.data.splits import random_subset
from wikiart.errors import WikiartError

METHODS = CLUSTER_METHODS
#: Ward's linkage (agglomerative) and spectral clustering fit on at most this many points.
FIT_MAX = 5_000
#: The silhouette is averaged over at most this many points.
SCORE_MAX = 5_000
#: Leave-one-out k-NN accuracy over at most this many query points (each against all).
KNN_QUERIES = 10_000
#: The non-linear projections (t-SNE, UMAP) show at most this many points.
PLOT_MAX = 10_000


def normalize_embeddings(
    x: np.ndarray, how: str = "standard", max_dims: int = 64, seed: int = 0
) -> np.ndarray:
    """Put every source on the same footing before distances are taken.

    ``standard``: each dimension to zero mean, unit variance (constant dimensions stay 0), so no
    handful of large-valued dimensions decides all distances. ``pca-whiten``: PCA to at most
    ``max_dims`` components, each scaled to unit variance. ``none``: as given."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise WikiartError(f"embeddings must be a non-empty N x D array, got shape {x.shape}")
    if how == "none":
        return x
    if how == "standard":
        std = x.std(axis=0)
        scaled: np.ndarray = (x - x.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)
        return scaled
    if how == "pca-whiten":
        dims = max(1, min(max_dims, x.shape[0] - 1, x.shape[1]))
        pca = PCA(n_components=dims, whiten=True, random_state=seed)
        return cast(np.ndarray, pca.fit_transform(x))
    raise WikiartError(f"unknown normalization {how!r}; expected one of {NORMALIZATIONS}")


def knn_accuracy(
    x: np.ndarray, labels: np.ndarray, k: int = 5, queries: int = KNN_QUERIES, seed: int = 0
) -> float:
    """Leave-one-out k-NN accuracy (`knn_predict` against the labels), over at most
    ``queries`` random points when there are more."""
    labels = np.asarray(labels)
    rows = random_subset(len(labels), queries, seed)
    truth = labels if rows is None else labels[rows]
    return float(np.mean(knn_predict(x, labels, k, rows) == truth))


def knn_predict(
    x: np.ndarray, labels: np.ndarray, k: int = 5, rows: np.ndarray | None = None
) -> np.ndarray:
    """Leave-one-out k-NN predictions for points ``rows`` (default all): each gets the majority
    label of its ``k`` nearest *other* points among all of ``x`` (Euclidean); a tied vote goes
    to the label of the nearer neighbours."""
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(x)
    if n < 2:
        raise WikiartError("k-NN accuracy needs at least 2 points")
    rows = np.arange(n) if rows is None else np.asarray(rows)
    k = max(1, min(k, n - 1))
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x[rows])
    neigh = np.empty((len(rows), k), dtype=np.int64)
    for j, (i, row) in enumerate(zip(rows, idx, strict=True)):
        others = row[row != i]  # the point itself (wherever exact duplicates put it)
        neigh[j] = others[:k]
    classes, y = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(rows), len(classes)))
    for rank in range(k):  # a nearer neighbour's vote weighs a hair more: it breaks ties only
        np.add.at(votes, (np.arange(len(rows)), y[neigh[:, rank]]), 1.0 + 1e-6 * (k - rank))
    predicted: np.ndarray = classes[votes.argmax(axis=1)]
    return predicted


def cluster(x: np.ndarray, method: str, k: int, seed: int = 0) -> np.ndarray:
    """Cluster assignments of ``x`` into ``k`` groups with a scikit-learn method; Ward's and
    spectral clustering fit on at most ``FIT_MAX`` points, the others joining the cluster with
    the nearest centre."""
    if k < 1 or k > len(x):
        raise WikiartError(f"cannot make {k} clusters of {len(x)} points")
    rows = random_subset(len(x), FIT_MAX, seed) if method in ("agglomerative", "spectral") else None
    if rows is None:
        return _fit_predict(x, method, k, seed)
    fitted_x = x[rows]
    fitted = _fit_predict(fitted_x, method, k, seed)
    found = np.unique(fitted)
    centres = np.stack([fitted_x[fitted == c].mean(axis=0) for c in found])
    _, nearest = NearestNeighbors(n_neighbors=1).fit(centres).kneighbors(x)
    out: np.ndarray = found[nearest[:, 0]]
    out[rows] = fitted
    return out


def _fit_predict(x: np.ndarray, method: str, k: int, seed: int) -> np.ndarray:
    if method == "kmeans":
        return cast(np.ndarray, KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x))
    if method == "agglomerative":
        ward = AgglomerativeClustering(n_clusters=k, linkage="ward")
        return cast(np.ndarray, ward.fit_predict(x))
    if method == "gmm":
        gmm = GaussianMixture(k, covariance_type="diag", reg_covar=1e-3, random_state=seed)
        return cast(np.ndarray, gmm.fit(x).predict(x))
    if method == "spectral":
        nn = max(2, min(10, len(x) - 1))
        sc = SpectralClustering(
            n_clusters=k, affinity="nearest_neighbors", n_neighbors=nn, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "graph is not fully connected"
            return cast(np.ndarray, sc.fit_predict(x))
    raise WikiartError(f"unknown clustering method {method!r}; expected one of {METHODS}")


def silhouette(x: np.ndarray, assignment: np.ndarray, seed: int = 0) -> float:
    """Mean silhouette of ``assignment`` in ``x`` (Euclidean), over at most ``SCORE_MAX``
    random points; NaN when it is undefined (one group, or every point its own group)."""
    rows = random_subset(len(x), SCORE_MAX, seed)
    if rows is not None:
        x, assignment = x[rows], np.asarray(assignment)[rows]
    groups = len(np.unique(assignment))
    if groups < 2 or groups >= len(x):
        return float("nan")
    return float(silhouette_score(x, assignment))


def score_clusters(
    x: np.ndarray, labels: np.ndarray, assignment: np.ndarray, seed: int = 0
) -> dict[str, float]:
    """NMI and ARI of clusters against style labels, and the clusters' silhouette."""
    return {
        "nmi": float(normalized_mutual_info_score(labels, assignment)),
        "ari": float(adjusted_rand_score(labels, assignment)),
        "silhouette": silhouette(x, assignment, seed),
    }


def subsets_used(n: int, methods: tuple[str, ...] | list[str]) -> dict[str, int]:
    """Which numbers of `evaluate_embedding` came from a subset of ``n`` points, and its size
    (empty below every bound)."""
    used = {}
    if n > FIT_MAX and {"agglomerative", "spectral"} & set(methods):
        used["fit"] = FIT_MAX
    if n > SCORE_MAX:
        used["silhouette"] = SCORE_MAX
    if n > KNN_QUERIES:
        used["knn_queries"] = KNN_QUERIES
    return used


def evaluate_embedding(
    x: np.ndarray,
    labels: np.ndarray,
    methods: tuple[str, ...] | list[str] = ("kmeans", "agglomerative"),
    k: int | None = None,
    seed: int = 0,
    knn: int = 5,
) -> dict[str, Any]:
    """The ``clusters.json`` numbers of (already normalised) vectors: the first method's scores at
    the top level (the contract's keys), every method's under ``methods``, plus the
    leave-one-out k-NN accuracy and the silhouette of the true styles (``silhouette_styles``)."""
    labels = np.asarray(labels)
    if len(labels) != len(x):
        raise WikiartError(f"{len(x)} vectors but {len(labels)} labels")
    if not methods:
        raise WikiartError("no clustering method given")
    k = int(k or len(np.unique(labels)))
    per_method: dict[str, dict[str, float]] = {}
    assignments: dict[str, np.ndarray] = {}
    for method in methods:
        assignments[method] = cluster(x, method, k, seed)
        per_method[method] = score_clusters(x, labels, assignments[method], seed)
    first = methods[0]
    return {
        "n": len(x),
        "k": k,
        "method": first,
        **per_method[first],
        "knn_accuracy": knn_accuracy(x, labels, knn, seed=seed),
        "knn_k": knn,
        "silhouette_styles": silhouette(x, labels, seed),
        "subsets": subsets_used(len(x), methods),
        "methods": per_method,
        "assignments": {m: a.tolist() for m, a in assignments.items()},
    }


# -- projections for the scatter plots -------------------------------------------------------
def project_pca(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """2-D PCA coordinates and the share of variance each axis explains."""
    dims = min(2, x.shape[0], x.shape[1])
    pca = PCA(n_components=dims, random_state=seed)
    out = pca.fit_transform(x)
    if dims < 2:
        out = np.pad(out, ((0, 0), (0, 2 - dims)))
    ratio = list(pca.explained_variance_ratio_) + [0.0] * (2 - dims)
    return out, (float(ratio[0]), float(ratio[1]))


def project_tsne(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE (on at most 50 PCA components first, the usual speed-up)."""
    n = len(x)
    if n < 4:
        return project_pca(x, seed)[0]
    if x.shape[1] > 50 and n > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return cast(np.ndarray, tsne.fit_transform(x))


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def project_umap(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D UMAP (the optional ``umap`` extra: ``pip install 'wikiart[umap]'``)."""
    import umap

    n_neighbors = max(2, min(15, len(x) - 1))
    return cast(np.ndarray, umap.UMAP(n_neighbors=n_neighbors, random_state=seed).fit_transform(x))
