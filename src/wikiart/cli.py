"""Command line: parse flags, build a config, call one library function. Nothing else lives here.

Exit codes: 0 success; 1 the job ran and found problems; 2 bad usage or bad input (one clear line
on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from wikiart import __version__
from wikiart.errors import WikiartError

log = logging.getLogger("wikiart")


def _switch(p: argparse.ArgumentParser, flag: str, help: str) -> None:
    """An on/off flag (``--x`` / ``--no-x``) that leaves the config's value alone when absent."""
    p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help)


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


def _int_list(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers like 32,64,128, got {value!r}"
        ) from None


def _csv_list(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wikiart", description="Model art styles in paintings.")
    parser.add_argument("--version", action="version", version=f"wikiart {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (default: only on a terminal)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
        type=int,
        default=4,
        help="max Hamming distance (of 64 bits) between perceptual hashes of near duplicates",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="decode processes (default: all cores)"
    )

    p = dsub.add_parser("cache", help="decode and resize every image once into the on-disk cache")
    _add_data_source(p)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--fit", choices=("crop", "pad"), default="crop")
    p.add_argument("--cache-dir", help="cache root (default: $WIKIART_CACHE or ~/.cache/wikiart)")
    p.add_argument(
        "--workers", type=int, default=None, help="decode processes (default: all cores)"
    )

    p = dsub.add_parser("synth", help="write the built-in procedural dataset")
    p.add_argument("--out", required=True, help="output folder (new, or a previous synth output)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--train-max", type=int, default=300, help="train images of the largest style")
    p.add_argument("--imbalance", type=float, default=12.0, help="largest/smallest train ratio")
    p.add_argument("--test-per-style", type=int, default=40)
    p.add_argument("--workers", type=int, default=None)

    train = sub.add_parser("train", help="train a model")
    tsub = train.add_subparsers(dest="model", required=True)
    p = tsub.add_parser("classifier", help="a style classifier (see --arch, --imbalance)")
    _add_train_flags(p)
    p.add_argument(
        "--arch",
        help="seed-cnn, small-resnet, resnet18, efficientnet-lite0/1/2, "
        "torchvision:NAME or timm:NAME (default small-resnet)",
    )
    p.add_argument("--imbalance", choices=IMBALANCE_CHOICES, help="class imbalance strategy")
    p.add_argument("--pretrained", help="'auto' (offline weights), 'none', or a local weights file")
    p.add_argument(
        "--features",
        choices=("pool", "stats", "gram"),
        help="embedding: last layer pooled, style statistics of several layers, or (small-resnet) "
        "those plus channel covariances",
    )
    p.add_argument("--mode", choices=("finetune", "frozen", "probe+finetune"))
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--weight-decay", type=float, help="AdamW's decoupled weight decay")
    p.add_argument("--dropout", type=float, help="dropout on the embedding, before the head")
    p.add_argument(
        "--optimizer",
        choices=("adamw", "sgd"),
        help="end-to-end training: AdamW (default) or SGD with Nesterov momentum",
    )
    p.add_argument(
        "--ema-decay",
        type=float,
        help="evaluate, select and save an exponential moving average of the weights with this "
        "decay per step (e.g. 0.995; 0: off)",
    )
    p.add_argument("--schedule", choices=("onecycle", "cosine", "constant"))
    p.add_argument("--backbone-lr-mult", type=float, help="backbone LR = lr x this")
    p.add_argument(
        "--layer-decay", type=float, help="LR factor per backbone depth group, top to bottom"
    )
    p.add_argument(
        "--finetune-groups",
        type=int,
        help="fine-tune only the top N backbone depth groups (-1: all)",
    )
    _switch(p, "--freeze-bn", "keep BatchNorm running statistics fixed while fine-tuning")
    p.add_argument("--crop-scale", type=float, help="smallest training crop, as an area fraction")
    p.add_argument("--crop-max", type=float, help="largest training crop, as an area fraction")
    p.add_argument(
        "--train-scale",
        type=float,
        help="training crops are resized to this fraction of --image-size (whole images at "
        "--image-size for evaluation)",
    )
    p.add_argument(
        "--mix", choices=("none", "mixup", "cutmix"), help="batch mixing when training end to end"
    )
    p.add_argument("--mix-alpha", type=float, help="Beta(alpha, alpha) of the mixing weight")
    p.add_argument("--head-epochs", type=int, help="epochs of the head on cached features")
    p.add_argument("--head-l2", type=float, help="L2 penalty of the linear head (frozen/probe)")
    p.add_argument(
        "--no-refit",
        dest="refit",
        action="store_false",
        default=None,
        help="frozen mode: keep the head fitted on train only (no refit on train + validation)",
    )
    p.add_argument(
        "--no-tta",
        dest="tta",
        action="store_false",
        default=None,
        help="no mirror-image averaging at evaluation",
    )

    p = tsub.add_parser("autoencoder", help="a convolutional autoencoder (codes for clustering)")
    _add_train_flags(p)
    p.add_argument(
        "--bottleneck", help="code shape CxHxW (default 1x10x10, the seed's) or seed/small/wide"
    )
    p.add_argument("--widths", type=_int_list, help="encoder channels per stage, e.g. 32,64,128")
    p.add_argument(
        "--loss", choices=("mse", "mse+ssim", "mse+perceptual"), help="reconstruction loss"
    )
    p.add_argument("--ssim-weight", type=float, help="weight of 1 - SSIM in mse+ssim")
    p.add_argument("--perceptual-weight", type=float, help="weight of the pretrained-feature term")

    p = tsub.add_parser(
        "stylegen", help="a style-conditioned generator, trained against a frozen classifier"
    )
    _add_train_flags(p)
    p.add_argument("--classifier", help="RUN/model.pt of a trained style classifier (frozen)")
    p.add_argument("--widths", type=_int_list, help="encoder channels per stage, e.g. 32,64,128")
    p.add_argument("--code-channels", type=int, help="channels of the spatial content code")
    p.add_argument(
        "--norm", choices=("batch", "instance"), help="decoder norm: conditional BN or AdaIN"
    )
    p.add_argument("--rec-weight", type=float, help="L1 reconstruction under the own style")
    p.add_argument("--style-weight", type=float, help="classifier cross-entropy toward the target")
    p.add_argument("--content-weight", type=float, help="pretrained-feature distance to the input")
    p.add_argument("--code-weight", type=float, help="content code of render vs input")
    p.add_argument("--stats-weight", type=float, help="render embedding vs target style mean")
    p.add_argument(
        "--texture-weight", type=float, help="Lite0 feature mean/std vs the target style's"
    )
    p.add_argument("--layout-weight", type=float, help="render vs input at 1/8 resolution (L1)")
    p.add_argument(
        "--style-margin", type=float, help="hinge: cross-entropy below this stops pulling"
    )
    _switch(p, "--style-augment", "random crop/flip/noise of renders before the frozen classifier")
    _switch(p, "--skips", "U-Net skips from encoder to decoder")
    p.add_argument("--padding", choices=("reflect", "zeros"), help="conv padding of the generator")
    p.add_argument("--classifier-size", type=int, help="renders resized to this for the classifier")

    p = sub.add_parser("render", help="re-render images in other styles with a stylegen model")
    p.add_argument("--checkpoint", required=True, help="a stylegen RUN/model.pt")
    p.add_argument("--image", nargs="+", required=True, help="image files")
    p.add_argument("--style", nargs="+", required=True, help="style names (as in training)")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="auto")

    p = sub.add_parser(
        "cluster", help="embed a split, cluster it, score the clusters against the styles"
    )
    p.add_argument(
        "--checkpoint", help="an autoencoder or classifier RUN/model.pt (its kind is read)"
    )
    p.add_argument(
        "--source",
        choices=("pixels", "pretrained"),
        help="without --checkpoint: raw downsampled pixels (the floor) or the offline "
        "ImageNet-pretrained EfficientNet-Lite0",
    )
    p.add_argument("--data", required=True, help="split folder (<Style>/<image>) or dataset root")
    p.add_argument("--out", required=True)
    p.add_argument("--image-size", type=int, help="pixels/pretrained: input size (32 / 224)")
    p.add_argument(
        "--features", choices=("pool", "stats"), help="pretrained: embedding (default pool)"
    )
    p.add_argument(
        "--normalize",
        choices=("none", "standard", "pca-whiten"),
        default="standard",
        help="applied to every source's vectors before clustering (default standard)",
    )
    p.add_argument("--methods", default="kmeans,agglomerative,gmm", help="comma-separated")
    p.add_argument("--k", type=int, help="number of clusters (default: number of styles)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir")
    p.add_argument("--no-tsne", dest="tsne", action="store_false", help="skip the t-SNE plot")

    p = sub.add_parser("evaluate", help="metrics of a checkpoint on a split folder or dataset")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="split folder (<Style>/<image>) or dataset root")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cache-dir")
    p.add_argument("--no-tta", dest="tta", action="store_false")
    p.add_argument(
        "--judge", help="stylegen checkpoints: an independently trained classifier RUN/model.pt"
    )
    p.add_argument(
        "--max-per-style", type=int, help="stylegen: at most this many test images per style"
    )

    p = sub.add_parser("predict", help="top-k styles of image files")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("images", nargs="+")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-tta", dest="tta", action="store_false")

    p = sub.add_parser("demo", help="run every stage on the built-in data and write report.html")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--data", help="use this dataset instead of the built-in one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=96)
    return parser


