"""Training: the one loop every model uses (`fit` with a step function), its configuration,
EMA, batch mixing, the optimizer factory and the random generators' states."""

from wikiart.train.loop import FitResult, LoopConfig, StepOutput, fit
from wikiart.train.seeding import capture_rng, restore_rng

__all__ = ["FitResult", "LoopConfig", "StepOutput", "capture_rng", "fit", "restore_rng"]
