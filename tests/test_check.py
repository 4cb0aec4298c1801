"""`wikiart.data.check`: bad files, duplicates (exact, near, leaking across splits), style gaps."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import requires_shared
from wikiart.data.check import (
    CheckReport,
    check_dataset,
    hamming,
    near_duplicate_pairs,
    phash,
)
from wikiart.data.dataset import open_dataset
from wikiart.data.images import jpeg_structure_problem, open_image
from wikiart.errors import BadImageError, WikiartError

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikiart-sample"
BAD_NAME = b"bad\xff.jpg"  # not valid UTF-8


# -- building images and datasets -------------------------------------------------------------
def picture(seed: int, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """A smooth random RGB picture: structured enough for a perceptual hash, distinct per seed."""
    rng = np.random.default_rng(seed)
    noise = (rng.random((6, 7, 3)) * 255).astype(np.uint8)
    return Image.fromarray(noise).resize(size, Image.Resampling.BICUBIC)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def write(path: Path | bytes, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header declares ``width x height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_good_files(root: Path) -> dict[str, str]:
    """Good images of every awkward mode, in train/ and test/ with the same styles.
    Returns {file name: split} of what was written."""
    tr, te = root / "train", root / "test"
    gray16 = np.asarray(picture(6).convert("L"), dtype=np.uint16) * 257
    palette = picture(3).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    rgba = picture(4).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    files = {
        tr / "Baroque" / "rgb.jpg": encode(picture(1), "JPEG", quality=90),
        tr / "Baroque" / "gray.png": encode(picture(2).convert("L"), "PNG"),
        tr / "Baroque" / "palette.png": encode(palette, "PNG", transparency=0),
        tr / "Cubism" / "rgba.png": encode(rgba, "PNG"),
        tr / "Cubism" / "cmyk.jpg": encode(picture(5).convert("CMYK"), "JPEG"),
        tr / "Cubism" / "gray16.png": encode(Image.fromarray(gray16), "PNG"),
        tr / "Baroque" / "café_été.jpg": encode(picture(7), "JPEG"),
        te / "Baroque" / "test_rgb.jpg": encode(picture(20), "JPEG"),
        te / "Cubism" / "test_gray.png": encode(picture(22).convert("L"), "PNG"),
    }
    assert Image.open(io.BytesIO(files[tr / "Cubism" / "gray16.png"])).mode == "I;16"
    for path, data in files.items():
        write(path, data)
    write(os.fsencode(tr / "Cubism") + b"/" + BAD_NAME, encode(picture(8), "JPEG"))
    write(tr / "Baroque" / ".DS_Store", b"\x00\x00\x00\x01Bud1 not an image")
    names = {p.name: p.parent.parent.name for p in files}
    names[os.fsdecode(BAD_NAME)] = "train"
    return names


BAD = {  # name -> reason
    "empty.jpg": "empty",
    "text.jpg": "not_an_image",
    "truncated.jpg": "truncated",
    "truncated_progressive.jpg": "truncated",
    "random.jpg": "not_an_image",
    "corrupt.jpg": "unreadable",
    "bomb.png": "too_large",
    "trunc\\xfe.jpg": "truncated",  # a non-UTF-8 name, as `display` prints it
}


def write_messy_dataset(root: Path) -> dict[str, str]:
    """The good files plus every kind of problem; returns the good file names."""
    good = write_good_files(root)
    tr, te = root / "train", root / "test"
    jpeg = encode(picture(30, (160, 120)), "JPEG", quality=90)
    progressive = encode(picture(31, (160, 120)), "JPEG", quality=90, progressive=True)
    write(tr / "Baroque" / "empty.jpg", b"")
    write(tr / "Cubism" / "text.jpg", b"just some notes, not a picture\n")
    write(tr / "Baroque" / "truncated.jpg", jpeg[: len(jpeg) // 2])
    write(te / "Cubism" / "truncated_progressive.jpg", progressive[: len(progressive) // 2])
    write(te / "Cubism" / "random.jpg", np.random.default_rng(0).bytes(3000))
    write(tr / "Cubism" / "corrupt.jpg", jpeg[:700] + np.random.default_rng(1).bytes(2000))
    write(tr / "Cubism" / "bomb.png", png_bomb())
    write(os.fsencode(tr / "Baroque") + b"/trunc\xfe.jpg", jpeg[:-100])

    # Exact duplicate within train, filed under two styles: a warning.
    dup = encode(picture(10), "JPEG")
    write(tr / "Baroque" / "dup_a.jpg", dup)
    write(tr / "Cubism" / "dup_b.jpg", dup)
    # Exact duplicate across train and test: a leak, an error.
    leak = encode(picture(12), "PNG")
    write(tr / "Cubism" / "leak.png", leak)
    write(te / "Cubism" / "leak_copy.png", leak)
    # Near duplicate across splits (resized, re-saved as JPEG): a leak.
    src = picture(13, (120, 100))
    write(tr / "Baroque" / "near_src.png", encode(src, "PNG"))
    near = src.resize((108, 90), Image.Resampling.LANCZOS)
    write(te / "Baroque" / "near_copy.jpg", encode(near, "JPEG", quality=70))
    # Near duplicate within train (another JPEG quality): a warning.
    q = picture(14)
    write(tr / "Baroque" / "quality95.jpg", encode(q, "JPEG", quality=95))
    write(tr / "Baroque" / "quality60.jpg", encode(q, "JPEG", quality=60))
    # A style only in test (error), one only in train (warning).
    write(te / "Rococo" / "only_test.jpg", encode(picture(21), "JPEG"))
    write(tr / "Fauvism" / "only_train.jpg", encode(picture(23), "JPEG"))
    # Layout oddities: a file outside any style folder, a style folder with no images.
    write(te / "notes.txt", b"stray")
    write(tr / "Empty_Style" / ".DS_Store", b"junk")
    for name in (
        "dup_a.jpg",
        "dup_b.jpg",
        "leak.png",
        "near_src.png",
        "quality95.jpg",
        "quality60.jpg",
        "only_train.jpg",
    ):
        good[name] = "train"
    for name in ("leak_copy.png", "near_copy.jpg", "only_test.jpg"):
        good[name] = "test"
    return good


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> tuple[Path, dict[str, str], CheckReport]:
    root = tmp_path_factory.mktemp("messy")
    good = write_messy_dataset(root)
    report = check_dataset(open_dataset(root), workers=1)
    return root, good, report


def names(items: list[dict]) -> list[str]:
    return [os.path.basename(i["path"]) for i in items]


# -- the messy dataset ------------------------------------------------------------------------
def test_every_bad_file_is_named_with_its_reason(messy) -> None:
    _, good, report = messy
    found = {os.path.basename(b["path"]): b["reason"] for b in report.to_dict()["bad_files"]}
    assert found == BAD
    assert not set(found) & set(good)
    text = report.format_text()
    for name, reason in BAD.items():
        assert any(
            name in line and reason in line and "ERROR" in line for line in text.splitlines()
        )


def test_duplicates_leaks_and_severities(messy) -> None:
    _, _, report = messy
    d = report.to_dict()
    exact = {tuple(names(g["items"])): g for g in d["exact_duplicates"]}
    assert set(exact) == {("leak.png", "leak_copy.png"), ("dup_a.jpg", "dup_b.jpg")}
    assert exact["leak.png", "leak_copy.png"]["leak"] is True
    within = exact["dup_a.jpg", "dup_b.jpg"]
    assert within["leak"] is False and within["different_styles"] is True
    assert {i["style"] for i in within["items"]} == {"Baroque", "Cubism"}

    near = {tuple(sorted(names(p["items"]))): p for p in d["near_duplicates"]}
    assert set(near) == {("near_copy.jpg", "near_src.png"), ("quality60.jpg", "quality95.jpg")}
    assert near["near_copy.jpg", "near_src.png"]["leak"] is True
    assert near["quality60.jpg", "quality95.jpg"]["leak"] is False
    assert all(0 <= p["distance"] <= 4 for p in d["near_duplicates"])

    text = report.format_text()
    assert "leak across train and test" in text
    assert "filed under different styles (Baroque, Cubism)" in text


def test_styles_layout_counts_and_exit_code(messy) -> None:
    _, good, report = messy
    d = report.to_dict()
    assert d["unknown_styles"] == {"test": ["Rococo"]}
    assert d["missing_styles"] == {"test": ["Fauvism"]}
    assert names(d["stray_files"]) == ["notes.txt"]
    assert d["empty_styles"] == {"train": ["Empty_Style"]}
    n_train = sum(1 for s in good.values() if s == "train") + 6  # bad files in train
    n_test = sum(1 for s in good.values() if s == "test") + 2
    assert d["splits"]["train"]["files"] == n_train
    assert d["splits"]["test"] == {"files": n_test, "styles": 3}
    # errors: 8 bad files, 1 exact leak, 1 near leak, 1 unknown style
    assert report.errors == d["errors"] == 11
    # warnings: 1 exact and 1 near duplicate within train, 1 missing style, 1 stray, 1 empty
    assert report.warnings == d["warnings"] == 5
    assert report.exit_code == 1
    assert "FAILED: 11 errors, 5 warnings" in report.format_text()


def test_report_is_json_ready_with_a_non_utf8_name(messy) -> None:
    _, _, report = messy
    d = report.to_dict()
    text = json.dumps(d, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogates left
    assert json.loads(text) == d
    assert any(b["path"].endswith("trunc\\xfe.jpg") for b in d["bad_files"])
    assert set(d) >= {
        "root",
        "splits",
        "bad_files",
        "exact_duplicates",
        "near_duplicates",
        "missing_styles",
        "unknown_styles",
        "stray_files",
        "empty_styles",
        "errors",
        "warnings",
    }
    assert all(
        set(i) == {"split", "style", "path"} for g in d["exact_duplicates"] for i in g["items"]
    )
    report.format_text().encode("utf-8")


def test_worker_processes_agree_with_in_process(messy) -> None:
    root, _, report = messy
    pooled = check_dataset(open_dataset(root), workers=2, chunk_size=3)
    assert pooled.to_dict() == report.to_dict()


# -- the clean dataset and limits -------------------------------------------------------------
def test_clean_dataset_of_awkward_modes_passes(tmp_path: Path) -> None:
    good = write_good_files(tmp_path)
    ds = open_dataset(tmp_path)
    assert os.fsdecode(BAD_NAME) in {os.path.basename(r.path) for r in ds.splits["train"]}
    report = check_dataset(ds)
    assert report.bad_files == []
    assert report.errors == 0 and report.warnings == 0 and report.exit_code == 0
    assert sum(s["files"] for s in report.to_dict()["splits"].values()) == len(good)
    assert "OK: 0 errors, 0 warnings" in report.format_text()


def test_the_text_report_lists_the_first_duplicates_leaks_first_and_json_all(tmp_path):
    from wikiart.data.check_report import TEXT_LIST_MAX

    n = TEXT_LIST_MAX + 3
    for k in range(n):  # n byte-identical pairs; the last one leaks into test
        pic = picture(seed=1000 + k)
        split = "test" if k == n - 1 else "train"
        for folder in (tmp_path / "train" / "A", tmp_path / split / "B"):
            folder.mkdir(parents=True, exist_ok=True)
            pic.save(folder / f"copy{k}.png")
    report = check_dataset(open_dataset(tmp_path), workers=1)
    assert len(report.exact_duplicates) == n and report.to_dict()["exact_duplicates"][0]["leak"]
    text = report.format_text()
    assert text.count("identical files") == TEXT_LIST_MAX
    assert "ERROR leak across" in text.split("identical files")[0]  # the leak comes first
    assert "... and 3 more groups (--json lists them all)" in text
    assert len(report.to_dict()["exact_duplicates"]) == n


def test_max_pixels_rejects_images_declaring_too_many_pixels(tmp_path: Path) -> None:
    write_good_files(tmp_path)
    report = check_dataset(open_dataset(tmp_path), max_pixels=50 * 50)
    assert {b.reason for b in report.bad_files} == {"too_large"}
    assert len(report.bad_files) == sum(len(v) for v in open_dataset(tmp_path).splits.values())


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    write_good_files(tmp_path)
    with pytest.raises(WikiartError):
        check_dataset(open_dataset(tmp_path), near_threshold=64)
    with pytest.raises(WikiartError):
        check_dataset(open_dataset(tmp_path), workers=0)


def test_draft_decoding_still_detects_truncation() -> None:
    for progressive in (False, True):
        data = encode(picture(40, (400, 300)), "JPEG", quality=90, progressive=progressive)
        for cut in (len(data) // 2, len(data) - 2):
            with pytest.raises(BadImageError) as info:
                open_image(data[:cut], target=64)
            assert info.value.reason == "truncated"


def test_jpeg_structure_check_passes_every_valid_variant_and_catches_garbage() -> None:
    im = picture(41, (300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    variants = [
        {},
        {"progressive": True},
        {"optimize": True, "quality": 100, "subsampling": 0},
        {"restart_marker_blocks": 3},
        {"progressive": True, "restart_marker_rows": 1},
        {"exif": exif.tobytes(), "icc_profile": b"p" * 70_000, "comment": b"hi"},
    ]
    for kw in variants:
        data = encode(im, "JPEG", **kw)
        assert jpeg_structure_problem(data) is None, kw
        assert jpeg_structure_problem(data + b"\0" * 64 + b"trailing junk") is None
    for mode in ("L", "CMYK"):
        assert jpeg_structure_problem(encode(im.convert(mode), "JPEG")) is None
    data = encode(im, "JPEG")
    garbage = data[:700] + np.random.default_rng(2).bytes(len(data))
    assert jpeg_structure_problem(garbage) is not None


def test_progress_bar(tmp_path: Path, capsys) -> None:
    write_good_files(tmp_path)
    check_dataset(open_dataset(tmp_path), progress=True)
    assert "checking images" in capsys.readouterr().err


# -- hashes and the pair search ---------------------------------------------------------------
def test_phash_is_stable_under_small_changes_and_differs_between_pictures() -> None:
    for seed in range(5):
        im = picture(seed, (200, 160))
        h = phash(im)
        assert phash(im.copy()) == h == phash(Image.open(io.BytesIO(encode(im, "PNG"))))
        # bit 63 (the first, most significant) is the DC term, far above the median; of the 63
        # others exactly 31 lie strictly above their median
        assert h >> 63 == 1 and (h & (2**63 - 1)).bit_count() == 31
        assert hamming(h, phash(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))) > 10
        assert hamming(h, phash(im.resize((180, 144), Image.Resampling.LANCZOS))) <= 4
        resaved = Image.open(io.BytesIO(encode(im, "JPEG", quality=60)))
        assert hamming(h, phash(resaved)) <= 4
        assert hamming(h, phash(picture(seed + 100, (200, 160)))) > 10


def test_hamming() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(2**64 - 1, 0) == 64


def brute_force(hashes: list[int], threshold: int) -> list[tuple[int, int, int]]:
    return [
        (i, j, hamming(hashes[i], hashes[j]))
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if hamming(hashes[i], hashes[j]) <= threshold
    ]


@pytest.mark.parametrize("threshold", [0, 1, 4, 8, 12])
def test_near_duplicate_pairs_agrees_with_brute_force(threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    base = [int(x) for x in rng.integers(0, 2**63, size=150, dtype=np.int64)]
    base = [b | (int(rng.integers(0, 2)) << 63) for b in base]  # use the top bit too
    hashes = list(base)
    for _ in range(250):  # variants with a few bits flipped, and exact repeats
        h = base[int(rng.integers(0, len(base)))]
        for bit in rng.choice(64, size=int(rng.integers(0, 10)), replace=False):
            h ^= 1 << int(bit)
        hashes.append(h)
    rng.shuffle(hashes)
    assert near_duplicate_pairs(hashes, threshold) == brute_force(hashes, threshold)


def test_near_duplicate_pairs_edge_cases() -> None:
    assert near_duplicate_pairs([], 4) == []
    assert near_duplicate_pairs([5], 4) == []
    assert near_duplicate_pairs([7, 7, 7], 0) == [(0, 1, 0), (0, 2, 0), (1, 2, 0)]
    with pytest.raises(ValueError):
        near_duplicate_pairs([1, 2], 64)


def test_near_duplicate_pairs_scales_to_many_hashes() -> None:
    rng = np.random.default_rng(0)
    hashes = [int(x) for x in rng.integers(0, 2**63, size=80_000, dtype=np.int64)]
    hashes[-1] = hashes[0] ^ 0b101
    t0 = time.perf_counter()
    pairs = near_duplicate_pairs(hashes, 4)
    assert time.perf_counter() - t0 < 10
    assert (0, len(hashes) - 1, 2) in pairs


# -- the real sample --------------------------------------------------------------------------
@pytest.mark.shared_data
def test_real_sample() -> None:
    requires_shared(SAMPLE)
    report = check_dataset(open_dataset(SAMPLE))
    assert report.bad_files == []
    assert report.errors == 0 and report.exit_code == 0
    # joan-miro_the-waggon-tracks.jpg is filed under Cubism and Naive_Art_Primitivism in train
    # (re-encoded copies: a near duplicate at distance 0), a warning, not a leak.
    miro = [
        p
        for p in report.near_duplicates
        if p.a.ref.name == p.b.ref.name == "joan-miro_the-waggon-tracks.jpg"
    ]
    assert len(miro) == 1
    assert not miro[0].leak and miro[0].a.split == "train"
    assert miro[0].styles == ["Cubism", "Naive_Art_Primitivism"]
    # A byte-identical copy filed under two styles within test.
    assert [[i.ref.name for i in g.items] for g in report.exact_duplicates] == [
        ["richard-tuttle_20-pearls-14-2003.jpg"] * 2
    ]
    assert not report.exact_duplicates[0].leak
    assert all(not p.leak for p in report.near_duplicates)
