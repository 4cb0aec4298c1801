"""wikiart: model art styles in paintings (classify, cluster, re-render).

The public API (`wikiart.api`), loaded on first use so ``import wikiart`` stays light:
``train_classifier``, ``train_autoencoder``, ``train_stylegen``, ``evaluate``, ``predict``,
``embed``, ``cluster``, ``render``, ``load_model``, and the configurations ``ClassifierConfig``,
``AutoencoderConfig``, ``StylegenConfig``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    **dict.fromkeys(
        (
            "train_classifier",
            "train_autoencoder",
            "train_stylegen",
            "evaluate",
            "predict",
            "embed",
            "cluster",
            "render",
            "load_model",
        ),
        "wikiart.api",
    ),
    **dict.fromkeys(("ClassifierConfig", "AutoencoderConfig", "StylegenConfig"), "wikiart.config"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wikiart' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
