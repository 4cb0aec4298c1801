"""Job configurations: one dataclass per job. TOML file in, command-line flags over it, and the
result saved as ``config.json`` in the run folder (so every run records exactly what it did)."""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from wikiart.errors import WikiartError

C = TypeVar("C")


@dataclass
class DataConfig:
    """Where images come from and how they are cached."""

    data: str | None = None
    split_csv: list[str] | None = None
    image_size: int = 128
    fit: str = "crop"
    cache_dir: str | None = None
    decode_workers: int | None = None
    val_fraction: float = 0.1


@dataclass
class TrainConfig:
    """What every training command shares (the contract's common flags and a few more)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    precision: str = "auto"
    loader_workers: int | None = None
    grad_clip: float | None = None
    patience: int | None = None
    deterministic: bool = False
    data: DataConfig = field(default_factory=DataConfig)


@dataclass
class ClassifierConfig(TrainConfig):
    """`wikiart train classifier`. Architecture presets fill what the user leaves unset."""

    arch: str = "small-resnet"
    pretrained: str | None = None  # "auto": the offline weights where an arch has them; or a path
    features: str = "pool"  # embedding of pretrained backbones: "pool" or "stats" (style stats)
    mode: str = "finetune"  # "finetune", "frozen" (cached features, head only), "probe+finetune"
    imbalance: str = "logit-adjust"
    label_smoothing: float = 0.1
    schedule: str = "onecycle"  # "onecycle", "cosine" or "constant"
    backbone_lr_mult: float = 1.0
    layer_decay: float = 1.0  # < 1: each backbone depth group below the top gets this x the LR
    finetune_groups: int = -1  # fine-tune only the top N backbone depth groups (-1: all)
    freeze_bn: bool = False  # fine-tuning keeps the BatchNorms' pretrained running statistics
    crop_scale: float = 0.6  # training crops cover this fraction of the image or more
    crop_max: float = 1.0  # ... and at most this fraction
    train_scale: float = 1.0  # training crops are resized to this fraction of the image size
    mix: str = "none"  # batch mixing while training end to end: "none", "mixup" or "cutmix"
    mix_alpha: float = 1.0  # its Beta(alpha, alpha) mixing-weight distribution
    head_epochs: int = 30  # epochs of head training on cached features (frozen / probe modes)
    head_l2: float = 0.1  # L2 penalty of that linear probe
    refit: bool = True  # frozen mode: fit the head once more on train + validation at the end
    dropout: float | None = None
    optimizer: str = "adamw"  # end-to-end training: "adamw" or "sgd" (Nesterov momentum 0.9)
    ema_decay: float = 0.0  # > 0: select and keep an EMA of the weights (end-to-end training)
    tta: bool = True  # average logits over the image and its mirror at evaluation
    channels_last: bool = True


@dataclass
class AutoencoderConfig(TrainConfig):
    """`wikiart train autoencoder`: a convolutional autoencoder whose code clustering uses."""

    bottleneck: str = "1x10x10"  # CxHxW, or a preset name (models.autoencoder.BOTTLENECKS)
    widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    loss: str = "mse"  # "mse", "mse+ssim" or "mse+perceptual" (autoencode.LOSSES)
    ssim_weight: float = 0.5  # weight of (1 - SSIM) in "mse+ssim"
    perceptual_weight: float = 0.1  # weight of the pretrained-feature term in "mse+perceptual"
    reconstructions: int = 8  # images shown in reconstructions.png


@dataclass
class StylegenConfig(TrainConfig):
    """`wikiart train stylegen`: a style-conditioned generator trained against a frozen
    classifier (see `wikiart.stylegen` for what each loss weight does)."""

    classifier: str | None = None  # RUN/model.pt of a trained style classifier (frozen here)
    widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    code_channels: int = 64  # content code: code_channels x size/8 x size/8 with three stages
    hidden: int = 128  # width of the style MLP giving each decoder stage its (gamma, beta)
    norm: str = "batch"  # decoder normalisation under the style's (gamma, beta): or "instance"
    skips: bool = True  # U-Net skips: encoder features at each decoder stage's resolution
    padding: str = "reflect"  # conv padding, "reflect" or "zeros" (zeros let it stamp marks)
    rec_weight: float = 5.0  # L1 reconstruction under the image's own style
    style_weight: float = 1.0  # frozen classifier's cross-entropy toward a random other style
    content_weight: float = 1.0  # perceptual distance (frozen ImageNet Lite0) render vs input
    code_weight: float = 0.0  # L1 between the render's content code and the input's
    stats_weight: float = 0.0  # classifier embedding of the render vs the target style's mean
    texture_weight: float = 3.0  # render's Lite0 channel mean/std vs the target style's average
    layout_weight: float = 5.0  # L1 of render vs input at 1/8 resolution (layout and palette)
    style_margin: float = 0.5  # hinge: a render's cross-entropy counts only above this
    style_augment: bool = True  # random crop/flip/noise of renders before the classifier
    classifier_size: int | None = None  # renders resized to this for the classifier (its own)
    samples: int = 6  # test images in grid.png


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


def from_dict(cls: type[C], values: dict[str, Any], where: str = "config") -> C:
    """Build ``cls`` from a (possibly nested) dict; unknown keys are an error naming valid ones."""
    types_ = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = raw_key.replace("-", "_")
        if key not in types_:
            raise WikiartError(
                f"{where}: unknown setting {raw_key!r}; valid settings: {sorted(types_)}"
            )
        tp = types_[key]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise WikiartError(f"{where}: [{key}] must be a table")
            kwargs[key] = from_dict(tp, value, f"{where} [{key}]")
        else:
            kwargs[key] = _coerce(key, value, tp)
    return cls(**kwargs)


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise WikiartError(f"config file not found: {path}") from None
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


def build_config(
    cls: type[C],
    config_file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    presets: dict[str, Any] | None = None,
) -> C:
    """Defaults <- ``presets`` <- TOML file <- flags. ``overrides`` holds only the flags the user
    actually gave (``None`` values are dropped) and may nest (``{"data": {"image_size": 64}}``).
    ``presets`` are defaults that depend on another choice (e.g. the architecture)."""
    values: dict[str, Any] = {}
    if config_file:
        values = {k.replace("-", "_"): v for k, v in load_toml(config_file).items()}
    merged = _merge(_merge(presets or {}, values), _drop_none(overrides or {}))
    return from_dict(cls, merged, str(config_file or "flags"))


def peek(config_file: str | os.PathLike[str] | None, overrides: dict[str, Any], key: str) -> Any:
    """The value of ``key`` from flags, else the TOML file, else None (to choose presets)."""
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


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, run_dir: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` atomically into ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    tmp = path.with_name("config.json.tmp")
    tmp.write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


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
