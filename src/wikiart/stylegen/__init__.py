"""The style-conditioned generator: training (`wikiart train stylegen`), rendering (`wikiart
render`) and its evaluation by an independent judge (`wikiart evaluate --judge`).

Data flows one way: a trained classifier checkpoint -> ``style_embeddings.pt`` (per-style mean
penultimate embeddings on the training split, `styles`) -> `StyleGenerator` trained with the
shared loop and `StylegenLoss` (`train`, `loss`) -> ``model.pt`` -> renders and ``grid.png``
(`render`) and ``stylegen_eval.json`` (`evaluate`, printed by `table`). `frozen` holds the
networks that are never trained here: the classifier, the judge and the Lite0 features.
"""

from wikiart.stylegen.config import KIND, resolve_config
from wikiart.stylegen.evaluate import evaluate_stylegen
from wikiart.stylegen.loss import StylegenLoss, other_styles, random_view, texture_distance
from wikiart.stylegen.render import load_stylegen, render_command, write_grid
from wikiart.stylegen.styles import (
    EMBEDDINGS_FILE,
    color_stats,
    load_style_embeddings,
    save_style_embeddings,
    style_embeddings,
    texture_stats,
)
from wikiart.stylegen.table import EVAL_HEADER, eval_row, format_table
from wikiart.stylegen.train import train_stylegen

__all__ = [
    "EMBEDDINGS_FILE",
    "EVAL_HEADER",
    "KIND",
    "StylegenLoss",
    "color_stats",
    "eval_row",
    "evaluate_stylegen",
    "format_table",
    "load_style_embeddings",
    "load_stylegen",
    "other_styles",
    "random_view",
    "render_command",
    "resolve_config",
    "save_style_embeddings",
    "style_embeddings",
    "texture_distance",
    "texture_stats",
    "train_stylegen",
    "write_grid",
]
