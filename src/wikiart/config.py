"""What every job's settings are made of: `setting` (a dataclass field with its help, choices,
range and flag), the ranges of the settings every job shares (`LIMITS`), the sections every
training job has (`DataConfig`, `TrainConfig`), and the choices of the mechanisms on the floors
below the jobs (optimizers, schedules, precisions ...). Each job declares its own dataclass in its
package (``wikiart/<job>/settings.py``) and registers it with `wikiart.jobs`.

Each field carries its default, help text, choices and whether it is an expert knob; the command
line is generated from these fields (`wikiart.flags`), a TOML file uses the same names
(``image_size = 224``), and the Python API takes them as keyword arguments. Resolving, checking,
saving and printing them: `wikiart.config_io`. Order of precedence: the dataclass defaults <- a
job's preset (the classifier's depends on the architecture) <- the TOML file <- flags.
Torch-free: ``wikiart --help`` imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wikiart.errors import WikiartError

IMBALANCE = ("none", "resample", "sampler", "weighted-loss", "logit-adjust")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
FITS = ("crop", "pad")
SAMPLERS = ("ddim", "dpm")  # every diffusion model here is sampled with DDIM or DPM-Solver++
CLUSTER_METHODS = ("kmeans", "agglomerative", "gmm", "spectral")
NORMALIZATIONS = ("none", "standard", "pca-whiten")
SCHEDULES = ("onecycle", "cosine", "constant")
OPTIMIZERS = ("adamw", "sgd")
MIXES = ("none", "mixup", "cutmix")
NORMS = ("batch", "instance")
PADDINGS = ("reflect", "zeros")


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
GRID_ROW = Limit(1, 1000)  # a generated grid's images per style

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
    "layer": Limit(0, 4),
    "levels": Limit(1, 5),
    "style_depth": Limit(0, 4),
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


#: What `setting` takes besides a field's value: how its flag looks on the command line.
FLAG_OPTIONS = frozenset({"flag", "cli", "required", "many", "positional", "metavar"})


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: Sequence[str] | None = None,
    advanced: bool = False,
    factory: Any = dataclasses.MISSING,
    limit: Limit | None = None,
    **flag: Any,
) -> Any:
    """A config field with what the command line needs: ``help``, ``choices`` (checked for TOML
    files and the API too), ``advanced`` (listed under "advanced options" in ``--help``) and
    ``limit`` where this field's range is not the one `LIMITS` gives its name. ``flag`` options
    (`FLAG_OPTIONS`): ``flag`` when the flag is not ``--field-name``, ``cli=False`` for settings
    only a file sets, ``required`` for a flag the command cannot do without (its default is then
    empty), ``many`` for a list given as several words (``--style A B``) rather than ``A,B``,
    ``positional`` for an argument without a flag, ``metavar`` for its name in ``--help``."""
    unknown = set(flag) - FLAG_OPTIONS
    if unknown:
        raise TypeError(f"setting() got unknown options {sorted(unknown)}")
    meta = {"help": help, "choices": tuple(choices) if choices else None, "advanced": advanced}
    meta |= {"limit": limit, "cli": True} | flag
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
class EvaluateConfig:
    """`wikiart evaluate`: any checkpoint on a split folder or a dataset root's test split. The
    checkpoint's kind picks the job that evaluates it (`wikiart.jobs`); the generators' settings
    are ignored for a classifier and the classifier's for a generator."""

    checkpoint: str = setting(
        "",
        "a classifier, stylegen, transfer, diffusion or LoRA RUN/model.pt (its kind is read)",
        required=True,
    )
    data: str = setting("", "split folder (<Style>/<image>) or dataset root", required=True)
    out: str = setting("", "output folder", required=True)
    overwrite: bool = setting(False, "replace earlier outputs in --out (else refused)")
    judge: str | None = setting(
        None, "generators: an independently trained classifier RUN/model.pt"
    )
    max_per_style: int | None = setting(
        None, "stylegen/transfer: at most this many test images", limit=Limit(1, 1_000_000)
    )
    n_per_style: int = setting(
        32, "diffusion/LoRA: samples per style", flag="--n", limit=Limit(1, 10_000)
    )
    seed: int = setting(0, "the same seed gives the same images")
    guidance: float | None = setting(None, "classifier-free guidance scale (default: the run's)")
    steps: int | None = setting(
        None, "denoising steps (default: the run's)", limit=Limit(1, 10_000)
    )
    sampler: str | None = setting(None, "DDIM or DPM-Solver++", choices=SAMPLERS)
    device: str = setting("auto", "where to run (auto: CUDA, then MPS, then CPU)", choices=DEVICES)
    batch_size: int = setting(64, "images per batch")
    cache_dir: str | None = setting(None, "preprocessing cache root")
    tta: bool = setting(True, "classifiers: average each image and its mirror")

    def require_judge(self, what: str) -> str:
        """The judge's checkpoint, which the evaluation of ``what`` (a generator) cannot do
        without."""
        if not self.judge:
            raise WikiartError(
                f"{what} is evaluated by an independent classifier: pass --judge "
                "CLASSIFIER/model.pt"
            )
        return self.judge
