"""The transfer job's settings: the checks a resolved config must pass (defaults live in
`wikiart.config.TransferConfig`), and what training needs before it starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wikiart.config import TransferConfig
from wikiart.config_io import build_config
from wikiart.data.dataset import require_data
from wikiart.data.refs import display
from wikiart.errors import WikiartError

KIND = "transfer"
#: ``--init builtin`` / ``--checkpoint builtin``: the decoder shipped with the package.
BUILTIN = "builtin"


def builtin_path() -> Path:
    """The packaged transfer checkpoint (a `WikiartError` where this installation lacks it)."""
    path = Path(__file__).with_name("builtin.pt")
    if not path.is_file():
        raise WikiartError(
            "this installation has no built-in transfer decoder; train one with "
            "`wikiart train transfer --data DATA --out RUN` and pass RUN/model.pt"
        )
    return path


def checkpoint_path(checkpoint: str | os.PathLike[str]) -> Path:
    """A transfer checkpoint by path, or ``builtin``; a missing file is a clear error."""
    if os.fspath(checkpoint) == BUILTIN:
        return builtin_path()
    path = Path(checkpoint)
    if not path.is_file():
        raise WikiartError(f"transfer checkpoint not found: {display(path)}")
    return path


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> TransferConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(TransferConfig, config_file, overrides)
    if cfg.init is None:  # with --init, the init's layer decides (checked once it is read)
        check_crop(cfg.crop, cfg.layer)
    if cfg.epochs > 0 and cfg.crop > cfg.data.image_size:
        raise WikiartError(
            f"crop {cfg.crop} is larger than the cached images ({cfg.data.image_size} px); "
            "raise --image-size or lower --crop"
        )
    if cfg.widths is not None and len(cfg.widths) != cfg.layer + 1:
        raise WikiartError(
            f"widths needs {cfg.layer + 1} values (one per x2 upsampling) for layer {cfg.layer}, "
            f"got {cfg.widths}"
        )
    if cfg.epochs == 0 and cfg.init is None:
        raise WikiartError("epochs 0 only computes style statistics: it needs --init")
    return cfg


def check_crop(crop: int, layer: int) -> None:
    """Training crops the encoder divides evenly, with at least two feature rows."""
    stride = 2 ** (layer + 1)
    if crop < 2 * stride or crop % stride:
        raise WikiartError(f"crop must be a multiple of {stride} and >= {2 * stride}, got {crop}")


def require_inputs(cfg: TransferConfig) -> None:
    """Training data (the styles), and the content folder and init checkpoint where named."""
    require_data(cfg.data.data)
    if cfg.content is not None and not Path(cfg.content).is_dir():
        raise WikiartError(f"content folder not found: {display(cfg.content)}")
    if cfg.init is not None:
        checkpoint_path(cfg.init)
