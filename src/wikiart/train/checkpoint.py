"""Training state beside the model in a resumable ``last.pt``: the random generators' states as
plain data. (Saving and loading checkpoints: `wikiart.checkpoints`.)"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from wikiart.checkpoints import (  # noqa: F401  (names the training loop imports from here)
    FORMAT_VERSION,
    check_kind,
    check_plain,
    load_checkpoint,
    load_weights,
    make_payload,
    model_state_dict,
    save_checkpoint,
    unwrap,
)


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
