"""Training throughput: `baseline-cnn` at 416 px, our data pipeline against the course code's data
handling.

Both ways train the same model (``build_classifier("baseline-cnn", 11)``), with the same optimiser
(AdamW, lr 1e-3), loss (cross-entropy), batch size (64) and seeds, on the training split of
../shared/data/wikiart-sample, each measurement in its own child process so that each peak RSS
is its own (``resource.getrusage`` of the training process; the private memory of its DataLoader
workers, the pages they do not share with it, is in a column of its own). Neither way calls
``torch.set_num_threads``: both use torch's default (one thread per core), printed in the
header. Every measurement trains ``--images`` images (``--images / 64`` steps) after 2 warm-up
steps that are not timed.

- **course**: the course code's own data handling, re-created: a Dataset whose ``__getitem__`` does
  ``torchvision.io.read_image(path).float()`` (full decode, no JPEG draft mode), resizes the float
  tensor to 416 x 416 with ``torchvision.transforms.Resize``, keeps every image in a dict
  ``{file name: float32 tensor}`` in RAM and moves the tensor to the device inside
  ``__getitem__``; DataLoader with ``num_workers=0``; plain fp32 on raw 0-255 floats. Its cache
  fills during the first epoch, so it is timed twice: epoch 1 (cold cache) and, with
  ``--seed-warm`` (default), epoch 2 over the same images served from its RAM cache. What that
  cache would reach on the whole sample and on the 81,444-image WikiArt set is extrapolated from
  416*416*3*4 bytes per image (printed as an estimate).
- **ours**: ``prepare_split`` (the uint8 cache at 416 px, built once in its own process and
  reported on its own row, not in training images/s), ``train_transform`` augmentation,
  ``make_loader`` with 0 and the device-appropriate number of workers (``loader_workers``: 1 on a
  2-core machine; the faster is used for the other rows, or pass ``--workers``), uint8 batches
  moved to the device in the training loop (``wikiart.classify._to_device``), channels_last, the
  model normalising its input itself; ``--precision`` (fp32) and also bf16 where the device
  supports it. Run on a third of the training images and on all of them: its peak RSS does not
  grow with the dataset (the cache is read with ``pread``; page cache is not process memory).

    python bench/train_throughput.py [--size 416] [--images 1280] [--device auto] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
ARCH = "baseline-cnn"
BATCH = 64
WARMUP_STEPS = 2
LR = 1e-3
#: Images in the full WikiArt set (ArtGAN release), for the course code's cache extrapolation.
WIKIART_IMAGES = 81_444


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def course_bytes_per_image(size: int) -> int:
    """One image in the course code's RAM cache: 3 x size x size float32."""
    return size * size * 3 * 4


# --- shared by both ways ------------------------------------------------------------------------
def _setup(seed: int):
    """Seed everything; the same imports in both ways, so their RSS floors match."""
    import torch

    import wikiart.classify  # noqa: F401  (the training module: its imports are in both floors)
    from wikiart.device import seed_everything

    seed_everything(seed)
    return torch


def _train_refs(data: str, seed: int):
    """The training split in a seeded random order (styles mixed), and its class map."""
    from wikiart.data.dataset import open_dataset

    ds = open_dataset(data)
    refs = list(ds.split("train"))
    random.Random(seed).shuffle(refs)
    return ds, refs, ds.class_map()


