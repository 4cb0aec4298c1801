"""Safe image decoding: any file in, an RGB image or a `BadImageError` with a reason out.

Handles grayscale, palette (with transparency), RGBA/LA, CMYK, 16-bit and float images and EXIF
orientation; rejects empty, non-image, truncated and over-large (decompression-bomb) files. Uses
JPEG draft mode to decode large JPEGs at a reduced scale when only a small output is needed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from wikiart.config import FITS  # the choices, declared with the settings
from wikiart.data.refs import display
from wikiart.errors import BadImageError, WikiartError
from wikiart.imaging import image_to_chw

Fit = Literal["crop", "pad"]
#: Pillow's own decompression-bomb threshold (about 89 megapixels).
DEFAULT_MAX_PIXELS: int = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
PAD_COLOR = (0, 0, 0)


_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_structure_problem(data: bytes) -> str | None:
    """Why a JPEG's marker structure is broken, or None when it is sound up to its end marker.

    libjpeg (and so Pillow) only warns about corrupt entropy data, fills in grey and returns an
    image, so a JPEG with garbage in its body decodes "fine". Walking the markers from start of
    image to end of image catches garbage that breaks the segment chain (a body overwritten or a
    tail replaced), though not every flipped bit.
    """
    n, pos = len(data), 2
    while pos < n:
        if data[pos] != 0xFF:
            return f"corrupt JPEG data: no marker at byte {pos}"
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # end of image; anything after it is not our business
            return None
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8):  # markers without a length
            if marker == 0xD8:
                return "corrupt JPEG data: a second start-of-image marker"
            continue
        if pos + 2 > n:
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2:
            return f"corrupt JPEG data: segment length {length} at byte {pos}"
        pos += length
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                break
            pos = found.start()
    return "corrupt JPEG data: no end-of-image marker"


def _scaled_size(w: int, h: int, size: int, fit: Fit) -> tuple[int, int]:
    scale = size / (min(w, h) if fit == "crop" else max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def open_image(
    data: bytes,
    *,
    target: int | None = None,
    fit: Fit = "crop",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Decode ``data`` to an RGB image. With ``target``, a JPEG may be decoded at reduced scale
    (draft mode) as long as the later ``fit_image(img, target, fit)`` loses nothing."""
    if not data:
        raise BadImageError("empty", "file has 0 bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data))
            w, h = im.size
            if w <= 0 or h <= 0:
                raise BadImageError("unreadable", f"bad size {w}x{h}")
            if w * h > max_pixels:
                raise BadImageError(
                    "too_large", f"{w}x{h} pixels exceeds the limit of {max_pixels}"
                )
            if target is not None and im.format == "JPEG":
                im.draft("RGB", _scaled_size(w, h, target, fit))
            im.load()
            if im.format == "JPEG" and (problem := jpeg_structure_problem(data)):
                raise BadImageError("unreadable", problem)
    except BadImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImageError("too_large", str(exc)) from None
    except UnidentifiedImageError:
        raise BadImageError("not_an_image", "not a recognised image format") from None
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        raise BadImageError(reason, str(exc)) from None
    except Exception as exc:  # Pillow raises many kinds on corrupt headers
        raise BadImageError("unreadable", f"{type(exc).__name__}: {exc}") from None
    with contextlib.suppress(Exception):  # a broken EXIF block should not lose the picture
        im = ImageOps.exif_transpose(im) or im
    return to_rgb(im)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited onto white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = arr.max(initial=0.0)
        if mode == "F" and top <= 1.0:
            arr = arr * 255.0
        elif top > 255:
            arr = arr / 257.0  # 16-bit range onto 8 bits
        gray = np.clip(arr, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def fit_image(im: Image.Image, size: int, fit: Fit = "crop") -> Image.Image:
    """Aspect-preserving resize to ``size`` x ``size``: centre crop or pad (black)."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    w, h = _scaled_size(*im.size, size, fit)
    if (w, h) != im.size:
        # reducing_gap: a fast box pre-reduction, then bicubic; visually the same as plain bicubic.
        im = im.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0)
    if fit == "crop":
        left, top = (w - size) // 2, (h - size) // 2
        return im.crop((left, top, left + size, top + size))
    canvas = Image.new("RGB", (size, size), PAD_COLOR)
    canvas.paste(im, ((size - w) // 2, (size - h) // 2))
    return canvas


def decode_fitted(
    data: bytes, size: int, fit: Fit = "crop", max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Bytes to a ``size x size x 3`` uint8 array, decoded and resized once."""
    im = open_image(data, target=size, fit=fit, max_pixels=max_pixels)
    return np.asarray(fit_image(im, size, fit), dtype=np.uint8)


def read_image_file(path: str | os.PathLike[str], size: int, fit: Fit = "crop") -> torch.Tensor:
    """An image file a user names -> ``3 x size x size`` uint8, decoded and resized the way
    training data was. A missing or unreadable file, or one that is not a usable image, is a
    `WikiartError` naming it (the CLI prints one line and exits 2)."""
    try:
        with open(path, "rb") as fh:
            arr = decode_fitted(fh.read(), size, fit)
    except OSError as exc:
        raise WikiartError(f"cannot read {display(path)}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise WikiartError(f"{display(path)} is not a usable image: {exc}") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def read_image_at_most(path: str | os.PathLike[str], max_side: int) -> torch.Tensor:
    """An image file a user names, at its own size and aspect ratio, downscaled (antialiased)
    only where its longer side exceeds ``max_side``: ``3 x H x W`` uint8. A missing, unreadable
    or unusable file is a `WikiartError` naming it."""
    try:
        with open(path, "rb") as fh:
            im = open_image(fh.read())
    except OSError as exc:
        raise WikiartError(f"cannot read {display(path)}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise WikiartError(f"{display(path)} is not a usable image: {exc}") from None
    w, h = im.size
    if max(w, h) > max_side:
        scale = max_side / max(w, h)
        im = im.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS
        )
    return image_to_chw(im)
