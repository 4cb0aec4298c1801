"""Do styles cluster? Each embedding source scored on the sample's test split, in one table.

Rows: raw downsampled pixels (the floor); the pixel autoencoder's code, trained here on the
sample's train split with MSE and with MSE + a perceptual term (or read from --ae-checkpoint /
--ae-perceptual-checkpoint), optionally with MSE + SSIM (--ssim); the course's 1x10x10 code size
with our recipe; the style autoencoder (`--model style`, the default, with --style-settings as
chosen by `bench/style_codes.py` on validation; or --style-checkpoint); the offline
ImageNet-pretrained EfficientNet-Lite0
(average pool and style statistics); optionally a trained classifier (--classifier RUN/model.pt).
Columns: k-means NMI and ARI against the styles, silhouette of the k-means clusters and of the
styles themselves, leave-one-out 5-NN style accuracy, seconds to embed + cluster, and seconds
of autoencoder training. Every source's vectors are standardised the same way first.

    python bench/representations.py [--epochs 6] [--ssim] [--classifier runs/x/model.pt]
        [--style-settings '{"code_dim": 64}'] [--no-style]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"


def style_autoencoder(args: argparse.Namespace, data: Path, out: Path) -> tuple[str, float]:
    """The style autoencoder's checkpoint (trained here on the train split unless given) and its
    training seconds."""
    from wikiart.autoencode import resolve_config, train_autoencoder

    if args.style_checkpoint:
        return args.style_checkpoint, 0.0
    over = {
        "model": "style",
        **json.loads(args.style_settings),
        "seed": args.seed,
        "overwrite": True,
        "data": {"data": str(data), "cache_dir": args.cache_dir},
    }
    t0 = time.perf_counter()
    train_autoencoder(resolve_config(None, over), out / "ae-style")
    return str(out / "ae-style" / "model.pt"), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--epochs", type=int, default=6, help="autoencoder epochs")
    ap.add_argument("--image-size", type=int, default=64, help="autoencoder image size")
    ap.add_argument("--bottleneck", default="16x8x8", help="the autoencoder's code")
    ap.add_argument("--ae-checkpoint", help="use this MSE autoencoder instead of training one")
    ap.add_argument("--ae-perceptual-checkpoint", help="use this MSE+perceptual autoencoder")
    ap.add_argument("--no-perceptual", action="store_true", help="skip MSE+perceptual")
    ap.add_argument("--ssim", action="store_true", help="also an MSE+SSIM autoencoder")
    ap.add_argument(
        "--no-course-code", action="store_true", help="skip the course's 1x10x10 autoencoder"
    )
    ap.add_argument("--classifier", help="also a trained classifier's penultimate embedding")
    ap.add_argument("--no-style", action="store_true", help="skip the style autoencoder")
    ap.add_argument("--style-checkpoint", help="use this style autoencoder")
    ap.add_argument(
        "--style-settings", default="{}",
        help="JSON settings of the style autoencoder over its defaults (its own epochs and size)",
    )  # fmt: skip
    ap.add_argument("--normalize", default="standard")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "wikiart-bench-repr"))
    ap.add_argument("--cache-dir", help="preprocessing cache (default: the user cache)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from wikiart.autoencode import resolve_config, train_autoencoder
    from wikiart.clustering import cluster_embeddings, embed_split, format_table

    out = Path(args.out)
    started = time.perf_counter()
    data = Path(args.data)

    def autoencoder(name: str, bottleneck: str, loss: str, given: str | None) -> tuple[str, float]:
        if given:
            return given, 0.0
        over = {
            "model": "pixel",
            "bottleneck": bottleneck,
            "loss": loss,
            "epochs": args.epochs,
            "seed": args.seed,
            "data": {
                "data": str(data),
                "image_size": args.image_size,
                "cache_dir": args.cache_dir,
            },
        }
        t0 = time.perf_counter()
        train_autoencoder(resolve_config(None, {**over, "overwrite": True}), out / name)
        return str(out / name / "model.pt"), time.perf_counter() - t0

    sources: list[tuple[str, dict, float]] = [("pixels", {"source": "pixels"}, 0.0)]
    ckpt, secs = autoencoder("ae-mse", args.bottleneck, "mse", args.ae_checkpoint)
    sources.append(("ae-mse", {"checkpoint": ckpt}, secs))
    if not args.no_perceptual:
        given = args.ae_perceptual_checkpoint
        ckpt, secs = autoencoder("ae-perceptual", args.bottleneck, "mse+perceptual", given)
        sources.append(("ae-perceptual", {"checkpoint": ckpt}, secs))
    if args.ssim:
        ckpt, secs = autoencoder("ae-ssim", args.bottleneck, "mse+ssim", None)
        sources.append(("ae-ssim", {"checkpoint": ckpt}, secs))
    if not args.no_course_code:
        ckpt, secs = autoencoder("ae-1x10x10", "1x10x10", "mse", None)
        sources.append(("ae-1x10x10", {"checkpoint": ckpt}, secs))
    if not args.no_style:
        ckpt, secs = style_autoencoder(args, data, out)
        sources.append(("ae-style", {"checkpoint": ckpt}, secs))
    sources.append(("lite0-pool", {"source": "pretrained", "features": "pool"}, 0.0))
    sources.append(("lite0-stats", {"source": "pretrained", "features": "stats"}, 0.0))
    if args.classifier:
        sources.append(("classifier", {"checkpoint": args.classifier}, 0.0))

    results = []
    for name, kw, train_s in sources:
        t0 = time.perf_counter()
        emb = embed_split(data, cache_dir=args.cache_dir, **kw)
        res = cluster_embeddings(
            emb,
            out / name / "cluster",
            normalize=args.normalize,
            seed=args.seed,
            embed_seconds=time.perf_counter() - t0,
        )
        res["seconds"]["total"] = round(time.perf_counter() - t0, 1)
        res["seconds"]["train"] = round(train_s, 1)
        results.append(res)
        print(f"{name}: nmi={res['nmi']:.3f} knn={res['knn_accuracy']:.3f}", flush=True)

    print()
    print(format_table(results))
    print(f"\nwall time {(time.perf_counter() - started) / 60:.1f} min; outputs in {out}")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
