"""The style-conditioned generator: training (`wikiart train stylegen`), rendering (`wikiart
render`) and its evaluation by an independent judge (`wikiart evaluate --judge`).

Data flows one way: a trained classifier checkpoint -> ``style_embeddings.pt`` (per-style mean
penultimate embeddings on the training split, `styles`) -> `StyleGenerator` trained with the
shared loop and `StylegenLoss` (`train`, `loss`) -> ``model.pt`` -> renders and ``grid.png``
(`render`) and ``stylegen_eval.json`` (`evaluate`, printed by `table`). `frozen` holds the
networks that are never trained here: the classifier, the judge and the Lite0 features.
"""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "EMBEDDINGS_FILE": "wikiart.stylegen.styles",
    "EVAL_HEADER": "wikiart.stylegen.table",
    "KIND": "wikiart.stylegen.settings",
    "StylegenLoss": "wikiart.stylegen.loss",
    "color_stats": "wikiart.stylegen.styles",
    "eval_row": "wikiart.stylegen.table",
    "evaluate_stylegen": "wikiart.stylegen.evaluate",
    "format_table": "wikiart.stylegen.table",
    "load_style_embeddings": "wikiart.stylegen.styles",
    "load_stylegen": "wikiart.stylegen.render",
    "other_styles": "wikiart.stylegen.loss",
    "random_view": "wikiart.stylegen.loss",
    "render_command": "wikiart.stylegen.render",
    "resolve_config": "wikiart.stylegen.settings",
    "save_style_embeddings": "wikiart.stylegen.styles",
    "style_embeddings": "wikiart.stylegen.styles",
    "texture_distance": "wikiart.stylegen.loss",
    "texture_stats": "wikiart.stylegen.styles",
    "train_stylegen": "wikiart.stylegen.train",
    "write_grid": "wikiart.stylegen.render",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