IMBALANCE_CHOICES = ("none", "resample", "sampler", "weighted-loss", "logit-adjust")


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    """The contract's common training flags (unset flags leave the config file's values)."""
    p.add_argument("--data", help="dataset root (train/, test/[, valid/])")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--config", help="TOML file; flags override it")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--image-size", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", default=None, help="continue RUN/last.pt")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--patience", type=int, help="early stopping after N epochs without gain")
    p.add_argument("--workers", type=int, help="DataLoader worker processes")
    p.add_argument("--split-csv", help="ArtGAN CSVs train.csv,test.csv; --data is the image root")
    p.add_argument("--cache-dir", help="preprocessing cache root")
    p.add_argument("--val-fraction", type=float, help="validation share carved from train")


def _train_overrides(args: argparse.Namespace, extra: tuple[str, ...]) -> dict:
    over = {
        k: getattr(args, k)
        for k in ("epochs", "batch_size", "lr", "device", "seed", "resume", "precision", "patience")
    }
    over["loader_workers"] = args.workers
    over["data"] = {
        "data": args.data,
        "split_csv": _csv_list(args.split_csv),
        "image_size": args.image_size,
        "cache_dir": args.cache_dir,
        "val_fraction": args.val_fraction,
    }
    over.update({k: getattr(args, k) for k in extra})
    return over


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="wikiart: %(levelname)s: %(message)s", force=True)


