"""wikiart: model art styles in paintings (classify, cluster, re-render).

The public API (`wikiart.api`), loaded on first use so ``import wikiart`` stays light:
``train_classifier``, ``train_autoencoder``, ``train_stylegen``, ``train_diffusion``,
``train_lora``, ``train_transfer``, ``evaluate``, ``predict``, ``embed``, ``cluster``,
``render``, ``sample``, ``transfer``, ``load_model``, and each job's configuration
(``ClassifierConfig`` ... ``TransferConfig``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> (module, attribute).
_API: dict[str, tuple[str, str]] = {
    **{
        name: ("wikiart.api", name)
        for name in (
            "train_classifier",
            "train_autoencoder",
            "train_stylegen",
            "train_diffusion",
            "train_lora",
            "train_transfer",
            "transfer",
            "sample",
            "evaluate",
            "predict",
            "render",
            "load_model",
        )
    },
    "embed": ("wikiart.clustering", "embed_split"),
    "cluster": ("wikiart.clustering", "cluster_embeddings"),
    **{
        name: ("wikiart.config", name)
        for name in (
            "ClassifierConfig",
            "AutoencoderConfig",
            "StylegenConfig",
            "DiffusionConfig",
            "LoraConfig",
            "TransferConfig",
        )
    },
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wikiart' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
