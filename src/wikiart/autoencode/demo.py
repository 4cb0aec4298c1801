"""The autoencoder's stage of `wikiart demo`: the autoencoder, then every embedding source
clustered and scored against the styles (registered as its `wikiart.jobs.Job.demo`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from wikiart.autoencode.train import resolve_config, train_autoencoder
from wikiart.clustering.embed import embed_split
from wikiart.clustering.score import TABLE_HEADER, cluster_embeddings, table_rows
from wikiart.errors import WikiartError
from wikiart.report.stage import DemoStage


def autoencoder_stage(st: DemoStage) -> None:
    """Train a small autoencoder briefly, then score every embedding source on the test split:
    raw pixels, the autoencoder's code, the demo classifier's embedding, and the pretrained
    backbone where its weights package is installed."""

    cache = st.cache
    run = st.out / "autoencoder"
    settings = {"model": "pixel", "bottleneck": "16x8x8", "widths": [32, 64], "epochs": 5,
                "data": st.data(32), "seed": st.seed, "overwrite": True}  # fmt: skip
    cfg = resolve_config(None, settings)
    t0 = time.perf_counter()
    summary = train_autoencoder(cfg, run, progress=st.progress)
    train_s = time.perf_counter() - t0
    sources: list[tuple[str, dict[str, Any]]] = [
        ("pixels", {"source": "pixels"}),
        ("autoencoder", {"checkpoint": run / "model.pt"}),
        ("classifier", {"checkpoint": st.out / "classifier" / "model.pt"}),
        ("pretrained", {"source": "pretrained", "image_size": 96}),
    ]
    results, skipped = [], []
    for name, kw in sources:
        if "checkpoint" in kw and not Path(kw["checkpoint"]).exists():
            continue
        t0 = time.perf_counter()
        try:
            emb = embed_split(st.data_dir, cache_dir=cache, progress=st.progress, **kw)
        except WikiartError as exc:  # e.g. the pretrained weights package is not installed
            skipped.append(f"{name}: {exc}")
            continue
        res = cluster_embeddings(
            emb, st.out / "clusters" / name, seed=st.seed, embed_seconds=time.perf_counter() - t0
        )
        res["seconds"]["total"] = time.perf_counter() - t0
        res["seconds"]["train"] = train_s if name == "autoencoder" else 0.0
        results.append((name, res))

    st.report.section("Autoencoder and style clusters")
    st.report.text(
        _model_line(cfg, summary)
        + " Then every embedding source is clustered on the test split (k-means with k = number "
        "of styles; vectors standardised first) and scored against the styles: NMI and ARI of "
        "the clusters, their silhouette and that of the styles, and leave-one-out 5-NN style "
        "accuracy. Run folders: autoencoder/, clusters/<source>/."
    )
    st.report.image(
        run / "reconstructions.png", "Test images (top) and what their codes render", st.out
    )
    st.report.image(run / "loss.png", "Autoencoder losses per epoch", st.out)
    st.report.table(list(TABLE_HEADER), table_rows([r for _, r in results]))
    for line in skipped:
        st.report.text(f"skipped {line}", muted=True)
    for name, res in results:
        if name in ("autoencoder", "pretrained", "classifier"):
            for plot in res["plots"]:
                st.report.image(
                    st.out / "clusters" / name / plot, f"{res['source']}: {plot}", st.out
                )


def _model_line(cfg, summary: dict[str, Any]) -> str:
    return (
        f"A convolutional autoencoder with a {cfg.bottleneck} code trained for {cfg.epochs} "
        f"epochs at {cfg.data.image_size} px ({cfg.loss} loss; best validation MSE "
        f"{summary.get('val_mse', float('nan')):.4f}, SSIM {summary.get('val_ssim', 0):.3f})."
    )
