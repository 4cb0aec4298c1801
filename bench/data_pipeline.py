"""Data pipeline benchmark: build the cache, read an epoch from it, and the naive way.

Measures, on ../shared/data/wikiart-sample (224 px) and on a copy re-encoded at 1024 px on the
long side (real WikiArt files are 750-4,900 px wide):
  - cache build: images/s decoding + resizing once into the uint8 store (all cores);
  - cached epoch: images/s of one training epoch read from the cache with augmentation
    (RandomResizedCrop + flip), batch 64, through a DataLoader;
  - naive epoch: decode + resize per item (the course's way), same output size and augmentation;
Both hand uint8 batches to the training process, which normalises them on its device.
and the peak RSS of each, every measurement in a fresh subprocess. The cached epoch is also run
on a third and on all of the images to show that its memory does not grow with the dataset.

    python bench/data_pipeline.py [--size 224] [--workers 2] [--naive-limit 1200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def make_big_copy(src: Path, dst: Path, long_side: int) -> None:
    """Re-encode every image so its long side is ``long_side`` px (JPEG quality 90)."""
    from PIL import Image

    if (dst / ".done").exists():
        return
    shutil.rmtree(dst, ignore_errors=True)
    for path in sorted(src.rglob("*.jpg")):
        out = dst / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as im:
            w, h = im.size
            scale = long_side / max(w, h)
            big = im.convert("RGB").resize((round(w * scale), round(h * scale)), Image.BICUBIC)
            big.save(out, "JPEG", quality=90)
    (dst / ".done").touch()


# --- measurements, each run in its own process -------------------------------------------------
def measure_build(data: str, size: int, cache_root: str, workers: int) -> dict:
    from wikiart.data.cache import ImageStore
    from wikiart.data.dataset import open_dataset

    ds = open_dataset(data)
    refs = [r for split in ds.splits.values() for r in split]
    store = ImageStore.for_source(ds.root, size, "crop", cache_root)
    rep = store.build(refs, workers=workers)
    return {
        "images": rep.decoded,
        "seconds": rep.seconds,
        "img_per_s": rep.images_per_s,
        "rss_mb": peak_rss_mb(),
        "worker_rss_mb": children_peak_rss_mb(),
    }


def _result(n: int, secs: float) -> dict:
    return {
        "images": n,
        "seconds": secs,
        "img_per_s": n / secs if secs else 0.0,
        "rss_mb": peak_rss_mb(),
        "worker_rss_mb": children_peak_rss_mb(),
    }


def _epoch(loader, limit: int | None = None) -> tuple[int, float]:
    """Images and seconds after the first batch (worker start-up is not throughput)."""
    it = iter(loader)
    next(it)
    n, t0 = 0, time.perf_counter()
    for x, _ in it:
        n += x.shape[0]
        if limit and n >= limit:
            break
    return n, time.perf_counter() - t0


def measure_cached_epoch(
    data: str, size: int, cache_root: str, workers: int, fraction: float
) -> dict:
    import torch

    from wikiart.data.dataset import open_dataset
    from wikiart.data.loader import make_loader, prepare_split
    from wikiart.data.transforms import train_transform

    torch.set_num_threads(1)
    ds = open_dataset(data)
    refs = ds.split("train")
    refs = refs[: max(1, int(len(refs) * fraction))]
    train = prepare_split(
        refs,
        ds.class_map(),
        source=ds.root,
        image_size=size,
        cache_root=cache_root,
        progress=False,
        transform=train_transform(size),
    )
    loader = make_loader(train, batch_size=64, shuffle=True, num_workers=workers)
    _epoch(loader)  # a first pass warms the page cache and the allocator
    runs = sorted((_epoch(loader) for _ in range(3)), key=lambda r: r[0] / r[1])
    n, secs = runs[1]  # the median of three passes
    return _result(n, secs)


class NaiveDataset:
    """Every item opens, decodes and resizes the original file.

    ``course_float=False``: a strong naive baseline (uint8 decode, Pillow-SIMD-class uint8 resize).
    ``course_float=True``: the course's way, ``read_image(path).float()``, then resize in float."""

    def __init__(self, refs, class_map, size: int, course_float: bool = False) -> None:
        from torchvision.transforms import v2

        from wikiart.data.transforms import train_transform

        self.refs = refs
        self.labels = [class_map.index(r.style) for r in refs]
        self.course_float = course_float
        # the same augmentation as the cached path, after a per-item resize to the output size
        self.tf = v2.Compose([v2.Resize(size, antialias=True), train_transform(size)])

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int):
        from torchvision.io import ImageReadMode, decode_image, read_file

        img = decode_image(read_file(self.refs[i].path), mode=ImageReadMode.RGB)
        if self.course_float:
            img = img.float()
        return self.tf(img), self.labels[i]


