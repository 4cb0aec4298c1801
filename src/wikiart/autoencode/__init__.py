"""The autoencoder job: a convolutional autoencoder (`wikiart.models.autoencoder`) trained to
reconstruct paintings (`train`, with its `loss`), whose codes `wikiart.clustering` clusters."""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "KIND": "wikiart.autoencode.train",
    "ReconstructionLoss": "wikiart.autoencode.loss",
    "reconstruct": "wikiart.autoencode.train",
    "resolve_config": "wikiart.autoencode.train",
    "train_autoencoder": "wikiart.autoencode.train",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
