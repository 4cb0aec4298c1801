"""The style-transfer job's settings (`wikiart train transfer`): its dataclass, the checks a
resolved configuration must pass, and what training needs before it starts. Torch-free."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wikiart import builtins
from wikiart.config import DEVICES, DataConfig, Limit, TrainConfig, setting
from wikiart.config_io import build_config
from wikiart.data.dataset import require_data
from wikiart.data.refs import display
from wikiart.errors import WikiartError

KIND = "transfer"
#: ``--init builtin`` / ``--checkpoint builtin``: the decoder shipped with the package.
BUILTIN = builtins.BUILTIN
TRANSFER_BANKS = ("medoid", "mean")
TRANSFER_ENCODERS = ("efficientnet-lite0", "vgg19")
#: The deepest EfficientNet-Lite tap (stride 32).
LAST_TAP = 4
#: The longest side of a picture painted or of a style image read.
PAINT_SIDE = Limit(32, 16_384)
#: Longest side a content image is painted at by default (larger ones are scaled down).
MAX_SIZE = 1024
#: Longest side a style exemplar is read at: its statistics are those of brush strokes at about
#: the scale of the training paintings.
STYLE_SIZE = 512


@dataclass
class TransferConfig(TrainConfig):
    """`wikiart train transfer`: an AdaIN decoder (Huang & Belongie 2017) over the frozen
    ImageNet EfficientNet-Lite0, and the styles' feature statistics (`wikiart.models.transfer`)."""

    epochs: int = setting(10, "training epochs (0: only the style statistics, with --init)")
    batch_size: int = setting(8, "(content, style) pairs per batch")
    lr: float = setting(1e-3, "peak learning rate")
    weight_decay: float = setting(0.0, "AdamW's decoupled weight decay", advanced=True)
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=256))
    content: str | None = setting(
        None, "a folder of content images, e.g. photos (default: the collection's paintings)"
    )
    crop: int = setting(128, "side of the random training crops, in pixels")
    steps_per_epoch: int | None = setting(
        None, "optimizer steps per epoch (default: one pass over the content images)"
    )
    init: str | None = setting(
        None, "start from this transfer RUN/model.pt, or 'builtin' (the packaged decoder)"
    )
    layer: int = setting(
        2,
        "AdaIN layer: encoder tap 0-4 (Lite0: strides 2-32; vgg19: relu1_1..relu5_1); deeper "
        "moves more style",
        advanced=True,
    )
    levels: int = setting(
        1,
        "AdaIN at this many taps up to --layer (multi-level: the decoder takes the shallower "
        "restyled maps through skips)",
        advanced=True,
    )
    style_depth: int | None = setting(
        None,
        "deepest encoder tap of the style loss, up to 4 (default: --layer)",
        advanced=True,
    )
    widths: list[int] | None = setting(
        None,
        "decoder channels per x2 upsampling stage (default 16 x 2^k, e.g. 64,32,16 at layer 2)",
        advanced=True,
    )
    encoder: str = setting(
        "efficientnet-lite0",
        "the frozen encoder: the offline ImageNet EfficientNet-Lite0, or VGG-19 (the AdaIN "
        "paper's; its weights from --encoder-weights or torchvision's download)",
        choices=TRANSFER_ENCODERS,
        advanced=True,
    )
    encoder_weights: str | None = setting(
        None,
        "a local VGG-19 weights file: torchvision's vgg19 state dict or pytorch-AdaIN's "
        "vgg_normalised.pth",
        advanced=True,
    )
    style_weight: float = setting(
        10.0, "weight of the style loss (channel mean/std over taps 0..style depth)", advanced=True
    )
    content_weight: float = setting(1.0, "weight of the content loss", advanced=True)
    identity_weight: float = setting(
        0.0,
        "weight of the L1 between each content image and the decoding of its own features",
        advanced=True,
    )
    smoothing: float = setting(
        0.0,
        "SWAG softmax temperature on features before the style statistics (0: off)",
        advanced=True,
    )
    bank: str = setting(
        "medoid",
        "a style name's statistics: its most typical painting's, or the average over its "
        "paintings (washed out)",
        choices=TRANSFER_BANKS,
        advanced=True,
    )
    bank_images: int = setting(
        64, "training images per style averaged into its statistics (0: all)", advanced=True
    )
    samples: int = setting(4, "content images in grid.png", advanced=True)


def builtin_path() -> Path:
    """The packaged transfer checkpoint (a `WikiartError` where this installation lacks it)."""
    return builtins.builtin_path("transfer")


