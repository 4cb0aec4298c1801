"""The weights shipped inside the package, asked for by the name ``builtin``: the style-transfer
decoder (``transfer/builtin.pt``) and the pretrained diffusion base (``diffusion/builtin.pt``).
Each was trained once by a documented command (docs/models.md). Torch-free."""

from __future__ import annotations

import os
from pathlib import Path

from wikiart.data.refs import display
from wikiart.errors import WikiartError

#: The name that stands for a job's packaged weights (``--checkpoint builtin``, ``--base
#: builtin``, ``--init builtin``).
BUILTIN = "builtin"

#: job -> (the packaged file, relative to the package; what it is; how to train one instead).
PACKAGED: dict[str, tuple[str, str, str]] = {
    "transfer": (
        "transfer/builtin.pt",
        "built-in transfer decoder",
        "`wikiart train transfer --data DATA --out RUN`",
    ),
    "diffusion": (
        "diffusion/builtin.pt",
        "built-in diffusion base",
        "`wikiart train diffusion --data DATA --out RUN`",
    ),
}


def builtin_path(job: str) -> Path:
    """The packaged checkpoint of ``job`` (a `WikiartError` where this installation lacks it)."""
    _, what, how = PACKAGED[job]
    path = packaged(job)
    if path is None:
        raise WikiartError(
            f"this installation has no {what}; train one with {how} and pass RUN/model.pt"
        )
    return path


def packaged(job: str) -> Path | None:
    """``job``'s packaged checkpoint, or None where this installation lacks it."""
    path = Path(__file__).parent / PACKAGED[job][0]
    return path if path.is_file() else None


def is_builtin(value: str | os.PathLike[str] | None) -> bool:
    return value is not None and os.fspath(value) == BUILTIN


def checkpoint_path(value: str | os.PathLike[str], job: str, what: str) -> Path:
    """A checkpoint by path, or ``builtin`` (``job``'s packaged one); a missing file is a clear
    error naming ``what`` it should have been."""
    if is_builtin(value):
        return builtin_path(job)
    path = Path(value)
    if not path.is_file():
        raise WikiartError(f"{what} not found: {display(path)}")
    return path
