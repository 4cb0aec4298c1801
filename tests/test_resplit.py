"""Honest splits: artists from file names and parquet columns, `wikiart data split` (stratified,
and artist-disjoint), the manifest it writes, a training run's own test split reused by
`evaluate`, and the artist-overlap check, on synthetic data with known artists."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import requires, write_image
from wikiart.cli import main
from wikiart.data.artists import artist_from_name, artists_of
from wikiart.data.dataset import open_dataset
from wikiart.data.refs import ImageRef
from wikiart.data.resplit import split_refs, write_split
from wikiart.errors import WikiartError

STYLES = ("Baroque", "Cubism", "Ukiyo_e")


def painters_root(tmp: Path, *, artists: int = 24, per_artist: int = 4, test: bool = False):
    """``train/`` (and optionally ``test/``) of WikiArt-named files: ``artistNN_title-K.png``;
    artist k paints mostly style k % 3 and, for every fourth artist, one picture of the next
    style; plus 6 files without an artist in their name."""
    root = tmp / "painters"
    seed = 0
    for a in range(artists):
        for k in range(per_artist):
            style = STYLES[(a + (k == 0 and a % 4 == 0)) % 3]
            split = "test" if test and k == per_artist - 1 else "train"
            seed += 1
            write_image(root / split / style / f"artist{a:02d}_title-{k}.png", seed=seed, fmt="PNG")
    for i in range(6):
        write_image(root / "train" / STYLES[i % 3] / f"untitled{i}.png", seed=900 + i, fmt="PNG")
    return root


def _refs(root: Path) -> list[ImageRef]:
    ds = open_dataset(root)
    return [r for refs in ds.splits.values() for r in refs]


def test_artist_is_the_file_name_before_the_first_underscore():
    assert artist_from_name("claude-monet_water-lilies-6.jpg") == "claude-monet"
    assert artist_from_name("/x/Impressionism/claude-monet_a_b.jpg") == "claude-monet"
    assert artist_from_name("untitled.jpg") is None
    assert artist_from_name("_nameless.jpg") is None
    assert artist_from_name("unknown-artist_portrait.jpg") is None


def test_an_artist_split_shares_no_artist_and_keeps_style_shares(tmp_path):
    refs = _refs(painters_root(tmp_path))
    res = split_refs(refs, test_fraction=0.25, val_fraction=0.25, by="artist", seed=3)
    artist = dict(zip((r.key for r in refs), artists_of(refs), strict=True))
    seen: dict[str, str] = {}
    for name, split in res.splits.items():
        for r in split:
            a = artist[r.key]
            if a is not None:
                assert seen.setdefault(a, name) == name, f"{a} in {seen[a]} and {name}"
    assert sum(len(v) for v in res.splits.values()) == len(refs)
    assert len({r.key for v in res.splits.values() for r in v}) == len(refs)
    rep = res.report
    assert rep["artists"]["test"]["images_by_train_artists"] == 0
    assert rep["artists"]["valid"]["images_by_train_artists"] == 0
    assert rep["splits"]["test"]["share"] == pytest.approx(0.25, abs=0.08)
    for name in ("train", "valid", "test"):
        assert rep["splits"][name]["max_abs_drift"] <= 0.15, rep["splits"][name]
        assert set(Counter(r.style for r in res.splits[name])) == set(STYLES)
    # the images without an artist are their own groups, not one block
    unknown = {name for name, v in res.splits.items() for r in v if artist[r.key] is None}
    assert len(unknown) >= 2


def test_splits_are_deterministic_for_a_seed(tmp_path):
    refs = _refs(painters_root(tmp_path))
    for by in ("image", "artist"):
        a = split_refs(refs, test_fraction=0.25, by=by, seed=7).splits["test"]
        b = split_refs(list(reversed(refs)), test_fraction=0.25, by=by, seed=7).splits["test"]
        c = split_refs(refs, test_fraction=0.25, by=by, seed=8).splits["test"]
        assert {r.key for r in a} == {r.key for r in b}
        assert {r.key for r in a} != {r.key for r in c}


def test_an_image_split_is_stratified_by_style(tmp_path):
    refs = _refs(painters_root(tmp_path))
    res = split_refs(refs, test_fraction=0.25, by="image", seed=0)
    total, test = Counter(r.style for r in refs), Counter(r.style for r in res.splits["test"])
    for style, n in total.items():
        assert abs(test[style] - 0.25 * n) <= 1
    assert res.report["artists"]["test"]["images_by_train_artists"] > 0  # artists do leak


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"test_fraction": 0.0}, "between 0 and 1"),
        ({"test_fraction": 0.6, "val_fraction": 0.5}, "less than 1"),
        ({"test_fraction": 0.2, "by": "genre"}, "split by must be one of"),
    ],
)
def test_bad_fractions_are_refused(tmp_path, kw, message):
    refs = _refs(painters_root(tmp_path, artists=6))
    with pytest.raises(WikiartError, match=message):
        split_refs(refs, **kw)


def test_data_split_writes_links_and_a_manifest_the_tool_reads(tmp_path, capsys):
    root = painters_root(tmp_path, test=True)
    out = tmp_path / "resplit"
    argv = ["data", "split", str(root), "--out", str(out), "--test-fraction", "0.25"]
    assert main([*argv, "--by", "artist", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "0 by artists also in train" in printed and "links" in printed
    ds = open_dataset(out)
    assert ds.kind == "manifest" and set(ds.splits) == {"train", "test"}
    assert ds.cache_source == root  # the original files key the caches
    links = sorted((out / "test").rglob("*.png"))
    assert len(links) == len(ds.splits["test"])
    assert all(p.is_symlink() and p.resolve().is_relative_to(root) for p in links)
    report = json.loads((out / "split.json").read_text())
    assert report["by"] == "artist" and report["layout"] == "links"
    assert report["artists"]["test"]["images_by_train_artists"] == 0
    assert main([*argv]) == 2  # out is not empty: nothing overwritten
    assert "not empty" in capsys.readouterr().err
    # data check on the re-split: zero overlap, said in the report
    assert main(["data", "check", str(out), "--json", "--workers", "1"]) == 0
    check = json.loads(capsys.readouterr().out)
    assert check["artists"]["test"]["images_by_train_artists"] == 0


def test_data_check_reports_artist_overlap(tmp_path, capsys):
    root = painters_root(tmp_path, test=True)
    assert main(["data", "check", str(root), "--workers", "1"]) == 0
    text = capsys.readouterr().out
    # every test file is by an artist with other paintings in train
    assert "test: 24 of 24 files (100.0%) by artists also in train (24 artists shared)" in text


def _hf_train_only(folder: Path, rows: int = 30, artists: list[str] | None = None) -> Path:
    """A `huggan/wikiart`-style shard folder with only a train split: 3 styles, and row i by
    ``artists[i % len(artists)]`` (ten painters by default)."""
    artists = artists or [f"painter-{a}" for a in range(10)]
    pa = requires("pyarrow", "parquet")
    pq = requires("pyarrow.parquet", "parquet")
    images = []
    for i in range(rows):
        p = folder.parent / "src" / f"{i}.png"
        write_image(p, seed=i, mode="L" if i % 3 == 0 else "RGB", fmt="PNG")
        images.append({"bytes": p.read_bytes(), "path": f"{i}.png"})
    features = {
        "image": {"_type": "Image"},
        "artist": {"names": artists, "_type": "ClassLabel"},
        "style": {"names": list(STYLES), "_type": "ClassLabel"},
    }
    table = pa.table(
        {
            "image": pa.array(
                images, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            ),
            "artist": pa.array([i % len(artists) for i in range(rows)], pa.int64()),
            "style": pa.array([i % 3 for i in range(rows)], pa.int64()),
        }
    ).replace_schema_metadata(
        {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    )
    (folder / "data").mkdir(parents=True)
    pq.write_table(table, folder / "data" / "train-00000-of-00001.parquet", row_group_size=8)
    return folder


def test_parquet_artist_column_names_the_artists(tmp_path):
    _hf_train_only(tmp_path / "hf", rows=12, artists=["Unknown Artist", "monet", "hokusai"])
    refs = open_dataset(tmp_path / "hf").split("train")
    assert artists_of(refs) == [None, "monet", "hokusai"] * 4  # "Unknown Artist" is no artist
    out = tmp_path / "hf-split"
    assert main(["data", "split", str(tmp_path / "hf"), "--out", str(out), "--test-fraction",
                 "0.5", "--by", "image"]) == 0  # fmt: skip
    assert not (out / "train").exists()  # parquet rows: a manifest, no links
    again = open_dataset(out)
    assert sum(len(v) for v in again.splits.values()) == 12
    assert all(r.row >= 0 for v in again.splits.values() for r in v)


def _train(root: Path, run: Path, *extra: str) -> int:
    return main([
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(run),
        "--arch", "baseline-cnn", "--image-size", "32", "--batch-size", "8", "--epochs", "1",
        "--workers", "0", "--seed", "0", *extra,
    ])  # fmt: skip


def test_a_train_only_source_carves_its_test_split_and_evaluate_reuses_it(tmp_path, capsys):
    root = painters_root(tmp_path)  # train/ only
    run = tmp_path / "run"
    assert _train(root, run, "--test-fraction", "0.25", "--split-by", "artist") == 0
    assert "metrics.json" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    rows = (run / "test_split.csv").read_text().splitlines()[1:]
    assert metrics["n"] == len(rows) > 0
    tested = {r.split(",")[2] for r in rows}
    assert all(os.path.isfile(p) for p in tested)
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(run / "model.pt"), "--data", str(root),
                 "--out", str(out), "--no-tta"]) == 0  # fmt: skip
    again = json.loads((out / "metrics.json").read_text())
    assert again["n"] == metrics["n"]
    # the run's own evaluation used test-time mirroring; the counts per style are the same
    supports = lambda m: {s: v["support"] for s, v in m["per_class"].items()}  # noqa: E731
    assert supports(again) == supports(metrics)
    # no artist of the carved test split painted a training picture
    train_artists = {artist_from_name(r.name) for r in open_dataset(root).split("train")
                     if os.path.abspath(r.path) not in tested} - {None}  # fmt: skip
    assert not {artist_from_name(p) for p in tested} & train_artists


def test_a_dry_run_checks_the_split_the_run_will_use_and_writes_nothing(tmp_path, capsys):
    root = painters_root(tmp_path)  # train/ only
    run = tmp_path / "run"
    carve = ("--test-fraction", "0.25", "--split-by", "artist")
    assert _train(root, run, *carve, "--dry-run") == 0
    dry = re.search(r"train (\d+), test (\d+) images", capsys.readouterr().out)
    assert dry and not run.exists()
    assert _train(root, run, *carve) == 0
    capsys.readouterr()
    saved = (run / "test_split.csv").read_bytes()
    assert int(dry[2]) == json.loads((run / "metrics.json").read_text())["n"]
    # a resumed run's settings are compared with its config.json in a dry run too
    assert _train(root, run, *carve, "--resume", "--epochs", "2", "--dry-run") == 2
    assert "--resume continues the run" in capsys.readouterr().err
    assert _train(root, run, *carve, "--overwrite", "--seed", "1", "--dry-run") == 0
    assert (run / "test_split.csv").read_bytes() == saved and (run / "model.pt").exists()


def test_a_run_without_a_test_split_says_so(tmp_path, capsys):
    root = painters_root(tmp_path)
    run = tmp_path / "run"
    assert _train(root, run) == 0
    out = capsys.readouterr().out
    assert "no test split" in out and "metrics.json" not in out
    assert not (run / "metrics.json").exists()
    assert "no test split" in (run / "report.md").read_text()
    assert main(["evaluate", "--checkpoint", str(run / "model.pt"), "--data", str(root),
                 "--out", str(tmp_path / "e")]) == 2  # fmt: skip
    assert "--test-fraction" in capsys.readouterr().err


def test_test_fraction_on_data_with_a_test_split_is_refused(tmp_path, capsys):
    root = painters_root(tmp_path, test=True)
    assert _train(root, tmp_path / "run", "--test-fraction", "0.2") == 2
    assert "has a test split already" in capsys.readouterr().err


def test_manifest_pointing_at_a_removed_file_is_a_clear_error(tmp_path):
    root = painters_root(tmp_path, artists=6)
    refs = _refs(root)
    out = write_split(split_refs(refs, test_fraction=0.3, seed=0), tmp_path / "m", links=False)
    Path(refs[0].path).unlink()
    with pytest.raises(WikiartError, match="no longer exists"):
        open_dataset(out)


def test_a_train_only_parquet_download_trains_and_evaluates_with_one_flag(tmp_path, capsys):
    hf = _hf_train_only(tmp_path / "hf")
    run = tmp_path / "run"
    assert _train(hf, run, "--test-fraction", "0.3", "--split-by", "artist") == 0
    metrics = json.loads((run / "metrics.json").read_text())
    saved = open_dataset(hf)  # the shard's rows, to compare the carved list against
    rows = (run / "test_split.csv").read_text().splitlines()[1:]
    assert metrics["n"] == len(rows) and all(",-1," not in r for r in rows)  # parquet rows
    carved_artists = {r.rsplit(",", 1)[1] for r in rows}
    assert carved_artists and all(a.startswith("painter-") for a in carved_artists)
    assert len(saved.split("train")) == 30
    out = tmp_path / "eval"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run / "model.pt"), "--data", str(hf),
                 "--out", str(out)]) == 0  # fmt: skip
    again = json.loads((out / "metrics.json").read_text())
    assert again["n"] == metrics["n"]
    assert again["macro_f1"] == pytest.approx(metrics["macro_f1"])  # the same paintings


def test_a_resumed_run_finds_its_test_split_whatever_path_names_the_data(tmp_path, monkeypatch):
    """The run's test_split.csv names files absolutely; a resume given a relative --data
    still takes exactly those paintings out of train."""
    from wikiart.config import DataConfig
    from wikiart.data.resplit import carve_test

    root = painters_root(tmp_path)
    cfg = DataConfig(test_fraction=0.25, split_by="artist")
    run = tmp_path / "run"
    run.mkdir()
    first = carve_test(open_dataset(root), cfg, run, seed=0)
    monkeypatch.chdir(tmp_path)
    again = carve_test(open_dataset(Path("painters")), cfg, run, seed=5)  # read back, not redrawn
    paths = lambda refs: sorted(os.path.abspath(r.path) for r in refs)  # noqa: E731
    assert paths(again.splits["test"]) == paths(first.splits["test"])
    assert paths(again.splits["train"]) == paths(first.splits["train"])
