"""Job configurations: one dataclass per job, and the only place a setting is declared.

Each field carries its help text, its choices and whether it is an expert knob (`setting`); the
command line is generated from these fields (`wikiart.flags`), a TOML file uses the same names
(``image_size = 224``, or nested as in ``config.json``: ``[data] image_size = 224``), and the
Python API takes them as keyword arguments. Order of precedence: the dataclass defaults <- a
job's preset (the classifier's depends on the architecture) <- the TOML file <- flags. The
resolved configuration is saved as ``config.json`` in the run folder, and ``--print-config``
prints it as TOML (`to_toml`), ready to be passed back with ``--config``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from wikiart.errors import WikiartError
from wikiart.files import write_text

C = TypeVar("C")

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


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: Sequence[str] | None = None,
    advanced: bool = False,
    flag: str | None = None,
    factory: Any = dataclasses.MISSING,
    cli: bool = True,
) -> Any:
    """A config field with what the command line needs: ``help``, ``choices`` (checked for TOML
    files and the API too), ``advanced`` (listed under "advanced options" in ``--help``),
    ``flag`` (when the flag is not ``--field-name``) and ``cli=False`` for settings only a file
    sets."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "advanced": advanced}
    meta |= {"flag": flag, "cli": cli}
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


def default_arch() -> str:
    """The best measured classifier this installation can train: the ImageNet-pretrained
    EfficientNet-Lite0 when the `pretrained` extra is installed, else the from-scratch
    small-resnet."""
    from wikiart.models.registry import pretrained_available

    return "efficientnet-lite0" if pretrained_available("efficientnet-lite0") else "small-resnet"


