"""wikiart: model art styles in paintings (classify, cluster, re-render).

The public API (`wikiart.api`), loaded on first use so ``import wikiart`` stays light:
``train_job`` (any registered job by name) and ``train_<job>`` for each (``train_classifier``,
``train_autoencoder``, ``train_stylegen``, ``train_diffusion``, ``train_lora``,
``train_transfer``), ``evaluate``, ``predict``, ``embed``, ``cluster``, ``render``, ``sample``,
``transfer``, ``load_model``, and each job's configuration (``ClassifierConfig`` ...
``TransferConfig``).
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
            "train_job",
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
    "ClassifierConfig": ("wikiart.classify.settings", "ClassifierConfig"),
    "AutoencoderConfig": ("wikiart.autoencode.settings", "AutoencoderConfig"),
    "StylegenConfig": ("wikiart.stylegen.settings", "StylegenConfig"),
    "DiffusionConfig": ("wikiart.diffusion.settings", "DiffusionConfig"),
    "LoraConfig": ("wikiart.diffusion.settings", "LoraConfig"),
    "TransferConfig": ("wikiart.transfer.settings", "TransferConfig"),
    "EvaluateConfig": ("wikiart.config", "EvaluateConfig"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    job = name.removeprefix("train_")
    if job != name:
        from wikiart.jobs import all_jobs

        if job in all_jobs():  # train_<job> of every registered job
            from wikiart.api import trainer

            return trainer(job)
    raise AttributeError(f"module 'wikiart' has no attribute {name!r}")


def __dir__() -> list[str]:
    from wikiart.jobs import all_jobs

    return sorted([*__all__, *(f"train_{job}" for job in all_jobs())])
