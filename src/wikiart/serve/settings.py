"""`wikiart serve`'s settings. Torch-free, so building the command line stays fast."""

from __future__ import annotations

from dataclasses import dataclass

from wikiart.config import DEVICES, Limit, setting


@dataclass
class ServeConfig:
    """The web app over the trained models: what it serves and how it runs."""

    run: str | None = setting(
        None,
        "a run folder holding classifier/, transfer/ (or stylegen/) and diffusion/ checkpoints "
        "(default: runs/demo when it exists and no model is named)",
    )
    classifier: str | None = setting(
        None, "a classifier RUN/model.pt (the Classify and Explore tabs)"
    )
    gallery: str | None = setting(
        None,
        "paintings for similar-painting search and the map: a split folder or a dataset root, "
        "whose test/ is used (default: the classifier's training data)",
    )
    transfer: str | None = setting(
        None, "the Re-paint tab's model: a transfer or stylegen RUN/model.pt, or builtin"
    )
    diffusion: str | None = setting(None, "a diffusion or LoRA run (the Generate tab)")
    host: str = setting("127.0.0.1", "address to bind")
    port: int = setting(7860, "port to listen on", limit=Limit(1, 65_535))
    gallery_per_style: int = setting(
        100, "at most this many gallery paintings of each style (0: all)",
        limit=Limit(0, 1_000_000),
    )  # fmt: skip
    max_upload_mb: float = setting(20.0, "upload size limit", limit=Limit(0, 10_000, lo_open=True))
    max_size: int = setting(1024, "longest side Re-paint paints at", limit=Limit(32, 16_384))
    concurrency: int = setting(2, "classify requests served at once", limit=Limit(1, 64))
    device: str = setting("auto", "where to run the models", choices=DEVICES)
    cache_dir: str | None = setting(None, "preprocessing cache root")