def _model(torch, num_classes: int, device, channels_last: bool):
    from wikiart.models.registry import build_classifier

    model = build_classifier(ARCH, num_classes).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    return model, opt, torch.nn.CrossEntropyLoss()


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _train(
    torch,
    model,
    opt,
    criterion,
    batches: Iterator,
    device,
    *,
    steps: int,
    precision: str = "fp32",
    channels_last: bool = False,
) -> tuple[int, float]:
    """``WARMUP_STEPS`` untimed steps, then ``steps`` timed ones: (images, seconds)."""
    from wikiart.classify.infer import to_device as _to_device
    from wikiart.device import autocast

    model.train()
    n, t0 = 0, 0.0
    for i in range(WARMUP_STEPS + steps):
        if i == WARMUP_STEPS:
            _sync(torch, device)
            t0 = time.perf_counter()
        x, y = next(batches)
        x, y = _to_device(x, device, channels_last), y.to(device)
        with autocast(device, precision):
            loss = criterion(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= WARMUP_STEPS:
            n += len(y)
    _sync(torch, device)
    return n, time.perf_counter() - t0


def _private_mb(pid: int) -> float:
    """Memory only ``pid`` holds (private pages, not those shared with its parent): Linux only."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            kb = sum(int(line.split()[1]) for line in fh if line.startswith("Private_"))
    except OSError:
        return 0.0
    return kb / 1024


def _result(n: int, secs: float, **extra: Any) -> dict[str, Any]:
    return {
        "images": n,
        "seconds": secs,
        "img_per_s": n / secs if secs else 0.0,
        "rss_mb": peak_rss_mb(),
        "worker_mb": 0.0,
        **extra,
    }


# --- measurements, each run in its own process --------------------------------------------------
def measure_build(data: str, size: int, cache_root: str, seed: int) -> dict[str, Any]:
    """Build the uint8 cache of the whole training split once (all cores)."""
    from wikiart.data.loader import prepare_split

    _setup(seed)
    ds, refs, classes = _train_refs(data, seed)
    t0 = time.perf_counter()
    train = prepare_split(
        refs, classes, source=ds.root, image_size=size, cache_root=cache_root, progress=False
    )
    secs = time.perf_counter() - t0
    return _result(len(train), secs, workers=os.cpu_count(), worker_mb=None)


def measure_ours(
    data: str,
    size: int,
    cache_root: str,
    device: str,
    precision: str,
    workers: int,
    fraction: float,
    images: int,
    seed: int,
) -> dict[str, Any]:
    from wikiart.data.loader import make_loader, prepare_split
    from wikiart.data.transforms import train_transform

    torch = _setup(seed)
    dev = torch.device(device)
    ds, refs, classes = _train_refs(data, seed)
    refs = refs[: max(2 * BATCH, round(len(refs) * fraction))]
    train = prepare_split(
        refs,
        classes,
        source=ds.root,
        image_size=size,
        cache_root=cache_root,
        progress=False,
        split="train",
        transform=train_transform(size),
    )
    loader = make_loader(
        train,
        batch_size=BATCH,
        shuffle=True,
        num_workers=workers,
        seed=seed,
        device=dev,
        drop_last=True,
    )
    if len(loader) == 0:
        raise SystemExit(f"fewer than {BATCH} training images")

    live: list = []  # the current epoch's iterator, whose worker processes are measured

    def batches() -> Iterator:
        while True:  # as many epochs as the measurement needs (worker start-up is counted)
            live[:] = [iter(loader)]
            yield from live[0]

    model, opt, criterion = _model(torch, len(classes), dev, channels_last=True)
    n, secs = _train(
        torch,
        model,
        opt,
        criterion,
        batches(),
        dev,
        steps=images // BATCH,
        precision=precision,
        channels_last=True,
    )
    # loader workers are forked: RSS would count the pages they share with this process
    pids = [w.pid for w in getattr(live[0], "_workers", [])]
    worker_mb = sum(_private_mb(pid) for pid in pids)
    return _result(
        n, secs, dataset=len(train), threads=torch.get_num_threads(), worker_mb=worker_mb
    )


def measure_course(
    data: str, size: int, device: str, images: int, warm: bool, seed: int
) -> dict[str, Any]:
    """The course code's data handling; returns epoch 1 (cold cache) and epoch 2 (warm cache)."""
    from torch.utils.data import DataLoader, Dataset
    from torchvision.io import ImageReadMode, read_image
    from torchvision.transforms import Resize

    torch = _setup(seed)
    dev = torch.device(device)
    _, all_refs, classes = _train_refs(data, seed)

    class CourseDataset(Dataset):
        """Per item: ``read_image(path).float()``, resize, cache in RAM, move to the device."""

        def __init__(self, names: list[str]) -> None:
            # The course indexed its files by FILE NAME (``filedict[art] = WikiArtImage(...)`` over
            # a directory walk), so two different paintings sharing a name collide: the later one
            # replaces the earlier, which can no longer be reached. Reproduced on purpose; our
            # pipeline keys images by path (`ImageRef.key`).
            self.files: dict[str, tuple[str, int]] = {}
            for r in all_refs:
                self.files[r.name] = (r.path, classes.index(r.style))
            self.names = names
            self.cache: dict[str, torch.Tensor] = {}  # {file name: float32 CHW}, also by name
            self.resize = Resize((size, size))
            self.device = dev

        def __len__(self) -> int:
            return len(self.names)

        def __getitem__(self, idx: int):
            name = self.names[idx]
            path, label = self.files[name]
            img = self.cache.get(name)
            if img is None:
                # RGB mode: the course used the default (unchanged), which fails to collate a batch
                # holding a greyscale image; the decode itself is the same full-size decode.
                img = self.resize(read_image(path, ImageReadMode.RGB).float())
                self.cache[name] = img
            return img.to(
                self.device
            ), label  # to the device inside __getitem__, as the course code

    collided = len(all_refs) - len({r.name for r in all_refs})
    n_items = images + WARMUP_STEPS * BATCH
    if n_items > len(all_refs):  # one epoch of the course code's loader must cover warm-up + timing
        raise SystemExit(
            f"--images too large: the course's loader needs {n_items} of {len(all_refs)} images"
        )
    dataset = CourseDataset([r.name for r in all_refs[:n_items]])
    gen = torch.Generator()
    gen.manual_seed(seed)
    # num_workers=0, as the course: its __getitem__ returns tensors already on the device, which
    # (for CUDA) cannot be made in forked workers, and each worker would keep its own cache.
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=gen, drop_last=True)
    model, opt, criterion = _model(torch, len(classes), dev, channels_last=False)
    steps = images // BATCH
    n, secs = _train(torch, model, opt, criterion, iter(loader), dev, steps=steps)
    out = {"cold": _result(n, secs)}
    if warm:
        n, secs = _train(torch, model, opt, criterion, iter(loader), dev, steps=steps)
        out["warm"] = _result(n, secs)
    out.update(
        cached_images=len(dataset.cache),
        cache_mb=sum(t.nbytes for t in dataset.cache.values()) / 2**20,
        collided=collided,
        train_images=len(all_refs),
        threads=torch.get_num_threads(),
    )
    return out


