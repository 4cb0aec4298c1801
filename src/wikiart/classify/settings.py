"""The classifier's settings (`wikiart train classifier`): its dataclass, whose unset fields the
architecture's preset fills (`wikiart.classify.presets.resolve_config`). Torch-free, so building
the command line stays fast."""

from __future__ import annotations

from dataclasses import dataclass

from wikiart.config import (
    DEVICES,
    IMBALANCE,
    MIXES,
    OPTIMIZERS,
    SCHEDULES,
    Limit,
    TrainConfig,
    setting,
)

KIND = "classifier"
MODES = ("finetune", "frozen", "probe+finetune")
FEATURES = ("pool", "stats", "gram")


@dataclass
class ClassifierConfig(TrainConfig):
    """`wikiart train classifier`. The architecture's preset (`wikiart.models.registry`) fills
    what the user leaves unset."""

    arch: str = setting(
        factory=lambda: default_arch(),
        help="architecture: efficientnet-lite0/1/2 (ImageNet-pretrained), small-resnet, "
        "baseline-cnn (the course model), resnet18/34/50, torchvision:NAME, timm:NAME "
        "(default: efficientnet-lite0 with the pretrained extra installed, else small-resnet)",
    )
    imbalance: str = setting("logit-adjust", "class imbalance strategy", choices=IMBALANCE)
    pretrained: str | None = setting(
        None, "'auto' (the offline weights), 'none', or a local weights file", advanced=True
    )
    features: str = setting(
        "pool",
        "embedding: last layer pooled, style statistics of several layers, or (small-resnet) "
        "those plus channel covariances",
        choices=FEATURES,
        advanced=True,
    )
    mode: str = setting(
        "finetune",
        "finetune (end to end), frozen (a linear head on cached embeddings) or "
        "probe+finetune (that head first, then fine-tuning)",
        choices=MODES,
        advanced=True,
    )
    label_smoothing: float = setting(0.1, "label smoothing of the cross-entropy", advanced=True)
    schedule: str = setting("onecycle", "learning-rate schedule", choices=SCHEDULES, advanced=True)
    optimizer: str = setting(
        "adamw",
        "end-to-end training: AdamW or SGD with Nesterov momentum",
        choices=OPTIMIZERS,
        advanced=True,
    )
    backbone_lr_mult: float = setting(1.0, "backbone LR = lr x this", advanced=True)
    layer_decay: float = setting(
        1.0, "LR factor per backbone depth group, top to bottom (1: none)", advanced=True
    )
    finetune_groups: int = setting(
        -1, "fine-tune only the top N backbone depth groups (-1: all)", advanced=True
    )
    freeze_bn: bool = setting(
        False, "keep BatchNorm running statistics fixed while fine-tuning", advanced=True
    )
    crop_scale: float = setting(0.6, "smallest training crop, as an area fraction", advanced=True)
    crop_max: float = setting(1.0, "largest training crop, as an area fraction", advanced=True)
    train_scale: float = setting(
        1.0,
        "training crops are resized to this fraction of --image-size (whole images at "
        "--image-size for evaluation)",
        advanced=True,
    )
    mix: str = setting(
        "none", "batch mixing when training end to end", choices=MIXES, advanced=True
    )
    mix_alpha: float = setting(1.0, "Beta(alpha, alpha) of the mixing weight", advanced=True)
    head_epochs: int = setting(
        30, "epochs of the linear head on cached embeddings (frozen, probe)", advanced=True
    )
    head_l2: float = setting(0.1, "L2 penalty of that linear head", advanced=True)
    refit: bool = setting(
        True, "frozen mode: refit the head on train + validation at the end", advanced=True
    )
    dropout: float | None = setting(
        None,
        "dropout on the embedding, before the head (default: the architecture's)",
        advanced=True,
    )
    ema_decay: float = setting(
        0.0,
        "evaluate, select and save an exponential moving average of the weights with this "
        "decay per step (e.g. 0.995; 0: off)",
        advanced=True,
    )
    tta: bool = setting(True, "average each image and its mirror at evaluation", advanced=True)
    channels_last: bool = setting(True, "channels-last memory format", advanced=True)


def default_arch() -> str:
    """The best measured classifier this installation can train: the ImageNet-pretrained
    EfficientNet-Lite0 when the `pretrained` extra is installed, else the from-scratch
    small-resnet."""
    from wikiart.models.registry import pretrained_available

    return "efficientnet-lite0" if pretrained_available("efficientnet-lite0") else "small-resnet"


@dataclass
class PredictConfig:
    """`wikiart predict`: the top-k styles of image files."""

    checkpoint: str = setting("", "a classifier RUN/model.pt", required=True)
    images: list[str] = setting(
        factory=list, help="image files", many=True, positional=True, required=True
    )
    top_k: int = setting(5, "styles listed per image", limit=Limit(1, 1000))
    json: bool = setting(False, "print JSON")
    device: str = setting("auto", "where to run", choices=DEVICES)
    tta: bool = setting(True, "average each image and its mirror")
