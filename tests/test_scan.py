import os

import pytest

from conftest import write_image
from wikiart.data.dataset import open_dataset, open_eval_split
from wikiart.data.refs import display
from wikiart.data.scan import find_split_folders, scan_split
from wikiart.errors import WikiartError


def test_hidden_and_junk_files_are_ignored(tiny_root):
    (tiny_root / "train" / "Baroque" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tiny_root / "train" / "Baroque" / "Thumbs.db").write_bytes(b"x")
    (tiny_root / "train" / ".hidden_style").mkdir()
    write_image(tiny_root / "train" / ".hidden_style" / "a.jpg")
    scan = scan_split(tiny_root / "train")
    assert len(scan.refs) == 7
    assert scan.styles == ["Baroque", "Cubism", "Ukiyo_e"]


def test_stray_files_and_empty_styles_are_reported(tiny_root):
    (tiny_root / "train" / "README.txt").write_text("hi")
    (tiny_root / "train" / "Empty_Style").mkdir()
    scan = scan_split(tiny_root / "train")
    assert [os.path.basename(p) for p in scan.stray_files] == ["README.txt"]
    assert scan.empty_styles == ["Empty_Style"]
    assert "Empty_Style" not in open_dataset(tiny_root).class_map()


def test_non_ascii_and_non_utf8_names(tiny_root):
    write_image(tiny_root / "train" / "Cubism" / "café_été_ß.jpg", seed=5)
    bad = os.path.join(os.fsencode(tiny_root / "train" / "Cubism"), b"bad\xffname.jpg")
    write_image(bad, seed=6)
    refs = scan_split(tiny_root / "train").refs
    names = {display(os.path.basename(r.path)) for r in refs}
    assert "café_été_ß.jpg" in names and "bad\\xffname.jpg" in names
    for ref in refs:
        assert len(ref.read_bytes()) == ref.size


def test_nested_style_subfolders_are_walked(tiny_root):
    write_image(tiny_root / "train" / "Cubism" / "part2" / "x.jpg", seed=7)
    assert sum(r.style == "Cubism" for r in scan_split(tiny_root / "train").refs) == 3


def test_split_aliases(tmp_path):
    for name in ("train", "val", "test"):
        write_image(tmp_path / name / "A" / "x.jpg")
    assert set(find_split_folders(tmp_path)) == {"train", "valid", "test"}
    assert set(open_dataset(tmp_path).splits) == {"train", "valid", "test"}


def test_refs_are_sorted_and_deterministic(tiny_root):
    a = scan_split(tiny_root / "train").refs
    b = scan_split(tiny_root / "train").refs
    assert a == b
    assert [(r.style, r.path) for r in a] == sorted((r.style, r.path) for r in a)


def test_eval_split_accepts_root_or_split_folder(tiny_root):
    _, from_root = open_eval_split(tiny_root)
    _, from_split = open_eval_split(tiny_root / "test")
    assert from_root == from_split and len(from_root) == 3


def test_missing_or_wrong_folders_are_clear_errors(tmp_path):
    with pytest.raises(WikiartError, match="not found"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WikiartError, match="no train/ or test/ folder"):
        open_dataset(tmp_path / "empty")
    write_image(tmp_path / "only_test" / "test" / "A" / "x.jpg")
    ds = open_dataset(tmp_path / "only_test")
    with pytest.raises(WikiartError, match="split 'train' not found"):
        ds.split("train")
