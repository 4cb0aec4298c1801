"""Architectures, measured: each trained with its defaults on the real sample, scored on test.

Prints one table: architecture, mode, best validation macro-F1 (what picked the checkpoint),
accuracy, balanced accuracy, macro-F1, top-5 on the test split, and minutes of wall time on this
machine. Every row is a plain `wikiart train classifier` run (the same code users run), with the
architecture's preset budget unless --epochs is given. With several ``--seeds`` each row is the
mean +- standard deviation over the seeds (each seed also draws its own validation split).

    python bench/classifier.py [--archs baseline-cnn small-resnet efficientnet-lite0] [--epochs N]
                               [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import csv
import logging
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
#: (arch, extra settings) rows of the default table
ROWS: tuple[tuple[str, dict], ...] = (
    ("baseline-cnn", {}),
    ("small-resnet", {}),
    ("efficientnet-lite0", {"mode": "frozen"}),
    ("efficientnet-lite0", {}),
)
COLUMNS = ("val", "accuracy", "balanced_accuracy", "macro_f1", "top5_accuracy", "minutes")


def best_val(run: Path) -> float:
    """The best validation macro-F1 in a run's history.csv (what selected its checkpoint)."""
    with open(run / "history.csv", newline="") as fh:
        vals = [float(r["val_macro_f1"]) for r in csv.DictReader(fh) if r.get("val_macro_f1")]
    return max(vals) if vals else float("nan")


def summary(values: list[float], digits: int = 3) -> str:
    """``mean`` for one value, ``mean +- std`` for several."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} +- {statistics.stdev(values):.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--archs", nargs="+", help="run these archs with their defaults instead")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--imbalance", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "wikiart-bench-classifier"))
    ap.add_argument("--cache-dir")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from wikiart.classify import resolve_config, train_classifier

    rows = [(a, {}) for a in args.archs] if args.archs else list(ROWS)
    table = []
    for arch, extra in rows:
        results: dict[str, list[float]] = {c: [] for c in COLUMNS}
        cfg = None
        for seed in args.seeds:
            over = {
                "arch": arch,
                "seed": seed,
                "epochs": args.epochs,
                "imbalance": args.imbalance,
                "data": {"data": args.data, "cache_dir": args.cache_dir},
                **extra,
            }
            cfg = resolve_config(None, {**over, "overwrite": True})
            run = Path(args.out) / f"{arch}-{cfg.mode}-seed{seed}"
            t0 = time.perf_counter()
            m = train_classifier(cfg, run)
            minutes = (time.perf_counter() - t0) / 60
            values = {**m, "val": best_val(run), "minutes": minutes}
            for c in COLUMNS:
                results[c].append(values[c])
            print(
                f"  {arch} {cfg.mode} seed {seed}: val {values['val']:.3f}, test macro-F1 "
                f"{m['macro_f1']:.3f} in {minutes:.1f} min",
                flush=True,
            )
        table.append((arch, cfg, results))

    print(f"\ntest split of {args.data}, seeds {args.seeds}\n")
    print(
        "| arch | mode | size | epochs | best val macro-F1 | accuracy | balanced acc. | macro-F1 "
        "| top-5 | minutes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for arch, cfg, res in table:
        epochs = cfg.head_epochs if cfg.mode == "frozen" else cfg.epochs
        cells = " | ".join(summary(res[c], 1 if c == "minutes" else 3) for c in COLUMNS)
        print(f"| {arch} | {cfg.mode} | {cfg.data.image_size} | {epochs} | {cells} |")


if __name__ == "__main__":
    main()
