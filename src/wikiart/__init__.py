"""wikiart: model art styles in paintings (classify, cluster, re-render).

The public API (`wikiart.api`), loaded on first use so ``import wikiart`` stays light:
``train_job`` (any registered job by name) and ``train_<job>`` for each (``train_classifier``,
``train_autoencoder``, ``train_stylegen``, ``train_diffusion``, ``train_lora``,
``train_transfer``), ``evaluate``, ``predict``, ``embed``, ``cluster``, ``render``, ``sample``,
``transfer``, ``load_model``, and each job's configuration (``ClassifierConfig`` ...
``TransferConfig``).
"""

from __future__ import annotations

from typing import Any

from wikiart.lazy import lazy_exports

__version__ = "0.1.0"

#: Public name -> the module that defines it (``"module:attr"`` where the name differs).
_API: dict[str, str] = {
    **dict.fromkeys(
        ("train_job", "transfer", "sample", "evaluate", "predict", "render", "load_model"),
        "wikiart.api",
    ),
    "embed": "wikiart.clustering:embed_split",
    "cluster": "wikiart.clustering:cluster_embeddings",
    "ClassifierConfig": "wikiart.classify.settings",
    "AutoencoderConfig": "wikiart.autoencode.settings",
    "StylegenConfig": "wikiart.stylegen.settings",
    "DiffusionConfig": "wikiart.diffusion.settings",
    "LoraConfig": "wikiart.diffusion.settings",
    "TransferConfig": "wikiart.transfer.settings",
    "EvaluateConfig": "wikiart.config",
}

__all__ = ["__version__", *_API]
_api_getattr, _ = lazy_exports(__name__, _API)


def __getattr__(name: str) -> Any:
    job = name.removeprefix("train_")
    if name not in _API and job != name:
        from wikiart.jobs import all_jobs

        if job in all_jobs():  # train_<job> of every registered job
            from wikiart.api import trainer

            return trainer(job)
    return _api_getattr(name)


def __dir__() -> list[str]:
    from wikiart.jobs import all_jobs

    return sorted([*__all__, *(f"train_{job}" for job in all_jobs())])
