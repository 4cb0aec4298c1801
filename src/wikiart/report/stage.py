"""What one stage of `wikiart demo` works with: the report it adds a section to, the demo's
folder, the dataset and its cache, the image size and the seed. Each job's package holds its own
stage (``demo.py``, registered as `wikiart.jobs.Job.demo`); `wikiart.demo` runs them in turn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wikiart.jobs import get_job
from wikiart.report.html import HtmlReport


@dataclass
class DemoStage:
    report: HtmlReport
    out: Path
    data_dir: Path
    cache_root: Path | None
    image_size: int
    seed: int
    progress: bool

    @property
    def cache(self) -> str | None:
        """The cache root as a setting (None: the user's default cache)."""
        return str(self.cache_root) if self.cache_root else None

    def skipped(self, section: str, why: object) -> None:
        """A report section that says why the stage could not run here."""
        self.report.section(section)
        self.report.text(f"skipped: {why}", muted=True)

    def data(self, image_size: int) -> dict[str, Any]:
        """The ``[data]`` table of a training job's settings: the demo's data at ``image_size``."""
        return {"data": str(self.data_dir), "image_size": image_size, "cache_dir": self.cache}


def train_judge(
    stage: DemoStage, run: Path, data: dict[str, Any], seed: int, epochs: int
) -> tuple[Any, dict[str, Any]]:
    """An independent judge of generated images: a ``baseline-cnn`` classifier trained with its
    own seed on ``data`` (a ``[data]`` table); ``(its settings, its test metrics)``."""
    job = get_job("classifier")
    settings = {"arch": "baseline-cnn", "epochs": epochs, "batch_size": 32, "seed": seed}
    cfg = job.resolve_settings(None, {**settings, "overwrite": True, "data": data})
    return cfg, job.trainer()(cfg, run, progress=stage.progress)
