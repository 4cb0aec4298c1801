"""The style-conditioned generator: training (`wikiart train stylegen`) and rendering
(`wikiart render`); its evaluation by an independent judge (`wikiart evaluate --judge`) is the
one every re-painting model shares, `wikiart.eval.repaint`.

Data flows one way: a trained classifier checkpoint -> ``style_embeddings.pt`` (per-style mean
penultimate embeddings on the training split, `styles`) -> `StyleGenerator` trained with the
shared loop and `StylegenLoss` (`train`, `loss`) against the frozen classifier
(`wikiart.eval.judge`) and the frozen Lite0 features (`wikiart.models.perceptual`) -> ``model.pt``
-> renders and ``grid.png`` (`render`, `wikiart.report.grids`).
"""

from wikiart.eval.repaint_table import format_table
from wikiart.stylegen.config import KIND, resolve_config
from wikiart.stylegen.loss import StylegenLoss, other_styles, random_view, texture_distance
from wikiart.stylegen.render import load_stylegen, render_command
from wikiart.stylegen.styles import (
    EMBEDDINGS_FILE,
    load_style_embeddings,
    save_style_embeddings,
    style_embeddings,
    texture_stats,
)
from wikiart.stylegen.train import train_stylegen

__all__ = [
    "EMBEDDINGS_FILE",
    "KIND",
    "StylegenLoss",
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
]
