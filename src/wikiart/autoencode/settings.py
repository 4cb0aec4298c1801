"""The autoencoder's settings (`wikiart train autoencoder`). Torch-free."""

from __future__ import annotations

from dataclasses import dataclass

from wikiart.config import DataConfig, Limit, TrainConfig, setting

KIND = "autoencoder"
AE_LOSSES = ("mse", "mse+ssim", "mse+perceptual")
#: ``style``: a code over the frozen pretrained network's style statistics
#: (`wikiart.models.style_autoencoder`); ``pixel``: the course's convolutional autoencoder.
AE_MODELS = ("style", "pixel")
#: What the style model changes among the shared settings (the pixel model keeps the defaults).
STYLE_PRESET = {"image_size": 224, "epochs": 40, "batch_size": 128, "lr": 1e-3}


@dataclass
class AutoencoderConfig(TrainConfig):
    """`wikiart train autoencoder`: an autoencoder whose code clustering uses. ``pixel`` (the
    default) is the course's convolutional autoencoder over small images (64 px: its code
    summarises a whole painting, and CPU time bounds the run); ``style`` compresses the frozen
    ImageNet network's style statistics of each painting (224 px; the pretrained extra)."""

    model: str = setting(
        factory=lambda: default_model(),
        help="pixel: the course's convolutional autoencoder over pixels; style: a code over "
        "the frozen pretrained network's style statistics (the pretrained extra)",
        choices=AE_MODELS,
    )

    epochs: int = setting(15, "training epochs")
    batch_size: int = setting(64, "images per batch")
    lr: float = setting(2e-3, "peak learning rate")
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=64))
    bottleneck: str = setting(
        "16x8x8", "pixel model: code shape CxHxW (the course's code is 1x10x10)"
    )
    loss: str = setting("mse", "pixel model: reconstruction loss", choices=AE_LOSSES)
    code_dim: int = setting(64, "style model: code length", limit=Limit(1, 65_536))
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
    hidden: int = setting(
        1024, "style model: width of the encoder's and decoder's hidden layer", advanced=True,
        limit=Limit(1, 65_536),
    )  # fmt: skip
    views: int = setting(
        4,
        "style model: views of each training painting embedded once (the whole, its mirror, "
        "then random crops)",
        advanced=True,
        limit=Limit(1, 64),
    )
    crop_scale: float = setting(
        0.3, "style model: smallest random crop, as an area fraction", advanced=True
    )
    invariance_weight: float = setting(
        1.0,
        "style model: weight of the term pulling two views' codes together",
        advanced=True,
        limit=Limit(0, 1e6),
    )
    preview_size: int = setting(
        64,
        "style model: side of the preview image rendered from the code (8, 16, 32, 64 ...)",
        advanced=True,
        limit=Limit(8, 4096),
    )


def default_model() -> str:
    """The model `train autoencoder` trains when none is named: the course's ``pixel``
    autoencoder, until the ``style`` model's clustering is measured on real paintings
    (`bench/style_codes.py`, `bench/representations.py`)."""
    return "pixel"