def measure_naive_epoch(
    data: str, size: int, workers: int, limit: int, course_float: bool = False
) -> dict:
    import torch

    from wikiart.data.dataset import open_dataset
    from wikiart.data.loader import make_loader

    torch.set_num_threads(1)
    ds = open_dataset(data)
    naive = NaiveDataset(ds.split("train"), ds.class_map(), size, course_float)
    loader = make_loader(naive, batch_size=64, shuffle=True, num_workers=workers)
    n, secs = _epoch(loader, limit)
    return _result(n, secs)


def measure_baseline() -> dict:
    """RSS of a process that only imports torch and wikiart: the floor under every figure."""
    import torch  # noqa: F401

    import wikiart.data.loader  # noqa: F401

    return _result(0, 0.0)


def run_child(kind: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--kw", json.dumps(kw)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--size", type=int, default=224, help="output size (cache and training)")
    ap.add_argument("--long-side", type=int, default=1024, help="long side of the re-encoded copy")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for both epochs")
    ap.add_argument("--naive-limit", type=int, default=1200, help="images timed for naive epochs")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "wikiart-bench"))
    ap.add_argument("--child")
    ap.add_argument("--kw")
    args = ap.parse_args()

    if args.child:
        fn = {
            "build": measure_build,
            "cached": measure_cached_epoch,
            "naive": measure_naive_epoch,
            "baseline": measure_baseline,
        }[args.child]
        print(json.dumps(fn(**json.loads(args.kw))))
        return

    if not Path(args.data).is_dir():
        sys.exit(f"no data at {args.data} (the benchmark needs ../shared/data/wikiart-sample)")
    work = Path(args.work)
    big = work / f"sample-{args.long_side}"
    t0 = time.perf_counter()
    make_big_copy(Path(args.data), big, args.long_side)
    print(f"re-encoded copy at {args.long_side} px: {big} ({time.perf_counter() - t0:.0f}s)")
    print(
        f"cores: {os.cpu_count()}, output size {args.size}px, batch 64, "
        f"{args.workers} loader workers\n"
    )

    rows = [("-", "import torch + wikiart only", run_child("baseline"))]
    for label, data in ((f"sample {224}px", args.data), (f"copy {args.long_side}px", str(big))):
        cache_root = work / f"cache-{Path(data).name}"
        shutil.rmtree(cache_root, ignore_errors=True)
        b = run_child(
            "build", data=data, size=args.size, cache_root=str(cache_root), workers=os.cpu_count()
        )
        rows.append((label, "cache build (once, all cores)", b))
        for frac in (1 / 3, 1.0):
            c = run_child(
                "cached",
                data=data,
                size=args.size,
                cache_root=str(cache_root),
                workers=args.workers,
                fraction=frac,
            )
            rows.append((label, f"epoch from cache ({c['images']} imgs)", c))
        for course_float in (False, True):
            n = run_child(
                "naive",
                data=data,
                size=args.size,
                workers=args.workers,
                limit=args.naive_limit,
                course_float=course_float,
            )
            name = "course read_image().float()" if course_float else "naive decode+resize"
            rows.append((label, f"epoch {name} ({n['images']})", n))

    print(
        f"{'data':<14} {'stage':<36} {'img/s':>8} {'seconds':>8} {'RSS MB':>8} {'workers MB':>10}"
    )
    for label, stage, r in rows:
        print(
            f"{label:<14} {stage:<36} {r['img_per_s']:>8.0f} {r['seconds']:>8.1f} "
            f"{r['rss_mb']:>8.0f} {r['worker_rss_mb']:>10.0f}"
        )
    for label in sorted({r[0] for r in rows} - {"-"}):
        mine = [(stage, r) for lab, stage, r in rows if lab == label]
        cached = [r for stage, r in mine if stage.startswith("epoch from cache")][-1]
        for stage, r in mine:
            if stage.startswith("epoch") and "from cache" not in stage:
                ratio = cached["img_per_s"] / r["img_per_s"]
                print(f"{label}: the full cached epoch is {ratio:.1f}x the images/s of {stage}")


if __name__ == "__main__":
    main()
