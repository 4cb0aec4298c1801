"""Job configurations: one dataclass per job, and the only place a setting is declared.

Each field carries its default, help text, choices and whether it is an expert knob
(`setting`); the command line is generated from these fields (`wikiart.flags`), a TOML file uses
the same names (``image_size = 224``), and the Python API takes them as keyword arguments.
Resolving, checking, saving and printing them: `wikiart.config_io`. Order of precedence: the
dataclass defaults <- a job's preset (the classifier's depends on the architecture) <- the TOML
file <- flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

IMBALANCE = ("none", "resample", "sampler", "weighted-loss", "logit-adjust")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
FITS = ("crop", "pad")
MODES = ("finetune", "frozen", "probe+finetune")
FEATURES = ("pool", "stats", "gram")
SCHEDULES = ("onecycle", "cosine", "constant")
OPTIMIZERS = ("adamw", "sgd")
MIXES = ("none", "mixup", "cutmix")
AE_LOSSES = ("mse", "mse+ssim", "mse+perceptual")
NORMS = ("batch", "instance")
PADDINGS = ("reflect", "zeros")
NOISE_SCHEDULES = ("cosine", "linear")
PREDICTIONS = ("epsilon", "v_prediction")
SAMPLERS = ("ddim", "dpm")
DIFFUSION_BALANCE = ("sampler", "none")
LORA_TARGETS = ("auto", "attention", "attention+conv")
TRANSFER_BANKS = ("medoid", "mean")


@dataclass(frozen=True)
class Limit:
    """The values a numeric setting allows: ``lo``..``hi`` (``None``: unbounded), each end
    included unless ``*_open``. NaN and infinity are never allowed."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def allows(self, value: float) -> bool:
        if value != value or value in (float("inf"), float("-inf")):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def describe(self, integer: bool) -> str:
        kind = "an integer" if integer else "a finite number"
        lo, hi = _num(self.lo), _num(self.hi)
        if self.lo is not None and self.hi is not None:
            if integer:
                return f"{kind} from {lo} to {hi}"
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            return f"{kind} in {left}{lo}, {hi}{right}"
        if self.lo is not None:
            return f"{kind} {'>' if self.lo_open else '>='} {lo}"
        if self.hi is not None:
            return f"{kind} {'<' if self.hi_open else '<='} {hi}"
        return kind


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x:g}"


_WEIGHT = Limit(0, 1e6)
_SHARE = Limit(0, 1, hi_open=True)
_FRACTION = Limit(0, 1, lo_open=True)
_COUNT = Limit(0, 1_000_000)
_PROCESSES = Limit(0, 1024)
_GRID_ROW = Limit(1, 1000)  # a generated grid's images per style

