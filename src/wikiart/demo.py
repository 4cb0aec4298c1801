"""`wikiart demo`: every stage that exists, on the built-in data (or a given dataset), into one
folder with a ``report.html``: the data's statistics, check and cache here, then each registered
job's own stage (`wikiart.jobs.Job.demo`, e.g. `wikiart.classify.demo`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from wikiart.data.cache import ImageStore
from wikiart.data.dataset import open_dataset
from wikiart.data.stats import dataset_stats, format_stats
from wikiart.files import write_json
from wikiart.jobs import all_jobs, load
from wikiart.report.html import HtmlReport
from wikiart.report.plots import image_grid, plot_counts
from wikiart.report.stage import DemoStage

log = logging.getLogger(__name__)


def run_demo(
    out: Path,
    *,
    data: str | None = None,
    seed: int = 0,
    image_size: int = 96,
    progress: bool = False,
) -> Path:
    """Run the demo into ``out``; returns the path of ``report.html``."""
    out.mkdir(parents=True, exist_ok=True)
    timings: list[tuple[str, float]] = []
    report = HtmlReport("wikiart demo")
    t0 = time.perf_counter()
    data_dir, cache_root, source = _dataset(out, data, seed, progress)
    timings.append(("dataset", time.perf_counter() - t0))
    stage = DemoStage(report, out, data_dir, cache_root, image_size, seed, progress)
    _data_stages(stage, source, timings)
    for job in all_jobs().values():  # each job's own stage, in registration order
        if job.demo is not None:
            title, run_stage = job.demo
            t0 = time.perf_counter()
            load(run_stage)(stage)
            timings.append((title, time.perf_counter() - t0))
    report.section("Timings")
    report.table(["stage", "seconds"], [[name, round(s, 2)] for name, s in timings])
    return report.write(out / "report.html")


def _dataset(
    out: Path, data: str | None, seed: int, progress: bool
) -> tuple[Path, Path | None, str]:
    """The dataset folder, the cache root (the demo's own, for the built-in data) and how the
    report names the source."""
    if data is not None:
        return Path(data), None, f"`{data}`"
    from wikiart.data.synth import generate

    data_dir = out / "data"
    log.info("writing the built-in procedural dataset to %s", data_dir)
    generate(data_dir, seed=seed, progress=progress)
    return data_dir, out / "cache", "the built-in procedural dataset (`wikiart data synth`)"


def _samples(ds, store: ImageStore, seed: int) -> list[tuple[str, list]]:
    """Up to six random cached training images per style."""
    rng = np.random.default_rng(seed)
    refs = [r for split in ds.splits.values() for r in split]
    train = ds.split("train") if "train" in ds.splits else refs
    rows = []
    for style in ds.class_map():
        mine = [r for r in train if r.style == style and store.is_current(r)]
        pick = rng.choice(len(mine), size=min(6, len(mine)), replace=False) if mine else []
        imgs = []
        for i in pick:
            slot = store.entries[mine[i].key][2]
            if slot >= 0:
                imgs.append(store.read(slot))
        rows.append((style, imgs))
    return rows


def _data_stages(st: DemoStage, source: str, timings: list[tuple[str, float]]) -> None:
    """Statistics, the data check and the preprocessing cache, with their report sections."""
    from wikiart.data.check import check_dataset

    report, out, data_dir, image_size = st.report, st.out, st.data_dir, st.image_size
    seed, progress, cache_root = st.seed, st.progress, st.cache_root

    ds = open_dataset(data_dir)
    ds.class_map().save(out / "classes.json")  # the class order every later stage maps through
    t0 = time.perf_counter()
    stats = dataset_stats(ds)
    write_json(out / "stats.json", stats)
    print(format_stats(stats))
    counts_png = plot_counts(
        {s: v["counts"] for s, v in stats["splits"].items()}, out / "counts.png"
    )
    timings.append(("stats", time.perf_counter() - t0))
    t0 = time.perf_counter()
    check = check_dataset(ds, progress=progress)
    write_json(out / "check.json", check.to_dict())
    timings.append(("check", time.perf_counter() - t0))
    t0 = time.perf_counter()
    store = ImageStore.for_source(ds.cache_source, image_size, "crop", cache_root)
    built = store.build([r for split in ds.splits.values() for r in split], progress=progress)
    timings.append(("cache", time.perf_counter() - t0))
    samples_png = image_grid(_samples(ds, store, seed), out / "samples.png")

    report.section("Data")
    report.text(f"Source: {source}. Root: {stats['root']}.")
    header = ["style", *stats["splits"]]
    table = [
        [style, *(v["counts"].get(style, 0) for v in stats["splits"].values())]
        for style in stats["styles"]
    ]
    table.append(["total", *(v["total"] for v in stats["splits"].values())])
    table.append(["imbalance (max/min)", *(v["imbalance_ratio"] for v in stats["splits"].values())])
    report.table(header, table)
    report.image(counts_png, "Images per style and split", out)
    report.image(
        samples_png, f"Random training images per style ({image_size} px, from the cache)", out
    )
    report.section("Data check")
    report.text(f"{check.errors} error(s), {check.warnings} warning(s). Full report: check.json.")
    report.pre(check.format_text())
    report.section("Preprocessing cache")
    report.text(
        f"{built.total} images cached at {image_size} px in {store.dir}: {built.decoded} decoded "
        f"({built.images_per_s:.0f} img/s), {built.reused} reused from an earlier run, "
        f"{len(built.bad)} unusable."
    )
