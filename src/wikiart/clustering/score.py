"""Clustering one split's embeddings and scoring the clusters against the styles
(`cluster_embeddings`; `wikiart cluster` is `cluster_command`), and the comparison table.

Every source's vectors go through the same normalisation before clustering (standardised by
default), so the comparison is between representations, not between their scales.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wikiart.clustering.embed import Embeddings, embed_split
from wikiart.clustering.settings import ClusterConfig
from wikiart.config import NORMALIZATIONS
from wikiart.data.refs import display
from wikiart.data.splits import random_subset
from wikiart.errors import WikiartError
from wikiart.eval import clustering as C
from wikiart.files import atomic_open, write_json


def check_cluster_options(methods: Sequence[str], normalize: str) -> None:
    """Clear errors for unknown clustering methods or normalisations, before any work."""
    if not methods:
        raise WikiartError(f"no clustering method given; expected some of {C.METHODS}")
    for m in methods:
        if m not in C.METHODS:
            raise WikiartError(f"unknown clustering method {m!r}; expected some of {C.METHODS}")
    if normalize not in NORMALIZATIONS:
        raise WikiartError(f"unknown normalization {normalize!r}; expected {NORMALIZATIONS}")


def cluster_embeddings(
    emb: Embeddings,
    out: str | os.PathLike[str],
    *,
    normalize: str = "standard",
    methods: list[str] | tuple[str, ...] = ("kmeans", "agglomerative", "gmm"),
    k: int | None = None,
    seed: int = 0,
    tsne: bool = True,
    embed_seconds: float = 0.0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cluster embeddings and score the clusters against the styles (NMI, ARI, silhouette,
    leave-one-out 5-NN accuracy); write ``embeddings.npz``, ``clusters.json`` (with ``extra``
    keys) and the scatter plots into ``out``. Returns ``clusters.json``'s content."""
    check_cluster_options(methods, normalize)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # styles absent from this split are not clusters to find: k counts the styles present
    present = np.unique(emb.labels)
    x = C.normalize_embeddings(emb.vectors, normalize, seed=seed)
    res = C.evaluate_embedding(x, emb.labels, list(methods), k or len(present), seed)
    cluster_s = time.perf_counter() - t0
    assignments = res.pop("assignments")
    result: dict[str, Any] = {
        **res,
        "source": emb.source,
        "normalize": normalize,
        "dims": int(emb.vectors.shape[1]),
        "classes": emb.classes,
        "seconds": {"embed": round(embed_seconds, 2), "cluster": round(cluster_s, 2)},
        **(extra or {}),
    }
    emb.save(out / "embeddings.npz")
    _write_assignments(out / "assignments.csv", emb, assignments)
    what = f"{emb.source}\nk-means NMI {res['nmi']:.3f}, 5-NN accuracy {res['knn_accuracy']:.3f}"
    result["plots"] = _write_plots(out, x, emb, what, seed, tsne)
    if len(x) > C.PLOT_MAX:
        result["subsets"]["plot"] = C.PLOT_MAX
    write_json(out / "clusters.json", _jsonable(result))
    return result


def _write_assignments(path: Path, emb: Embeddings, assignments: dict[str, Any]) -> None:
    """``assignments.csv``: each image's path, style and cluster under every method."""
    with atomic_open(path) as fh:
        fh.write("path,style," + ",".join(assignments) + "\n")
        for i, p in enumerate(emb.paths):
            row = [str(assignments[m][i]) for m in assignments]
            fh.write(f"{json.dumps(p)},{emb.classes[emb.labels[i]]},{','.join(row)}\n")


