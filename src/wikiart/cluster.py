"""`wikiart cluster`: embed one split with any embedding source, cluster it, score and plot it.

Sources (`embed_split`):

- an autoencoder checkpoint: its flat code (`ConvAutoencoder.encode`);
- a classifier checkpoint: its penultimate embedding (`StyleClassifier.embed`); the kind is read
  from the checkpoint, and the split's styles are mapped through the checkpoint's class list;
- ``pretrained``: the offline ImageNet-pretrained EfficientNet-Lite0 (``pool`` or ``stats``);
- ``pixels``: raw downsampled pixels, the floor every learned representation has to beat.

Every source's vectors go through the same normalisation before clustering (standardised by
default), so the comparison is between representations, not between their scales.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_eval_split
from wikiart.data.loader import make_loader, prepare_split
from wikiart.data.refs import display
from wikiart.data.transforms import eval_transform
from wikiart.device import autocast, loader_workers, resolve_device
from wikiart.errors import WikiartError
from wikiart.eval import clustering as C
from wikiart.train.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

SOURCES = ("pixels", "pretrained")
DEFAULT_SIZE = {"pixels": 32, "pretrained": 224}


@dataclass
class Embeddings:
    """Vectors of one split with their style labels (indices into ``classes``) and file paths."""

    vectors: np.ndarray
    labels: np.ndarray
    paths: list[str]
    classes: list[str]
    source: str

    def save(self, path: str | os.PathLike[str]) -> Path:
        """``embeddings.npz``: ``vectors``, ``labels``, ``paths``, ``classes`` (plain arrays, so
        ``np.load(path)`` reads it back without pickle)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            vectors=self.vectors.astype(np.float32),
            labels=self.labels.astype(np.int64),
            paths=np.array(self.paths, dtype=str),
            classes=np.array(self.classes, dtype=str),
            source=np.array(self.source),
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Embeddings:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                vectors=z["vectors"],
                labels=z["labels"],
                paths=[str(p) for p in z["paths"]],
                classes=[str(c) for c in z["classes"]],
                source=str(z["source"]),
            )


@torch.inference_mode()
def _run(fn, loader, device: torch.device, precision: str = "fp32") -> np.ndarray:
    outs = []
    for x, _ in loader:
        with autocast(device, precision):
            outs.append(fn(x.to(device)).float().flatten(1).cpu())
    return torch.cat(outs).numpy()


