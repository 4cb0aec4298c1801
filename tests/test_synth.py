"""The built-in procedural dataset: layout, long tail, determinism, safety, and that the style is
in the structure of an image rather than in its colours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from wikiart.data import synth
from wikiart.data.scan import scan_split
from wikiart.data.synth import MARKER, STYLES, TAIL_ORDER, generate, render, train_counts
from wikiart.errors import WikiartError

SMALL = {"image_size": 48, "train_max": 20, "test_per_style": 4}


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except the marker, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MARKER
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    out = tmp_path_factory.mktemp("synth") / "data"
    return out, generate(out, seed=0, workers=1, **SMALL)


def test_styles() -> None:
    assert len(STYLES) >= 8
    assert list(STYLES) == sorted(STYLES)
    assert sorted(TAIL_ORDER) == list(STYLES)
    assert all(" " not in s and "-" not in s for s in STYLES)  # WikiArt folder names


def test_train_counts_long_tail() -> None:
    counts = train_counts(len(STYLES), 300, 12.0)  # generate()'s defaults
    assert counts[0] == 300
    assert counts == sorted(counts, reverse=True)
    assert len(set(counts)) == len(counts)  # strictly decreasing at the default sizes
    assert counts[0] / counts[-1] >= 10
    small = train_counts(len(STYLES), SMALL["train_max"], 12.0)
    assert small == sorted(small, reverse=True) and small[0] / small[-1] >= 10
    assert train_counts(1, 7, 12.0) == [7]
    assert train_counts(4, 10, 1.0) == [10, 10, 10, 10]
    assert min(train_counts(8, 3, 100.0)) == 1


def test_layout_counts_and_images(small: tuple[Path, dict[str, dict[str, int]]]) -> None:
    out, counts = small
    assert set(counts) == {"train", "test"}
    assert list(counts["train"]) == list(STYLES) == list(counts["test"])
    # Long tail along the documented order; balanced test split.
    tail = [counts["train"][s] for s in TAIL_ORDER]
    assert tail == train_counts(len(STYLES), SMALL["train_max"], 12.0)
    assert set(counts["test"].values()) == {SMALL["test_per_style"]}
    # On disk exactly what was returned, and scanning sees no strays (the marker is hidden).
    for split in ("train", "test"):
        scan = scan_split(out / split)
        assert not scan.stray_files and not scan.empty_styles
        assert scan.styles == list(STYLES)
        found = {s: sum(r.style == s for r in scan.refs) for s in STYLES}
        assert found == counts[split]
        for ref in scan.refs:
            with Image.open(ref.path) as img:
                assert img.format == "PNG"
                assert img.mode == "RGB"
                assert img.size == (SMALL["image_size"],) * 2
    marker = json.loads((out / MARKER).read_text())
    assert marker["complete"] is True
    assert marker["counts"] == counts
    assert marker["seed"] == 0 and marker["image_size"] == SMALL["image_size"]


def test_deterministic_and_parallel_identical(
    small: tuple[Path, dict[str, dict[str, int]]], tmp_path: Path
) -> None:
    out, _ = small
    again = generate(tmp_path / "again", seed=0, workers=2, **SMALL)  # other scheduling
    first, second = _files(out), _files(tmp_path / "again")
    assert sum(sum(c.values()) for c in again.values()) == len(first)
    assert first == second  # byte-identical
    generate(tmp_path / "other", seed=1, workers=1, **SMALL)
    other = _files(tmp_path / "other")
    assert other.keys() == first.keys()
    assert all(other[k] != first[k] for k in first)


def test_each_image_depends_only_on_seed_split_style_index(
    small: tuple[Path, dict[str, dict[str, int]]], tmp_path: Path
) -> None:
    out, _ = small
    # A subset of styles, other counts: the shared images are still the same bytes.
    generate(tmp_path / "sub", seed=0, workers=1, styles=["Pop_Art", "Cubism"], **SMALL)
    sub = _files(tmp_path / "sub")
    full = _files(out)
    shared = sub.keys() & full.keys()  # counts differ: the tail is re-spread over two styles
    assert len(shared) >= 2 * SMALL["test_per_style"]
    assert all(full[k] == sub[k] for k in shared)
    assert {k.split("/")[1] for k in sub} == {"Cubism", "Pop_Art"}
    # And the image is exactly render() with rng seeded by [seed, split_id, style_id, index].
    style = "Ukiyo_e"
    rng = np.random.default_rng([0, synth.SPLIT_IDS["test"], STYLES.index(style), 3])
    expected = np.asarray(render(style, rng, SMALL["image_size"]))
    path = next((out / "test" / style).glob("*00003.png"))
    with Image.open(path) as img:
        assert np.array_equal(np.asarray(img), expected)


def test_train_and_test_differ(small: tuple[Path, dict[str, dict[str, int]]]) -> None:
    out, _ = small
    files = _files(out)
    train = {v for k, v in files.items() if k.startswith("train/")}
    test = {v for k, v in files.items() if k.startswith("test/")}
    assert len(train) + len(test) == len(files)  # all distinct, none shared across splits


def _features(n: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image mean RGB, a few crude texture statistics, and labels."""
    means, tex, labels = [], [], []
    for si, style in enumerate(STYLES):
        for i in range(n):
            a = np.asarray(render(style, np.random.default_rng([99, si, i]), size), np.float32)
            means.append(a.reshape(-1, 3).mean(0))
            g = a.mean(2)
            dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
            far = np.abs(g[:, 4:] - g[:, :-4])
            tex.append([dx.mean(), dy.mean(), (dx < 6).mean(), (dx > 30).mean(), far.mean()])
            labels.append(si)
    return np.array(means) / 255.0, np.array(tex), np.array(labels)


