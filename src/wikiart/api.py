"""The public Python API: one function per thing a user does, taking the same settings as the
command line (keyword arguments named like the flags, with underscores). Each imports its job
lazily, so ``import wikiart`` stays light.

    import wikiart
    metrics = wikiart.train_classifier("runs/clf", data="wikiart", epochs=5)
    wikiart.predict("runs/clf/model.pt", ["painting.jpg"], top_k=3)

``wikiart.embed`` and ``wikiart.cluster`` are `wikiart.clustering.embed_split` and
`wikiart.clustering.cluster_embeddings` themselves.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wikiart.checkpoints import checkpoint_kind, load_model
from wikiart.config_io import to_dict
from wikiart.errors import WikiartError

PathLike = str | os.PathLike[str]


def _settings(config: Any, settings: dict[str, Any]) -> tuple[PathLike | None, dict[str, Any]]:
    """``config`` as a TOML path, or a config object whose values ``settings`` override."""
    if config is None or isinstance(config, str | os.PathLike):
        return config, settings
    if not dataclasses.is_dataclass(config):
        raise WikiartError(f"config must be a TOML file or a config object, got {config!r}")
    return None, {**to_dict(config), **settings}


def train_classifier(
    out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train a style classifier into ``out``; returns the test metrics (``metrics.json``).
    ``settings``: `wikiart.config.ClassifierConfig` fields (``data``, ``arch``, ``epochs``,
    ``image_size``, ...); unset ones come from the architecture's preset."""
    from wikiart.classify import resolve_config
    from wikiart.classify import train_classifier as train

    return train(resolve_config(*_settings(config, settings)), out, progress=progress)


