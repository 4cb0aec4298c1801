"""The built-in procedural dataset: "paintings" in WikiArt's folder layout, so the demo needs no
download.

``generate(out)`` writes ``out/train/<Style>/*.png`` (long-tailed, like WikiArt) and
``out/test/<Style>/*.png`` (balanced). Each style is a texture / structure (dots, facets, strokes,
drips, halftone, outlines...), never a colour: every image draws its palette, composition, global
contrast and noise from the same distributions whatever its style, so that per-image colour
statistics do not give the style away and a classifier has to look at structure.

Every image is a pure function of ``(seed, split, style, index)``, so output is byte-identical for
a seed however the work is spread over processes. No torch here: workers start fast.

This module holds the dataset side: style names, counts along the long tail, the output layout
and its marker, and `generate`. The style painters are in `wikiart.data.painters`, the
ingredients they share in `wikiart.data.paint_common`.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, SupportsIndex, cast

import numpy as np
from PIL import Image
from tqdm import tqdm

from wikiart.data.paint_common import _finish
from wikiart.data.painters import PAINTERS
from wikiart.data.refs import display
from wikiart.data.scan import is_ignored
from wikiart.errors import WikiartError
from wikiart.files import write_json
from wikiart.processes import worker_pool

__all__ = [
    "CHUNK",
    "MARKER",
    "MAX_SIZE",
    "MIN_SIZE",
    "RENDER_VERSION",
    "SPLIT_IDS",
    "STYLES",
    "TAIL_ORDER",
    "generate",
    "render",
    "train_counts",
]

log = logging.getLogger(__name__)

#: Marker left in every output folder: proves a folder is ours (so it may be regenerated) and
#: records the parameters. Hidden, so dataset scanning ignores it.
MARKER = ".wikiart-synth.json"
#: Bump when rendering changes, so a marker says which renderer made a folder.
RENDER_VERSION = 1
#: Split names and the ids that go into each image's seed.
SPLIT_IDS: dict[str, int] = {"train": 0, "test": 1}
MIN_SIZE = 16
MAX_SIZE = 2048
#: Images per task sent to a worker: big enough to amortise the round trip, small enough to balance.
CHUNK = 24

_FILE_RE = re.compile(r"synth_[a-z_]+_\d{5,}\.png")


#: Style names, sorted; WikiArt's folder names.
STYLES: tuple[str, ...] = tuple(sorted(PAINTERS))
#: The order styles take along the long tail (most images first): the order of their image counts
#: in the real WikiArt (ArtGAN) collection. Fixed, whatever the seed.
TAIL_ORDER: tuple[str, ...] = (
    "Impressionism",
    "Cubism",
    "Color_Field_Painting",
    "Pop_Art",
    "Minimalism",
    "Ukiyo_e",
    "Pointillism",
    "Action_painting",
)
assert sorted(TAIL_ORDER) == list(STYLES)


def render(style: str, rng: np.random.Generator, size: int = 128) -> Image.Image:
    """One RGB ``size`` x ``size`` painting of ``style``; all randomness comes from ``rng``."""
    if style not in PAINTERS:
        raise WikiartError(f"unknown synthetic style {style!r}; choose from {', '.join(STYLES)}")
    size = _check_size(size)
    return _finish(PAINTERS[style](rng, size), rng)


# --------------------------------------------------------------------------------------------
# Counts, validation and writing.
# --------------------------------------------------------------------------------------------


def train_counts(n_styles: int, train_max: int, imbalance: float) -> list[int]:
    """Train images per style, most first: a geometric decay from ``train_max`` down to
    ``train_max / imbalance`` (rounded half up, at least 1), like WikiArt's long tail."""
    if n_styles < 1:
        raise WikiartError(f"need at least one style, got {n_styles}")
    if train_max < 1:
        raise WikiartError(f"train_max must be at least 1, got {train_max}")
    if not math.isfinite(imbalance) or imbalance < 1:
        raise WikiartError(f"imbalance must be a finite number >= 1, got {imbalance}")
    if n_styles == 1:
        return [train_max]
    return [
        max(1, math.floor(train_max * imbalance ** (-i / (n_styles - 1)) + 0.5))
        for i in range(n_styles)
    ]


