import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from wikiart.data.images import decode_fitted, fit_image, jpeg_structure_problem, open_image
from wikiart.errors import BadImageError


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def rgb(w=64, h=48, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (a decompression bomb needs no real pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode(rgb().convert("L"), "PNG"),
        lambda: encode(rgb().convert("1"), "PNG"),
        lambda: encode(rgb().convert("P"), "PNG"),
        lambda: encode(rgb().convert("RGBA"), "PNG"),
        lambda: encode(rgb().convert("LA"), "PNG"),
        lambda: encode(rgb().convert("CMYK"), "JPEG"),
        lambda: encode(rgb().convert("L"), "JPEG"),
        lambda: encode(rgb(), "WEBP"),
        lambda: encode(rgb(), "BMP"),
        lambda: encode(rgb(), "GIF"),
        lambda: encode(rgb(), "TIFF"),
    ],
    ids=["L", "1", "P", "RGBA", "LA", "CMYK-jpeg", "L-jpeg", "webp", "bmp", "gif", "tiff"],
)
def test_every_mode_becomes_rgb(make):
    im = open_image(make())
    assert im.mode == "RGB" and im.size == (64, 48)
    arr = decode_fitted(make(), 32)
    assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8


def test_16_bit_grayscale_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    data = encode(Image.fromarray(ramp), "PNG")
    arr = np.asarray(open_image(data))
    assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255
    # mid-grey stays mid-grey (a naive convert("RGB") saturates everything above 255 to white)
    assert 100 < arr[24, 32, 0] < 155


def test_palette_transparency_composited_on_white():
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0] * 256)
    data = encode(im, "PNG", transparency=0)
    assert np.asarray(open_image(data)).min() == 255


def test_rgba_transparent_pixels_become_white():
    im = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    assert np.asarray(open_image(encode(im, "PNG"))).min() == 255


def test_exif_orientation_applied():
    im = rgb(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = open_image(encode(im, "JPEG", exif=exif.tobytes()))
    assert out.size == (48, 64)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image\n" * 10, "not_an_image"),
        (encode(rgb(300, 200), "JPEG")[:1500], "truncated"),
        (encode(rgb(300, 200), "PNG")[:2000], "truncated"),
        (png_header_only(20_000, 20_000), "too_large"),
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png", "bomb"],
)
def test_bad_files_raise_with_reason(data, reason):
    with pytest.raises(BadImageError) as info:
        decode_fitted(data, 32)
    assert info.value.reason == reason


def test_pixel_limit_is_configurable():
    data = encode(rgb(64, 48), "PNG")
    with pytest.raises(BadImageError, match="too_large"):
        open_image(data, max_pixels=1000)
    assert open_image(data, max_pixels=64 * 48).size == (64, 48)


def test_corrupt_header_is_unreadable_not_a_crash():
    data = bytearray(encode(rgb(), "PNG"))
    data[20:40] = b"\x00" * 20  # damage the IHDR
    with pytest.raises(BadImageError):
        decode_fitted(bytes(data), 16)


def test_draft_mode_decode_matches_full_decode():
    big = Image.fromarray(
        np.kron(
            np.random.default_rng(1).integers(0, 256, (12, 16, 3)), np.ones((100, 100, 1))
        ).astype(np.uint8)
    )  # 1600x1200 blocks
    data = encode(big, "JPEG", quality=92)
    fast = decode_fitted(data, 64).astype(int)
    full = np.asarray(fit_image(Image.open(io.BytesIO(data)).convert("RGB"), 64)).astype(int)
    assert np.abs(fast - full).mean() < 4


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_fit_keeps_aspect(fit):
    im = Image.new("RGB", (200, 100), (200, 10, 10))
    out = np.asarray(fit_image(im, 50, fit))
    assert out.shape == (50, 50, 3)
    if fit == "crop":
        assert (out[..., 0] > 150).all()
    else:  # 50x25 picture centred on black bars
        assert out[:10, :, 0].max() == 0 and out[20:30, :, 0].min() > 150


def test_unknown_fit():
    with pytest.raises(ValueError):
        fit_image(Image.new("RGB", (8, 8)), 4, "stretch")


def test_jpeg_with_garbage_body_is_rejected_everywhere():
    """libjpeg only warns on corrupt entropy data and returns grey; the marker walk catches it,
    so neither the cache nor training ever sees such a file."""
    good = encode(rgb(200, 150), "JPEG")
    garbage = good[:700] + np.random.default_rng(0).bytes(len(good) - 700)
    assert jpeg_structure_problem(garbage) is not None
    with pytest.raises(BadImageError) as info:
        decode_fitted(garbage, 32)
    assert info.value.reason == "unreadable"
    assert decode_fitted(good, 32).shape == (32, 32, 3)
