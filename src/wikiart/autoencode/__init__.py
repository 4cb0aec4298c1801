"""The autoencoder job: a convolutional autoencoder (`wikiart.models.autoencoder`) trained to
reconstruct paintings (`train`, with its `loss`), whose codes `wikiart.clustering` clusters."""

from wikiart.autoencode.loss import ReconstructionLoss
from wikiart.autoencode.train import KIND, reconstruct, resolve_config, train_autoencoder

__all__ = ["KIND", "ReconstructionLoss", "reconstruct", "resolve_config", "train_autoencoder"]