def run_child(kind: str, **kw: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--kw", json.dumps(kw)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        sys.exit(f"{kind} measurement failed ({kw})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def probe(data: str, size: int, cache_root: str, device: str) -> dict[str, Any]:
    """What the parent needs from torch and wikiart, asked in a child: the parent stays small,
    and children forked from it inherit no large peak RSS (Linux keeps it across exec)."""
    import torch

    from wikiart.data.cache import store_dir
    from wikiart.device import cpu_supports_bf16, loader_workers, resolve_device

    dev = resolve_device(device)
    bf16 = cpu_supports_bf16() if dev.type == "cpu" else False
    if dev.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
    return {
        "device": str(dev),
        "bf16": bf16,
        "workers": loader_workers(None),
        "store": str(store_dir(data, size, "crop", cache_root)),
    }


def _mb(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:,.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--size", type=int, default=416, help="training image size (px)")
    ap.add_argument(
        "--images",
        type=int,
        default=1280,
        help=f"images timed per measurement (rounded up to a multiple of {BATCH})",
    )
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    ap.add_argument(
        "--precision", default="fp32", choices=("fp32", "bf16", "fp16"), help="ours: precision"
    )
    ap.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ours: also a bf16 row where the device supports bf16",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        help="ours: loader workers (default: try 0 and the device-appropriate count)",
    )
    ap.add_argument(
        "--course-warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="course code: also time a second epoch served from its RAM cache",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "wikiart-bench-train"))
    ap.add_argument("--cache-dir", default=None, help="ours: cache root (default: WORK/cache)")
    ap.add_argument("--child")
    ap.add_argument("--kw")
    args = ap.parse_args()

    if args.child:
        fn = {
            "probe": probe,
            "build": measure_build,
            "ours": measure_ours,
            "course": measure_course,
        }[args.child]
        print(json.dumps(fn(**json.loads(args.kw))))
        return

    if not (Path(args.data) / "train").is_dir():
        sys.exit(
            f"no training data at {args.data}: the benchmark needs ../shared/data/wikiart-sample "
            "(a folder with train/<Style>/<image>), or pass --data DIR"
        )
    images = max(1, math.ceil(args.images / BATCH)) * BATCH
    cache_root = Path(args.cache_dir) if args.cache_dir else Path(args.work) / "cache"
    env = run_child(
        "probe", data=args.data, size=args.size, cache_root=str(cache_root), device=args.device
    )
    device = env["device"]
    # only this source's store at this size: the build below starts from nothing and is measured
    shutil.rmtree(env["store"], ignore_errors=True)
    precisions = [args.precision]
    if args.bf16 and args.precision != "bf16" and env["bf16"]:
        precisions.append("bf16")
    worker_counts = [args.workers] if args.workers is not None else sorted({0, env["workers"]})
    common = {"data": args.data, "size": args.size, "seed": args.seed}
    ours_kw = {**common, "cache_root": str(cache_root), "device": device, "images": images}

    rows: list[tuple[str, str, dict[str, Any]]] = []
    b = run_child("build", **common, cache_root=str(cache_root))
    rows.append((f"ours: cache build (once, {b['workers']} processes)", "-", b))

    def ours(precision: str, workers: int, fraction: float) -> dict[str, Any]:
        r = run_child("ours", **ours_kw, precision=precision, workers=workers, fraction=fraction)
        part = "all" if fraction == 1 else "1/3"
        label = f"ours {precision}, {workers} workers, {part} ({r['dataset']} imgs)"
        rows.append((label, "any", r))
        return r

    by_workers = {w: ours(precisions[0], w, 1.0) for w in worker_counts}
    best_w = max(by_workers, key=lambda w: by_workers[w]["img_per_s"])
    ours_all = {precisions[0]: by_workers[best_w]}
    ours_third = {precisions[0]: ours(precisions[0], best_w, 1 / 3)}
    for p in precisions[1:]:
        ours_all[p] = ours(p, best_w, 1.0)
        ours_third[p] = ours(p, best_w, 1 / 3)

    s = run_child("course", **common, device=device, images=images, warm=args.course_warm)
    course_label = f"course code fp32, 0 workers ({s['cached_images']} imgs cached)"
    rows.append((course_label, "1 (cold cache)", s["cold"]))
    if "warm" in s:
        rows.append((course_label, "2 (warm cache)", s["warm"]))

    print(
        f"device {device}, {os.cpu_count()} cores, torch threads per process {s['threads']} "
        f"(torch's default in both ways), {ARCH}, {args.size} px, batch {BATCH}, AdamW lr {LR}, "
        f"{WARMUP_STEPS} untimed warm-up steps, then {images} images timed per row\n"
    )
    print("| way | epoch | images | img/s | seconds | peak RSS MB | loader workers MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, epoch, r in rows:
        print(
            f"| {label} | {epoch} | {r['images']} | {r['img_per_s']:.1f} | {r['seconds']:.1f} "
            f"| {r['rss_mb']:.0f} | {_mb(r['worker_mb'])} |"
        )
    print()
    for p in precisions:
        for key, name in (("cold", "epoch 1, cold cache"), ("warm", "epoch 2, warm cache")):
            if key in s:
                ratio = ours_all[p]["img_per_s"] / s[key]["img_per_s"]
                print(
                    f"ours/course speed ratio: {ratio:.1f}x  "
                    f"(ours {p}, {best_w} workers, all images vs course {name})"
                )
    for p in precisions:
        third, full = ours_third[p], ours_all[p]
        print(
            f"ours {p} peak RSS: {third['rss_mb']:.0f} MB on {third['dataset']} images, "
            f"{full['rss_mb']:.0f} MB on {full['dataset']} images "
            f"({full['rss_mb'] - third['rss_mb']:+.0f} MB)"
        )
    per = course_bytes_per_image(args.size)
    course_peak = max(r["rss_mb"] for k, r in s.items() if k in ("cold", "warm"))
    print(
        f"course code peak RSS: {course_peak:.0f} MB with {s['cached_images']} images cached "
        f"(cache {s['cache_mb']:.0f} MB, {per:,} bytes per image)"
    )
    for n, what in (
        (s["train_images"], "the full sample's train split"),
        (WIKIART_IMAGES, "WikiArt"),
    ):
        print(
            f"ESTIMATE, not measured: the course code's cache on {what} ({n:,} images) would be "
            f"{_gb(n * per)} of RAM, on top of the process itself"
        )
    if s["collided"]:
        print(
            f"course keying by file name: {s['collided']} of {s['train_images']} training images "
            "share a file name with another painting and cannot be reached (ours keys by path)"
        )


if __name__ == "__main__":
    main()
