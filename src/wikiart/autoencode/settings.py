"""The autoencoder's settings (`wikiart train autoencoder`). Torch-free."""

from __future__ import annotations

from dataclasses import dataclass

from wikiart.config import DataConfig, TrainConfig, setting

KIND = "autoencoder"
AE_LOSSES = ("mse", "mse+ssim", "mse+perceptual")


@dataclass
class AutoencoderConfig(TrainConfig):
    """`wikiart train autoencoder`: a convolutional autoencoder whose code clustering uses. Small
    images by default: the code has to summarise a whole painting, and CPU time bounds the run."""

    epochs: int = setting(15, "training epochs")
    batch_size: int = setting(64, "images per batch")
    lr: float = setting(2e-3, "peak learning rate")
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=64))
    bottleneck: str = setting("16x8x8", "code shape CxHxW (the course's code is 1x10x10)")
    loss: str = setting("mse", "reconstruction loss", choices=AE_LOSSES)
    widths: list[int] = setting(
        factory=lambda: [32, 64, 128],
        help="encoder channels per stage, e.g. 32,64,128",
        advanced=True,
    )
    ssim_weight: float = setting(0.5, "weight of 1 - SSIM in mse+ssim", advanced=True)
    perceptual_weight: float = setting(
        0.1, "weight of the pretrained-feature term in mse+perceptual", advanced=True
    )
    reconstructions: int = setting(8, "images shown in reconstructions.png", advanced=True)
