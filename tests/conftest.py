"""Shared fixtures: tiny image folders made in tmp_path, and the optional ../shared data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = SHARED_DATA / "wikiart-sample"


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


def dark_bright_rare(tmp: Path) -> Path:
    """``tmp/ds``: Dark (grey noise), Bright (colour noise) and Rare styles, 8 training and 3
    test images each."""
    root = tmp / "ds"
    for split, n in (("train", 8), ("test", 3)):
        for i in range(n):
            write_image(root / split / "Dark" / f"d{i}.png", seed=i, mode="L", fmt="PNG")
            write_image(root / split / "Bright" / f"b{i}.png", seed=100 + i, fmt="PNG")
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
    root = tmp_path / "ds"
    for split, n in (("train", 12), ("test", 3)):
        for i in range(n):
            write_image(root / split / "Dark" / f"d{i}.png", seed=i, mode="L", fmt="PNG")
            write_image(root / split / "Bright" / f"b{i}.png", seed=100 + i, fmt="PNG")
        for i in range(max(2, n // 4)):
            write_image(root / split / "Rare" / f"r{i}.png", seed=200 + i, size=(30, 40), fmt="PNG")
    return root


@pytest.fixture
def sample_root() -> Path:
    if not SAMPLE.is_dir():
        pytest.skip("../shared/data/wikiart-sample is not present")
    return SAMPLE


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Tests never write into the user's ~/.cache/wikiart."""
    monkeypatch.setenv("WIKIART_CACHE", str(tmp_path_factory.mktemp("wikiart-cache")))
