"""Architectures, measured: each trained with its defaults on the real sample, scored on test.

Prints one table: architecture, mode, accuracy, balanced accuracy, macro-F1, top-5 and minutes
of wall time on this machine. Every row is a plain `wikiart train classifier` run (the same code
users run), with the architecture's preset budget unless --epochs is given.

    python bench/classifier.py [--archs seed-cnn small-resnet efficientnet-lite0] [--epochs N]
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
#: (arch, extra settings) rows of the default table
ROWS: tuple[tuple[str, dict], ...] = (
    ("seed-cnn", {}),
    ("small-resnet", {}),
    ("efficientnet-lite0", {"mode": "frozen"}),
    ("efficientnet-lite0", {}),
)


def best_val(run: Path) -> float:
    """The best validation macro-F1 in a run's history.csv (what selected its checkpoint)."""
    with open(run / "history.csv", newline="") as fh:
        vals = [float(r["val_macro_f1"]) for r in csv.DictReader(fh) if r.get("val_macro_f1")]
    return max(vals) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--archs", nargs="+", help="run these archs with their defaults instead")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--imbalance", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "wikiart-bench-classifier"))
    ap.add_argument("--cache-dir")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from wikiart.classify import resolve_config, train_classifier

    rows = [(a, {}) for a in args.archs] if args.archs else list(ROWS)
    table = []
    for arch, extra in rows:
        over = {
            "arch": arch,
            "seed": args.seed,
            "epochs": args.epochs,
            "imbalance": args.imbalance,
            "data": {"data": args.data, "cache_dir": args.cache_dir},
            **extra,
        }
        cfg = resolve_config(None, over)
        name = f"{arch}-{cfg.mode}"
        t0 = time.perf_counter()
        m = train_classifier(cfg, Path(args.out) / name)
        minutes = (time.perf_counter() - t0) / 60
        table.append((arch, cfg, m, best_val(Path(args.out) / name), minutes))
        print(f"  {name}: macro-F1 {m['macro_f1']:.3f} in {minutes:.1f} min", flush=True)

    print(f"\ntest split of {args.data}, seed {args.seed}\n")
    print(
        "| arch | mode | size | epochs | best val macro-F1 | accuracy | balanced acc. | macro-F1 "
        "| top-5 | minutes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for arch, cfg, m, val, minutes in table:
        epochs = cfg.head_epochs if cfg.mode == "frozen" else cfg.epochs
        print(
            f"| {arch} | {cfg.mode} | {cfg.data.image_size} | {epochs} | {val:.3f} | "
            f"{m['accuracy']:.3f} | "
            f"{m['balanced_accuracy']:.3f} | {m['macro_f1']:.3f} | {m['top5_accuracy']:.3f} | "
            f"{minutes:.1f} |"
        )


if __name__ == "__main__":
    main()
