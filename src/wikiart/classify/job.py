"""The classifier job's registration (`wikiart.jobs`): ``wikiart train classifier``,
``wikiart.train_classifier``, ``wikiart evaluate`` of a classifier and its checkpoints. Torch-free:
the functions named here are imported when used."""

from __future__ import annotations

import functools
from typing import Any

from wikiart.classify.settings import KIND, ClassifierConfig
from wikiart.jobs import Evaluation, Job, register


def summary(res: dict[str, Any], out: str) -> str:
    if not res:
        return (
            "no test split, so no test metrics (train with --test-fraction F to carve one)\n"
            f"run: {out} (model.pt, report.md)"
        )
    return (
        f"test: accuracy={res['accuracy']:.3f} balanced_accuracy="
        f"{res['balanced_accuracy']:.3f} macro_f1={res['macro_f1']:.3f}\n"
        f"run: {out} (model.pt, metrics.json, report.md)"
    )


def eval_summary(res: dict[str, Any], out: str) -> str:
    return (
        f"n={res['n']} accuracy={res['accuracy']:.3f} balanced_accuracy="
        f"{res['balanced_accuracy']:.3f} macro_f1={res['macro_f1']:.3f}; wrote {out}"
    )


@functools.cache
def preset_keys() -> frozenset[str]:
    """The settings some architecture's preset sets (their default depends on ``--arch``)."""
    from wikiart.models.registry import ARCHS

    keys: set[str] = set()
    for arch in ARCHS.values():
        for key, value in arch.preset.items():
            keys.update(value if isinstance(value, dict) else [key])
    return frozenset(keys)


JOB = register(
    Job(
        name="classifier",
        help="a style classifier (see --arch, --imbalance)",
        settings=ClassifierConfig,
        train="wikiart.classify.train:train_classifier",
        resolve="wikiart.classify.presets:resolve_config",
        summary=summary,
        kinds={KIND: "wikiart.models.registry:classifier_from_checkpoint"},
        evaluation=Evaluation(
            "wikiart.classify.infer:evaluate_checkpoint", ("metrics.json",), eval_summary
        ),
        preset_keys=preset_keys,
        preset_note="the --arch preset's",
        demo=("classifier", "wikiart.classify.demo:classifier_stage"),
        app={"classify": "wikiart.classify.infer:load_classifier"},
    )
)
