"""The job registry: everything the command line, the Python API, `load_model`, the evaluation,
the demo and the web app need to know about a training job, in one `Job` record that the job's
own package declares (``wikiart/<package>/job.py``) and registers with `register`.

A job is one package and one registration. The record names its functions as ``"module:attr"``
strings, imported only when used, so building the command line (``wikiart --help``) imports no
torch and no job code beyond the torch-free settings dataclasses:

    JOB = register(Job(
        name="classifier",                      # wikiart train classifier, wikiart.train_classifier
        help="a style classifier",
        settings=ClassifierConfig,              # flags, TOML, API keywords, --print-config
        train="wikiart.classify.train:train_classifier",   # (cfg, out, *, progress) -> dict
        summary=summary,                        # the line `wikiart train` prints
        kinds={"classifier": "wikiart.models.registry:classifier_from_checkpoint"},
        evaluation=Evaluation("wikiart.classify.infer:evaluate_checkpoint", ("metrics.json",)),
    ))

`docs/architecture.md` walks through adding one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wikiart.errors import WikiartError

if TYPE_CHECKING:
    from wikiart.config import EvaluateConfig

#: The modules whose import registers the built-in jobs (one line per job package).
BUILTIN: tuple[str, ...] = (
    "wikiart.classify.job",
    "wikiart.autoencode.job",
    "wikiart.stylegen.job",
    "wikiart.transfer.job",
    "wikiart.diffusion.job",
)

#: ``(result, out) -> text``: the lines `wikiart train` or `wikiart evaluate` prints at the end.
Summary = Callable[[dict[str, Any], str], str]


def _plain_summary(result: dict[str, Any], out: str) -> str:
    return f"run: {out}"


@dataclass(frozen=True)
class Evaluation:
    """What ``wikiart evaluate`` runs on a job's checkpoints: ``run`` (``"module:function"``,
    ``(EvaluateConfig, progress) -> dict`` of what it wrote), whether it needs an independent
    classifier (``judged``: ``--judge``), the files it writes (``outputs``: an earlier
    evaluation in ``--out`` is never overwritten silently) and the lines it prints
    (``summary``). Jobs whose models do the same thing share one (the style generator and
    style transfer: `wikiart.eval.repaint_table.REPAINT_EVALUATION`)."""

    run: str
    outputs: tuple[str, ...]
    summary: Summary = _plain_summary
    judged: bool = False

    def evaluate(self, cfg: EvaluateConfig, progress: bool = False) -> dict[str, Any]:
        """Run it on ``cfg.checkpoint`` (the function imported now)."""
        run: Callable[..., dict[str, Any]] = load(self.run)
        return run(cfg, progress)


@dataclass(frozen=True)
class Job:
    """What the rest of wikiart knows about one training job.

    ``train``, ``resolve`` and the checkpoint builders in ``kinds`` are
    ``"module:attr"`` names, imported when first used. ``resolve`` takes ``(config_file,
    overrides)`` and returns the checked ``settings`` (default: the dataclass defaults <- TOML <-
    overrides, `wikiart.config_io.build_config`); ``train`` takes ``(cfg, out, *, progress)``
    and returns the figures ``summary`` prints. ``kinds`` maps each checkpoint kind the job
    writes to the function that rebuilds its model from a checkpoint payload (weights not loaded
    yet). ``evaluation``: what ``wikiart evaluate`` runs on its checkpoints (`Evaluation`). A
    finished run holds ``model.pt`` and ``last.pt`` (`wikiart.files.RUN_FILES`) whatever the job,
    since every job trains through the shared loop: the run guard needs nothing per job."""

    name: str
    help: str
    settings: type
    train: str
    resolve: str | None = None
    summary: Summary = _plain_summary
    kinds: Mapping[str, str] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    #: Words between ``wikiart train NAME`` and ``--data`` in the usage line (required flags).
    usage: str = ""
    #: The settings whose default a preset decides (their ``--help`` says so), computed lazily.
    preset_keys: Callable[[], Iterable[str]] = frozenset
    preset_note: str = "the preset's"
    #: ``(title, "module:function")``: the job's stage of `wikiart demo`, which takes a
    #: `wikiart.report.stage.DemoStage` and adds its section to the report.
    demo: tuple[str, str] | None = None
    #: The tabs of `wikiart serve` this job's checkpoints can fill: ``"classify"``,
    #: ``"repaint"`` or ``"generate"`` -> ``"module:function"`` that opens a checkpoint for it,
    #: ``(path, device=...)`` (a classifier and its payload; a
    #: `wikiart.models.repaint.Painter`; a `wikiart.eval.generator.Generator`).
    app: Mapping[str, str] = field(default_factory=dict)

    def trainer(self) -> Callable[..., dict[str, Any]]:
        """The training function (imported now)."""
        train: Callable[..., dict[str, Any]] = load(self.train)
        return train

    def resolve_settings(
        self, config_file: Any = None, overrides: dict[str, Any] | None = None
    ) -> Any:
        """The checked settings: defaults <- preset <- TOML file <- ``overrides``."""
        overrides = overrides or {}
        if self.resolve is not None:
            return load(self.resolve)(config_file, overrides)
        from wikiart.config_io import build_config

        return build_config(self.settings, config_file, overrides)


def load(target: str) -> Any:
    """The object a ``"package.module:attr"`` string names."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


_JOBS: dict[str, Job] = {}
_loaded = False


def register(job: Job) -> Job:
    """Add ``job`` to the registry (its package's ``job.py`` calls this once); returns it. A
    second job of the same name, or a checkpoint kind a different job already writes, is refused."""
    old = _JOBS.get(job.name)
    if old is not None and old != job:
        raise ValueError(f"a job named {job.name!r} is already registered")
    for kind in job.kinds:
        owner = _kind_owner(kind)
        if owner is not None and owner.name != job.name:
            raise ValueError(f"checkpoint kind {kind!r} already belongs to job {owner.name!r}")
    _JOBS[job.name] = job
    return job


def unregister(name: str) -> None:
    """Remove a job (tests that register a toy job clean up with this)."""
    _JOBS.pop(name, None)


def _kind_owner(kind: str) -> Job | None:
    return next((j for j in _JOBS.values() if kind in j.kinds), None)


def all_jobs() -> dict[str, Job]:
    """Every registered job by name, the built-in ones first (imported on first call)."""
    global _loaded
    if not _loaded:
        for module in BUILTIN:
            importlib.import_module(module)
        _loaded = True
    return dict(_JOBS)


def get_job(name: str) -> Job:
    jobs = all_jobs()
    if name not in jobs:
        raise WikiartError(f"unknown job {name!r}; known jobs: {', '.join(jobs)}")
    return jobs[name]


def job_for_kind(kind: str | None) -> Job | None:
    """The job whose checkpoints are of ``kind`` (None for a kind no job writes)."""
    all_jobs()
    return None if kind is None else _kind_owner(kind)


def known_kinds() -> list[str]:
    return sorted(k for job in all_jobs().values() for k in job.kinds)


def builder(kind: str) -> Callable[[dict[str, Any]], Any] | None:
    """The function that rebuilds a ``kind`` checkpoint's model from its payload (imported
    now), or None for a kind no registered job writes."""
    job = job_for_kind(kind)
    return None if job is None else load(job.kinds[kind])


def serving(role: str) -> list[Job]:
    """The jobs whose checkpoints can fill the app's ``role`` tab, the latest registered first
    (a run folder holding several is served by the first found)."""
    return [job for job in reversed(all_jobs().values()) if role in job.app]
