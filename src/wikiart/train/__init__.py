"""Training: the one loop every model uses (`fit` with a step function) and checkpoints."""

from wikiart.train.checkpoint import (
    FORMAT_VERSION,
    capture_rng,
    load_checkpoint,
    make_payload,
    restore_rng,
    save_checkpoint,
)
from wikiart.train.loop import FitResult, LoopConfig, StepOutput, fit

__all__ = [
    "FORMAT_VERSION",
    "FitResult",
    "LoopConfig",
    "StepOutput",
    "capture_rng",
    "fit",
    "load_checkpoint",
    "make_payload",
    "restore_rng",
    "save_checkpoint",
]
