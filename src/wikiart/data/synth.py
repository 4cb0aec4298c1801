"""The built-in procedural dataset: "paintings" in WikiArt's folder layout, so the demo needs no
download.

``generate(out)`` writes ``out/train/<Style>/*.png`` (long-tailed, like WikiArt) and
``out/test/<Style>/*.png`` (balanced). Each style is a texture / structure (dots, facets, strokes,
drips, halftone, outlines...), never a colour: every image draws its palette, composition, global
contrast and noise from the same distributions whatever its style, so that per-image colour
statistics do not give the style away and a classifier has to look at structure.

Every image is a pure function of ``(seed, split, style, index)``, so output is byte-identical for
a seed however the work is spread over processes. No torch here: workers start fast.
"""

from __future__ import annotations

import colorsys
import json
import logging
import math
import operator
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from wikiart.data.refs import display
from wikiart.data.scan import is_ignored
from wikiart.errors import WikiartError

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

Color = tuple[int, int, int]
Renderer = Callable[[np.random.Generator, int], np.ndarray]


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
    return pal[int(rng.integers(len(pal)))]


def _contrast(
    rng: np.random.Generator, pal: np.ndarray, ref: np.ndarray, min_dist: float = 70.0
) -> np.ndarray:
    """A palette colour that stands out from ``ref`` (the farthest one if none is far enough)."""
    dist = np.linalg.norm(pal - ref, axis=1)
    far = np.flatnonzero(dist >= min_dist)
    return pal[int(rng.choice(far))] if len(far) else pal[int(np.argmax(dist))]


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


# --------------------------------------------------------------------------------------------
# The styles. Each returns a float32 (size, size, 3) array before the shared finish.
# --------------------------------------------------------------------------------------------


def _pointillism(rng: np.random.Generator, size: int) -> np.ndarray:
    """Seurat: the scene rebuilt from dense small round dots of divided colour."""
    pal = _palette(rng)
    base = _scene(rng, pal, size)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    r = max(0.7, size * rng.uniform(0.014, 0.022))
    n = int(1.8 * size * size / (math.pi * r * r))
    xs, ys = rng.uniform(0, size, n), rng.uniform(0, size, n)
    mix = rng.uniform(0.15, 0.6, n)
    others = pal[rng.integers(len(pal), size=n)]
    jitter = rng.normal(0.0, 22.0, (n, 3))
    xi, yi = np.minimum(xs.astype(int), size - 1), np.minimum(ys.astype(int), size - 1)
    cols = base[yi, xi] * (1 - mix[:, None]) + others * mix[:, None] + jitter
    cols = np.clip(np.rint(cols), 0, 255).astype(int).tolist()
    for x, y, col in zip(xs.tolist(), ys.tolist(), cols, strict=True):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(col))
    return np.asarray(img, dtype=np.float32)


def _impressionism(rng: np.random.Generator, size: int) -> np.ndarray:
    """Monet: the scene in short broken brush strokes that follow a smooth flow field."""
    pal = _palette(rng)
    base = _scene(rng, pal, size)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    length = size * rng.uniform(0.05, 0.09)
    width = _w(size, rng.uniform(0.016, 0.028))
    n = int(1.7 * size * size / (length * width))
    xs, ys = rng.uniform(0, size, n), rng.uniform(0, size, n)
    f = rng.uniform(1.0, 4.0, 2) * 2 * math.pi / size
    ph = rng.uniform(0, 2 * math.pi, 2)
    theta = (
        rng.uniform(0, math.pi)
        + 0.9 * np.sin(xs * f[0] + ph[0])
        + 0.9 * np.cos(ys * f[1] + ph[1])
        + rng.normal(0.0, 0.25, n)
    )
    half = length * rng.uniform(0.35, 0.65, n)
    dx, dy = np.cos(theta) * half, np.sin(theta) * half
    xi, yi = np.minimum(xs.astype(int), size - 1), np.minimum(ys.astype(int), size - 1)
    mix = rng.uniform(0.0, 0.35, n) * (rng.random(n) < 0.4)
    others = pal[rng.integers(len(pal), size=n)]
    cols = base[yi, xi] * (1 - mix[:, None]) + others * mix[:, None]
    cols = cols + rng.normal(0.0, 16.0, (n, 3)) + rng.normal(0.0, 14.0, (n, 1))
    cols = np.clip(np.rint(cols), 0, 255).astype(int).tolist()
    for x, y, ddx, ddy, col in zip(
        xs.tolist(), ys.tolist(), dx.tolist(), dy.tolist(), cols, strict=True
    ):
        draw.line((x - ddx, y - ddy, x + ddx, y + ddy), fill=tuple(col), width=width)
    return np.asarray(img, dtype=np.float32)