def checkpoint_path(checkpoint: str | os.PathLike[str]) -> Path:
    """A transfer checkpoint by path, or ``builtin``; a missing file is a clear error."""
    return builtins.checkpoint_path(checkpoint, "transfer", "transfer checkpoint")


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> TransferConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(TransferConfig, config_file, overrides)
    if cfg.init is None:  # with --init, the init's layer decides (checked once it is read)
        check_crop(cfg.crop, tap_stride(cfg.encoder, cfg.layer))
    if cfg.epochs > 0 and cfg.crop > cfg.data.image_size:
        raise WikiartError(
            f"crop {cfg.crop} is larger than the cached images ({cfg.data.image_size} px); "
            "raise --image-size or lower --crop"
        )
    if not 1 <= cfg.levels <= cfg.layer + 1:
        raise WikiartError(
            f"levels must be 1..{cfg.layer + 1} for layer {cfg.layer}, got {cfg.levels}"
        )
    _check_depths(cfg)
    ups = tap_stride(cfg.encoder, cfg.layer).bit_length() - 1
    if cfg.widths is not None and len(cfg.widths) != ups:
        raise WikiartError(
            f"widths needs {ups} values (one per x2 upsampling) for layer {cfg.layer}, "
            f"got {cfg.widths}"
        )
    if cfg.encoder_weights is not None and cfg.encoder != "vgg19":
        raise WikiartError("--encoder-weights is for --encoder vgg19")
    if cfg.epochs == 0 and cfg.init is None:
        raise WikiartError("epochs 0 only computes style statistics: it needs --init")
    return cfg


def tap_stride(encoder: str, layer: int) -> int:
    """The stride of an encoder's tap ``layer``: Lite's taps 0-4 are strides 2-32, VGG-19's
    ``relu1_1 .. relu5_1`` strides 1-16."""
    return int(2**layer if encoder == "vgg19" else 2 ** (layer + 1))


def _check_depths(cfg: TransferConfig) -> None:
    """The style loss's depth against the AdaIN layer; VGG-19's taps its encoder holds."""
    if cfg.style_depth is not None and not cfg.layer <= cfg.style_depth <= LAST_TAP:
        raise WikiartError(
            f"style depth must be {cfg.layer}..{LAST_TAP} (the AdaIN layer or deeper), "
            f"got {cfg.style_depth}"
        )
    if cfg.encoder == "vgg19":
        if cfg.layer < 1:
            raise WikiartError("with --encoder vgg19 the AdaIN layer is 1..4 (relu2_1..relu5_1)")
        if cfg.style_depth is not None and cfg.style_depth > cfg.layer:
            raise WikiartError("with --encoder vgg19 the style loss goes no deeper than --layer")


def check_crop(crop: int, stride: int) -> None:
    """Training crops the encoder divides evenly, with at least two feature rows."""
    if crop < 2 * stride or crop % stride:
        raise WikiartError(f"crop must be a multiple of {stride} and >= {2 * stride}, got {crop}")


def require_inputs(cfg: TransferConfig) -> None:
    """Training data (the styles), and the content folder and init checkpoint where named."""
    require_data(cfg.data.data)
    if cfg.content is not None and not Path(cfg.content).is_dir():
        raise WikiartError(f"content folder not found: {display(cfg.content)}")
    if cfg.init is not None:
        checkpoint_path(cfg.init)
    if cfg.encoder_weights is not None and not Path(cfg.encoder_weights).is_file():
        raise WikiartError(f"VGG-19 weights file not found: {display(cfg.encoder_weights)}")


@dataclass
class PaintConfig:
    """`wikiart transfer`: each content image painted in each style, at its own size."""

    checkpoint: str = setting(
        BUILTIN, "a `train transfer` RUN/model.pt (default: builtin, the packaged decoder)"
    )
    content: list[str] = setting(
        factory=list, help="image files, any size", many=True, required=True
    )
    style: list[str] = setting(
        factory=list, help="style names of the checkpoint, or image files", many=True,
        required=True,
    )  # fmt: skip
    out: str = setting("", "output folder", required=True)
    overwrite: bool = setting(False, "replace earlier outputs in --out (else refused)")
    alpha: float = setting(1.0, "0: the content, 1: fully stylised", limit=Limit(0, 1))
    preserve_color: bool = setting(False, "keep the content's colours (luminance only)")
    max_size: int = setting(MAX_SIZE, "longest side painted", limit=PAINT_SIDE)
    style_size: int = setting(STYLE_SIZE, "longest side of style images", limit=PAINT_SIDE)
    device: str = setting("auto", "where to run", choices=DEVICES)
