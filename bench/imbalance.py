"""Imbalance strategies, measured: each trained with several seeds on the real sample.

For one architecture and budget (default: EfficientNet-Lite0 in frozen-backbone mode, whose
embeddings are computed once and cached, so every run trains only its head), trains every
`--imbalance` strategy with 3 seeds and prints accuracy, balanced accuracy and macro-F1 on the
test split (mean +- std over seeds), and the recall of the 3 styles with the fewest training
images ("minority recall").

    python bench/imbalance.py [--arch efficientnet-lite0 --mode frozen] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
STRATEGIES = ("none", "resample", "sampler", "weighted-loss", "logit-adjust")


def mean_std(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.3f} +- {sd:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--arch", default="efficientnet-lite0")
    ap.add_argument("--mode", default="frozen")
    ap.add_argument("--epochs", type=int, help="epochs (head epochs in frozen mode)")
    ap.add_argument("--image-size", type=int)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "wikiart-bench-imbalance"))
    ap.add_argument("--cache-dir", help="preprocessing/feature cache (default: the user cache)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from wikiart.classify import resolve_config, train_classifier
    from wikiart.data.dataset import open_dataset
    from wikiart.eval.metrics import minority_recall

    ds = open_dataset(args.data)
    train_counts = dict(ds.counts("train"))
    rare = sorted(train_counts, key=lambda s: (train_counts[s], s))[:3]
    rows = []
    for strategy in args.strategies:
        scores: dict[str, list[float]] = {"accuracy": [], "balanced": [], "f1": [], "rare": []}
        t0 = time.perf_counter()
        for seed in args.seeds:
            over = {
                "arch": args.arch,
                "mode": args.mode,
                "imbalance": strategy,
                "seed": seed,
                "data": {
                    "data": args.data,
                    "image_size": args.image_size,
                    "cache_dir": args.cache_dir,
                },
            }
            if args.epochs is not None:
                over["head_epochs" if args.mode == "frozen" else "epochs"] = args.epochs
            cfg = resolve_config(None, {**over, "overwrite": True})
            m = train_classifier(cfg, Path(args.out) / f"{strategy}-seed{seed}")
            scores["accuracy"].append(m["accuracy"])
            scores["balanced"].append(m["balanced_accuracy"])
            scores["f1"].append(m["macro_f1"])
            scores["rare"].append(minority_recall(m, train_counts, k=3))
            print(
                f"  {strategy:<14} seed {seed}: macro-F1 {m['macro_f1']:.3f} "
                f"minority recall {scores['rare'][-1]:.3f}",
                flush=True,
            )
        rows.append((strategy, scores, (time.perf_counter() - t0) / len(args.seeds)))

    print(f"\n{args.arch} ({args.mode}), seeds {args.seeds}, test split of {args.data}")
    print(f"minority styles (fewest training images): {', '.join(rare)}\n")
    print("| strategy | accuracy | balanced accuracy | macro-F1 | minority recall | s/run |")
    print("|---|---|---|---|---|---:|")
    for strategy, s, secs in rows:
        print(
            f"| {strategy} | {mean_std(s['accuracy'])} | {mean_std(s['balanced'])} | "
            f"{mean_std(s['f1'])} | {mean_std(s['rare'])} | {secs:.0f} |"
        )


if __name__ == "__main__":
    main()