def train_autoencoder(
    out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train a convolutional autoencoder into ``out``; returns its best validation numbers.
    ``settings``: `wikiart.config.AutoencoderConfig` fields."""
    from wikiart.autoencode import resolve_config
    from wikiart.autoencode import train_autoencoder as train

    return train(resolve_config(*_settings(config, settings)), out, progress=progress)


def train_stylegen(
    out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train a style-conditioned generator against a trained classifier (``classifier=``);
    returns the last epoch's numbers. ``settings``: `wikiart.config.StylegenConfig` fields."""
    from wikiart.stylegen import resolve_config
    from wikiart.stylegen import train_stylegen as train

    return train(resolve_config(*_settings(config, settings)), out, progress=progress)


def train_diffusion(
    out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train a class-conditional diffusion model into ``out``; returns the last epoch's numbers.
    ``settings``: `wikiart.config.DiffusionConfig` fields."""
    from wikiart.diffusion import resolve_config
    from wikiart.diffusion import train_diffusion as train

    return train(resolve_config(*_settings(config, settings)), out, progress=progress)


def train_lora(
    out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train LoRA adapters onto a base (``base=``: a Hugging Face pipeline or a diffusion
    ``model.pt``) into ``out``; returns the last epoch's numbers and the adapter's size.
    ``settings``: `wikiart.config.LoraConfig` fields."""
    from wikiart.diffusion import resolve_lora_config
    from wikiart.diffusion import train_lora as train

    return train(resolve_lora_config(*_settings(config, settings)), out, progress=progress)


def train_transfer(
    out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train an AdaIN style-transfer decoder (and compute the styles' feature statistics) into
    ``out``; returns the last epoch's numbers. ``settings``: `wikiart.config.TransferConfig`
    fields."""
    from wikiart.transfer import resolve_config
    from wikiart.transfer import train_transfer as train

    return train(resolve_config(*_settings(config, settings)), out, progress=progress)


def transfer(
    checkpoint: PathLike,
    contents: Sequence[PathLike],
    styles: Sequence[str],
    out: PathLike,
    *,
    alpha: float = 1.0,
    preserve_color: bool = False,
    max_size: int = 1024,
    style_size: int = 512,
    device: str = "auto",
) -> list[Path]:
    """Paint each content image in each style (a style name of the checkpoint, or an image file)
    at its own size (scaled down to ``max_size`` at most); writes one PNG per (content, style)
    and ``grid.png`` into ``out`` and returns the PNGs' paths. ``checkpoint``: a `train
    transfer` ``model.pt``, or ``"builtin"``."""
    from wikiart.transfer import transfer_command

    return transfer_command(
        checkpoint, contents, styles, out, alpha=alpha, preserve_colors=preserve_color,
        max_size=max_size, style_size=style_size, device=device,
    )  # fmt: skip


def sample(
    out: PathLike,
    styles: Sequence[str] | None,
    *,
    checkpoint: PathLike | None = None,
    base: str | None = None,
    lora: PathLike | None = None,
    n: int = 8,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    sampler: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
) -> list[Path]:
    """``n`` images of each style from a diffusion or LoRA run (``checkpoint``) or a base with
    an optional LoRA run; writes them and ``grid.png`` into ``out``; the same seed gives the
    same images. Returns the images' paths."""
    from wikiart.diffusion import sample_command
    from wikiart.eval.generator import SampleOptions

    options = SampleOptions(n, seed, guidance, steps, sampler, batch_size)
    return sample_command(
        out, styles, checkpoint=checkpoint, base=base, lora=lora, options=options, device=device
    )


def evaluate(
    checkpoint: PathLike,
    data: PathLike,
    out: PathLike,
    *,
    judge: PathLike | None = None,
    device: str = "auto",
    batch_size: int = 64,
    tta: bool = True,
    max_per_style: int | None = None,
    cache_dir: str | None = None,
    progress: bool = False,
    n_per_style: int = 32,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    sampler: str | None = None,
) -> dict[str, Any]:
    """Evaluate any checkpoint on a split folder or a dataset root's ``test/``: a classifier
    writes ``metrics.json``; a generator, judged by an independent classifier (``judge``),
    writes ``stylegen_eval.json`` (a stylegen or transfer model) or ``diffusion_eval.json`` (a
    diffusion or LoRA run, ``n_per_style`` samples of each style). Returns what was written."""
    kind = checkpoint_kind(checkpoint)
    common = {"batch_size": batch_size, "cache_dir": cache_dir, "progress": progress}
    if kind in ("diffusion", "lora"):
        from wikiart.diffusion.evaluate import evaluate_diffusion
        from wikiart.eval.generator import SampleOptions

        if judge is None:
            raise WikiartError(
                f"a {kind} run is evaluated by an independent classifier: pass "
                "--judge CLASSIFIER/model.pt"
            )
        options = SampleOptions(n_per_style, seed, guidance, steps, sampler, batch_size)
        return evaluate_diffusion(
            checkpoint, judge, data, out, options, device=device, cache_dir=cache_dir,
            progress=progress,
        )  # fmt: skip
    if kind in ("stylegen", "transfer"):
        from wikiart.stylegen import evaluate_stylegen

        if judge is None:
            raise WikiartError(
                f"a {kind} checkpoint is evaluated by an independent classifier: pass "
                "--judge CLASSIFIER/model.pt"
            )
        return evaluate_stylegen(
            checkpoint, judge, data, out, device=device, max_per_style=max_per_style, **common
        )
    if kind != "classifier":
        raise WikiartError(
            f"{checkpoint} is a {kind!r} checkpoint: evaluate takes a classifier, "
            "stylegen, transfer, diffusion or LoRA checkpoint"
        )
    from wikiart.classify import evaluate_checkpoint

    return evaluate_checkpoint(checkpoint, data, out, device=device, tta=tta, **common)


def predict(
    checkpoint: PathLike,
    images: Sequence[PathLike],
    *,
    top_k: int = 5,
    device: str = "auto",
    tta: bool = True,
) -> list[dict[str, Any]]:
    """Top-k styles of each image file: ``[{"image", "top": [{"style", "probability"}]}]``."""
    from wikiart.classify import predict_images

    return predict_images(checkpoint, images, top_k=top_k, device=device, tta=tta)


def render(
    checkpoint: PathLike,
    images: Sequence[PathLike],
    styles: Sequence[str],
    out: PathLike,
    *,
    device: str = "auto",
) -> list[Path]:
    """Re-render image files in each named style with a trained generator; writes one image per
    (image, style) and ``grid.png`` into ``out`` and returns the images' paths."""
    from wikiart.stylegen import render_command

    return render_command(checkpoint, images, styles, out, device=device)


__all__ = [
    "evaluate",
    "load_model",
    "predict",
    "render",
    "sample",
    "train_autoencoder",
    "train_classifier",
    "train_diffusion",
    "train_lora",
    "train_stylegen",
    "train_transfer",
    "transfer",
]