def _as_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """``value`` as a plain int in ``lo..hi``, or a `WikiartError` naming the argument."""
    number: int | None
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(cast(SupportsIndex, value))
    except TypeError:
        number = None
    if number is None or number < lo or (hi is not None and number > hi):
        bounds = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
        raise WikiartError(f"{name} must be an integer {bounds}, got {value!r}")
    return number


def _check_size(size: int) -> int:
    return _as_int("image_size", size, MIN_SIZE, MAX_SIZE)


def _file_name(style: str, index: int) -> str:
    return f"synth_{style.lower()}_{index:05d}.png"


def _render_chunk(
    out: str, seed: int, split: str, style: str, start: int, stop: int, size: int
) -> int:
    """Render and save images ``start..stop-1`` of one (split, style); runs in a worker."""
    folder = os.path.join(out, split, style)
    split_id, style_id = SPLIT_IDS[split], STYLES.index(style)
    for index in range(start, stop):
        rng = np.random.default_rng([seed, split_id, style_id, index])
        img = render(style, rng, size)
        path = os.path.join(folder, _file_name(style, index))
        try:
            img.save(path, format="PNG", compress_level=1)
        except OSError as exc:  # a full disk: one line naming the file, from the worker too
            raise WikiartError(f"could not write {path}: {exc.strerror or exc}") from None
    return stop - start


def _read_marker(out: Path) -> dict[str, Any] | None:
    path = out / MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WikiartError(f"unreadable synthetic-dataset marker {display(path)}: {exc}") from exc
    if not isinstance(data, dict) or data.get("generator") != "wikiart.synth":
        raise WikiartError(f"{display(path)} is not a wikiart synthetic-dataset marker")
    return data


def _write_marker(out: Path, data: dict[str, Any]) -> None:
    """Atomically, so an interrupted run never leaves a half-written marker."""
    write_json(out / MARKER, data, sort_keys=True)


