"""The style-conditioned generator: training (`wikiart train stylegen`) and rendering
(`wikiart render`); its evaluation by an independent judge (`wikiart evaluate --judge`) is the
one every re-painting model shares, `wikiart.eval.repaint`.

Data flows one way: a trained classifier checkpoint -> ``style_embeddings.pt`` (per-style mean
penultimate embeddings on the training split, `styles`) -> `StyleGenerator` trained with the
shared loop and `StylegenLoss` (`train`, `loss`) against the frozen classifier
(`wikiart.eval.judge`) and the frozen Lite0 features (`wikiart.models.perceptual`) -> ``model.pt``
-> renders and ``grid.png`` (`render`, `wikiart.report.grids`).
"""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "EMBEDDINGS_FILE": "wikiart.stylegen.styles",
    "KIND": "wikiart.stylegen.settings",
    "StylegenLoss": "wikiart.stylegen.loss",
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
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
