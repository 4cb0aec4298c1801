"""Checkpoints: one layout for every model, written atomically, read with ``weights_only=True``,
and one loader, `load_model`, that rebuilds any kind of model from its file alone.

A checkpoint carries ``kind`` + ``model_config`` + ``state_dict`` and the preprocessing and class
order used in training, so inference never re-derives them. Everything stored is plain data
(tensors, dicts, lists, tuples, str, numbers, None), because ``torch.load(weights_only=True)``
refuses anything else: a checkpoint that cannot be loaded back is caught when it is written, not
months later. Each kind's model is rebuilt by the function its job registers
(`wikiart.jobs.Job.kinds`), imported only when such a checkpoint is loaded.
"""

from __future__ import annotations

import collections
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

import wikiart
from wikiart import jobs
from wikiart.errors import WikiartError
from wikiart.files import atomic_open

FORMAT_VERSION = 1

_SCALARS = (type(None), bool, int, float, str, bytes, torch.dtype, torch.device)
_MAPPINGS = (dict, collections.OrderedDict)
_SEQUENCES = (list, tuple, torch.Size, set, frozenset)


def check_plain(obj: Any, where: str = "payload") -> None:
    """Raise ``TypeError`` naming the first value ``weights_only`` loading would refuse.

    Exact type checks on purpose: ``np.float64`` subclasses ``float`` but pickles as numpy."""
    if type(obj) in _SCALARS or isinstance(obj, torch.Tensor):
        return
    if type(obj) in _MAPPINGS:
        for key, value in obj.items():
            check_plain(key, f"{where} key")
            check_plain(value, f"{where}[{key!r}]")
        return
    if type(obj) in _SEQUENCES:
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, which "
        "torch.load(weights_only=True) cannot read back; store plain data or tensors"
    )


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (`wikiart.files.atomic_open`): a crash or Ctrl-C
    mid-write leaves the previous checkpoint intact and no temp file behind."""
    check_plain(payload)
    try:
        with atomic_open(path, "wb") as fh:
            torch.save(payload, fh)
    except WikiartError as exc:
        cause = exc.__cause__
        reason = getattr(cause, "strerror", None) or cause or exc
        raise WikiartError(f"could not write checkpoint {path}: {reason}") from cause


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device | None = "cpu",
    *,
    mmap: bool = False,
) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); any unusable file is a `WikiartError`.
    ``mmap``: tensors are mapped from the file, read only when touched (cheap to peek)."""
    path = Path(path)
    if not path.exists():
        raise WikiartError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise WikiartError(f"checkpoint {path} is not a file")
    damaged = f"checkpoint {path} is damaged (truncated copy?) or not a PyTorch checkpoint"
    if not os.access(path, os.R_OK):
        raise WikiartError(f"checkpoint {path} is not readable (permission denied)")
    # torch.save writes a zip; without its central directory (at the very end) the file was cut
    # short or is something else, and torch would fall back to a confusing legacy-format read.
    if not zipfile.is_zipfile(path):
        raise WikiartError(damaged)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except OSError as exc:
        raise WikiartError(f"{damaged}: {exc.strerror or exc}") from None
    except Exception as exc:
        if "weights_only" in str(exc) or "Weights only" in str(exc):
            raise WikiartError(
                f"checkpoint {path} holds objects other than plain data and tensors "
                "(not written by wikiart?); refusing to unpickle it"
            ) from None
        raise WikiartError(f"{damaged}: {_first_line(exc)}") from None
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise WikiartError(f"{path} is not a wikiart checkpoint (no format_version)")
    version = payload["format_version"]
    if type(version) is not int:
        raise WikiartError(f"checkpoint {path} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        made_by = payload.get("package_version", "a newer version")
        raise WikiartError(
            f"checkpoint {path} has format {version}, written by wikiart {made_by}; this is "
            f"wikiart {wikiart.__version__} (reads format <= {FORMAT_VERSION}): upgrade wikiart"
        )
    return payload


def checkpoint_kind(path: str | os.PathLike[str]) -> str | None:
    """The ``kind`` a checkpoint holds, without reading its weights (memory-mapped)."""
    return load_checkpoint(path, mmap=True).get("kind")


def load_weights(model: nn.Module, payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Load a checkpoint's ``state_dict`` into the model its config rebuilt; a mismatch is a
    clear error naming the file, not a traceback."""
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise WikiartError(
            f"{path}: weights do not fit the stored architecture: {_first_line(exc)}"
        ) from None


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel (``.module``) and ``torch.compile``
    (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def model_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without wrapper prefixes (``module.``, ``_orig_mod.``): loads anywhere."""
    return unwrap(model).state_dict()


def make_payload(
    *,
    kind: str,
    model_config: dict[str, Any],
    model: nn.Module,
    classes: list[str] | None,
    preprocess: dict[str, Any],
    epoch: int,
    metrics: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: torch.amp.GradScaler | None = None,
    loop_state: dict[str, Any] | None = None,
    rng: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one checkpoint layout. Optional parts (optimizer, scheduler, scaler, rng, loop) are
    present only in a resumable ``last.pt``; the slim ``model.pt`` users load omits them."""
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "package_version": wikiart.__version__,
        "kind": str(kind),
        "model_config": dict(model_config),
        "state_dict": model_state_dict(model),
        "classes": None if classes is None else [str(c) for c in classes],
        "preprocess": dict(preprocess),
        "epoch": int(epoch),
        "metrics": dict(metrics),
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        payload["scaler"] = scaler.state_dict()
    if rng is not None:
        payload["rng"] = rng
    if loop_state is not None:
        payload["loop"] = dict(loop_state)
    return payload


def preprocess_norm(payload: dict[str, Any]) -> dict[str, tuple[float, ...]]:
    """The normalisation a model was trained with (``mean``, ``std`` of its ``preprocess``)."""
    pre = payload.get("preprocess") or {}
    return {"mean": tuple(pre["mean"]), "std": tuple(pre["std"])}


def load_model(
    path: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    *,
    kind: str | tuple[str, ...] | None = None,
) -> tuple[str, nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint holds, of whatever kind, in eval mode on ``device``:
    ``(kind, model, payload)``. ``kind`` (one or several): refuse other kinds with a clear
    error, e.g. an autoencoder passed where a classifier is expected."""
    payload = load_checkpoint(path)
    found = payload.get("kind")
    wanted = (kind,) if isinstance(kind, str) else kind
    if wanted is not None and found not in wanted:
        raise WikiartError(f"{path} is a {found!r} checkpoint, not a {' or '.join(wanted)}")
    if not isinstance(found, str) or (build := jobs.builder(found)) is None:
        raise WikiartError(
            f"{path} holds a model of kind {found!r}, which this version of wikiart cannot "
            f"rebuild (known kinds: {', '.join(jobs.known_kinds())})"
        )
    try:
        model = build(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise WikiartError(f"{path}: its stored {found} configuration is unusable: {exc}") from None
    load_weights(model, payload, path)
    model = model.to(device)
    if (payload.get("preprocess") or {}).get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    return found, model.eval(), payload