def test_mean_colour_does_not_separate_styles() -> None:
    means, tex, labels = _features(40, 32)
    chance = 1 / len(STYLES)
    colour_acc = cross_val_score(LogisticRegression(max_iter=5000), means, labels, cv=5).mean()
    assert colour_acc < 0.35, f"mean RGB alone predicts the style ({colour_acc:.2f})"
    brightness = means.mean(1, keepdims=True)
    bright_acc = cross_val_score(LogisticRegression(max_iter=5000), brightness, labels, cv=5)
    assert bright_acc.mean() < 0.3
    # Positive control: the same small sample is separable from texture alone.
    forest = RandomForestClassifier(100, random_state=0)
    tex_acc = cross_val_score(forest, tex, labels, cv=5).mean()
    assert tex_acc > max(0.6, colour_acc + 0.3), (tex_acc, colour_acc, chance)


def test_refuses_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(WikiartError, match="not empty"):
        generate(out, workers=1, **SMALL)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(WikiartError, match="not a folder"):
        generate(a_file, workers=1, **SMALL)
    bad_marker = tmp_path / "bad"
    bad_marker.mkdir()
    (bad_marker / MARKER).write_text('{"generator": "someone-else"}')
    with pytest.raises(WikiartError):
        generate(bad_marker, workers=1, **SMALL)


def test_empty_or_junk_only_folder_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    (out / ".DS_Store").write_bytes(b"\0")
    counts = generate(out, workers=1, styles=["Minimalism"], image_size=16, train_max=2)
    assert counts["train"] == {"Minimalism": 2}
    assert len(list((out / "train" / "Minimalism").iterdir())) == 2


def test_regenerates_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "data"
    generate(out, seed=0, workers=1, **SMALL)
    keep = out / "train" / "Cubism" / "my_own.jpg"
    keep.write_bytes(b"user file")
    counts = generate(
        out, seed=5, workers=1, styles=["Cubism", "Pointillism"], image_size=16, train_max=3
    )
    assert keep.read_bytes() == b"user file"  # never deletes what it did not write
    assert sorted(p.name for p in (out / "train").iterdir()) == ["Cubism", "Pointillism"]
    assert sorted(p.name for p in (out / "test").iterdir()) == ["Cubism", "Pointillism"]
    for split, per_style in counts.items():
        for style, n in per_style.items():
            pngs = list((out / split / style).glob("synth_*.png"))
            assert len(pngs) == n
            with Image.open(pngs[0]) as img:
                assert img.size == (16, 16)
    marker = json.loads((out / MARKER).read_text())
    assert marker["seed"] == 5 and marker["styles"] == ["Cubism", "Pointillism"]
    assert marker["complete"] is True


@pytest.mark.parametrize(
    "kwargs",
    [
        {"styles": ["Baroque"]},
        {"styles": []},
        {"image_size": 8},
        {"image_size": 64.0},
        {"imbalance": 0.5},
        {"imbalance": float("nan")},
        {"train_max": 0},
        {"test_per_style": -1},
        {"workers": 0},
        {"seed": -1},
    ],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict[str, object]) -> None:
    out = tmp_path / "never"
    with pytest.raises(WikiartError):
        generate(out, **{"workers": 1, **kwargs})  # type: ignore[arg-type]
    assert not out.exists()  # validated before anything is written


def test_render_checks_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(WikiartError, match="unknown"):
        render("Baroque", rng)
    with pytest.raises(WikiartError, match="image_size"):
        render("Cubism", rng, size=15)
    for style in STYLES:
        img = render(style, np.random.default_rng(1), size=16)
        assert img.mode == "RGB" and img.size == (16, 16)
    with pytest.raises(WikiartError):
        train_counts(0, 10, 2.0)
    with pytest.raises(WikiartError):
        train_counts(3, 10, 0.9)


def test_no_torch_import() -> None:
    code = "import sys, wikiart.data.synth; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
