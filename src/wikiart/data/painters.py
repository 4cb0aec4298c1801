"""The style painters of the built-in procedural dataset, one function per style, and `PAINTERS`,
the painter of each style by its WikiArt folder name.

Each style is a texture / structure (dots, facets, strokes, drips, halftone, outlines...), never a
colour: palette, ink and finish come from `wikiart.data.paint_common`, shared by all styles. A
painter takes a random generator and a size and returns a float32 (size, size, 3) array before the
shared finish; all its randomness comes from that generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from wikiart.data.paint_common import (
    _c,
    _contrast,
    _ink,
    _lowfreq,
    _palette,
    _pick,
    _scene,
    _w,
)

Renderer = Callable[[np.random.Generator, int], np.ndarray]


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
    arr: np.ndarray = cols[face] * np.clip(shade, 0.55, 1.45)[..., None]
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
        weight: np.ndarray = 1.0 / (1.0 + np.exp(lo)) / (1.0 + np.exp(hi))
        return weight

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
        tone = ground
        for _ in range(int(rng.integers(2, 5))):
            tone = _contrast(rng, pal, tone)
            draw.rectangle((cx - half, bottom - 2 * half, cx + half, bottom), fill=_c(tone))
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


#: The painter of each style, by WikiArt folder name.
PAINTERS: dict[str, Renderer] = {
    "Action_painting": _action_painting,
    "Color_Field_Painting": _color_field,
    "Cubism": _cubism,
    "Impressionism": _impressionism,
    "Minimalism": _minimalism,
    "Pointillism": _pointillism,
    "Pop_Art": _pop_art,
    "Ukiyo_e": _ukiyo_e,
}
