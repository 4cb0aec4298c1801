"""`wikiart demo`: every stage that exists, on the built-in data (or a given dataset), into one
folder with a ``report.html``. Each later capability adds its stage here."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from wikiart.data.cache import ImageStore
from wikiart.data.dataset import open_dataset
from wikiart.data.stats import dataset_stats, format_stats
from wikiart.files import write_json
from wikiart.report.html import HtmlReport
from wikiart.report.plots import image_grid, plot_counts

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
    _data_stages(report, out, data_dir, cache_root, source, image_size, seed, progress, timings)
    stages = (
        ("classifier", _classifier_stage, (image_size,)),
        ("autoencoder + clustering", _representation_stage, ()),
        ("style generator (judge, training, evaluation)", _stylegen_stage, (image_size,)),
        ("style transfer (style statistics, evaluation)", _transfer_stage, (image_size,)),
        ("diffusion (judge, training, evaluation)", _diffusion_stage, ()),
    )
    for name, stage, size in stages:
        t0 = time.perf_counter()
        stage(report, out, data_dir, cache_root, *size, seed, progress)
        timings.append((name, time.perf_counter() - t0))
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


def _data_stages(
    report: HtmlReport,
    out: Path,
    data_dir: Path,
    cache_root: Path | None,
    source: str,
    image_size: int,
    seed: int,
    progress: bool,
    timings: list[tuple[str, float]],
) -> None:
    """Statistics, the data check and the preprocessing cache, with their report sections."""
    from wikiart.data.check import check_dataset

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


def _classifier_stage(
    report: HtmlReport,
    out: Path,
    data_dir: Path,
    cache_root: Path | None,
    image_size: int,
    seed: int,
    progress: bool,
) -> None:
    """Train the from-scratch classifier briefly and report its test metrics."""
    from wikiart.classify import resolve_config, train_classifier

    run = out / "classifier"
    overrides = {
        "arch": "small-resnet",
        "epochs": 7,
        "batch_size": 32,
        # the demo's own settings, pinned (the style generator trains against this classifier):
        # whole 64 px images, pooled features
        "features": "pool",
        "train_scale": 1.0,
        "crop_scale": 0.6,
        "crop_max": 1.0,
        "seed": seed,
        "overwrite": True,
        "imbalance": "logit-adjust",
        "data": {
            "data": str(data_dir),
            "image_size": min(image_size, 64),
            "cache_dir": str(cache_root) if cache_root else None,
        },
    }
    cfg = resolve_config(None, overrides)
    metrics = train_classifier(cfg, run, progress=progress)
    report.section("Style classifier")
    report.text(
        f"{cfg.arch} trained from scratch for {cfg.epochs} epochs at {cfg.data.image_size} px with "
        f"the {cfg.imbalance} imbalance strategy; the best epoch by validation macro-F1 (a split "
        "carved from train) is evaluated on the test split. Run folder: classifier/."
    )
    if metrics:
        report.table(
            ["n", "accuracy", "balanced accuracy", "macro-F1", "top-5"],
            [
                [
                    metrics["n"],
                    metrics["accuracy"],
                    metrics["balanced_accuracy"],
                    metrics["macro_f1"],
                    metrics["top5_accuracy"],
                ]
            ],
        )
        report.table(
            ["style", "precision", "recall", "F1", "support"],
            [
                [name, pc["precision"], pc["recall"], pc["f1"], pc["support"]]
                for name, pc in metrics["per_class"].items()
            ],
        )
        report.image(run / "confusion.png", "Confusion matrix on the test split", out)
    report.image(run / "loss.png", "Training loss and validation metrics per epoch", out)


def _representation_stage(
    report: HtmlReport,
    out: Path,
    data_dir: Path,
    cache_root: Path | None,
    seed: int,
    progress: bool,
) -> None:
    """Train a small autoencoder briefly, then score every embedding source on the test split:
    raw pixels, the autoencoder's code, the demo classifier's embedding, and the pretrained
    backbone where its weights package is installed."""
    from wikiart.autoencode import resolve_config, train_autoencoder
    from wikiart.clustering import TABLE_HEADER, cluster_embeddings, embed_split, table_rows
    from wikiart.errors import WikiartError

    cache = str(cache_root) if cache_root else None
    run = out / "autoencoder"
    cfg = resolve_config(
        None,
        {
            "bottleneck": "16x8x8",
            "widths": [32, 64],
            "epochs": 5,
            "seed": seed,
            "overwrite": True,
            "data": {"data": str(data_dir), "image_size": 32, "cache_dir": cache},
        },
    )
    t0 = time.perf_counter()
    summary = train_autoencoder(cfg, run, progress=progress)
    train_s = time.perf_counter() - t0
    sources = [
        ("pixels", {"source": "pixels"}),
        ("autoencoder", {"checkpoint": run / "model.pt"}),
        ("classifier", {"checkpoint": out / "classifier" / "model.pt"}),
        ("pretrained", {"source": "pretrained", "image_size": 96}),
    ]
    results, skipped = [], []
    for name, kw in sources:
        if "checkpoint" in kw and not Path(kw["checkpoint"]).exists():
            continue
        t0 = time.perf_counter()
        try:
            emb = embed_split(data_dir, cache_dir=cache, progress=progress, **kw)
        except WikiartError as exc:  # e.g. the pretrained weights package is not installed
            skipped.append(f"{name}: {exc}")
            continue
        res = cluster_embeddings(
            emb, out / "clusters" / name, seed=seed, embed_seconds=time.perf_counter() - t0
        )
        res["seconds"]["total"] = time.perf_counter() - t0
        res["seconds"]["train"] = train_s if name == "autoencoder" else 0.0
        results.append((name, res))

    report.section("Autoencoder and style clusters")
    report.text(
        f"A convolutional autoencoder with a {cfg.bottleneck} code trained for {cfg.epochs} epochs "
        f"at {cfg.data.image_size} px ({cfg.loss} loss; best validation MSE "
        f"{summary.get('val_mse', float('nan')):.4f}, SSIM {summary.get('val_ssim', 0):.3f}). "
        "Then every embedding source is clustered on the test split (k-means with k = number "
        "of styles; vectors standardised first) and scored against the styles: NMI and ARI of "
        "the clusters, their silhouette and that of the styles, and leave-one-out 5-NN style "
        "accuracy. Run folders: autoencoder/, clusters/<source>/."
    )
    report.image(run / "reconstructions.png", "Test images (top) and reconstructions", out)
    report.image(run / "loss.png", "Autoencoder loss and validation SSIM per epoch", out)
    report.table(list(TABLE_HEADER), table_rows([r for _, r in results]))
    for line in skipped:
        report.text(f"skipped {line}", muted=True)
    for name, res in results:
        if name in ("autoencoder", "pretrained", "classifier"):
            for plot in res["plots"]:
                report.image(out / "clusters" / name / plot, f"{res['source']}: {plot}", out)


def _train_judge(
    run: Path, data: dict, seed: int, epochs: int, progress: bool
) -> tuple[Any, dict[str, Any]]:
    """An independent judge of generated images: a ``baseline-cnn`` trained with its own seed
    on ``data`` (a ``[data]`` table); ``(its config, its test metrics)``."""
    from wikiart.classify import resolve_config, train_classifier

    cfg = resolve_config(
        None,
        {
            "arch": "baseline-cnn",
            "epochs": epochs,
            "batch_size": 32,
            "seed": seed,
            "overwrite": True,
            "data": data,
        },
    )
    return cfg, train_classifier(cfg, run, progress=progress)


def _stylegen_stage(
    report: HtmlReport,
    out: Path,
    data_dir: Path,
    cache_root: Path | None,
    image_size: int,
    seed: int,
    progress: bool,
) -> None:
    """Train an independent judge (another architecture and seed), then the style generator
    against the demo classifier at 64 px, and score its style swaps with the judge."""
    from wikiart.stylegen import EVAL_HEADER, eval_row, evaluate_stylegen, train_stylegen
    from wikiart.stylegen import resolve_config as sg_config

    classifier = out / "classifier" / "model.pt"
    if not classifier.exists():
        return
    cache = str(cache_root) if cache_root else None
    size = min(image_size, 64)
    data = {"data": str(data_dir), "image_size": size, "cache_dir": cache}
    judge_cfg, judge = _train_judge(out / "judge", data, seed + 1, 8, progress)
    cfg = sg_config(
        None,
        {
            "classifier": str(classifier),
            "epochs": 1,
            "batch_size": 16,
            "seed": seed,
            "overwrite": True,
            "data": data,
        },
    )
    row = train_stylegen(cfg, out / "stylegen", progress=progress)
    res = evaluate_stylegen(
        out / "stylegen" / "model.pt",
        out / "judge" / "model.pt",
        data_dir,
        out / "stylegen-eval",
        cache_dir=cache,
        progress=progress,
        seed=seed,
        max_per_style=10,
    )
    report.section("Style-conditioned generator")
    report.text(
        f"The generator (content code {cfg.code_channels} x {size // 8} x {size // 8}"
        f"{', U-Net skips' if cfg.skips else ''}, every decoder stage modulated by the style "
        f"embedding after {cfg.norm} normalisation) trained for "
        f"{cfg.epochs} epochs at {size} px against the frozen demo classifier "
        f"(last epoch: the classifier saw the target style in "
        f"{row.get('train_style_acc', float('nan')):.0%} of the training renders). "
        f"An independent judge ({judge_cfg.arch}, seed {judge_cfg.seed}, test macro-F1 "
        f"{judge.get('macro_f1', float('nan')):.3f}) then labels each test image re-rendered in "
        "every other style: swap success is the share it assigns to the target style; the floor "
        "is that share for the unchanged inputs, the colour baseline for inputs whose channel "
        "means and spreads were moved to the target style's. SSIM and the pretrained-feature "
        "distance compare each render with its input. Run folders: judge/, stylegen/, "
        "stylegen-eval/."
    )
    report.table(list(EVAL_HEADER), [eval_row(res)])
    report.image(
        out / "stylegen-eval" / "grid.png",
        "Test images (rows): original, own-style reconstruction, then every style",
        out,
    )
    report.image(out / "stylegen" / "loss.png", "Style generator losses per epoch", out)


def _transfer_stage(
    report: HtmlReport,
    out: Path,
    data_dir: Path,
    cache_root: Path | None,
    image_size: int,
    seed: int,
    progress: bool,
) -> None:
    """The packaged AdaIN decoder given this collection's style statistics (``train transfer
    --init builtin --epochs 0``), then scored like the generator, by the same judge."""
    from wikiart.errors import WikiartError
    from wikiart.stylegen import EVAL_HEADER, eval_row, evaluate_stylegen
    from wikiart.transfer import resolve_config, train_transfer
    from wikiart.transfer.config import builtin_path

    judge = out / "judge" / "model.pt"
    try:
        builtin_path()
    except WikiartError as exc:
        report.section("Style transfer")
        report.text(f"skipped: {exc}", muted=True)
        return
    if not judge.exists():
        return
    cache = str(cache_root) if cache_root else None
    data = {"data": str(data_dir), "image_size": image_size, "cache_dir": cache}
    cfg = resolve_config(
        None, {"epochs": 0, "init": "builtin", "seed": seed, "overwrite": True, "data": data}
    )
    train_transfer(cfg, out / "transfer", progress=progress)
    res = evaluate_stylegen(
        out / "transfer" / "model.pt",
        judge,
        data_dir,
        out / "transfer-eval",
        cache_dir=cache,
        progress=progress,
        seed=seed,
        max_per_style=10,
    )
    report.section("Style transfer")
    report.text(
        "The packaged AdaIN decoder (over the frozen ImageNet EfficientNet-Lite0, trained once on "
        "real paintings) with each style of this collection summarised by its paintings' "
        "feature statistics: no training here, only those statistics (`wikiart train transfer "
        f"--init builtin --epochs 0`). The same judge as the generator's scores it at "
        f"{image_size} px, on the same test images, so the two rows compare directly; "
        "`wikiart transfer` paints any picture at its own size. Run folders: transfer/, "
        "transfer-eval/."
    )
    report.table(list(EVAL_HEADER), [eval_row(res)])
    report.image(
        out / "transfer-eval" / "grid.png",
        "Test images (rows): original, own style, then every style by name",
        out,
    )


#: The demo's diffusion budget: ``EPOCHS x STEPS`` optimizer steps of ``BATCH`` images at
#: ``SIZE`` px (16 px: what a 2-core CPU trains far enough in two minutes), and ``SAMPLES``
#: samples per style judged.
DIFFUSION_EPOCHS, DIFFUSION_STEPS, DIFFUSION_BATCH, DIFFUSION_SAMPLES = 16, 20, 64, 16
DIFFUSION_SIZE = 16


def _diffusion_stage(
    report: HtmlReport,
    out: Path,
    data_dir: Path,
    cache_root: Path | None,
    seed: int,
    progress: bool,
) -> None:
    """Train a judge at 32 px, then the class-conditional diffusion model, and judge its
    samples. Skipped (with a note) where the diffusion extra is not installed."""
    from wikiart.errors import WikiartError
    from wikiart.models.diffusion import require_diffusers

    try:
        require_diffusers()
    except WikiartError as exc:
        report.section("Diffusion")
        report.text(f"skipped: {exc}", muted=True)
        return
    from wikiart.diffusion import resolve_config, train_diffusion
    from wikiart.diffusion.evaluate import evaluate_diffusion
    from wikiart.eval.generator import SampleOptions

    cache = str(cache_root) if cache_root else None
    data = {"data": str(data_dir), "image_size": DIFFUSION_SIZE, "cache_dir": cache}
    judge_cfg, judge = _train_judge(out / "diffusion-judge", data, seed + 2, 15, progress)
    cfg = resolve_config(
        None,
        {
            "epochs": DIFFUSION_EPOCHS,
            "steps_per_epoch": DIFFUSION_STEPS,
            "batch_size": DIFFUSION_BATCH,
            "sample_every": 0,
            "samples": 4,
            "seed": seed,
            "overwrite": True,
            "data": data,
        },
    )
    t0 = time.perf_counter()
    train_diffusion(cfg, out / "diffusion", progress=progress)
    train_s = time.perf_counter() - t0
    res = evaluate_diffusion(
        out / "diffusion" / "model.pt",
        out / "diffusion-judge" / "model.pt",
        data_dir,
        out / "diffusion-eval",
        SampleOptions(n=DIFFUSION_SAMPLES, seed=seed),
        cache_dir=cache,
        progress=progress,
        feature_size=64,
    )
    report.section("Diffusion")
    steps = cfg.epochs * (cfg.steps_per_epoch or 0)
    size = cfg.data.image_size
    report.text(
        f"A class-conditional diffusion model (diffusers UNet2DModel, widths "
        f"{', '.join(map(str, cfg.widths))}, a class embedding with one extra 'no style' class) "
        f"trained from scratch at {size} px for {steps} steps of {cfg.batch_size} class-balanced "
        f"images ({train_s:.0f} s here), then sampled with DDIM ({res['sampling']['steps']} "
        f"steps, classifier-free guidance {res['sampling']['guidance']}). An independent judge "
        f"({judge_cfg.arch} at {size} px, seed {judge_cfg.seed}, test macro-F1 "
        f"{judge.get('macro_f1', float('nan')):.3f}) labels {res['n_per_style']} samples per "
        f"style: judge share {res['judge_share']:.3f} against chance {res['chance']:.3f}; on real "
        f"test images at {size} px it gets {res['real_share']:.3f} right. Run folders: "
        "diffusion-judge/, diffusion/, diffusion-eval/."
    )
    report.table(
        ["style", "judge share", "real share"],
        [[s, v["judge_share"], v["real_share"]] for s, v in res["per_style"].items()],
    )
    if res.get("memorisation"):
        m = res["memorisation"]
        report.text(
            f"Fréchet distance to the test images in Lite0 features: {res['frechet_lite0']} "
            f"(real training images: {res['frechet_lite0_train_vs_test']}). Memorisation check: "
            f"{m['closer_than_test_p5']:.0%} of samples are nearer a training image than 95% of "
            f"test images are (about 5% without copying)."
        )
    report.image(
        out / "diffusion-eval" / "grid.png", "Samples per style, with the judge's share", out
    )
    report.image(
        out / "diffusion-eval" / "nearest.png",
        "The samples nearest a training image, beside it",
        out,
    )