def _cubism(rng: np.random.Generator, size: int) -> np.ndarray:
    """Analytic cubism: the canvas cut by long straight lines into shaded facets with dark seams."""
    pal = _palette(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    code = np.zeros((size, size), np.int64)
    n_lines = int(rng.integers(6, 11))
    for i in range(n_lines):
        px, py = rng.uniform(0.1, 0.9, 2) * size
        a = rng.uniform(0, math.pi)
        code |= (((xx - px) * math.cos(a) + (yy - py) * math.sin(a)) > 0).astype(np.int64) << i
    _, face = np.unique(code, return_inverse=True)
    face = face.reshape(size, size)
    m = int(face.max()) + 1
    cnt = np.maximum(np.bincount(face.ravel(), minlength=m), 1)
    cx = np.bincount(face.ravel(), xx.ravel(), m) / cnt
    cy = np.bincount(face.ravel(), yy.ravel(), m) / cnt
    cols = pal[rng.integers(len(pal), size=m)] + rng.normal(0.0, 10.0, (m, 3))
    ang = rng.uniform(0, 2 * math.pi, m)
    gain = rng.uniform(0.6, 1.4, m) / size
    shade = 1.0 + gain[face] * (
        (xx - cx[face]) * np.cos(ang)[face] + (yy - cy[face]) * np.sin(ang)[face]
    )
    arr = cols[face] * np.clip(shade, 0.55, 1.45)[..., None]
    seam = np.zeros((size, size), bool)
    seam[:, 1:] |= face[:, 1:] != face[:, :-1]
    seam[1:, :] |= face[1:, :] != face[:-1, :]
    alpha = rng.uniform(0.5, 0.85)
    arr[seam] = arr[seam] * (1 - alpha) + _ink(rng, pal) * alpha
    return arr.astype(np.float32)


def _soft_box(size: int, x0: float, x1: float, y0: float, y1: float, soft: float) -> np.ndarray:
    """A rectangle mask with feathered edges (separable logistic ramps)."""
    t = np.arange(size, dtype=np.float32) + 0.5

    def ramp(a: float, b: float) -> np.ndarray:
        lo, hi = np.clip((a - t) / soft, -60, 60), np.clip((t - b) / soft, -60, 60)
        return 1.0 / (1.0 + np.exp(lo)) / (1.0 + np.exp(hi))

    return np.outer(ramp(y0, y1), ramp(x0, x1))[..., None]


def _color_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """Rothko (stacked soft rectangles) or Newman (a flat field with a few zips), mottled."""
    pal = _palette(rng)
    ground = _pick(rng, pal)
    arr = np.broadcast_to(ground, (size, size, 3)).astype(np.float32)
    soft = size * rng.uniform(0.006, 0.02)
    if rng.random() < 0.65:
        mx, my = size * rng.uniform(0.07, 0.14), size * rng.uniform(0.05, 0.1)
        n = int(rng.integers(2, 4))
        gap = size * rng.uniform(0.03, 0.07)
        heights = rng.dirichlet(np.full(n, 3.0)) * (size - 2 * my - gap * (n - 1))
        y = my
        for h in heights:
            box = _soft_box(size, mx, size - mx, y, y + h, soft)
            tex = _lowfreq(rng, size, 6)[..., None] * rng.uniform(6, 16)
            arr = arr * (1 - box) + (_contrast(rng, pal, ground) + tex) * box
            y += h + gap
    else:
        for _ in range(int(rng.integers(1, 4))):
            x = size * rng.uniform(0.1, 0.9)
            half = size * rng.uniform(0.008, 0.035)
            box = _soft_box(size, x - half, x + half, -size, 2 * size, soft * 0.5)
            arr = arr * (1 - box) + _contrast(rng, pal, ground) * box
    return arr + _lowfreq(rng, size, 5)[..., None] * rng.uniform(4, 12)


def _minimalism(rng: np.random.Generator, size: int) -> np.ndarray:
    """A flat, empty ground with a few crisp axis-aligned shapes, nested squares or a fine grid."""
    pal = _palette(rng)
    ground = _pick(rng, pal)
    img = Image.new("RGB", (size, size), _c(ground))
    draw = ImageDraw.Draw(img)
    kind = rng.random()
    step = size / 8
    if kind < 0.55:
        for _ in range(int(rng.integers(1, 4))):
            w, h = (rng.integers(1, 4, 2) * step).tolist()
            x0 = int(rng.integers(1, 7)) * step
            y0 = int(rng.integers(1, 7)) * step
            box = (x0, y0, min(x0 + w, size - step / 2), min(y0 + h, size - step / 2))
            col = _c(_contrast(rng, pal, ground))
            if rng.random() < 0.35:
                r = min(w, h) / 2
                draw.ellipse((x0, y0, x0 + 2 * r, y0 + 2 * r), fill=col)
            else:
                draw.rectangle(box, fill=col)
    elif kind < 0.75:
        cx = size * rng.uniform(0.4, 0.6)
        bottom = size * rng.uniform(0.8, 0.95)
        half = size * rng.uniform(0.35, 0.45)
        col = ground
        for _ in range(int(rng.integers(2, 5))):
            col = _contrast(rng, pal, col)
            draw.rectangle((cx - half, bottom - 2 * half, cx + half, bottom), fill=_c(col))
            bottom -= half * rng.uniform(0.15, 0.3)
            half *= rng.uniform(0.55, 0.75)
    else:
        col = _c(_contrast(rng, pal, ground))
        pitch = size * rng.uniform(0.05, 0.12)
        m = size * rng.uniform(0.05, 0.15)
        v = m
        while v <= size - m:
            draw.line((v, m, v, size - m), fill=col, width=1)
            draw.line((m, v, size - m, v), fill=col, width=1)
            v += pitch
    return np.asarray(img, dtype=np.float32)


def _action_painting(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pollock: layers of tangled drip lines and splatter over a ground."""
    pal = _palette(rng)
    ground = _pick(rng, pal)
    img = Image.new("RGB", (size, size), _c(ground))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 6))):
        col = _c(_ink(rng, pal) if rng.random() < 0.25 else _contrast(rng, pal, ground))
        for _ in range(int(rng.integers(4, 10))):
            n = int(rng.integers(15, 50))
            step = size * rng.uniform(0.015, 0.04)
            heading = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.55, n))
            x = rng.uniform(0, size) + np.cumsum(np.cos(heading) * step)
            y = rng.uniform(0, size) + np.cumsum(np.sin(heading) * step)
            pts = list(zip(x.tolist(), y.tolist(), strict=True))
            draw.line(pts, fill=col, width=_w(size, rng.uniform(0.004, 0.02)), joint="curve")
        for _ in range(int(rng.integers(2, 6))):
            cx, cy = rng.uniform(0, size, 2)
            k = int(rng.integers(5, 20))
            ox, oy = rng.normal(0, size * 0.05, (2, k))
            rr = size * rng.uniform(0.004, 0.015, k)
            for dx, dy, r in zip(ox.tolist(), oy.tolist(), rr.tolist(), strict=True):
                draw.ellipse((cx + dx - r, cy + dy - r, cx + dx + r, cy + dy + r), fill=col)
    return np.asarray(img, dtype=np.float32)


def _halftone(rng: np.random.Generator, pal: np.ndarray, size: int) -> np.ndarray:
    """Ben-Day dots: a (rotated) regular grid of round dots of one colour on another."""
    bg = _pick(rng, pal)
    fg = _contrast(rng, pal, bg)
    pitch = size * rng.uniform(0.045, 0.075)
    rad = pitch * rng.uniform(0.25, 0.42)
    a = rng.choice([0.0, math.pi / 4, rng.uniform(0, math.pi / 2)])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = (xx * math.cos(a) + yy * math.sin(a)) % pitch - pitch / 2
    v = (-xx * math.sin(a) + yy * math.cos(a)) % pitch - pitch / 2
    dots = (u * u + v * v < rad * rad)[..., None]
    return np.where(dots, fg, bg).astype(np.float32)


def _pop_art(rng: np.random.Generator, size: int) -> np.ndarray:
    """Lichtenstein: halftone-dot fields and flat shapes with thick black outlines."""
    pal = _palette(rng)
    arr = _halftone(rng, pal, size)
    ink = _ink(rng, pal)
    for _ in range(int(rng.integers(1, 4))):
        mask = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(mask)
        cx, cy = rng.uniform(0.2, 0.8, 2) * size
        r = size * rng.uniform(0.18, 0.4)
        width = _w(size, rng.uniform(0.02, 0.035))
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse((cx - r, cy - r * 0.8, cx + r, cy + r * 0.8), 1, 2, width)
        elif kind == 1:
            draw.rectangle((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), 1, 2, width)
        else:
            k = int(rng.integers(8, 15))
            t = np.arange(2 * k) * math.pi / k + rng.uniform(0, math.pi)
            rad = np.where(np.arange(2 * k) % 2 == 0, r, r * rng.uniform(0.45, 0.7))
            px, py = (cx + rad * np.cos(t)).tolist(), (cy + rad * np.sin(t)).tolist()
            pts = list(zip(px, py, strict=True))
            draw.polygon(pts, 1, 2, width)
        m = np.asarray(mask)[..., None]
        fill = (
            _halftone(rng, pal, size)
            if rng.random() < 0.5
            else np.broadcast_to(_pick(rng, pal), arr.shape)
        )
        arr = np.where(m == 1, fill, np.where(m == 2, ink, arr)).astype(np.float32)
    return arr


def _ukiyo_e(rng: np.random.Generator, size: int) -> np.ndarray:
    """Hokusai / Hiroshige: flat colour areas with dark outlines, waves with foam, a graded sky."""
    pal = _palette(rng)
    ink = _c(_ink(rng, pal))
    ow = _w(size, rng.uniform(0.01, 0.02))
    hy = size * rng.uniform(0.35, 0.6)
    t = np.clip(np.linspace(0, 1, size, dtype=np.float32) * size / hy, 0, 1)[:, None]
    a, b = _pick(rng, pal), _pick(rng, pal)
    sky = np.broadcast_to((a * (1 - t) + b * t)[:, None, :], (size, size, 3))
    img = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    light = _c(pal[int(np.argmax(pal.sum(1)))])
    if rng.random() < 0.4:
        cx, cy = rng.uniform(0.15, 0.85) * size, rng.uniform(0.1, 0.3) * size
        r = size * rng.uniform(0.05, 0.1)
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), fill=_c(_pick(rng, pal)), outline=ink, width=ow
        )
    if rng.random() < 0.65:
        px, top = rng.uniform(0.25, 0.75) * size, rng.uniform(0.12, 0.3) * size
        half = size * rng.uniform(0.25, 0.5)
        mountain = [
            (px - half, hy + 2),
            (px - half * 0.12, top),
            (px + half * 0.12, top),
            (px + half, hy + 2),
        ]
        draw.polygon(mountain, fill=_c(_pick(rng, pal)), outline=ink, width=ow)
        f = rng.uniform(0.3, 0.45)
        cap_y = top + (hy - top) * f
        cap = [
            (px - half * 0.12, top),
            (px + half * 0.12, top),
            (px + half * (0.12 + 0.88 * f), cap_y),
            (px, cap_y - size * 0.03),
            (px - half * (0.12 + 0.88 * f), cap_y),
        ]
        draw.polygon(cap, fill=light, outline=ink, width=ow)
    for _ in range(int(rng.integers(0, 3))):
        cx, cy = rng.uniform(0, size), rng.uniform(0.05, 0.35) * size
        w, h = size * rng.uniform(0.15, 0.35), size * rng.uniform(0.03, 0.06)
        draw.rounded_rectangle((cx - w, cy - h, cx + w, cy + h), h, light, ink, ow)
    n_bands = int(rng.integers(2, 5))
    xs = np.linspace(-2, size + 2, 48)
    for i in range(n_bands):
        y0 = hy + (size - hy) * i / n_bands
        amp = size * rng.uniform(0.02, 0.06)
        lam = size * rng.uniform(0.2, 0.5)
        ph = rng.uniform(0, 2 * math.pi)
        ys = y0 + amp * np.sin(2 * math.pi * xs / lam + ph)
        top_edge = list(zip(xs.tolist(), ys.tolist(), strict=True))
        draw.polygon(
            [*top_edge, (size + 2, size + 2), (-2, size + 2)],
            fill=_c(_pick(rng, pal)),
            outline=ink,
            width=ow,
        )
        for off in (0.35, 0.65)[: int(rng.integers(0, 3))]:
            inner = [(x, y + (size - hy) / n_bands * off) for x, y in top_edge]
            draw.line(inner, fill=ink, width=max(1, ow - 1))
        crests = xs[np.argsort(ys)[: int(rng.integers(2, 5))]]
        fr = size * rng.uniform(0.012, 0.022)
        for cx in crests.tolist():
            cy = float(np.interp(cx, xs, ys))
            for j in range(3):
                x = cx + (j - 1) * fr * 1.6
                draw.ellipse((x - fr, cy - fr, x + fr, cy + fr), fill=light, outline=ink, width=1)
    return np.asarray(img, dtype=np.float32)


_RENDERERS: dict[str, Renderer] = {
    "Action_painting": _action_painting,
    "Color_Field_Painting": _color_field,
    "Cubism": _cubism,
    "Impressionism": _impressionism,
    "Minimalism": _minimalism,
    "Pointillism": _pointillism,
    "Pop_Art": _pop_art,
    "Ukiyo_e": _ukiyo_e,
}

#: Style names, sorted; WikiArt's folder names.
STYLES: tuple[str, ...] = tuple(sorted(_RENDERERS))
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
    if style not in _RENDERERS:
        raise WikiartError(f"unknown synthetic style {style!r}; choose from {', '.join(STYLES)}")
    size = _check_size(size)
    return _finish(_RENDERERS[style](rng, size), rng)


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
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[call-overload]
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
        img.save(os.path.join(folder, _file_name(style, index)), format="PNG", compress_level=1)
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
    tmp = out / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / MARKER)


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
    plan = {"train": {s: per_style[s] for s in order}, "test": dict.fromkeys(order, test_per_style)}

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
    n_workers = min(workers or os.cpu_count() or 1, max(1, len(tasks)))
    with tqdm(total=total, desc="synth", unit="img", disable=not progress) as bar:
        if n_workers == 1:
            for task in tasks:
                bar.update(_render_chunk(*task))
        else:
            pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"))
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

    _write_marker(out, {**params, "complete": True, "counts": plan})
    log.info("wrote %d synthetic images (%d styles) to %s", total, len(order), display(out))
    return plan