#: The allowed range of every numeric setting, by name (a name means the same in every job; a
#: field's own ``setting(limit=...)`` replaces it where one job allows less): checked wherever a
#: configuration is built (flags, TOML files, the Python API), so a bad value is one line naming
#: the setting, the value and the range, before any work. A job's own default is always allowed
#: (the LoRA job's image size 0 means "the pipeline's own").
LIMITS: dict[str, Limit] = {
    # data
    "image_size": Limit(8, 4096),
    "decode_workers": Limit(1, 1024),
    "val_fraction": _SHARE,
    "test_fraction": _SHARE,
    # every training job
    "epochs": Limit(0, 100_000),
    "batch_size": Limit(1, 65_536),
    "lr": Limit(0, 10, lo_open=True),
    "seed": Limit(0, 2**32 - 1),
    "weight_decay": Limit(0, 10),
    "loader_workers": _PROCESSES,
    "grad_clip": Limit(0, 1e6, lo_open=True),
    "patience": Limit(1, 100_000),
    # classifier
    "label_smoothing": _SHARE,
    "backbone_lr_mult": Limit(0, 100),
    "layer_decay": _FRACTION,
    "finetune_groups": Limit(-1, 1000),
    "crop_scale": _FRACTION,
    "crop_max": _FRACTION,
    "train_scale": _FRACTION,
    "mix_alpha": Limit(0, 100, lo_open=True),
    "head_epochs": Limit(1, 100_000),
    "head_l2": _WEIGHT,
    "dropout": _SHARE,
    "ema_decay": _SHARE,
    # autoencoder, style generator, transfer
    "widths": Limit(1, 4096),
    "ssim_weight": _WEIGHT,
    "perceptual_weight": _WEIGHT,
    "reconstructions": Limit(0, 1000),
    "code_channels": Limit(1, 4096),
    "hidden": Limit(1, 65_536),
    "rec_weight": _WEIGHT,
    "style_weight": _WEIGHT,
    "content_weight": _WEIGHT,
    "code_weight": _WEIGHT,
    "stats_weight": _WEIGHT,
    "texture_weight": _WEIGHT,
    "layout_weight": _WEIGHT,
    "identity_weight": _WEIGHT,
    "style_margin": Limit(0, 100),
    "classifier_size": Limit(8, 4096),
    "samples": Limit(0, 1000),
    "crop": Limit(8, 4096),
    "layer": Limit(0, 3),
    "smoothing": Limit(0, 100),
    "bank_images": _COUNT,
    # diffusion and LoRA
    "steps_per_epoch": Limit(1, 10_000_000),
    "layers_per_block": Limit(1, 16),
    "attention_levels": Limit(0, 16),
    "label_dropout": _SHARE,
    "train_timesteps": Limit(2, 100_000),
    "snr_gamma": Limit(0, 1e4),
    "sample_steps": Limit(1, 10_000),
    "guidance": Limit(0, 100),
    "sample_every": Limit(0, 100_000),
    "rank": Limit(1, 4096),
    "alpha": Limit(0, 1e4, lo_open=True),
    "accumulate": Limit(1, 10_000),
}


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: Sequence[str] | None = None,
    advanced: bool = False,
    flag: str | None = None,
    factory: Any = dataclasses.MISSING,
    cli: bool = True,
    limit: Limit | None = None,
) -> Any:
    """A config field with what the command line needs: ``help``, ``choices`` (checked for TOML
    files and the API too), ``advanced`` (listed under "advanced options" in ``--help``),
    ``flag`` (when the flag is not ``--field-name``), ``cli=False`` for settings only a file
    sets, and ``limit`` where this field's range is not the one `LIMITS` gives its name."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "advanced": advanced}
    meta |= {"flag": flag, "cli": cli, "limit": limit}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    """Where images come from and how they are cached."""

    data: str | None = setting(None, "dataset root (train/, test/[, valid/] of <Style>/<image>)")
    image_size: int = setting(128, "side of the cached images, in pixels")
    split_csv: list[str] | None = setting(
        None, "ArtGAN split CSVs train.csv,test.csv[,valid.csv]; --data is then the image root"
    )
    fit: str = setting(
        "crop", "square images by centre crop or by padding", choices=FITS, advanced=True
    )
    cache_dir: str | None = setting(
        None,
        "preprocessing cache root (default: $WIKIART_CACHE or ~/.cache/wikiart)",
        advanced=True,
    )
    decode_workers: int | None = setting(
        None, "processes decoding images into the cache (default: all cores)", advanced=True
    )
    val_fraction: float = setting(
        0.1, "validation share carved from train when there is no valid/", advanced=True
    )
    test_fraction: float = setting(
        0.0,
        "test share carved from train when the data has no test split (saved in the run as "
        "test_split.csv; evaluate reuses it)",
    )
    split_by: str = setting(
        "image",
        "carve the test split by image, or by artist (no artist in both train and test)",
        choices=("image", "artist"),
    )


@dataclass
class TrainConfig:
    """What every training command shares (the contract's common flags and a few more)."""

    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(32, "images per batch")
    lr: float = setting(1e-3, "peak learning rate")
    device: str = setting(
        "auto", "where to train (auto: CUDA, then MPS, then CPU)", choices=DEVICES
    )
    seed: int = setting(0, "random seed (data split, initialisation, augmentation)")
    resume: bool = setting(False, "continue the run in --out from its last.pt")
    overwrite: bool = setting(
        False, "replace the run already in --out (without it, such a run is never overwritten)"
    )
    weight_decay: float = setting(1e-4, "AdamW's decoupled weight decay", advanced=True)
    precision: str = setting(
        "auto", "autocast precision (auto: bf16/fp16 where fast)", choices=PRECISIONS, advanced=True
    )
    loader_workers: int | None = setting(
        None, "DataLoader worker processes", advanced=True, flag="--workers"
    )
    grad_clip: float | None = setting(None, "clip the gradient norm to this", advanced=True)
    patience: int | None = setting(
        None, "early stopping after N epochs without gain", advanced=True
    )
    deterministic: bool = setting(False, "deterministic kernels (slower)", advanced=True)
    data: DataConfig = setting(factory=DataConfig)


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


@dataclass
class DiffusionConfig(TrainConfig):
    """`wikiart train diffusion`: a class-conditional pixel-space diffusion model (diffusers
    `UNet2DModel` with a class embedding) trained from scratch. One extra class means "no
    style": labels are dropped to it now and then, for classifier-free guidance."""

    epochs: int = setting(40, "training epochs")
    batch_size: int = setting(64, "images per batch")
    lr: float = setting(2e-3, "peak learning rate (one-cycle schedule)")
    weight_decay: float = setting(1e-2, "AdamW's decoupled weight decay", advanced=True)
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=32))
    styles: list[str] | None = setting(None, "train on these styles only (comma-separated)")
    exclude_styles: list[str] | None = setting(
        None, "leave these styles out (e.g. to adapt to one later with train lora)"
    )
    unconditional: bool = setting(False, "one style-agnostic model: every image is 'no style'")
    balance: str = setting(
        "sampler",
        "class-balanced sampling (every style equally often), or the data's own frequencies",
        choices=DIFFUSION_BALANCE,
    )
    steps_per_epoch: int | None = setting(
        None, "optimizer steps per epoch (default: one pass over the training images)"
    )
    widths: list[int] = setting(
        factory=lambda: [32, 64, 64], help="UNet channels per resolution", advanced=True
    )
    layers_per_block: int = setting(1, "ResNet blocks per resolution", advanced=True)
    attention_levels: int = setting(
        1, "self-attention in this many of the lowest resolutions", advanced=True
    )
    label_dropout: float = setting(
        0.1, "share of labels replaced by 'no style' (classifier-free guidance)", advanced=True
    )
    noise_schedule: str = setting(
        "cosine",
        "noise schedule (cosine: squaredcos_cap_v2)",
        choices=NOISE_SCHEDULES,
        advanced=True,
    )
    prediction: str = setting(
        "v_prediction",
        "what the UNet predicts: the velocity (stable at every noise level of the cosine "
        "schedule) or the noise",
        choices=PREDICTIONS,
        advanced=True,
    )
    train_timesteps: int = setting(1000, "diffusion steps of the noise schedule", advanced=True)
    snr_gamma: float | None = setting(
        5.0, "Min-SNR-γ loss weighting (faster convergence; 0: plain MSE)", advanced=True
    )
    ema_decay: float = setting(
        0.995, "EMA of the weights per step (what is sampled and saved; 0: off)", advanced=True
    )
    flip: bool = setting(True, "random horizontal flips", advanced=True)
    sampler: str = setting("ddim", "sampler of the grids", choices=SAMPLERS, advanced=True)
    sample_steps: int = setting(25, "denoising steps of the grids", advanced=True)
    guidance: float = setting(3.0, "classifier-free guidance scale of the grids", advanced=True)
    samples: int = setting(8, "images per style in each grid", advanced=True, limit=_GRID_ROW)
    sample_every: int = setting(
        10,
        "write samples_epochNNN.png every N epochs (0: only the final grid.png)",
        advanced=True,
    )


