"""Checkpoints: one layout for every model, written atomically, read with ``weights_only=True``.

A checkpoint rebuilds its model alone (``kind`` + ``model_config`` + ``state_dict``) and carries
the preprocessing and class order used in training, so inference never re-derives them.
Everything stored is plain data (tensors, dicts, lists, tuples, str, numbers, None), because
``torch.load(weights_only=True)`` refuses anything else: a checkpoint that cannot be loaded back
is caught when it is written, not months later.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import wikiart
from wikiart.errors import WikiartError

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
    """Write ``payload`` to ``path`` atomically: temp file in the same folder, fsync, replace.

    A crash or Ctrl-C mid-write leaves the previous checkpoint intact and no temp file behind."""
    check_plain(payload)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open (not mkstemp) so the file gets the usual umask permissions, not 0600.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise WikiartError(f"could not write checkpoint {path}: {exc.strerror or exc}") from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where unsupported."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); any unusable file is a `WikiartError`."""
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
        payload = torch.load(path, map_location=map_location, weights_only=True)
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


def check_kind(payload: dict[str, Any], kind: str, path: str | os.PathLike[str]) -> None:
    """A clear error when a checkpoint of another job is passed where ``kind`` is expected."""
    if payload.get("kind") != kind:
        raise WikiartError(f"{path} is a {payload.get('kind')!r} checkpoint, not a {kind}")


def load_weights(model: nn.Module, payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Load a checkpoint's ``state_dict`` into the model its config rebuilt; a mismatch is a
    clear error naming the file, not a traceback."""
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise WikiartError(
            f"{path}: weights do not fit the stored architecture: {_first_line(exc)}"
        ) from None


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch (CPU, and CUDA when present) RNG states as plain data."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": (py_version, tuple(py_state), py_gauss),
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng`; a CUDA state is restored only on a machine with CUDA."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    if "numpy" in state:
        np_state = state["numpy"]
        keys = np.asarray(torch.as_tensor(np_state["keys"]).numpy(), dtype=np.uint32)
        np.random.set_state(
            (
                np_state["name"],
                keys,
                int(np_state["pos"]),
                int(np_state["has_gauss"]),
                float(np_state["cached_gaussian"]),
            )
        )
    if "torch" in state:
        torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8).cpu())
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available():
        count = min(len(cuda_states), torch.cuda.device_count())
        for i in range(count):
            torch.cuda.set_rng_state(torch.as_tensor(cuda_states[i]).cpu(), device=i)


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
