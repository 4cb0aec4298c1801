import os
import pickle

import numpy as np
import pytest
import torch

from conftest import write_image
from wikiart.data import cache as cache_mod
from wikiart.data.cache import ImageStore, store_dir
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_dataset
from wikiart.data.images import decode_fitted
from wikiart.data.loader import CachedImageDataset, make_loader, prepare_split
from wikiart.errors import UnknownStyleError, WikiartError


def all_refs(root):
    ds = open_dataset(root)
    return [r for split in ds.splits.values() for r in split]


def pixels_of(store, refs):
    slots, _ = store.slots(refs)
    return np.stack([store.read(s) for s in slots])


def test_build_then_everything_is_reused(tiny_root, tmp_path):
    refs = all_refs(tiny_root)
    store = ImageStore(tmp_path / "c", 24)
    first = store.build(refs, workers=1)
    assert (first.decoded, first.reused, first.bad) == (len(refs), 0, [])
    again = ImageStore(tmp_path / "c", 24).build(refs, workers=1)
    assert (again.decoded, again.reused) == (0, len(refs))
    # the cached pixels are exactly the decode of each file
    for ref in refs[:3]:
        slot = store.entries[ref.key][2]
        with open(ref.path, "rb") as fh:
            expect = decode_fitted(fh.read(), 24)
        assert np.array_equal(store.read(slot), expect)


def test_changed_added_and_deleted_files_rebuild_only_what_changed(tiny_root, tmp_path):
    store_path = tmp_path / "c"
    ImageStore(store_path, 24).build(all_refs(tiny_root), workers=1)
    rows_before = ImageStore(store_path, 24).rows

    changed = tiny_root / "train" / "Baroque" / "img0.jpg"
    write_image(changed, seed=999, size=(50, 20))
    os.utime(changed, ns=(1, 1_000_000_000))  # a different mtime even on coarse clocks
    (tiny_root / "train" / "Cubism" / "img1.jpg").unlink()
    write_image(tiny_root / "train" / "Cubism" / "new.jpg", seed=1234)

    refs = all_refs(tiny_root)
    store = ImageStore(store_path, 24)
    rep = store.build(refs, workers=1)
    assert rep.decoded == 2 and rep.reused == len(refs) - 2
    assert store.rows == rows_before  # freed slots were reused: the file did not grow
    new = next(r for r in refs if r.path.endswith("new.jpg"))
    with open(new.path, "rb") as fh:
        assert np.array_equal(store.read(store.entries[new.key][2]), decode_fitted(fh.read(), 24))
    with open(changed, "rb") as fh:
        expect = decode_fitted(fh.read(), 24)
    assert np.array_equal(store.read(store.entries[str(changed)][2]), expect)


