"""The style classifier job: presets (`presets`), training (`train`, with the head-only stage
in `probe`), and a trained model at work (`infer`: evaluate, predict)."""

from wikiart.classify.infer import (
    evaluate_checkpoint,
    evaluate_classifier,
    evaluate_refs,
    load_classifier,
    predict_images,
    predict_logits,
)
from wikiart.classify.presets import resolve_config, train_size
from wikiart.classify.train import train_classifier

__all__ = [
    "evaluate_checkpoint",
    "evaluate_classifier",
    "evaluate_refs",
    "load_classifier",
    "predict_images",
    "predict_logits",
    "resolve_config",
    "train_classifier",
    "train_size",
]