def _prepare_out(out: Path) -> None:
    """Make ``out`` ready: create it, or clear a previous synth output; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise WikiartError(f"output {display(out)} exists and is not a folder")
    if not out.exists():
        out.mkdir(parents=True)
        return
    if _read_marker(out) is None:
        if any(not is_ignored(name) for name in os.listdir(out)):
            raise WikiartError(
                f"output folder {display(out)} is not empty and holds no synthetic dataset "
                f"(no {MARKER}); refusing to write into it. Choose a new or empty folder."
            )
        return
    kept = 0
    for split in SPLIT_IDS:
        split_dir = out / split
        if not split_dir.is_dir():
            continue
        for style_dir in split_dir.iterdir():
            if not style_dir.is_dir() or style_dir.is_symlink():
                kept += 1
                continue
            for f in style_dir.iterdir():
                if _FILE_RE.fullmatch(f.name) and f.is_file() and not f.is_symlink():
                    f.unlink()
                else:
                    kept += 1
            if not any(style_dir.iterdir()):
                style_dir.rmdir()
        if not any(split_dir.iterdir()):
            split_dir.rmdir()
    if kept:
        log.warning("kept %d item(s) in %s that the generator did not write", kept, display(out))


def _chunks(plan: dict[str, dict[str, int]]) -> Iterator[tuple[str, str, int, int]]:
    for split, counts in plan.items():
        for style, n in counts.items():
            for start in range(0, n, CHUNK):
                yield split, style, start, min(n, start + CHUNK)


def generate(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    image_size: int = 128,
    train_max: int = 300,
    imbalance: float = 12.0,
    test_per_style: int = 40,
    styles: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict[str, dict[str, int]]:
    """Write the synthetic dataset to ``out`` and return ``{"train"|"test": {style: count}}``.

    Train counts follow ``train_counts`` along ``TAIL_ORDER`` (restricted to ``styles``); test has
    ``test_per_style`` images per style. ``out`` must be new, empty, or an earlier output of this
    function (recognised by its marker), which is then cleared and regenerated. ``workers=1``
    renders in this process; more use a spawn process pool (default: one per CPU).
    """
    seed = _as_int("seed", seed, 0)
    image_size = _check_size(image_size)
    train_max = _as_int("train_max", train_max, 1)
    test_per_style = _as_int("test_per_style", test_per_style, 0)
    workers = None if workers is None else _as_int("workers", workers, 1)
    try:
        imbalance = float(imbalance)
    except (TypeError, ValueError):
        raise WikiartError(f"imbalance must be a number >= 1, got {imbalance!r}") from None
    plan = _plan(styles, train_max, imbalance, test_per_style)
    order = list(plan["test"])

    out = Path(out)
    _prepare_out(out)
    params: dict[str, Any] = {
        "generator": "wikiart.synth",
        "render_version": RENDER_VERSION,
        "seed": seed,
        "image_size": image_size,
        "train_max": train_max,
        "imbalance": imbalance,
        "test_per_style": test_per_style,
        "styles": order,
    }
    _write_marker(out, {**params, "complete": False})
    for split, counts in plan.items():
        for style, n in counts.items():
            if n:
                (out / split / style).mkdir(parents=True, exist_ok=True)

    tasks = [
        (str(out), seed, split, style, a, b, image_size) for split, style, a, b in _chunks(plan)
    ]
    total = sum(sum(c.values()) for c in plan.values())
    _render_tasks(tasks, total, workers, progress)

    _write_marker(out, {**params, "complete": True, "counts": plan})
    log.info("wrote %d synthetic images (%d styles) to %s", total, len(order), display(out))
    return plan


def _plan(
    styles: Sequence[str] | None, train_max: int, imbalance: float, test_per_style: int
) -> dict[str, dict[str, int]]:
    """``{"train"|"test": {style: count}}`` for the chosen ``styles`` (all if None), styles
    sorted; a `WikiartError` for unknown styles or none."""
    if isinstance(styles, str):
        styles = [styles]
    chosen = set(STYLES if styles is None else styles)
    unknown = sorted(str(s) for s in chosen if s not in STYLES)
    if unknown:
        raise WikiartError(
            f"unknown synthetic style(s) {', '.join(unknown)}; choose from {', '.join(STYLES)}"
        )
    if not chosen:
        raise WikiartError("no styles chosen")
    tail = [s for s in TAIL_ORDER if s in chosen]
    per_style = dict(zip(tail, train_counts(len(tail), train_max, imbalance), strict=True))
    order = sorted(chosen)
    return {"train": {s: per_style[s] for s in order}, "test": dict.fromkeys(order, test_per_style)}


def _render_tasks(
    tasks: Sequence[tuple[str, int, str, str, int, int, int]],
    total: int,
    workers: int | None,
    progress: bool,
) -> None:
    """Run `_render_chunk` on every task: in this process for one worker, else in a spawn
    process pool (``workers`` processes, default one per CPU, never more than the tasks)."""
    n_workers = min(workers or os.cpu_count() or 1, max(1, len(tasks)))
    with tqdm(total=total, desc="synth", unit="img", disable=not progress) as bar:
        if n_workers == 1:
            for task in tasks:
                bar.update(_render_chunk(*task))
        else:
            pool = worker_pool(n_workers, mp_context=get_context("spawn"))
            try:
                futures = [pool.submit(_render_chunk, *task) for task in tasks]
                for fut in as_completed(futures):
                    bar.update(fut.result())
            except BrokenProcessPool as exc:
                raise WikiartError(
                    "a synth worker process died (out of memory, or a calling script without an "
                    "`if __name__ == '__main__':` guard); retry with workers=1"
                ) from exc
            finally:  # on an error or Ctrl-C, drop the queued chunks instead of rendering them
                pool.shutdown(wait=True, cancel_futures=True)