def _write_plots(
    out: Path, x: np.ndarray, emb: Embeddings, what: str, seed: int, tsne: bool
) -> list[str]:
    """Scatter plots of the normalised vectors coloured by style: PCA (fitted on every point),
    t-SNE (unless off), UMAP (where installed); above ``PLOT_MAX`` points each shows the same
    random ``PLOT_MAX`` (the non-linear maps are fitted on those only). Returns the file names."""
    from wikiart.report.cluster_plots import plot_scatter

    rows = random_subset(len(x), C.PLOT_MAX, seed)
    shown = np.arange(len(x)) if rows is None else rows
    if rows is not None:
        what += f" ({len(rows):,} of {len(x):,} points shown)"
    labels = emb.labels[shown]
    pts, ratio = C.project_pca(x, seed)
    plot_scatter(
        pts[shown],
        labels,
        emb.classes,
        out / "scatter_pca.png",
        title=f"PCA of {what}",
        xlabel=f"PC 1 ({100 * ratio[0]:.1f}% of variance)",
        ylabel=f"PC 2 ({100 * ratio[1]:.1f}% of variance)",
    )
    plots = ["scatter_pca.png"]
    projections = [("tsne", "t-SNE", C.project_tsne)] if tsne else []
    if C.umap_available():
        projections.append(("umap", "UMAP", C.project_umap))
    for key, label, project in projections:
        plot_scatter(
            project(x[shown], seed),
            labels,
            emb.classes,
            out / f"scatter_{key}.png",
            title=f"{label} of {what}",
            xlabel=f"{label} 1",
            ylabel=f"{label} 2",
        )
        plots.append(f"scatter_{key}.png")
    return plots


def _jsonable(obj: Any) -> Any:
    """NaN (an undefined silhouette) becomes null: JSON has no NaN."""
    if isinstance(obj, float):
        return None if obj != obj else obj
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def cluster_command(cfg: ClusterConfig, *, progress: bool = False) -> dict[str, Any]:
    """`wikiart cluster`: embed, then `cluster_embeddings` (its options checked before the
    embedding work)."""
    check_cluster_options(cfg.methods, cfg.normalize)
    t0 = time.perf_counter()
    emb = embed_split(
        cfg.data, checkpoint=cfg.checkpoint, source=cfg.source, image_size=cfg.image_size,
        features=cfg.features, device=cfg.device, batch_size=cfg.batch_size,
        cache_dir=cfg.cache_dir, progress=progress,
    )  # fmt: skip
    embed_s = time.perf_counter() - t0
    return cluster_embeddings(
        emb, cfg.out, normalize=cfg.normalize, methods=cfg.methods, k=cfg.k, seed=cfg.seed,
        tsne=cfg.tsne, embed_seconds=embed_s,
        extra={"checkpoint": None if cfg.checkpoint is None else display(cfg.checkpoint)},
    )  # fmt: skip


TABLE_HEADER = (
    "embedding",
    "dims",
    "NMI",
    "ARI",
    "silhouette",
    "style silhouette",
    "5-NN acc.",
    "seconds",
    "train s",
)


def table_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per `cluster_embeddings` result (k-means scores), in `TABLE_HEADER` order."""
    rows = []
    for r in results:
        secs = r.get("seconds", {})
        total = secs.get("total", secs.get("embed", 0.0) + secs.get("cluster", 0.0))
        rows.append(
            [
                r["source"],
                r["dims"],
                r["nmi"],
                r["ari"],
                r["silhouette"],
                r["silhouette_styles"],
                r["knn_accuracy"],
                round(float(total), 1),
                round(float(secs.get("train", 0.0)), 1),
            ]
        )
    return rows


def format_table(results: list[dict[str, Any]]) -> str:
    """The comparison as a Markdown table (the README's and the bench's)."""

    def cell(v: Any, col: int) -> str:
        if col >= 7:  # seconds
            return f"{v:.0f}" if v else "-"
        if isinstance(v, float):
            return "-" if v != v else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|---|" + "---:|" * (len(TABLE_HEADER) - 1)]
    lines += [
        "| " + " | ".join(cell(v, i) for i, v in enumerate(row)) + " |"
        for row in table_rows(results)
    ]
    return "\n".join(lines)
