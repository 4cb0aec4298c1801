"""The style-transfer job's registration (`wikiart.jobs`): ``wikiart train transfer``,
``wikiart.train_transfer``, ``wikiart evaluate --judge`` of a transfer model (the re-painting
evaluation it shares with the style generator) and its checkpoints. Torch-free: the functions
named here are imported when used."""

from __future__ import annotations

from typing import Any

from wikiart.eval.repaint_table import REPAINT_EVALUATION
from wikiart.jobs import Job, register
from wikiart.transfer.settings import KIND, TransferConfig


def summary(res: dict[str, Any], out: str) -> str:
    if "train_loss" not in res:
        return (
            f"no training (epochs 0): the decoder of --init with the statistics of "
            f"{res.get('styles', 0)} styles in {res.get('seconds', 0):.0f}s; run: {out} "
            "(model.pt, grid.png)"
        )
    return (
        f"epoch {int(res.get('epoch', 0))}: loss={res.get('train_loss', float('nan')):.4f} "
        f"content={res.get('train_content', float('nan')):.4f} "
        f"style={res.get('train_style', float('nan')):.4f} in {res.get('seconds', 0):.0f}s; "
        f"run: {out} (model.pt, grid.png)"
    )


JOB = register(
    Job(
        name="transfer",
        help="an AdaIN style-transfer decoder and the styles' feature statistics",
        settings=TransferConfig,
        train="wikiart.transfer.train:train_transfer",
        resolve="wikiart.transfer.settings:resolve_config",
        summary=summary,
        kinds={KIND: "wikiart.models.transfer:from_checkpoint"},
        evaluation=REPAINT_EVALUATION,
        demo=(
            "style transfer (style statistics, evaluation)",
            "wikiart.transfer.demo:transfer_stage",
        ),
        app={"repaint": "wikiart.transfer.painter:open_painter"},
    )
)
