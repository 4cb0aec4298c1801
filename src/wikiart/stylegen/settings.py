"""The style generator's settings (`wikiart train stylegen`): its dataclass, the checks a
resolved configuration must pass, and what training needs before it starts. Torch-free."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wikiart.config import DEVICES, NORMS, PADDINGS, DataConfig, TrainConfig, setting
from wikiart.config_io import build_config
from wikiart.data.dataset import require_data
from wikiart.errors import WikiartError

KIND = "stylegen"


@dataclass
class StylegenConfig(TrainConfig):
    """`wikiart train stylegen`: a style-conditioned generator trained against a frozen
    classifier (`wikiart.stylegen.loss` says what each loss weight does)."""

    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(16, "images per batch")
    lr: float = setting(2e-3, "peak learning rate")
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=64))
    classifier: str | None = setting(
        None, "RUN/model.pt of a trained style classifier (frozen during training)"
    )
    widths: list[int] = setting(
        factory=lambda: [32, 64, 128],
        help="encoder channels per stage, e.g. 32,64,128",
        advanced=True,
    )
    code_channels: int = setting(64, "channels of the spatial content code", advanced=True)
    hidden: int = setting(
        128, "width of the style MLP giving each decoder stage its modulation", advanced=True
    )
    norm: str = setting(
        "batch",
        "decoder norm: conditional BatchNorm or AdaIN (instance)",
        choices=NORMS,
        advanced=True,
    )
    skips: bool = setting(True, "U-Net skips from encoder to decoder", advanced=True)
    padding: str = setting(
        "reflect",
        "conv padding (zeros lets the generator stamp fixed marks)",
        choices=PADDINGS,
        advanced=True,
    )
    rec_weight: float = setting(5.0, "L1 reconstruction under the image's own style", advanced=True)
    style_weight: float = setting(
        1.0, "frozen classifier's cross-entropy toward the target style", advanced=True
    )
    content_weight: float = setting(
        1.0, "pretrained-feature distance of the render to its input", advanced=True
    )
    code_weight: float = setting(0.0, "content code of the render vs the input", advanced=True)
    stats_weight: float = setting(
        0.0, "classifier embedding of the render vs the target style's mean", advanced=True
    )
    texture_weight: float = setting(
        3.0, "render's Lite0 feature mean/std vs the target style's", advanced=True
    )
    layout_weight: float = setting(
        5.0, "render vs input at 1/8 resolution (L1: layout and palette)", advanced=True
    )
    style_margin: float = setting(
        0.5, "hinge: a cross-entropy below this stops pulling", advanced=True
    )
    style_augment: bool = setting(
        True, "random crop/flip/noise of renders before the frozen classifier", advanced=True
    )
    classifier_size: int | None = setting(
        None, "renders resized to this for the classifier (default: its own size)", advanced=True
    )
    samples: int = setting(6, "test images in grid.png", advanced=True)


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> StylegenConfig:
    """Defaults <- TOML <- flags, checked."""
    return build_config(StylegenConfig, config_file, overrides)


def require_inputs(cfg: StylegenConfig) -> None:
    """Training data and a trained classifier file, named and present."""
    require_data(cfg.data.data)
    if cfg.classifier is None:
        raise WikiartError("no classifier: pass --classifier RUN/model.pt (a trained classifier)")
    if not Path(cfg.classifier).is_file():
        raise WikiartError(f"classifier checkpoint not found: {cfg.classifier}")


@dataclass
class RenderConfig:
    """`wikiart render`: images re-rendered in other styles by a trained generator."""

    checkpoint: str = setting("", "a stylegen RUN/model.pt", required=True)
    image: list[str] = setting(factory=list, help="image files", many=True, required=True)
    style: list[str] = setting(
        factory=list, help="style names (as in training)", many=True, required=True
    )
    out: str = setting("", "output folder", required=True)
    overwrite: bool = setting(False, "replace earlier outputs in --out (else refused)")
    device: str = setting("auto", "where to run", choices=DEVICES)
