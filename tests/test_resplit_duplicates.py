"""Copies of a painting never straddle splits: `wikiart.data.check.duplicate_sets` finds them
(the same bytes, or perceptual hashes a few bits apart, joined transitively) and `split_refs`
keeps each set in one split, with the artists of its images."""

from __future__ import annotations

import json
import shutil

from PIL import Image

from conftest import write_image
from test_resplit import _refs, painters_root
from wikiart.cli import main
from wikiart.data.artists import artists_of
from wikiart.data.check import duplicate_sets
from wikiart.data.dataset import open_dataset
from wikiart.data.resplit import join_groups, split_refs


def _where(res) -> dict[str, str]:
    return {r.key: name for name, refs in res.splits.items() for r in refs}


def test_join_groups_merges_every_group_a_set_touches():
    refs = _refs_stub(["a1", "a2", "b1", "u1", "c1"])
    groups = ["artist:a", "artist:a", "artist:b", "image:u1", "artist:c"]
    joined = join_groups(groups, refs, [["u1", "b1"], ["b1", "a2"]])
    assert joined[0] == joined[1] == joined[2] == joined[3]  # a, b and u tied transitively
    assert joined[4] == "artist:c"
    assert (
        join_groups(groups, refs, [["a1", "c1"]])[4] == join_groups(groups, refs, [["c1", "a1"]])[4]
    )


def test_copies_share_a_split_and_join_their_artists_group(tmp_path):
    refs = _refs(painters_root(tmp_path))
    key = {r.name: r.key for r in refs}
    untitled, painted = key["untitled0.png"], key["artist00_title-1.png"]
    together = [[untitled, painted], [key["artist01_title-2.png"], key["artist02_title-2.png"]]]
    artist = dict(zip((r.key for r in refs), artists_of(refs), strict=True))
    for seed in range(6):
        for by in ("image", "artist"):
            res = split_refs(refs, test_fraction=0.25, val_fraction=0.25, by=by, seed=seed,
                             together=together)  # fmt: skip
            where = _where(res)
            assert all(len({where[k] for k in t}) == 1 for t in together), (by, seed)
            assert res.report["duplicates_kept_together"] == {"sets": 2, "images": 4}
            if by == "artist":  # the untitled copy sits with all of artist00's paintings
                a00 = {where[k] for k, a in artist.items() if a == "artist00"}
                assert a00 == {where[untitled]}
                assert res.report["artists"]["test"]["images_by_train_artists"] == 0
    plain = split_refs(refs, test_fraction=0.25, seed=0)
    assert plain.report["duplicates_kept_together"] == {"sets": 0, "images": 0}


def _dup_folder(tmp_path):
    """``train/<Style>/``: an image, a byte copy of it in another style, a JPEG re-save of it,
    and unrelated images."""
    root = tmp_path / "dups"
    original = root / "train" / "Baroque" / "x_orig.png"
    write_image(original, seed=1, fmt="PNG", size=(96, 96))
    (root / "train" / "Cubism").mkdir(parents=True)
    shutil.copy(original, root / "train" / "Cubism" / "y_copy.png")
    Image.open(original).convert("RGB").save(
        root / "train" / "Cubism" / "z_resaved.jpg", quality=92
    )
    for i in range(12):
        style = ("Baroque", "Cubism")[i % 2]
        write_image(root / "train" / style / f"p{i}_other.png", seed=50 + i, fmt="PNG")
    return root


def test_duplicate_sets_joins_byte_copies_and_re_encodings(tmp_path):
    root = _dup_folder(tmp_path)
    refs = [r for v in open_dataset(root).splits.values() for r in v]
    sets = duplicate_sets(refs, workers=1)
    assert [sorted(refs[i].name for i in s) for s in sets] == [
        ["x_orig.png", "y_copy.png", "z_resaved.jpg"]
    ]


def test_data_split_keeps_copies_together_unless_told_to_ignore_them(tmp_path, capsys):
    root = _dup_folder(tmp_path)
    copies = {"x_orig.png", "y_copy.png", "z_resaved.jpg"}
    for seed in range(4):
        out = tmp_path / f"split{seed}"
        argv = ["data", "split", str(root), "--out", str(out), "--test-fraction", "0.3"]
        assert main([*argv, "--seed", str(seed), "--workers", "1"]) == 0
        assert "1 sets of copies (3 images) kept in one split each" in capsys.readouterr().out
        ds = open_dataset(out)
        sides = {name for name, v in ds.splits.items() for r in v if r.name in copies}
        assert len(sides) == 1
        report = json.loads((out / "split.json").read_text())
        assert report["duplicates_kept_together"] == {"sets": 1, "images": 3}
    out = tmp_path / "ignored"
    argv = ["data", "split", str(root), "--out", str(out), "--test-fraction", "0.3"]
    assert main([*argv, "--duplicates", "ignore"]) == 0
    assert "sets of copies" not in capsys.readouterr().out
    assert json.loads((out / "split.json").read_text())["duplicates_kept_together"]["sets"] == 0


def _refs_stub(keys):
    from types import SimpleNamespace

    return [SimpleNamespace(key=k) for k in keys]
