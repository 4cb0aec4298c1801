"""`wikiart data ...`: statistics, the data check, the preprocessing cache, re-splits and the
built-in procedural dataset. The flags (`add_data_parsers`) and what each sub-command runs
(`data_command`); `wikiart.cli` routes ``wikiart data`` here."""

from __future__ import annotations

import argparse
import json
from typing import Any

from wikiart.flags import number

SEED = number(int, 0, 2**32 - 1)


def _csv_list(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


def _add_data_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "data", help="dataset root (train/, test/, valid/ of <Style>/<image>) or parquet folder"
    )
    p.add_argument(
        "--split-csv",
        help="ArtGAN split CSVs: train.csv,test.csv[,valid.csv]; DATA is then the image root",
    )
    p.add_argument(
        "--style-names",
        help="comma-separated style names for parquet shards without names in their metadata",
    )


def _workers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=number(int, 1, 1024), help="decode processes (default: all cores)"
    )


def add_data_parsers(sub: Any) -> None:
    data = sub.add_parser("data", help="inspect, check, cache or generate datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("stats", help="per-style image counts per split, with imbalance ratios")
    _add_data_source(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p = dsub.add_parser(
        "check", help="unreadable files, exact/near duplicates, train/test leakage, missing styles"
    )
    _add_data_source(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--near-threshold",
        type=number(int, 0, 64),
        default=4,
        help="max Hamming distance (of 64 bits) between perceptual hashes of near duplicates",
    )
    _workers(p)
    p = dsub.add_parser("cache", help="decode and resize every image once into the on-disk cache")
    _add_data_source(p)
    p.add_argument("--image-size", type=number(int, 8, 4096), default=128)
    p.add_argument("--fit", choices=("crop", "pad"), default="crop")
    p.add_argument("--cache-dir", help="cache root (default: $WIKIART_CACHE or ~/.cache/wikiart)")
    _workers(p)
    p = dsub.add_parser(
        "split",
        help="re-split a collection (any source) into train/valid/test, optionally by artist",
        usage="wikiart data split DATA --out DIR --test-fraction F [--val-fraction V] "
        "[--by artist] [--seed S] [--duplicates together|ignore]",
    )
    _add_data_source(p)
    p.add_argument("--out", required=True, help="a new folder: the re-split dataset root")
    p.add_argument(
        "--test-fraction",
        type=number(float, 0, 1, lo_open=True, hi_open=True),
        required=True,
        help="test share, e.g. 0.2",
    )
    p.add_argument(
        "--val-fraction",
        type=number(float, 0, 1, hi_open=True),
        default=0.0,
        help="validation share (0: none)",
    )
    p.add_argument(
        "--by", choices=("image", "artist"), default="image",
        help="image: stratified by style; artist: also no artist in two splits",
    )  # fmt: skip
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument(
        "--no-links", dest="links", action="store_false",
        help="only the manifest (split.csv), no <split>/<Style>/<image> tree of links",
    )  # fmt: skip
    p.add_argument(
        "--duplicates", choices=("together", "ignore"), default="together",
        help="together: copies of a painting (as `data check` finds them) in one split; "
        "ignore: skip reading the images",
    )  # fmt: skip
    _workers(p)
    p = dsub.add_parser("synth", help="write the built-in procedural dataset")
    p.add_argument("--out", required=True, help="output folder (new, or a previous synth output)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--image-size", type=number(int, 8, 4096), default=128)
    p.add_argument("--train-max", type=number(int, 1, 1_000_000), default=300,
                   help="train images of the largest style")  # fmt: skip
    p.add_argument(
        "--imbalance", type=number(float, 1, 1e6), default=12.0, help="largest/smallest train ratio"
    )
    p.add_argument("--test-per-style", type=number(int, 0, 1_000_000), default=40)
    _workers(p)


def _open(args: argparse.Namespace):
    from wikiart.data.dataset import open_dataset

    return open_dataset(
        args.data, split_csv=_csv_list(args.split_csv), style_names=_csv_list(args.style_names)
    )


def _cmd_synth(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.data.synth import generate

    counts = generate(
        args.out,
        seed=args.seed,
        image_size=args.image_size,
        train_max=args.train_max,
        imbalance=args.imbalance,
        test_per_style=args.test_per_style,
        workers=args.workers,
        progress=progress,
    )
    total = sum(sum(c.values()) for c in counts.values())
    print(f"wrote {total} images in {len(counts['train'])} styles to {args.out}")
    return 0


def _cmd_split(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.data.check import duplicate_sets
    from wikiart.data.resplit import split_refs, write_split

    ds = _open(args)
    refs = [r for name in ds.splits for r in ds.splits[name]]  # every split, pooled
    together = []
    if args.duplicates == "together":
        sets = duplicate_sets(refs, workers=args.workers, progress=progress)
        together = [[refs[i].key for i in members] for members in sets]
    result = split_refs(
        refs, test_fraction=args.test_fraction, val_fraction=args.val_fraction, by=args.by,
        seed=args.seed, together=together,
    )  # fmt: skip
    links = args.links and all(r.row < 0 for r in refs)  # parquet rows cannot be linked
    out = write_split(result, args.out, links=links)
    rep = result.report
    for name, info in rep["splits"].items():
        line = f"{name:5s} {info['images']:6d} images ({100 * info['share']:.1f}%), style share "
        line += f"drift at most {100 * info['max_abs_drift']:.1f} points"
        if name in rep["artists"]:
            a = rep["artists"][name]
            line += f"; {a['images_by_train_artists']} by artists also in train"
        print(line)
    layout = "links to the original files and split.csv" if links else "split.csv (a manifest)"
    print(
        f"artists known for {rep['artists']['known']} of {rep['images']} images "
        f"({rep['artists']['distinct']} distinct); wrote {layout} and split.json to {out}"
    )
    if together:
        copies = rep["duplicates_kept_together"]
        print(f"{copies['sets']} sets of copies ({copies['images']} images) kept in one split each")
    return 0


def data_command(args: argparse.Namespace, progress: bool) -> int:
    if args.data_command == "synth":
        return _cmd_synth(args, progress)
    if args.data_command == "split":
        return _cmd_split(args, progress)
    ds = _open(args)
    if args.data_command == "stats":
        from wikiart.data.stats import dataset_stats, format_stats

        stats = dataset_stats(ds)
        print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
        return 0
    if args.data_command == "check":
        from wikiart.data.check import check_dataset

        report = check_dataset(
            ds, near_threshold=args.near_threshold, workers=args.workers, progress=progress
        )
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.format_text())
        return report.exit_code
    from wikiart.data.cache import ImageStore

    store = ImageStore.for_source(ds.cache_source, args.image_size, args.fit, args.cache_dir)
    refs = [r for name in ds.splits for r in ds.splits[name]]
    rep = store.build(refs, workers=args.workers, progress=progress)
    print(
        f"cache {store.dir}: {rep.total} images, {rep.reused} reused, {rep.decoded} decoded "
        f"in {rep.seconds:.1f}s ({rep.images_per_s:.0f} img/s), {len(rep.bad)} unusable"
    )
    return 0