def _open(args: argparse.Namespace):
    from wikiart.data.dataset import open_dataset

    return open_dataset(
        args.data, split_csv=_csv_list(args.split_csv), style_names=_csv_list(args.style_names)
    )


def _cmd_data(args: argparse.Namespace, progress: bool) -> int:
    if args.data_command == "synth":
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
    if args.data_command == "cache":
        from wikiart.data.cache import ImageStore

        store = ImageStore.for_source(ds.root, args.image_size, args.fit, args.cache_dir)
        refs = [r for name in ds.splits for r in ds.splits[name]]
        rep = store.build(refs, workers=args.workers, progress=progress)
        print(
            f"cache {store.dir}: {rep.total} images, {rep.reused} reused, {rep.decoded} decoded "
            f"in {rep.seconds:.1f}s ({rep.images_per_s:.0f} img/s), {len(rep.bad)} unusable"
        )
        return 0
    raise AssertionError(args.data_command)


def _cmd_train(args: argparse.Namespace, progress: bool) -> int:
    if args.model == "classifier":
        from wikiart.classify import resolve_config, train_classifier

        extra = (
            "arch",
            "imbalance",
            "pretrained",
            "features",
            "mode",
            "label_smoothing",
            "weight_decay",
            "dropout",
            "ema_decay",
            "optimizer",
            "schedule",
            "backbone_lr_mult",
            "layer_decay",
            "finetune_groups",
            "freeze_bn",
            "crop_scale",
            "crop_max",
            "train_scale",
            "mix",
            "mix_alpha",
            "head_epochs",
            "tta",
            "head_l2",
            "refit",
        )
        cfg = resolve_config(args.config, _train_overrides(args, extra))
        metrics = train_classifier(cfg, args.out, progress=progress)
        if metrics:
            print(
                f"test: accuracy={metrics['accuracy']:.3f} balanced_accuracy="
                f"{metrics['balanced_accuracy']:.3f} macro_f1={metrics['macro_f1']:.3f}"
            )
        print(f"run: {args.out} (model.pt, metrics.json, report.md)")
        return 0
    if args.model == "autoencoder":
        from wikiart.autoencode import resolve_config as ae_config
        from wikiart.autoencode import train_autoencoder

        over = _train_overrides(args, ("bottleneck", "loss", "ssim_weight", "perceptual_weight"))
        over["widths"] = args.widths
        summary = train_autoencoder(ae_config(args.config, over), args.out, progress=progress)
        print(
            f"best epoch {int(summary.get('epoch', 0))}: val_mse={summary.get('val_mse', 0):.4f} "
            f"val_ssim={summary.get('val_ssim', 0):.3f}; run: {args.out} "
            "(model.pt, reconstructions.png)"
        )
        return 0
    if args.model == "stylegen":
        from wikiart.stylegen import resolve_config as sg_config
        from wikiart.stylegen import train_stylegen

        extra = (
            "classifier",
            "code_channels",
            "norm",
            "rec_weight",
            "style_weight",
            "content_weight",
            "code_weight",
            "stats_weight",
            "texture_weight",
            "layout_weight",
            "style_margin",
            "style_augment",
            "skips",
            "padding",
            "classifier_size",
        )
        over = _train_overrides(args, extra)
        over["widths"] = args.widths
        row = train_stylegen(sg_config(args.config, over), args.out, progress=progress)
        print(
            f"epoch {int(row.get('epoch', 0))}: loss={row.get('train_loss', float('nan')):.4f} "
            f"style_acc={row.get('train_style_acc', float('nan')):.3f}; run: {args.out} "
            "(model.pt, style_embeddings.pt, grid.png)"
        )
        return 0
    raise AssertionError(args.model)


