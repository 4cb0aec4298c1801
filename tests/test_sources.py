"""ArtGAN split CSVs and parquet shards as dataset sources (everything built in tmp_path)."""

from __future__ import annotations

import io
import json
import logging
import os
import random
from pathlib import Path

import pytest
from PIL import Image

from conftest import requires, requires_shared
from wikiart.data import sources
from wikiart.data.dataset import open_dataset
from wikiart.data.sources import (
    artgan_splits,
    parquet_row_bytes,
    parquet_splits,
    read_artgan_csv,
    shard_split,
    style_names_from_metadata,
)
from wikiart.errors import BadImageError, WikiartError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _jpeg(path: Path, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 6), color).save(path, "JPEG")
    return path


def _jpeg_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4 + seed % 5, 4), (seed * 37 % 256, seed * 11 % 256, 99)).save(buf, "JPEG")
    return buf.getvalue()


def _csv(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\r\n" for line in lines))
    return path


# Rows of a small ArtGAN-like CSV, and the names their files have on disk (None: absent).
CSV_ROWS: list[tuple[bytes, str | None]] = [
    (b"Impressionism/monet_water-lilies.jpg,12", "Impressionism/monet_water-lilies.jpg"),
    (b"Impressionism/renoir_a,b-1880.jpg,12", "Impressionism/renoir_a,b-1880.jpg"),  # comma
    # non-ASCII in the CSV, `_` on disk (as in the sample)
    ("Realism/grégoire_café.jpg,21".encode(), "Realism/gr_goire_caf_.jpg"),
    # garbled ArtGAN-style name (UTF-8 decoded as latin-1, re-encoded): one `_` per character
    ("Naive_Art_Primitivism/grÃ©goire-michonze_birds.jpg,15".encode(),
     "Naive_Art_Primitivism/gr__goire-michonze_birds.jpg"),
    # invalid UTF-8 (a latin-1 byte): one `_` per undecodable byte
    (b"Realism/courbet_bad\xe9name.jpg,21", "Realism/courbet_bad_name.jpg"),
    (b"Baroque\\rubens_portrait.jpg,4", "Baroque/rubens_portrait.jpg"),  # backslash separator
    (b"Art_Nouveau_Modern/mucha_zodiac.jpg,3", "Art_Nouveau_Modern/mucha_zodiac.jpg"),
    (b"Baroque/rembrandt_missing.jpg,4", None),
]  # fmt: skip


def _image_root(root: Path, prefix: str = "") -> Path:
    for _, disk in CSV_ROWS:
        if disk is not None:
            _jpeg(root / prefix / disk)
    return root


def test_read_artgan_csv_resolves_rows(tmp_path: Path) -> None:
    root = _image_root(tmp_path / "images")
    (root / "Impressionism" / ".DS_Store").write_bytes(b"junk")
    csv = _csv(tmp_path / "style_train.csv", [line for line, _ in CSV_ROWS])
    refs, missing = read_artgan_csv(csv, root)

    expected = sorted(str(root / disk) for _, disk in CSV_ROWS if disk is not None)
    assert sorted(r.path for r in refs) == expected
    assert missing == ["Baroque/rembrandt_missing.jpg"]
    assert [(r.style, r.path) for r in refs] == sorted((r.style, r.path) for r in refs)
    # the style is the CSV folder (index 3 is "Art_Nouveau" in style_class.txt, not used)
    assert {r.style for r in refs} == {
        "Art_Nouveau_Modern",
        "Baroque",
        "Impressionism",
        "Naive_Art_Primitivism",
        "Realism",
    }
    for ref in refs:
        st = os.stat(ref.path)
        assert (ref.size, ref.mtime_ns, ref.row) == (st.st_size, st.st_mtime_ns, -1)
        assert ref.read_bytes()[:2] == b"\xff\xd8"


def test_exact_names_win_and_mojibake_is_repaired(tmp_path: Path) -> None:
    root = tmp_path / "images"
    exact = _jpeg(root / "Realism" / "grégoire_café.jpg")
    _jpeg(root / "Realism" / "gr_goire_caf_.jpg")
    proper = _jpeg(root / "Naive_Art_Primitivism" / "grégoire-michonze.jpg")  # properly named
    csv = _csv(
        tmp_path / "s.csv",
        [
            "Realism/grégoire_café.jpg,21".encode(),
            "Naive_Art_Primitivism/grÃ©goire-michonze.jpg,15".encode(),
        ],
    )
    refs, missing = read_artgan_csv(csv, root)
    assert missing == []
    assert sorted(r.path for r in refs) == sorted([str(exact), str(proper)])


def test_undecodable_file_name_on_disk_matches_exactly(tmp_path: Path) -> None:
    root = tmp_path / "images"
    (root / "Realism").mkdir(parents=True)
    name = os.fsencode(root / "Realism") + b"/courbet_bad\xe9name.jpg"
    try:
        with open(name, "wb") as fh:
            fh.write(b"x")
    except OSError:
        pytest.skip("file system does not accept non-UTF-8 names")
    csv = _csv(tmp_path / "s.csv", [b"Realism/courbet_bad\xe9name.jpg,21"])
    refs, missing = read_artgan_csv(csv, root)
    assert missing == []
    assert [os.fsencode(r.path) for r in refs] == [name]


def test_split_layout_root_and_positional_split_names(tmp_path: Path) -> None:
    root = tmp_path / "sample"
    _jpeg(root / "train" / "Baroque" / "a.jpg")
    _jpeg(root / "train" / "Cubism" / "b.jpg")
    _jpeg(root / "test" / "Baroque" / "c.jpg")
    _jpeg(root / "valid" / "Cubism" / "d.jpg")
    train = _csv(tmp_path / "style_train.csv", [b"Cubism/b.jpg,7", b"Baroque/a.jpg,4"])
    val = _csv(tmp_path / "style_val.csv", [b"Baroque/c.jpg,4", b"Baroque/gone.jpg,4"])
    extra = _csv(tmp_path / "extra.csv", [b"Cubism/d.jpg,7"])

    splits = artgan_splits([train, val], root)
    assert list(splits) == ["train", "test"]
    assert [r.path for r in splits["train"]] == [
        str(root / "train" / "Baroque" / "a.jpg"),
        str(root / "train" / "Cubism" / "b.jpg"),
    ]
    assert [r.path for r in splits["test"]] == [str(root / "test" / "Baroque" / "c.jpg")]

    splits = artgan_splits([str(train), str(val), str(extra)], root)
    assert list(splits) == ["train", "test", "valid"]
    assert [(r.style, Path(r.path).name) for r in splits["valid"]] == [("Cubism", "d.jpg")]


def test_file_directly_under_root_wins_over_split_copy(tmp_path: Path) -> None:
    root = tmp_path / "images"
    direct = _jpeg(root / "Baroque" / "a.jpg")
    _jpeg(root / "train" / "Baroque" / "a.jpg")
    refs, _ = read_artgan_csv(_csv(tmp_path / "s.csv", [b"Baroque/a.jpg,4"]), root)
    assert [r.path for r in refs] == [str(direct)]


def test_missing_rows_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _image_root(tmp_path / "images")
    train = _csv(tmp_path / "style_train.csv", [line for line, _ in CSV_ROWS])
    val = _csv(tmp_path / "style_val.csv", [b"Baroque/rubens_portrait.jpg,4"])
    with caplog.at_level(logging.WARNING, logger="wikiart.data.csv_source"):
        splits = artgan_splits([train, val], root)
    assert len(splits["train"]) == 7 and len(splits["test"]) == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "style_train.csv: 1 of 8 rows not found" in warnings[0]
    assert "Baroque/rembrandt_missing.jpg" in warnings[0]


def test_header_bom_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _jpeg(root / "Baroque" / "a.jpg")
    csv = tmp_path / "s.csv"
    csv.write_bytes(b"\xef\xbb\xbfpath,label\r\n\r\nBaroque/a.jpg,4\r\n\r\n")
    refs, missing = read_artgan_csv(csv, root)
    assert [r.style for r in refs] == ["Baroque"] and missing == []


def test_inconsistent_class_index_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _jpeg(root / "Baroque" / "a.jpg")
    _jpeg(root / "Baroque" / "b.jpg")
    bad = _csv(tmp_path / "bad.csv", [b"Baroque/a.jpg,4", b"Baroque/b.jpg,5"])
    with pytest.raises(WikiartError, match=r"'Baroque'.*4.*line 1.*5.*line 2"):
        read_artgan_csv(bad, root)
    # across the CSVs of one dataset too
    train = _csv(tmp_path / "train.csv", [b"Baroque/a.jpg,4"])
    val = _csv(tmp_path / "val.csv", [b"Baroque/b.jpg,9"])
    with pytest.raises(WikiartError, match=r"'Baroque'.*train\.csv.*val\.csv"):
        artgan_splits([train, val], root)


def test_csv_errors(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _jpeg(root / "Baroque" / "a.jpg")
    good = _csv(tmp_path / "good.csv", [b"Baroque/a.jpg,4"])
    with pytest.raises(WikiartError, match="not found"):
        artgan_splits([tmp_path / "nope.csv"], root)
    (tmp_path / "empty.csv").write_bytes(b"\r\n\r\n")
    with pytest.raises(WikiartError, match="empty"):
        artgan_splits([good, tmp_path / "empty.csv"], root)
    with pytest.raises(WikiartError, match="empty"):
        read_artgan_csv(tmp_path / "empty.csv", root)
    none = _csv(tmp_path / "none.csv", [b"Baroque/x.jpg,4", b"Baroque/y.jpg,4"])
    with pytest.raises(WikiartError, match=r"none of the 2 rows of .*none\.csv"):
        artgan_splits([good, none], root)
    with pytest.raises(WikiartError, match="at most 3"):
        artgan_splits([good, good, good, good], root)
    with pytest.raises(WikiartError, match="image folder not found"):
        artgan_splits([good], tmp_path / "nowhere")
    malformed = _csv(tmp_path / "m.csv", [b"Baroque/a.jpg,4", b"0 Abstract_Expressionism"])
    with pytest.raises(WikiartError, match="line 2"):
        read_artgan_csv(malformed, root)
    flat = _csv(tmp_path / "flat.csv", [b"a.jpg,4"])
    with pytest.raises(WikiartError, match="no style folder"):
        read_artgan_csv(flat, root)


def test_csv_relative_to_image_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "images"
    _jpeg(root / "Baroque" / "a.jpg")
    _csv(root / "style_train.csv", [b"Baroque/a.jpg,4"])
    monkeypatch.chdir(tmp_path)
    assert len(artgan_splits(["style_train.csv"], root)["train"]) == 1


def test_open_dataset_with_split_csv(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _jpeg(root / "Baroque" / "a.jpg")
    _jpeg(root / "Cubism" / "b.jpg")
    _jpeg(root / "Baroque" / "c.jpg")
    train = _csv(tmp_path / "style_train.csv", [b"Cubism/b.jpg,7", b"Baroque/a.jpg,4"])
    val = _csv(tmp_path / "style_val.csv", [b"Baroque/c.jpg,4"])
    ds = open_dataset(root, split_csv=[train, val])
    assert ds.kind == "artgan-csv"
    assert list(ds.class_map()) == ["Baroque", "Cubism"]
    assert ds.counts("test") == {"Baroque": 1}
    assert all(r.read_bytes()[:2] == b"\xff\xd8" for r in ds.split("train"))


@pytest.mark.shared_data
def test_real_artgan_csvs_match_the_sample(caplog: pytest.LogCaptureFixture) -> None:
    splits_dir, sample = SHARED / "artgan-splits", SHARED / "wikiart-sample"
    train_csv, val_csv = splits_dir / "style_train.csv", splits_dir / "style_val.csv"
    requires_shared(train_csv, val_csv, sample)
    with caplog.at_level(logging.WARNING, logger="wikiart.data.csv_source"):
        splits = artgan_splits([train_csv, val_csv], sample)
    counts = {name: len(refs) for name, refs in splits.items()}
    print(f"resolved: {counts}")
    for record in caplog.records:
        print(record.getMessage()[:160])
    assert counts == {"train": 3209, "test": 440}
    assert all(f"{os.sep}train{os.sep}" in r.path for r in splits["train"])
    assert all(f"{os.sep}test{os.sep}" in r.path for r in splits["test"])
    assert "style_train.csv: 53816 of 57025 rows not found" in caplog.text
    assert "style_val.csv: 23981 of 24421 rows not found" in caplog.text
    assert len({r.style for r in splits["train"]}) == len({r.style for r in splits["test"]})


# --------------------------------------------------------------------------------------------
# Parquet shards
# --------------------------------------------------------------------------------------------

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # the CSV tests above still run
    pa = pq = None


@pytest.fixture
def _pyarrow() -> None:
    """The Parquet tests need pyarrow (the `parquet` extra); the CSV tests run without it."""
    requires("pyarrow", "parquet")


needs_pyarrow = pytest.mark.usefixtures("_pyarrow")

NAMES = ["Baroque", "Cubism", "Realism", "Rococo"]


def _hf_metadata(names: list[str]) -> dict[bytes, bytes]:
    features = {
        "image": {"_type": "Image"},
        "artist": {"names": ["a", "b"], "_type": "ClassLabel"},
        "genre": {"names": ["g"], "_type": "ClassLabel"},
        "style": {"names": names, "_type": "ClassLabel"},
    }
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def _write_shard(
    path: Path,
    images: list[dict | None],
    styles: list[int | None],
    metadata: dict[bytes, bytes] | None,
    row_group_size: int = 3,
) -> None:
    n = len(styles)
    table = pa.table(
        {
            "image": pa.array(
                images, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            ),
            "artist": pa.array([i % 2 for i in range(n)], pa.int64()),
            "genre": pa.array([0] * n, pa.int64()),
            "style": pa.array(styles, pa.int64()),
            "decoy": pa.array([f"decoy-{i}" for i in range(n)]),
        }
    )
    if metadata is not None:
        table = table.replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)


def _shards(folder: Path, metadata: bool = True) -> dict[tuple[str, int], tuple[str, bytes]]:
    """Two train shards (8 and 5 rows) and a test shard (4 rows); -> (file, row): (style, bytes)."""
    expected: dict[tuple[str, int], tuple[str, bytes]] = {}
    seed = 0
    for name, n in [
        ("train-00000-of-00002.parquet", 8),
        ("train-00001-of-00002.parquet", 5),
        ("test-00000-of-00001.parquet", 4),
    ]:
        images, styles = [], []
        for row in range(n):
            data = _jpeg_bytes(seed)
            style = (seed * 3) % len(NAMES)
            images.append({"bytes": data, "path": f"{seed}.jpg"})
            styles.append(style)
            expected[(name, row)] = (NAMES[style], data)
            seed += 1
        _write_shard(folder / name, images, styles, _hf_metadata(NAMES) if metadata else None)
    return expected


@pytest.fixture(autouse=True)
def _fresh_row_cache():
    sources.clear_parquet_cache()
    yield
    sources.clear_parquet_cache()


@needs_pyarrow
def test_parquet_splits_and_row_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "wikiart"
    expected = _shards(folder / "data")  # HF puts shards under data/
    splits = parquet_splits(folder)
    assert list(splits) == ["train", "test"]
    assert [len(splits["train"]), len(splits["test"])] == [13, 4]
    for split, refs in splits.items():
        # shard-then-row order, so decoding reads each row group once
        assert [(r.path, r.row) for r in refs] == sorted((r.path, r.row) for r in refs)
        for ref in refs:
            shard = Path(ref.path)
            assert shard_split(shard) == split
            st = shard.stat()
            assert (ref.size, ref.mtime_ns) == (st.st_size, st.st_mtime_ns)
            style, data = expected[(shard.name, ref.row)]
            assert ref.style == style
            assert ref.read_bytes() == data
            assert ref.key == f"{ref.path}#{ref.row}"
    # non-sequential access, across shards and row groups
    every = [r for refs in splits.values() for r in refs]
    random.Random(0).shuffle(every)
    for ref in every:
        assert parquet_row_bytes(ref.path, ref.row) == expected[(Path(ref.path).name, ref.row)][1]


@needs_pyarrow
def test_consecutive_rows_read_each_row_group_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _shards(tmp_path)
    calls: list[tuple[int, tuple[str, ...]]] = []
    original = pq.ParquetFile.read_row_group

    def counting(self, i, columns=None, **kwargs):
        calls.append((i, tuple(columns or ())))
        return original(self, i, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    shard = str(tmp_path / "train-00000-of-00002.parquet")
    for row in range(8):
        assert parquet_row_bytes(shard, row) == expected[("train-00000-of-00002.parquet", row)][1]
    assert calls == [(0, ("image",)), (1, ("image",)), (2, ("image",))]  # 8 rows, groups of 3


@needs_pyarrow
def test_parquet_splits_reads_only_the_label_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shards(tmp_path)
    columns_read: list[object] = []
    original_read = pq.ParquetFile.read
    original_rg = pq.ParquetFile.read_row_group

    def read(self, columns=None, **kwargs):
        columns_read.append(columns)
        return original_read(self, columns=columns, **kwargs)

    def read_row_group(self, i, columns=None, **kwargs):
        columns_read.append(("row_group", columns))
        return original_rg(self, i, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read", read)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", read_row_group)
    parquet_splits(tmp_path)
    assert columns_read == [["style"]] * 3  # no image bytes read when none is null


@needs_pyarrow
def test_parquet_names_from_argument_when_metadata_absent(tmp_path: Path) -> None:
    expected = _shards(tmp_path, metadata=False)
    with pytest.raises(WikiartError, match="pass the style names"):
        parquet_splits(tmp_path)
    names = ["a", "b", "c", "d"]
    splits = parquet_splits(tmp_path, style_names=names)
    for ref in splits["train"] + splits["test"]:
        style, _ = expected[(Path(ref.path).name, ref.row)]
        assert ref.style == names[NAMES.index(style)]


@needs_pyarrow
def test_parquet_style_names_argument_overrides_metadata(tmp_path: Path) -> None:
    _shards(tmp_path)
    splits = parquet_splits(tmp_path, style_names=["w", "x", "y", "z"])
    assert {r.style for r in splits["train"]} <= {"w", "x", "y", "z"}


@needs_pyarrow
def test_parquet_label_out_of_range(tmp_path: Path) -> None:
    images = [{"bytes": _jpeg_bytes(i), "path": None} for i in range(3)]
    _write_shard(tmp_path / "train-00000-of-00001.parquet", images, [0, 4, 1], _hf_metadata(NAMES))
    with pytest.raises(WikiartError, match=r"row 1: style label 4 is out of range for 4"):
        parquet_splits(tmp_path)
    with pytest.raises(WikiartError, match="out of range"):
        parquet_splits(tmp_path, style_names=["a", "b", "c", "d", "e"][:2])


@needs_pyarrow
def test_parquet_null_rows_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    side = _jpeg(tmp_path / "side" / "s.jpg")
    images = [
        {"bytes": _jpeg_bytes(0), "path": None},  # 0 ok
        None,  # 1 null image
        {"bytes": _jpeg_bytes(2), "path": None},  # 2 null label
        {"bytes": None, "path": None},  # 3 no bytes, no path
        {"bytes": None, "path": str(side)},  # 4 bytes null, path exists -> kept
        {"bytes": None, "path": "side/s.jpg"},  # 5 relative to the shard's folder -> kept
        {"bytes": None, "path": "/nowhere/x.jpg"},  # 6 path missing
        {"bytes": _jpeg_bytes(7), "path": None},  # 7 "-1": the HF "no label" value
        {"bytes": _jpeg_bytes(8), "path": None},  # 8 ok
    ]
    styles = [0, 1, None, 2, 3, 1, 2, -1, 3]
    shard = tmp_path / "validation-00000-of-00001.parquet"
    _write_shard(shard, images, styles, _hf_metadata(NAMES))
    with caplog.at_level(logging.WARNING, logger="wikiart.data.parquet_source"):
        splits = parquet_splits(tmp_path)
    assert list(splits) == ["valid"]
    refs = splits["valid"]
    assert [r.row for r in refs] == [0, 4, 5, 8]
    assert [r.style for r in refs] == ["Baroque", "Rococo", "Cubism", "Rococo"]
    assert "skipped 5 of 9 rows" in caplog.text
    assert refs[1].read_bytes() == side.read_bytes() == refs[2].read_bytes()
    with pytest.raises(BadImageError, match="empty"):
        parquet_row_bytes(str(shard), 3)
    with pytest.raises(BadImageError, match="out of range"):
        parquet_row_bytes(str(shard), 9)


@needs_pyarrow
def test_parquet_newer_metadata_layout(tmp_path: Path) -> None:
    features = [
        {"name": "image", "dtype": "image"},
        {"name": "style", "dtype": {"class_label": {"names": {"1": "Cubism", "0": "Baroque"}}}},
    ]
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    assert style_names_from_metadata(meta) == ["Baroque", "Cubism"]
    images = [{"bytes": _jpeg_bytes(i), "path": None} for i in range(2)]
    _write_shard(tmp_path / "shards" / "train-0.parquet", images, [1, 0], meta)
    refs = parquet_splits(tmp_path)["train"]
    assert [r.style for r in refs] == ["Cubism", "Baroque"]


def test_shard_split_names() -> None:
    assert shard_split("train-00000-of-00072.parquet") == "train"
    assert shard_split("validation-00000-of-00001.parquet") == "valid"
    assert shard_split("val-00000-of-00001.parquet") == "valid"
    assert shard_split("test-00003-of-00004.parquet") == "test"
    assert shard_split("wikiart-00000.parquet") == "train"
    assert shard_split("test/0000.parquet") == "test"


@needs_pyarrow
def test_open_dataset_on_parquet_folder(tmp_path: Path) -> None:
    _shards(tmp_path)
    ds = open_dataset(tmp_path)
    assert ds.kind == "parquet"
    assert sum(ds.counts("train").values()) == 13
    assert set(ds.class_map()) <= set(NAMES)


@needs_pyarrow
def test_parquet_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WikiartError, match=r"no \*\.parquet"):
        parquet_splits(tmp_path)
    _shards(tmp_path)
    with pytest.raises(WikiartError, match="no label column 'label'"):
        parquet_splits(tmp_path, label_column="label")
    (tmp_path / "train-00009-of-00010.parquet").write_bytes(b"not parquet")
    with pytest.raises(WikiartError, match="cannot read parquet shard"):
        parquet_splits(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(WikiartError, match=r"pip install 'wikiart\[parquet\]'"):
        parquet_splits(tmp_path)
    with pytest.raises(WikiartError, match="needs pyarrow"):
        parquet_row_bytes(str(tmp_path / "train-00000-of-00002.parquet"), 0)
