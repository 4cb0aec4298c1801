"""Other people's architectures by name: ``torchvision:<name>`` and ``timm:<name>``.

Built without weights (nothing is downloaded); ``--pretrained PATH`` loads a local file. The
model's own classifier is removed so that it returns its penultimate features, whose size is
found with one small dummy forward in ``__init__``.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from wikiart.errors import WikiartError
from wikiart.models.backbone import Backbone

#: Where torchvision models keep their classifier, in the order tried.
_HEADS = ("fc", "classifier", "heads", "head")
#: Auxiliary classifiers (Inception v3, GoogLeNet) that only add work and unused outputs.
_AUX = ("AuxLogits", "aux1", "aux2")


def _as_features(out: object) -> torch.Tensor:
    if isinstance(out, tuple | list):  # (logits, aux) style outputs
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"expected a tensor output, got {type(out).__name__}")
    return out.flatten(1)


@torch.no_grad()
def _infer_dim(net: nn.Module, sizes: tuple[int, ...], what: str) -> int:
    """Output width of ``net`` from one forward of a zero image, trying small sizes first (ViTs
    accept only their own size). Eval mode, so BatchNorm accepts a batch of one."""
    was_training = net.training
    net.eval()
    errors = []
    try:
        for size in sizes:
            try:
                return _as_features(net(torch.zeros(1, 3, size, size))).shape[1]
            except (RuntimeError, ValueError, AssertionError, TypeError) as exc:
                errors.append(f"{size} px: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    finally:
        net.train(was_training)
    raise WikiartError(f"could not run {what} on a test image ({'; '.join(errors)})")


class TorchvisionBackbone(Backbone):
    """``torchvision.models.get_model(name, weights=None)`` with its classifier replaced by an
    identity, so it returns the penultimate features."""

    def __init__(self, name: str) -> None:
        super().__init__()
        try:
            net = torchvision.models.get_model(name, weights=None)
        except ValueError:
            raise WikiartError(
                f"unknown torchvision model {name!r}; see torchvision.models.list_models()"
            ) from None
        ignored = []
        for attr in _HEADS:
            if isinstance(getattr(net, attr, None), nn.Module):
                setattr(net, attr, nn.Identity())
                ignored.append(f"{attr}.")
                break
        else:
            raise WikiartError(
                f"torchvision model {name!r} has no classifier attribute among {_HEADS}: "
                "cannot take its penultimate features"
            )
        if getattr(net, "aux_logits", False):
            net.aux_logits = False
            for attr in _AUX:
                if getattr(net, attr, None) is not None:
                    setattr(net, attr, None)
                    ignored.append(f"{attr}.")
        self.net = net
        self.head_prefixes = tuple(ignored)
        self.embedding_dim = _infer_dim(net, (64, 224, 299), f"torchvision model {name!r}")

    @property
    def weights_target(self) -> nn.Module:
        return self.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _as_features(self.net(x))


class TimmBackbone(Backbone):
    """``timm.create_model(name, pretrained=False, num_classes=0)``: timm removes the classifier
    itself and returns pooled features."""

    def __init__(self, name: str) -> None:
        super().__init__()
        try:
            import timm
        except ImportError:
            raise WikiartError(f"timm:{name} needs the timm package: pip install timm") from None
        try:
            net = timm.create_model(name, pretrained=False, num_classes=0)
        except RuntimeError as exc:  # timm: "Unknown model (...)"
            raise WikiartError(f"timm:{name}: {exc}; see timm.list_models()") from None
        cfg = getattr(net, "pretrained_cfg", None) or {}
        heads = cfg.get("classifier") or "fc"
        heads = (heads,) if isinstance(heads, str) else tuple(heads)
        self.net = net
        self.head_prefixes = tuple(f"{h}." for h in heads)
        size = int((cfg.get("input_size") or (3, 224, 224))[-1])
        self.embedding_dim = _infer_dim(net, (64, size), f"timm model {name!r}")

    @property
    def weights_target(self) -> nn.Module:
        return self.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _as_features(self.net(x))
