"""nn.Modules only: no file I/O, no argument parsing, no device choice.

(One exception, ``weights.py``: reading a local pretrained-weights file when asked.)
"""

from wikiart.models.base import StyleClassifier
from wikiart.models.registry import (
    ARCHS,
    Arch,
    build_classifier,
    layer_groups,
    unfreeze_last,
)

__all__ = [
    "ARCHS",
    "Arch",
    "StyleClassifier",
    "build_classifier",
    "layer_groups",
    "unfreeze_last",
]