def test_interrupted_build_resumes(tiny_root, tmp_path, monkeypatch):
    refs = all_refs(tiny_root)
    real = cache_mod._decode_chunk
    calls = {"n": 0}

    def flaky(chunk, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the third chunk
        return real(chunk, *args)

    monkeypatch.setattr(cache_mod, "_decode_chunk", flaky)
    monkeypatch.setattr(cache_mod, "_SAVE_EVERY_S", 0.0)
    with pytest.raises(KeyboardInterrupt):
        ImageStore(tmp_path / "c", 24).build(refs, workers=1, chunk_size=2)
    monkeypatch.setattr(cache_mod, "_decode_chunk", real)

    store = ImageStore(tmp_path / "c", 24)
    done = sum(store.is_current(r) for r in refs)
    assert done == 4  # two chunks of two were written before the interrupt
    rep = store.build(refs, workers=1, chunk_size=2)
    assert rep.decoded == len(refs) - 4 and rep.reused == 4

    fresh = ImageStore(tmp_path / "fresh", 24)
    fresh.build(refs, workers=1)
    assert np.array_equal(pixels_of(store, refs), pixels_of(fresh, refs))


def test_process_pool_matches_in_process(tiny_root, tmp_path):
    refs = all_refs(tiny_root)
    a = ImageStore(tmp_path / "a", 20, "pad")
    a.build(refs, workers=1)
    b = ImageStore(tmp_path / "b", 20, "pad")
    b.build(refs, workers=2, chunk_size=2)
    assert np.array_equal(pixels_of(a, refs), pixels_of(b, refs))


def test_bad_images_are_recorded_once(tiny_root, tmp_path):
    (tiny_root / "train" / "Baroque" / "broken.jpg").write_bytes(b"")
    (tiny_root / "train" / "Baroque" / "notes.jpg").write_text("hello")
    refs = all_refs(tiny_root)
    store = ImageStore(tmp_path / "c", 16)
    rep = store.build(refs, workers=1)
    assert sorted(os.path.basename(r.path) for r, _ in rep.bad) == ["broken.jpg", "notes.jpg"]
    again = store.build(refs, workers=1)
    assert again.decoded == 0 and len(again.bad) == 2  # not retried, still reported
    slots, bad = store.slots(refs)
    assert (slots >= 0).sum() == len(refs) - 2 and len(bad) == 2


def test_corrupt_index_rebuilds(tiny_root, tmp_path):
    refs = all_refs(tiny_root)
    ImageStore(tmp_path / "c", 16).build(refs, workers=1)
    (tmp_path / "c" / "index.json").write_text("{garbage")
    store = ImageStore(tmp_path / "c", 16)
    assert store.entries == {}
    assert store.build(refs, workers=1).decoded == len(refs)


def test_truncated_pixel_file_drops_entries_past_its_end(tiny_root, tmp_path):
    refs = all_refs(tiny_root)
    store = ImageStore(tmp_path / "c", 16)
    store.build(refs, workers=1)
    os.truncate(store.pixels_path, 3 * store.row_bytes)
    again = ImageStore(tmp_path / "c", 16)
    assert again.rows == 3
    assert again.build(refs, workers=1).decoded == len(refs) - 3


def test_slots_requires_a_build(tiny_root, tmp_path):
    with pytest.raises(WikiartError, match="build it first"):
        ImageStore(tmp_path / "c", 16).slots(all_refs(tiny_root))


def test_store_dir_depends_on_source_size_and_fit(tmp_path):
    a = store_dir(tmp_path / "x", 64, "crop", tmp_path)
    assert a != store_dir(tmp_path / "y", 64, "crop", tmp_path)
    assert a != store_dir(tmp_path / "x", 96, "crop", tmp_path)
    assert a != store_dir(tmp_path / "x", 64, "pad", tmp_path)


def test_prepare_split_maps_by_name_and_reads_uint8(tiny_root, tmp_path):
    ds = open_dataset(tiny_root)
    cm = ds.class_map()
    train = prepare_split(
        ds.split("train"), cm, source=tiny_root, image_size=16, cache_root=tmp_path, workers=1
    )
    assert len(train) == 7
    img, _ = train[0]
    assert img.dtype == torch.uint8 and img.shape == (3, 16, 16)
    assert [cm.classes[i] for i in train.labels] == [r.style for r in train.refs]
    # a test folder with fewer styles, in another class order, still maps by name
    subset = [r for r in ds.split("test") if r.style != "Baroque"]
    test = prepare_split(subset, cm, source=tiny_root, image_size=16, cache_root=tmp_path)
    assert sorted(test.labels.tolist()) == [1, 2]
    with pytest.raises(UnknownStyleError):
        prepare_split(ds.split("test"), ClassMap(("Baroque",)), source=tiny_root, image_size=16)


def test_dataset_pickles_and_loads_in_workers(tiny_root, tmp_path):
    ds = open_dataset(tiny_root)
    train = prepare_split(
        ds.split("train"), ds.class_map(), source=tiny_root, image_size=16, cache_root=tmp_path
    )
    train[0]  # opens a file descriptor in this process
    clone = pickle.loads(pickle.dumps(train))
    assert torch.equal(clone[3][0], train[3][0])
    loader = make_loader(train, batch_size=4, shuffle=True, num_workers=2, seed=3)
    labels = [y for _, ys in loader for y in ys.tolist()]
    assert sorted(labels) == sorted(train.labels.tolist())
    again = [y for _, ys in make_loader(train, batch_size=4, shuffle=True, seed=3) for y in ys]
    assert [int(y) for y in again] == labels  # same seed, same order, whatever the worker count


def test_cached_dataset_rejects_mismatched_lengths(tiny_root, tmp_path):
    store = ImageStore(tmp_path / "c", 16)
    with pytest.raises(ValueError):
        CachedImageDataset(store, np.arange(3), np.arange(2))


def test_worker_augmentation_repeats_after_reseed(tiny_root, tmp_path):
    """What a resumed run relies on: reseeding the loader reproduces augmented batches exactly,
    also with worker processes (they are re-created each epoch from the loader's generator)."""
    from wikiart.data.transforms import train_transform
    from wikiart.train.loop import reseed_epoch

    ds = open_dataset(tiny_root)
    train = prepare_split(
        ds.split("train"),
        ds.class_map(),
        source=tiny_root,
        image_size=16,
        cache_root=tmp_path,
        transform=train_transform(12),
    )
    loader = make_loader(train, batch_size=4, shuffle=True, num_workers=2, seed=0)

    def epoch(e):
        reseed_epoch(5, e, loader)
        return torch.cat([x for x, _ in loader])

    first = epoch(3)
    epoch(4)
    assert torch.equal(epoch(3), first)
    assert not torch.equal(epoch(4), first)


def test_batched_reads_equal_item_reads(tiny_root, tmp_path):
    ds = open_dataset(tiny_root)
    train = prepare_split(
        ds.split("train"), ds.class_map(), source=tiny_root, image_size=16, cache_root=tmp_path
    )
    items = train.__getitems__([5, 0, 3])
    for (img, label), i in zip(items, [5, 0, 3], strict=True):
        ref_img, ref_label = train[i]
        assert torch.equal(img, ref_img) and label == ref_label