def _is_stylegen(path: str) -> bool:
    """Whether a checkpoint holds a style generator (evaluate reads the kind from the file)."""
    from wikiart.train.checkpoint import load_checkpoint

    return load_checkpoint(path).get("kind") == "stylegen"


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # file names need not be valid UTF-8
        sys.stderr.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        if args.command == "data":
            return _cmd_data(args, progress)
        if args.command == "train":
            return _cmd_train(args, progress)
        if args.command == "cluster":
            from wikiart.cluster import cluster_command

            res = cluster_command(
                data=args.data,
                out=args.out,
                checkpoint=args.checkpoint,
                source=args.source,
                image_size=args.image_size,
                features=args.features,
                normalize=args.normalize,
                methods=_csv_list(args.methods) or ["kmeans"],
                k=args.k,
                device=args.device,
                batch_size=args.batch_size,
                seed=args.seed,
                cache_dir=args.cache_dir,
                tsne=args.tsne,
                progress=progress,
            )
            print(
                f"{res['source']}: n={res['n']} k={res['k']} nmi={res['nmi']:.3f} "
                f"ari={res['ari']:.3f} silhouette={res['silhouette']:.3f} "
                f"knn_accuracy={res['knn_accuracy']:.3f}; wrote {args.out}"
            )
            return 0
        if args.command == "render":
            from wikiart.stylegen import render_command

            paths = render_command(
                args.checkpoint, args.image, args.style, args.out, device=args.device
            )
            print(f"wrote {len(paths)} render(s) and grid.png to {args.out}")
            return 0
        if args.command == "evaluate" and _is_stylegen(args.checkpoint):
            from wikiart.stylegen import evaluate_stylegen, format_table

            if not args.judge:
                raise WikiartError(
                    "a stylegen checkpoint is evaluated by an independent classifier: pass "
                    "--judge CLASSIFIER/model.pt"
                )
            res = evaluate_stylegen(
                args.checkpoint,
                args.judge,
                args.data,
                args.out,
                device=args.device,
                batch_size=args.batch_size,
                max_per_style=args.max_per_style,
                cache_dir=args.cache_dir,
                progress=progress,
            )
            print(format_table(res))
            print(f"wrote {args.out}/stylegen_eval.json and grid.png")
            return 0
        if args.command == "evaluate":
            from wikiart.classify import evaluate_checkpoint

            m = evaluate_checkpoint(
                args.checkpoint,
                args.data,
                args.out,
                device=args.device,
                tta=args.tta,
                batch_size=args.batch_size,
                cache_dir=args.cache_dir,
                progress=progress,
            )
            print(
                f"n={m['n']} accuracy={m['accuracy']:.3f} balanced_accuracy="
                f"{m['balanced_accuracy']:.3f} macro_f1={m['macro_f1']:.3f}; wrote {args.out}"
            )
            return 0
        if args.command == "predict":
            from wikiart.classify import predict_images

            preds = predict_images(
                args.checkpoint, args.images, top_k=args.top_k, device=args.device, tta=args.tta
            )
            if args.json:
                print(json.dumps(preds, indent=2))
            else:
                for p in preds:
                    tops = ", ".join(f"{t['style']} {t['probability']:.2f}" for t in p["top"])
                    print(f"{p['image']}: {tops}")
            return 0
        if args.command == "demo":
            from wikiart.demo import run_demo

            report = run_demo(
                Path(args.out),
                data=args.data,
                seed=args.seed,
                image_size=args.image_size,
                progress=progress,
            )
            print(f"report: {report}")
            return 0
    except WikiartError as exc:
        print(f"wikiart: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wikiart: interrupted", file=sys.stderr)
        return 130
    raise AssertionError(args.command)


if __name__ == "__main__":
    raise SystemExit(main())
