"""The style classifier job: presets (`presets`), training (`train`, with the head-only stage
in `probe`), and a trained model at work (`infer`: evaluate, predict)."""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "evaluate_checkpoint": "wikiart.classify.infer",
    "evaluate_refs": "wikiart.classify.infer",
    "load_classifier": "wikiart.classify.infer",
    "predict_images": "wikiart.classify.infer",
    "predict_logits": "wikiart.classify.infer",
    "resolve_config": "wikiart.classify.presets",
    "train_classifier": "wikiart.classify.train",
    "train_size": "wikiart.classify.presets",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
