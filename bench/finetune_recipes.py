"""Fine-tuning recipes for a pretrained backbone, compared on VALIDATION macro-F1.

Each recipe is a set of `wikiart train classifier` settings (the same code users run), trained
with several seeds; each seed also draws its own stratified validation split from train, so the
mean over seeds is a less noisy estimate than one 10% split. The recipe to make the default is
chosen on the validation column alone; the test column is printed for the record, never used
to choose.

    python bench/finetune_recipes.py [--recipes default frozen all ...] [--seeds 0 1] [--budget-s S]

Results go to OUT/results.jsonl as each run ends (a stopped sweep keeps what it measured).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"

# What each row of the README's table ran (settings over the efficientnet-lite0 preset).
_ALL = {  # first sweep: every layer fine-tuned for 3 epochs after the probe
    "mode": "probe+finetune",
    "finetune_groups": -1,
    "freeze_bn": True,
    "epochs": 3,
    "lr": 1e-3,
    "backbone_lr_mult": 0.1,
    "crop_scale": 0.6,
}
RECIPES: dict[str, dict[str, Any]] = {
    "frozen": {"mode": "frozen"},
    "default": {},  # the preset: probe, then the top 3 groups for 5 epochs at 3e-4
    "top2": {"finetune_groups": 2, "lr": 1e-3, "backbone_lr_mult": 0.1},
    "all": _ALL,
    "all-crop0.85": {**_ALL, "crop_scale": 0.85},
    "all-ld0.7": {**_ALL, "layer_decay": 0.7},
    "all-lr3e-4": {**_ALL, "lr": 3e-4},
    "all-bb0.3-ld0.6": {**_ALL, "backbone_lr_mult": 0.3, "layer_decay": 0.6},
    "all-bnlive": {**_ALL, "freeze_bn": False},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def best_val(run: Path) -> float:
    """The best validation macro-F1 of the run's last stage (the epoch the run keeps)."""
    with open(run / "history.csv", newline="", encoding="utf-8") as fh:
        vals = [float(r["val_macro_f1"]) for r in csv.DictReader(fh) if r.get("val_macro_f1")]
    return max(vals) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--arch", default="efficientnet-lite0")
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--budget-s", type=float, default=float("inf"), help="start no run after")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "wikiart-bench-recipes"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--image-size", type=int, help="override every recipe's (quick checks)")
    ap.add_argument("--epochs", type=int, help="override every recipe's (quick checks)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from wikiart.classify import resolve_config, train_classifier

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rows: dict[str, list[dict[str, float]]] = {}
    for name in args.recipes:
        for seed in args.seeds:
            if time.perf_counter() - t_start > args.budget_s:
                print(f"  budget spent: {name} seed {seed} not run", flush=True)
                continue
            base = {"arch": args.arch, "seed": seed, "device": args.device}
            over = _merge(_merge(base, {"data": {"data": args.data}}), RECIPES[name])
            if args.epochs is not None:
                over["epochs"] = args.epochs
            if args.image_size is not None:
                over["data"] = {**over["data"], "image_size": args.image_size}
            cfg = resolve_config(None, {**over, "overwrite": True})
            run = out / f"{name}-s{seed}"
            t0 = time.perf_counter()
            m = train_classifier(cfg, run)
            rec = {
                "recipe": name,
                "seed": seed,
                "val_macro_f1": best_val(run),
                "test_macro_f1": m["macro_f1"],
                "test_balanced_accuracy": m["balanced_accuracy"],
                "seconds": time.perf_counter() - t0,
            }
            rows.setdefault(name, []).append(rec)
            with open(out / "results.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(
                f"  {name} seed {seed}: val {rec['val_macro_f1']:.3f} "
                f"test {rec['test_macro_f1']:.3f} ({rec['seconds']:.0f}s)",
                flush=True,
            )

    print(f"\n{args.arch} on {args.data}; choose on val, test is for the record\n")
    print("| recipe | seeds | val macro-F1 | test macro-F1 | s/run |")
    print("|---|---:|---:|---:|---:|")
    for name, recs in sorted(rows.items(), key=lambda kv: -_mean(kv[1], "val_macro_f1")):
        print(
            f"| {name} | {len(recs)} | {_pm(recs, 'val_macro_f1')} | {_pm(recs, 'test_macro_f1')} "
            f"| {_mean(recs, 'seconds'):.0f} |"
        )


def _mean(recs: list[dict[str, float]], key: str) -> float:
    return statistics.fmean(r[key] for r in recs)


def _pm(recs: list[dict[str, float]], key: str) -> str:
    vals = [r[key] for r in recs]
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.fmean(vals):.3f} ± {sd:.3f}"


if __name__ == "__main__":
    main()
