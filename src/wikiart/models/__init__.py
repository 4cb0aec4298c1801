"""nn.Modules only: no file I/O, no argument parsing, no device choice.

(One exception, ``weights.py``: reading a local pretrained-weights file when asked.)
"""

from wikiart.functional import channel_mean_std, style_statistics
from wikiart.models.base import StyleClassifier
from wikiart.models.registry import (
    ARCHS,
    DEFAULT_IMAGE_SIZE,
    build_classifier,
    layer_groups,
    unfreeze_last,
)

__all__ = [
    "ARCHS",
    "DEFAULT_IMAGE_SIZE",
    "StyleClassifier",
    "build_classifier",
    "channel_mean_std",
    "layer_groups",
    "style_statistics",
    "unfreeze_last",
]
