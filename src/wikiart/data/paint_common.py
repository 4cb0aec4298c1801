"""What every synthetic painting shares, whatever its style: the palette, colour picks, ink, line
widths, smooth noise, a soft background scene and the global finish.

Every style draws these from the same distributions, so that per-image colour statistics do not
give the style away (see `wikiart.data.synth`).
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

Color = tuple[int, int, int]


# --------------------------------------------------------------------------------------------
# Shared ingredients: every style draws palette, ink and finish from these same distributions.
# --------------------------------------------------------------------------------------------


def _palette(rng: np.random.Generator) -> np.ndarray:
    """3-6 colours (float RGB 0..255) around a random harmony; the same law for every style."""
    k = int(rng.integers(3, 7))
    h0 = rng.random()
    scheme = int(rng.integers(4))
    if scheme == 0:  # analogous
        hues = h0 + rng.uniform(-0.09, 0.09, k)
    elif scheme == 1:  # complementary
        hues = h0 + 0.5 * rng.integers(0, 2, k) + rng.uniform(-0.05, 0.05, k)
    elif scheme == 2:  # triadic
        hues = h0 + rng.integers(0, 3, k) / 3 + rng.uniform(-0.05, 0.05, k)
    else:  # free
        hues = rng.random(k)
    sats = rng.uniform(0.08, 0.95, k)
    # One darker and one lighter colour, so every palette has something to draw contrast with.
    vals = rng.permutation(
        [rng.uniform(0.15, 0.45), rng.uniform(0.65, 0.98), *rng.uniform(0.15, 0.98, k - 2)]
    )
    rgb = [colorsys.hsv_to_rgb(h % 1.0, s, v) for h, s, v in zip(hues, sats, vals, strict=True)]
    return np.asarray(rgb, dtype=np.float32) * 255.0


def _pick(rng: np.random.Generator, pal: np.ndarray) -> np.ndarray:
    colour: np.ndarray = pal[int(rng.integers(len(pal)))]
    return colour


def _contrast(
    rng: np.random.Generator, pal: np.ndarray, ref: np.ndarray, min_dist: float = 70.0
) -> np.ndarray:
    """A palette colour that stands out from ``ref`` (the farthest one if none is far enough)."""
    dist = np.linalg.norm(pal - ref, axis=1)
    far = np.flatnonzero(dist >= min_dist)
    colour: np.ndarray = pal[int(rng.choice(far))] if len(far) else pal[int(np.argmax(dist))]
    return colour


def _ink(rng: np.random.Generator, pal: np.ndarray) -> np.ndarray:
    """A near-black tinted by the palette, for outlines."""
    return _pick(rng, pal) * rng.uniform(0.08, 0.25)


def _c(color: np.ndarray) -> Color:
    r, g, b = np.clip(np.rint(color), 0, 255).astype(int).tolist()
    return (r, g, b)


def _w(size: int, frac: float) -> int:
    """A line width of ``frac`` of the image size, at least one pixel."""
    return max(1, round(size * frac))


def _lowfreq(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [-1, 1] (size x size): a coarse random grid upsampled bicubically."""
    grid = rng.uniform(0, 255, (cells, cells)).astype(np.uint8)
    img = Image.fromarray(grid, "L").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 127.5 - 1.0


def _finish(arr: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Random global contrast, brightness shift and sensor noise, identical law for all styles."""
    mean = float(arr.mean())
    arr = (arr - mean) * rng.uniform(0.8, 1.15) + mean + rng.normal(0.0, 8.0)
    arr = arr + rng.normal(0.0, rng.uniform(1.5, 6.0), arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def _scene(rng: np.random.Generator, pal: np.ndarray, size: int) -> np.ndarray:
    """A soft landscape (sky, ground, a few masses) that mark-based styles paint over."""
    lo = max(8, size // 4)
    arr = np.empty((lo, lo, 3), np.float32)
    hy = int(lo * rng.uniform(0.25, 0.7))
    t = np.linspace(0, 1, lo, dtype=np.float32)[:, None]
    top, mid, low = _pick(rng, pal), _pick(rng, pal), _pick(rng, pal)
    arr[:] = (top * (1 - t) + mid * t)[:, None, :]
    arr[hy:] = low
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, lo, 2)
        rx, ry = lo * rng.uniform(0.06, 0.3, 2)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=_c(_pick(rng, pal)))
    img = img.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)
