"""The public Python API: one function per thing a user does, taking the same settings as the
command line (keyword arguments named like the flags, with underscores). Each imports its job
lazily, so ``import wikiart`` stays light.

    import wikiart
    metrics = wikiart.train_classifier("runs/clf", data="wikiart", epochs=5)
    metrics = wikiart.train_job("classifier", "runs/clf", data="wikiart", epochs=5)  # the same
    wikiart.predict("runs/clf/model.pt", ["painting.jpg"], top_k=3)

``wikiart.embed`` and ``wikiart.cluster`` are `wikiart.clustering.embed_split` and
`wikiart.clustering.cluster_embeddings` themselves.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from wikiart.checkpoints import checkpoint_kind, load_model
from wikiart.config import EvaluateConfig
from wikiart.config_io import build_config, to_dict
from wikiart.errors import WikiartError
from wikiart.jobs import Evaluation, all_jobs, get_job, job_for_kind

PathLike = str | os.PathLike[str]
C = TypeVar("C")


def _settings(config: Any, settings: dict[str, Any]) -> tuple[PathLike | None, dict[str, Any]]:
    """``config`` as a TOML path, or a config object whose values ``settings`` override."""
    if config is None or isinstance(config, str | os.PathLike):
        return config, settings
    if not dataclasses.is_dataclass(config):
        raise WikiartError(f"config must be a TOML file or a config object, got {config!r}")
    return None, {**to_dict(config), **settings}


def train_job(
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
    return spec.trainer()(cfg, out, progress=progress)


def trainer(job: str) -> Callable[..., dict[str, Any]]:
    """``wikiart.train_<job>``: `train_job` of one job, its settings named in its docstring."""
    spec = get_job(job)

    def train_one(
        out: PathLike, *, config: Any = None, progress: bool = False, **settings: Any
    ) -> dict[str, Any]:
        return train_job(job, out, config=config, progress=progress, **settings)

    train_one.__name__ = train_one.__qualname__ = f"train_{job}"
    train_one.__doc__ = (
        f"Train {spec.help} into ``out`` (`wikiart.train_job` of {job!r}). Keyword settings: the "
        f"fields of `{spec.settings.__module__}.{spec.settings.__name__}`."
    )
    return train_one


def _built(cls: type[C], settings: dict[str, Any]) -> C:
    """A command's settings dataclass from API keywords (paths as strings), checked like the
    flags: unknown names, wrong types and values out of range are one clear error."""

    def plain(v: Any) -> Any:
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return os.fspath(v) if isinstance(v, os.PathLike) else v

    return build_config(cls, None, {k: plain(v) for k, v in settings.items()})


def transfer(
    checkpoint: PathLike,
    contents: Sequence[PathLike],
    styles: Sequence[str],
    out: PathLike,
    **settings: Any,
) -> list[Path]:
    """Paint each content image in each style (a style name of the checkpoint, or an image file)
    at its own size (scaled down to ``max_size`` at most); writes one PNG per (content, style)
    and ``grid.png`` into ``out`` and returns the PNGs' paths. ``checkpoint``: a `train
    transfer` ``model.pt``, or ``"builtin"``. ``settings``: `wikiart.transfer.settings.PaintConfig`
    fields (``alpha``, ``preserve_color``, ``max_size``, ``style_size``, ``device``)."""
    from wikiart.transfer.settings import PaintConfig
    from wikiart.transfer.stylize import transfer_command

    paths = {"checkpoint": checkpoint, "content": contents, "style": styles, "out": out}
    return transfer_command(_built(PaintConfig, {**settings, **paths}))


def sample(out: PathLike, styles: Sequence[str] | None, **settings: Any) -> list[Path]:
    """``n`` images of each style from a diffusion or LoRA run (``checkpoint``) or a base with
    an optional LoRA run; writes them and ``grid.png`` into ``out``; the same seed gives the
    same images. Returns the images' paths. ``settings``:
    `wikiart.diffusion.settings.SampleConfig` fields (``checkpoint``, ``base``, ``lora``,
    ``n``, ``seed``, ``guidance``, ``steps``, ``sampler``, ``device``, ``batch_size``)."""
    from wikiart.diffusion.settings import SampleConfig

    styles = None if styles is None else list(styles)
    return sample_with(_built(SampleConfig, {**settings, "out": out, "style": styles}))


def sample_with(cfg: Any) -> list[Path]:
    """`sample` with its settings already built (a `wikiart.diffusion.settings.SampleConfig`)."""
    from wikiart.diffusion.sample import sample_command
    from wikiart.eval.generator import SampleOptions

    return sample_command(
        cfg.out, cfg.style, checkpoint=cfg.checkpoint, base=cfg.base, lora=cfg.lora,
        options=SampleOptions.of(cfg, cfg.n), device=cfg.device,
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
    paths = {"checkpoint": checkpoint, "data": data, "out": out}
    cfg = _built(EvaluateConfig, {**settings, **paths})
    return evaluate_with(cfg, progress=progress)


def evaluate_with(cfg: EvaluateConfig, *, progress: bool = False) -> dict[str, Any]:
    """`evaluate` with its settings already built."""
    return evaluation_for(cfg).evaluate(cfg, progress)


def evaluation_for(cfg: EvaluateConfig) -> Evaluation:
    """The evaluation of ``cfg.checkpoint``'s job (by the checkpoint's kind), refused with a
    clear error when there is none, or when it needs a judge and ``cfg`` names none."""
    kind = checkpoint_kind(cfg.checkpoint)
    job = job_for_kind(kind)
    if job is None or job.evaluation is None:
        can = [k for j in all_jobs().values() if j.evaluation for k in j.kinds]
        raise WikiartError(
            f"{cfg.checkpoint} is a {kind!r} checkpoint: evaluate takes a "
            f"{', '.join(can[:-1])} or {can[-1]} checkpoint"
        )
    if job.evaluation.judged:
        cfg.require_judge(f"a {kind} checkpoint")
    return job.evaluation


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
    **settings: Any,
) -> list[Path]:
    """Re-render image files in each named style with a trained generator; writes one image per
    (image, style) and ``grid.png`` into ``out`` and returns the images' paths. ``settings``:
    `wikiart.stylegen.settings.RenderConfig` fields (``device``)."""
    from wikiart.stylegen.render import render_command
    from wikiart.stylegen.settings import RenderConfig

    paths = {"checkpoint": checkpoint, "image": images, "style": styles, "out": out}
    return render_command(_built(RenderConfig, {**settings, **paths}))


__all__ = [
    "evaluate",
    "evaluate_with",
    "evaluation_for",
    "load_model",
    "predict",
    "render",
    "sample",
    "sample_with",
    "train_job",
    "trainer",
    "transfer",
]
