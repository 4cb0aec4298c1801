"""The public Python API: one function per thing a user does, taking the same settings as the
command line (keyword arguments named like the flags, with underscores). Each imports its job
lazily, so ``import wikiart`` stays light.

    import wikiart
    metrics = wikiart.train_classifier("runs/clf", data="wikiart", epochs=5)
    metrics = wikiart.train("classifier", "runs/clf", data="wikiart", epochs=5)  # the same
    wikiart.predict("runs/clf/model.pt", ["painting.jpg"], top_k=3)

``wikiart.embed`` and ``wikiart.cluster`` are `wikiart.clustering.embed_split` and
`wikiart.clustering.cluster_embeddings` themselves.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wikiart.checkpoints import checkpoint_kind, load_model
from wikiart.config import EvaluateConfig
from wikiart.config_io import build_config, to_dict
from wikiart.errors import WikiartError
from wikiart.jobs import Job, all_jobs, get_job, job_for_kind

PathLike = str | os.PathLike[str]


def _settings(config: Any, settings: dict[str, Any]) -> tuple[PathLike | None, dict[str, Any]]:
    """``config`` as a TOML path, or a config object whose values ``settings`` override."""
    if config is None or isinstance(config, str | os.PathLike):
        return config, settings
    if not dataclasses.is_dataclass(config):
        raise WikiartError(f"config must be a TOML file or a config object, got {config!r}")
    return None, {**to_dict(config), **settings}


def train(
    job: str, out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
) -> dict[str, Any]:
    """Train the registered ``job`` (``"classifier"``, ``"autoencoder"``, ``"stylegen"``,
    ``"diffusion"``, ``"lora"``, ``"transfer"`` or one a package registered, `wikiart.jobs`)
    into the run folder ``out``; returns the figures it reports (a classifier's test metrics,
    the others' last or best epoch). ``config``: a TOML file or a settings object; ``settings``:
    the job's settings as keyword arguments (named like its flags, e.g. ``data``, ``epochs``,
    ``image_size``), which override ``config``; unset ones come from the job's defaults or
    preset."""
    spec = get_job(job)
    cfg = spec.resolve_settings(*_settings(config, settings))
    return spec.function("train")(cfg, out, progress=progress)


def trainer(job: str) -> Callable[..., dict[str, Any]]:
    """``wikiart.train_<job>``: `train` of one job, with that job's settings in its docstring."""
    spec = get_job(job)

    def train_job(
        out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
    ) -> dict[str, Any]:
        return train(job, out, config=config, progress=progress, **settings)

    train_job.__name__ = train_job.__qualname__ = f"train_{job}"
    train_job.__doc__ = (
        f"Train {spec.help} into ``out`` (`wikiart.train` of {job!r}). Keyword settings: the "
        f"fields of `{spec.settings.__module__}.{spec.settings.__name__}`."
    )
    return train_job


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

    return sample_command(
        out, styles, checkpoint=checkpoint, base=base, lora=lora, n=n, seed=seed,
        guidance=guidance, steps=steps, sampler=sampler, device=device, batch_size=batch_size,
    )  # fmt: skip


def evaluate(
    checkpoint: PathLike,
    data: PathLike,
    out: PathLike,
    *,
    progress: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """Evaluate any checkpoint on a split folder or a dataset root's ``test/``; its kind picks
    the job that evaluates it: a classifier writes ``metrics.json``; a generator, judged by an
    independent classifier (``judge``), writes ``stylegen_eval.json`` (a stylegen or transfer
    model) or ``diffusion_eval.json`` (a diffusion or LoRA run, ``n_per_style`` samples of each
    style). ``settings``: `wikiart.config.EvaluateConfig` fields. Returns what was written."""
    overrides = {
        "checkpoint": os.fspath(checkpoint),
        "data": os.fspath(data),
        "out": os.fspath(out),
    }
    cfg = build_config(EvaluateConfig, None, {**settings, **overrides})
    return evaluate_with(cfg, progress=progress)


def evaluate_with(cfg: EvaluateConfig, *, progress: bool = False) -> dict[str, Any]:
    """`evaluate` with its settings already built."""
    return evaluation_job(cfg).function("evaluate")(cfg, progress)


def evaluation_job(cfg: EvaluateConfig) -> Job:
    """The job that evaluates ``cfg.checkpoint`` (by its kind), refused with a clear error when
    there is none or when its evaluation needs a judge and ``cfg`` names none."""
    kind = checkpoint_kind(cfg.checkpoint)
    job = job_for_kind(kind)
    if job is None or job.evaluate is None:
        can = [k for j in all_jobs().values() if j.evaluate for k in j.kinds]
        raise WikiartError(
            f"{cfg.checkpoint} is a {kind!r} checkpoint: evaluate takes a "
            f"{', '.join(can[:-1])} or {can[-1]} checkpoint"
        )
    if job.judged and cfg.judge is None:
        raise WikiartError(
            f"a {kind} checkpoint is evaluated by an independent classifier: pass "
            "--judge CLASSIFIER/model.pt"
        )
    return job


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
    "evaluate_with",
    "evaluation_job",
    "load_model",
    "predict",
    "render",
    "sample",
    "train",
    "trainer",
    "transfer",
]