# -- reading ---------------------------------------------------------------------------------
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Check (and gently convert) one TOML/flag value against the field's type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, value, args[0])
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise WikiartError(f"config {name!r}: expected a list, got {value!r}")
        return [_coerce(name, v, item) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise WikiartError(f"config {name!r}: expected true or false, got {value!r}")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    wrong_type = tp in (int, float, str) and not isinstance(value, tp)
    if wrong_type or (isinstance(value, bool) and tp in (int, float)):
        raise WikiartError(f"config {name!r}: expected {tp.__name__}, got {value!r}")
    return value


def _check_choice(f: dataclasses.Field, value: Any) -> None:
    choices = f.metadata.get("choices")
    if choices and value is not None and value not in choices:
        raise WikiartError(f"unknown {f.name} {value!r}; expected one of {', '.join(choices)}")


def _nested(types_: dict[str, Any]) -> dict[str, Any]:
    return {k: tp for k, tp in types_.items() if dataclasses.is_dataclass(tp)}


def from_dict(cls: type[C], values: dict[str, Any], where: str = "config") -> C:
    """Build ``cls`` from a dict; unknown keys are an error naming valid ones. Settings of a
    nested section (``data``) may be given nested (``{"data": {"image_size": 64}}``) or flat
    (``{"image_size": 64}``); a flat ``data`` that is not a table is the dataset path."""
    types_ = _field_types(cls)
    nested = _nested(types_)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    inner: dict[str, dict[str, Any]] = {name: {} for name in nested}
    for raw_key, value in values.items():
        key = raw_key.replace("-", "_")
        if key in nested and isinstance(value, dict):
            inner[key].update({k.replace("-", "_"): v for k, v in value.items()})
            continue
        owner = next((n for n, tp in nested.items() if key in _field_types(tp)), None)
        if key in nested and owner == key:  # `data = "path"`: the dataset path
            inner[key][key] = value
        elif key in types_ and key not in nested:
            kwargs[key] = _coerce(key, value, types_[key])
            _check_choice(fields[key], kwargs[key])
        elif owner is not None:
            inner[owner][key] = value
        elif key in nested:
            raise WikiartError(f"{where}: [{key}] must be a table")
        else:
            valid = sorted(
                set(types_) - set(nested) | {k for tp in nested.values() for k in _field_types(tp)}
            )
            raise WikiartError(f"{where}: unknown setting {raw_key!r}; valid settings: {valid}")
    for name, tp in nested.items():
        if inner[name]:
            base = fields[name].default_factory()  # type: ignore[misc]
            merged = {**dataclasses.asdict(base), **inner[name]}
            kwargs[name] = from_dict(tp, merged, f"{where} [{name}]")
    return cls(**kwargs)


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise WikiartError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise WikiartError(f"config file {path} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise WikiartError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        key = key.replace("-", "_")
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _nest(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Flat keys of a nested section moved into it, so later sources merge key by key."""
    types_ = _field_types(cls)
    nested = _nested(types_)
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = raw_key.replace("-", "_")
        owner = next((n for n, tp in nested.items() if key in _field_types(tp)), None)
        if key in nested and isinstance(value, dict):
            out[key] = _merge(out.get(key, {}), value)
        elif owner is not None and (key not in types_ or owner == key):
            out[owner] = _merge(out.get(owner, {}), {key: value})
        else:
            out[key] = value
    return out


def build_config(
    cls: type[C],
    config_file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    presets: dict[str, Any] | None = None,
) -> C:
    """Defaults <- ``presets`` <- TOML file <- ``overrides`` (flags or API keywords; ``None``
    values are dropped: a flag left unset does not erase the file's value). Any of them may
    give a section's settings nested or flat."""
    values: dict[str, Any] = load_toml(config_file) if config_file else {}
    merged = _nest(cls, presets or {})
    merged = _merge(merged, _nest(cls, values))
    merged = _merge(merged, _nest(cls, _drop_none(overrides or {})))
    return from_dict(cls, merged, str(config_file or "settings"))


def peek(config_file: str | os.PathLike[str] | None, overrides: dict[str, Any], key: str) -> Any:
    """The value of a top-level ``key`` from flags, else the TOML file, else None (to choose
    presets)."""
    if overrides.get(key) is not None:
        return overrides[key]
    if config_file:
        data = {k.replace("-", "_"): v for k, v in load_toml(config_file).items()}
        return data.get(key)
    return None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = _drop_none(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


# -- writing ---------------------------------------------------------------------------------
def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, run_dir: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` atomically into ``run_dir``."""
    path = Path(run_dir) / "config.json"
    return write_text(path, json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (JSON's escapes are TOML's)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def to_toml(cfg: Any) -> str:
    """The configuration as flat TOML (one ``name = value`` line per setting, with its help as a
    comment); settings left unset (None) are listed as comments. ``--config`` reads it back to
    the same configuration."""
    lines = [f"# wikiart {type(cfg).__name__}: pass this file back with --config FILE", ""]
    for f, value in _flat_fields(cfg):
        help_text = f.metadata.get("help", "")
        if help_text:
            lines.append(f"# {help_text}")
        lines.append(
            f"# {f.name} = (unset)" if value is None else f"{f.name} = {_toml_value(value)}"
        )
    return "\n".join(lines) + "\n"


def _flat_fields(cfg: Any) -> list[tuple[dataclasses.Field, Any]]:
    out: list[tuple[dataclasses.Field, Any]] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(_flat_fields(value))
        else:
            out.append((f, value))
    return out


#: Settings a resumed run may change: they do not alter what is computed.
RESUME_FREE = frozenset({"resume", "device", "loader_workers", "patience", "tta"})


def check_same_run(cfg: Any, out: str | os.PathLike[str]) -> None:
    """``--resume`` continues the same run: refuse settings that would change its course (the LR
    schedule, for one, is laid out over the original number of epochs)."""
    path = Path(out) / "config.json"
    if not path.exists():
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    new = json.loads(json.dumps(to_dict(cfg)))
    diffs = [
        f"{k}: {old.get(k)!r} -> {v!r}"
        for k, v in new.items()
        if k not in RESUME_FREE and old.get(k) != v
    ]
    if diffs:
        raise WikiartError(
            f"--resume continues the run in {out} with its own settings, but these differ from "
            f"its config.json: {'; '.join(diffs)}. Start a new --out instead."
        )
