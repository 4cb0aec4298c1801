"""The one table `wikiart evaluate` prints for a re-painting model (a style generator or an AdaIN
transfer model), which the demo's report and the transfer benchmark reuse."""

from __future__ import annotations

from typing import Any

from wikiart.jobs import Evaluation

EVAL_HEADER = (
    "pairs",
    "swap success",
    "floor",
    "colour baseline",
    "SSIM",
    "baseline SSIM",
    "feature dist.",
    "baseline feature dist.",
)


def eval_row(r: dict[str, Any]) -> list[Any]:
    """The values of ``stylegen_eval.json`` under `EVAL_HEADER`, in its order."""
    return [
        r["pairs"],
        r["swap_success"],
        r["floor"],
        r["color_baseline"],
        r["ssim"],
        r["color_baseline_ssim"],
        r["feature_distance"],
        r["color_baseline_feature_distance"],
    ]


def format_table(r: dict[str, Any]) -> str:
    """The one table `wikiart evaluate` prints for a style generator or transfer checkpoint."""
    cells = [[str(h) for h in EVAL_HEADER], [_cell(v) for v in eval_row(r)]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(EVAL_HEADER))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def summary(res: dict[str, Any], out: str) -> str:
    """What `wikiart evaluate` prints for a re-painting model: the table and the files."""
    return f"{format_table(res)}\nwrote {out}/stylegen_eval.json and grid.png"


#: The evaluation of the jobs whose models re-paint pictures (the style generator, style
#: transfer): `wikiart.eval.repaint.evaluate_repainter`, judged by an independent classifier.
REPAINT_EVALUATION = Evaluation(
    "wikiart.eval.repaint:evaluate_repainter", ("stylegen_eval.json",), summary, judged=True
)
