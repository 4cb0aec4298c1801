"""The style generator's registration (`wikiart.jobs`): ``wikiart train stylegen``,
``wikiart.train_stylegen``, ``wikiart evaluate --judge`` of a generator and its checkpoints.
Torch-free: the functions named here are imported when used."""

from __future__ import annotations

from typing import Any

from wikiart.eval.repaint_table import REPAINT_EVALUATION
from wikiart.jobs import Job, register
from wikiart.stylegen.settings import KIND, StylegenConfig


def summary(res: dict[str, Any], out: str) -> str:
    return (
        f"epoch {int(res.get('epoch', 0))}: loss={res.get('train_loss', float('nan')):.4f} "
        f"style_acc={res.get('train_style_acc', float('nan')):.3f}; run: {out} "
        "(model.pt, style_embeddings.pt, grid.png)"
    )


JOB = register(
    Job(
        name="stylegen",
        help="a style-conditioned generator, trained against a frozen classifier",
        settings=StylegenConfig,
        train="wikiart.stylegen.train:train_stylegen",
        resolve="wikiart.stylegen.settings:resolve_config",
        summary=summary,
        kinds={KIND: "wikiart.models.stylegen:from_checkpoint"},
        evaluation=REPAINT_EVALUATION,
        demo=(
            "style generator (judge, training, evaluation)",
            "wikiart.stylegen.demo:stylegen_stage",
        ),
        app={"repaint": "wikiart.stylegen.painter:open_painter"},
    )
)
