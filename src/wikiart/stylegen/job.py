"""The style generator's registration (`wikiart.jobs`): ``wikiart train stylegen``,
``wikiart.train_stylegen``, ``wikiart evaluate --judge`` of a generator and its checkpoints.
Torch-free: the functions named here are imported when used."""

from __future__ import annotations

from typing import Any

from wikiart.config import EvaluateConfig
from wikiart.jobs import Job, register
from wikiart.stylegen.settings import KIND, StylegenConfig

#: What the render-judge evaluation writes (shared by the generator and style transfer).
EVAL_OUTPUTS = ("stylegen_eval.json",)


def summary(res: dict[str, Any], out: str) -> str:
    return (
        f"epoch {int(res.get('epoch', 0))}: loss={res.get('train_loss', float('nan')):.4f} "
        f"style_acc={res.get('train_style_acc', float('nan')):.3f}; run: {out} "
        "(model.pt, style_embeddings.pt, grid.png)"
    )


def eval_summary(res: dict[str, Any], out: str) -> str:
    """The render-judge table and what was written (the generator's and transfer's)."""
    from wikiart.stylegen.table import format_table

    return f"{format_table(res)}\nwrote {out}/stylegen_eval.json and grid.png"


def evaluate(cfg: EvaluateConfig, progress: bool) -> dict[str, Any]:
    """Test images re-rendered in other styles, scored by an independent judge
    (``stylegen_eval.json``); a stylegen or a transfer checkpoint."""
    from wikiart.stylegen.evaluate import evaluate_stylegen

    return evaluate_stylegen(
        cfg.checkpoint, cfg.judge, cfg.data, cfg.out, device=cfg.device,
        max_per_style=cfg.max_per_style, batch_size=cfg.batch_size, cache_dir=cfg.cache_dir,
        progress=progress,
    )  # fmt: skip


JOB = register(
    Job(
        name="stylegen",
        help="a style-conditioned generator, trained against a frozen classifier",
        settings=StylegenConfig,
        train="wikiart.stylegen.train:train_stylegen",
        resolve="wikiart.stylegen.settings:resolve_config",
        summary=summary,
        outputs=("model.pt", "config.json", "style_embeddings.pt", "history.csv", "grid.png"),
        kinds={KIND: "wikiart.models.stylegen:from_checkpoint"},
        evaluate="wikiart.stylegen.job:evaluate",
        judged=True,
        eval_outputs=EVAL_OUTPUTS,
        eval_summary=eval_summary,
    )
)