def embed_split(
    data: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    source: str | None = None,
    image_size: int | None = None,
    features: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    cache_dir: str | None = None,
    progress: bool = False,
) -> Embeddings:
    """Embed a split folder (or a dataset root's ``test/``) with a checkpoint or a source."""
    if (checkpoint is None) == (source is None):
        raise WikiartError(
            "pass either --checkpoint RUN/model.pt (autoencoder or classifier) or "
            f"--source {{{','.join(SOURCES)}}}"
        )
    if checkpoint is not None and (image_size is not None or features is not None):
        raise WikiartError(
            "--image-size and --features apply to --source; a checkpoint brings its own "
            "preprocessing and embedding"
        )
    root, refs = open_eval_split(data)
    if not refs:
        raise WikiartError(f"no images found in {display(root)}")
    dev = resolve_device(device)
    model: Any = None
    if checkpoint is not None:
        payload = load_checkpoint(checkpoint)
        kind = payload.get("kind")
        if kind not in ("autoencoder", "classifier"):
            raise WikiartError(
                f"{checkpoint} is a {kind!r} checkpoint; cluster reads autoencoder or classifier "
                "checkpoints"
            )
        try:
            classes = ClassMap(tuple(payload["classes"]))
            size = int(payload["preprocess"]["image_size"])
            fit = payload["preprocess"].get("fit", "crop")
        except (KeyError, TypeError, ValueError):
            raise WikiartError(f"{checkpoint} lacks its classes or preprocessing") from None
        if kind == "autoencoder":
            from wikiart.autoencode import autoencoder_from_payload

            model = autoencoder_from_payload(payload, checkpoint, dev)
            fn, precision = model.encode, "fp32"
            label = f"autoencoder {model.config['bottleneck']} code, {payload.get('loss')} loss"
        else:
            from wikiart.classify import inference_precision, load_classifier

            model, payload = load_classifier(checkpoint, dev)
            fn, precision = model.embed, inference_precision(payload, dev)
            label = f"classifier {payload['model_config'].get('arch')} embedding"
    else:
        if source not in SOURCES:
            raise WikiartError(f"unknown source {source!r}; expected one of {SOURCES}")
        classes = ClassMap.from_styles(r.style for r in refs)
        size = int(image_size or DEFAULT_SIZE[source])
        fit, precision = "crop", "fp32"
        if source == "pixels":
            fn = lambda x: x.float() / 255.0  # noqa: E731
            label = f"raw pixels {size}x{size}x3"
        else:
            from wikiart.models.registry import build_classifier

            feats = features or "pool"
            model = build_classifier("efficientnet-lite0", 1, pretrained=True, features=feats).to(
                dev
            )
            model.eval()
            fn = model.embed
            label = f"pretrained EfficientNet-Lite0 ({feats}, ImageNet, {size} px)"
    ds = prepare_split(
        refs,
        classes,
        source=root,
        image_size=size,
        fit=fit,
        cache_root=cache_dir,
        progress=progress,
        split="cluster",
        transform=eval_transform(size),
    )
    if len(ds) < 2:
        raise WikiartError(f"need at least 2 usable images to cluster, found {len(ds)}")
    loader = make_loader(ds, batch_size=batch_size, num_workers=loader_workers(None))
    vectors = _run(fn, loader, dev, precision)
    paths = [r.key for r in ds.refs]
    return Embeddings(vectors, ds.labels.copy(), paths, list(classes.classes), label)


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
    """Score ``emb`` and write ``embeddings.npz``, ``clusters.json`` (with ``extra`` keys) and
    the scatter plots."""
    from wikiart.report.cluster_plots import plot_scatter

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
    with open(out / "assignments.csv", "w", encoding="utf-8") as fh:
        fh.write("path,style," + ",".join(assignments) + "\n")
        for i, p in enumerate(emb.paths):
            row = [str(assignments[m][i]) for m in assignments]
            fh.write(f"{json.dumps(p)},{emb.classes[emb.labels[i]]},{','.join(row)}\n")
    what = f"{emb.source}\nk-means NMI {res['nmi']:.3f}, 5-NN accuracy {res['knn_accuracy']:.3f}"
    pts, ratio = C.project_pca(x, seed)
    plot_scatter(
        pts,
        emb.labels,
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
            project(x, seed),
            emb.labels,
            emb.classes,
            out / f"scatter_{key}.png",
            title=f"{label} of {what}",
            xlabel=f"{label} 1",
            ylabel=f"{label} 2",
        )
        plots.append(f"scatter_{key}.png")
    result["plots"] = plots
    tmp = out / "clusters.json.tmp"
    tmp.write_text(json.dumps(_jsonable(result), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / "clusters.json")
    return result


def _jsonable(obj: Any) -> Any:
    """NaN (an undefined silhouette) becomes null: JSON has no NaN."""
    if isinstance(obj, float):
        return None if obj != obj else obj
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def cluster_command(
    *,
    data: str,
    out: str,
    checkpoint: str | None = None,
    source: str | None = None,
    image_size: int | None = None,
    features: str | None = None,
    normalize: str = "standard",
    methods: list[str] | tuple[str, ...] = ("kmeans", "agglomerative", "gmm"),
    k: int | None = None,
    device: str = "auto",
    batch_size: int = 64,
    seed: int = 0,
    cache_dir: str | None = None,
    tsne: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """`wikiart cluster`: embed, then `cluster_embeddings`."""
    for m in methods:
        if m not in C.METHODS:
            raise WikiartError(f"unknown clustering method {m!r}; expected some of {C.METHODS}")
    if normalize not in C.NORMALIZATIONS:
        raise WikiartError(f"unknown normalization {normalize!r}; expected {C.NORMALIZATIONS}")
    t0 = time.perf_counter()
    emb = embed_split(
        data,
        checkpoint=checkpoint,
        source=source,
        image_size=image_size,
        features=features,
        device=device,
        batch_size=batch_size,
        cache_dir=cache_dir,
        progress=progress,
    )
    embed_s = time.perf_counter() - t0
    return cluster_embeddings(
        emb,
        out,
        normalize=normalize,
        methods=methods,
        k=k,
        seed=seed,
        tsne=tsne,
        embed_seconds=embed_s,
        extra={"checkpoint": None if checkpoint is None else display(checkpoint)},
    )


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
