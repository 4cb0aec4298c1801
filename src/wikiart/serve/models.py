"""What the app serves: the checkpoints named by flags, or found in a run folder such as the
demo's, each checked (it exists, it is of a kind the tab can use) before anything loads. The
Generate tab serves the packaged diffusion base when no diffusion model is named or found, and
with no model named and no demo run the packaged transfer decoder fills the Re-paint tab too."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from wikiart.builtins import BUILTIN, builtin_path, is_builtin, packaged
from wikiart.checkpoints import checkpoint_kind
from wikiart.data.refs import display
from wikiart.errors import WikiartError
from wikiart.jobs import serving

#: Where `make demo` writes; the app looks there when no model is named.
DEMO_RUN = Path("runs/demo")


def role_kinds(role: str) -> tuple[str, ...]:
    """The checkpoint kinds a tab takes: those of the jobs registered for its ``role``
    (`wikiart.jobs.Job.app`)."""
    return tuple(kind for job in serving(role) for kind in job.kinds)


NOTHING_TO_SERVE = (
    "nothing to serve: no model was named and {run} does not exist. Make models with "
    "`make demo` (then `wikiart serve` finds runs/demo), or train one, e.g. `wikiart train "
    "classifier --data DATA --out RUN` and `wikiart serve --classifier RUN/model.pt "
    "--gallery DATA`; `--transfer builtin` serves the packaged style-transfer decoder alone"
)


@dataclass
class ServeSpec:
    """The checkpoints (and the gallery's data) the app will load; ``None``: that tab is off."""

    classifier: Path | None = None
    classifier_kind: str | None = None
    gallery: Path | None = None
    repaint: str | None = None  # a transfer or stylegen model.pt, or "builtin"
    repaint_kind: str | None = None
    generator: Path | None = None
    generator_kind: str | None = None
    run: Path | None = None

    def tabs(self) -> list[str]:
        on = {
            "Classify": self.classifier,
            "Explore": self.classifier and self.gallery,
            "Re-paint": self.repaint,
            "Generate": self.generator,
        }
        return [name for name, v in on.items() if v]


def _checked_kind(
    path: str | os.PathLike[str], kinds: tuple[str, ...], flag: str
) -> tuple[Path, str]:
    """The checkpoint and its kind, refused unless it exists and is one of ``kinds``."""
    p = Path(path)
    if p.is_dir() and "lora" in kinds and (p / "lora.json").exists():
        return p, "lora"  # a LoRA run folder
    if not p.is_file():
        raise WikiartError(f"{flag}: checkpoint not found: {display(p)}")
    try:
        kind = checkpoint_kind(p)
    except WikiartError:
        raise
    except Exception as exc:
        raise WikiartError(f"{flag}: {display(p)} is not a readable checkpoint ({exc})") from None
    if kind not in kinds:
        raise WikiartError(
            f"{flag}: {display(p)} is a {kind!r} checkpoint; this tab takes {' or '.join(kinds)}"
        )
    return p, kind


def _training_data(classifier: Path) -> Path | None:
    """The data the classifier was trained on, from the ``config.json`` beside it."""
    try:
        config = json.loads((classifier.parent / "config.json").read_text(encoding="utf-8"))
        data = config["data"]["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(data) if data and Path(data).is_dir() else None


def find_models(
    *,
    run: str | os.PathLike[str] | None = None,
    classifier: str | os.PathLike[str] | None = None,
    gallery: str | os.PathLike[str] | None = None,
    transfer: str | None = None,
    diffusion: str | os.PathLike[str] | None = None,
) -> ServeSpec:
    """Flags first; then the run folder's ``classifier/``, ``transfer/`` (else ``stylegen/``)
    and ``diffusion/`` checkpoints. Without any flag the run is `DEMO_RUN` when it exists. The
    gallery defaults to the data the classifier was trained on (its ``test/`` split)."""
    named = any(v is not None for v in (classifier, gallery, transfer, diffusion))
    if run is None and not named:
        if DEMO_RUN.is_dir():
            run = DEMO_RUN
        elif packaged("transfer") is not None:  # no models of one's own: the packaged ones
            transfer = BUILTIN
    spec = ServeSpec(run=Path(run) if run is not None else None)
    if spec.run is not None and not spec.run.is_dir():
        raise WikiartError(f"--run: folder not found: {display(spec.run)}")

    def in_run(role: str) -> Path | None:
        """The run folder's checkpoint for ``role``: ``RUN/<job>/model.pt`` of a job serving it."""
        if spec.run is None:
            return None
        for job in serving(role):
            p = spec.run / job.name / "model.pt"
            if p.is_file():
                return p
        return None

    if classifier is not None:
        found = _checked_kind(classifier, role_kinds("classify"), "--classifier")
        spec.classifier, spec.classifier_kind = found
    elif (p := in_run("classify")) is not None:
        spec.classifier, spec.classifier_kind = _checked_kind(p, role_kinds("classify"), "--run")
    if transfer is not None:
        if is_builtin(transfer):
            spec.repaint, spec.repaint_kind = BUILTIN, "transfer"
        else:
            p, spec.repaint_kind = _checked_kind(transfer, role_kinds("repaint"), "--transfer")
            spec.repaint = str(p)
    elif (p := in_run("repaint")) is not None:
        p, spec.repaint_kind = _checked_kind(p, role_kinds("repaint"), "--run")
        spec.repaint = str(p)
    if diffusion is not None:
        if is_builtin(diffusion):
            diffusion = builtin_path("diffusion")
        found = _checked_kind(diffusion, role_kinds("generate"), "--diffusion")
        spec.generator, spec.generator_kind = found
    elif (p := in_run("generate")) is not None:
        spec.generator, spec.generator_kind = _checked_kind(p, role_kinds("generate"), "--run")
    elif (p := packaged("diffusion")) is not None:  # the packaged base
        spec.generator, spec.generator_kind = p, "diffusion"

    if gallery is not None:
        if not Path(gallery).is_dir():
            raise WikiartError(f"--gallery: folder not found: {display(gallery)}")
        if spec.classifier is None:
            raise WikiartError("--gallery needs a classifier (--classifier RUN/model.pt)")
        spec.gallery = Path(gallery)
    elif spec.classifier is not None:
        spec.gallery = _training_data(spec.classifier) or (
            spec.run / "data" if spec.run is not None and (spec.run / "data").is_dir() else None
        )
    if not spec.tabs():
        where = f"{display(spec.run)} holds" if spec.run is not None else "the flags name"
        raise WikiartError(
            f"nothing to serve: {where} no classifier, transfer, stylegen or diffusion model; "
            + NOTHING_TO_SERVE.split(". ", 1)[1]
        )
    return spec
