"""`wikiart cluster`'s settings. Torch-free, so building the command line stays fast."""

from __future__ import annotations

from dataclasses import dataclass

from wikiart.config import DEVICES, NORMALIZATIONS, Limit, setting

SOURCES = ("pixels", "pretrained")


@dataclass
class ClusterConfig:
    """Embed one split (a checkpoint's encoder, raw pixels or the pretrained Lite0), cluster it
    and score the clusters against the styles."""

    data: str = setting("", "split folder (<Style>/<image>) or dataset root", required=True)
    out: str = setting("", "output folder", required=True)
    overwrite: bool = setting(False, "replace earlier outputs in --out (else refused)")
    checkpoint: str | None = setting(
        None, "an autoencoder or classifier RUN/model.pt (its kind is read)"
    )
    source: str | None = setting(
        None,
        "without --checkpoint: raw downsampled pixels (the floor) or the offline "
        "ImageNet-pretrained EfficientNet-Lite0",
        choices=SOURCES,
    )
    image_size: int | None = setting(None, "pixels/pretrained: input size (32 / 224)")
    features: str | None = setting(
        None, "pretrained: embedding (default pool)", choices=("pool", "stats")
    )
    normalize: str = setting(
        "standard",
        "applied to every source's vectors before clustering",
        choices=NORMALIZATIONS,
    )
    methods: list[str] = setting(
        factory=lambda: ["kmeans", "agglomerative", "gmm"],
        help="comma-separated clustering methods (kmeans, agglomerative, gmm, spectral)",
    )
    k: int | None = setting(
        None, "number of clusters (default: number of styles)", limit=Limit(2, 100_000)
    )
    seed: int = setting(0, "random seed (clustering, t-SNE)")
    tsne: bool = setting(True, "write the t-SNE plot")
    device: str = setting("auto", "where to embed", choices=DEVICES)
    batch_size: int = setting(64, "images per batch")
    cache_dir: str | None = setting(None, "preprocessing cache root")