@dataclass
class LoraConfig(TrainConfig):
    """`wikiart train lora`: LoRA adapters (peft) trained onto a base diffusion model, a
    Hugging Face text-to-image pipeline or a `train diffusion` checkpoint; only the adapter is
    saved."""

    base: str | None = setting(
        None,
        "a Hugging Face pipeline (hub id or local save_pretrained folder) or a "
        "`train diffusion` RUN/model.pt",
    )
    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(16, "images per batch")
    lr: float = setting(1e-3, "peak learning rate")
    weight_decay: float = setting(1e-2, "AdamW's decoupled weight decay", advanced=True)
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=0))
    styles: list[str] | None = setting(None, "adapt to these styles only (comma-separated)")
    exclude_styles: list[str] | None = setting(None, "leave these styles out")
    rank: int = setting(8, "LoRA rank")
    alpha: float | None = setting(None, "LoRA alpha (default: the rank, i.e. scale 1)")
    targets: str = setting(
        "auto",
        "layers given adapters: attention projections, or those and the ResNet convolutions "
        "(auto: attention on pipelines, attention+conv on `train diffusion` bases, whose UNet "
        "has little attention)",
        choices=LORA_TARGETS,
    )
    balance: str = setting(
        "sampler",
        "class-balanced sampling, or the data's own frequencies",
        choices=DIFFUSION_BALANCE,
    )
    steps_per_epoch: int | None = setting(
        None, "optimizer steps per epoch (default: one pass over the training images)"
    )
    accumulate: int = setting(1, "gradient accumulation: batches per optimizer step")
    gradient_checkpointing: bool = setting(
        False, "recompute activations in the backward pass (less memory, slower)", advanced=True
    )
    caption: str = setting(
        "a painting in the style of {style}",
        "pipelines: the caption of each image ({style}: the style name, spaces for _)",
        advanced=True,
    )
    rare_tokens: bool = setting(
        False,
        "pipelines: add a rare token per style to its caption (e.g. 'sks1')",
        advanced=True,
    )
    label_dropout: float = setting(
        0.1, "share of captions/labels dropped (classifier-free guidance)", advanced=True
    )
    snr_gamma: float | None = setting(
        5.0,
        "`train diffusion` bases: Min-SNR-γ loss weighting (0: plain MSE)",
        advanced=True,
    )
    flip: bool = setting(True, "random horizontal flips", advanced=True)
    sampler: str = setting("ddim", "sampler of the grid", choices=SAMPLERS, advanced=True)
    sample_steps: int = setting(25, "denoising steps of the grid", advanced=True)
    guidance: float = setting(3.0, "classifier-free guidance scale of the grid", advanced=True)
    samples: int = setting(8, "images per style in grid.png", advanced=True, limit=_GRID_ROW)


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
        2, "AdaIN layer: Lite0 tap 0-3 (strides 2-16; deeper moves more style)", advanced=True
    )
    widths: list[int] | None = setting(
        None,
        "decoder channels per x2 upsampling stage (default 16 x 2^k, e.g. 64,32,16 at layer 2)",
        advanced=True,
    )
    style_weight: float = setting(
        10.0, "weight of the style loss (channel mean/std over taps 0..layer)", advanced=True
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


def default_arch() -> str:
    """The best measured classifier this installation can train: the ImageNet-pretrained
    EfficientNet-Lite0 when the `pretrained` extra is installed, else the from-scratch
    small-resnet."""
    from wikiart.models.registry import pretrained_available

    return "efficientnet-lite0" if pretrained_available("efficientnet-lite0") else "small-resnet"
