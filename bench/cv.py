"""Classifier recipes chosen by k-fold cross-validation on the training split, the test split
read once at the end.

The training split of --data (wikiart-sample's by default) is cut into --folds folds,
stratified by style and grouped (`StratifiedGroupKFold`): by artist where the collection names
artists, copies of one painting (as `wikiart data check` finds them) always in one fold. For each
candidate recipe, seed and fold, a plain `wikiart train classifier` run (the code users run)
trains on the other folds (carving its validation split from them, as it does on a collection
with no `valid` split) and is scored on the held-out fold, which it never saw. The table gives,
per candidate, the fold mean of macro-F1, accuracy and balanced accuracy, the spread over folds
and over seeds (the sd of each seed's fold mean), and the minutes per run.

Then, and only then, ``--final NAME`` trains that one recipe on the whole training split for each
seed and scores it on the test split: the figure users compare, not a figure anything was chosen
on.

    python bench/cv.py [--data ../shared/data/wikiart-sample] [--folds 5] [--seeds 0]
        [--candidates default lite0-frozen lite2-frozen ...] [--candidate NAME:key=value,...]
        [--precision fp32] [--by artist|image] [--out ~/bench-cv] [--cache-dir DIR] [--list]
    python bench/cv.py --final NAME --seeds 0 1 2 [--precision fp32] [--out ~/bench-cv]

Runs that already hold metrics.json are read, not retrained, so an interrupted benchmark carries
on. Writes OUT/cv.json (every run) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
METRICS = ("macro_f1", "accuracy", "balanced_accuracy")

#: The candidate recipes: settings of `wikiart train classifier` over the preset's.
CANDIDATES: dict[str, dict[str, Any]] = {
    "default": {},
    "default-ema": {"ema_decay": 0.995},
    "probe+finetune": {"mode": "probe+finetune"},
    "lite0-frozen": {"mode": "frozen"},
    "lite0-frozen-stats": {"mode": "frozen", "features": "stats"},
    "lite2-frozen": {"arch": "efficientnet-lite2", "mode": "frozen", "image_size": 224},
    "lite2-frozen-260": {"arch": "efficientnet-lite2", "mode": "frozen", "image_size": 260},
    "lite2-finetune": {"arch": "efficientnet-lite2", "image_size": 224},
}


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME:key=value,key=value`` (values read as JSON where they parse, else as text)."""
    name, _, body = text.partition(":")
    if not name or not body:
        raise SystemExit(f"--candidate wants NAME:key=value[,key=value], got {text!r}")
    settings: dict[str, Any] = {}
    for item in body.split(","):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"--candidate {name}: {item!r} is not key=value")
        try:
            settings[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip().replace("-", "_")] = value
    return name, settings


def fold_indices(
    refs, k: int, seed: int, together: list[list[int]], by: str = "artist"
) -> list[np.ndarray]:
    """Held-out indices of each of ``k`` folds of ``refs``: stratified by style, no set of
    copies (``together``, indices) and (``by="artist"``) no artist, where known, in two folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    from wikiart.data.artists import artists_of, group_keys
    from wikiart.data.resplit import join_groups

    styles = sorted({r.style for r in refs})
    labels = np.array([styles.index(r.style) for r in refs])
    groups = (
        group_keys(refs, artists_of(refs)) if by == "artist" else [f"image:{r.key}" for r in refs]
    )
    if together:
        groups = join_groups(groups, refs, [[refs[i].key for i in s] for s in together])
    if len(set(groups)) < k:
        raise SystemExit(
            f"{len(set(groups))} group(s) cannot make {k} folds: fewer folds, or --by image"
        )
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notes
        return [np.sort(held) for _, held in sgkf.split(np.zeros(len(refs)), labels, groups)]


def write_folds(refs, k: int, seed: int, out: Path, by: str = "artist") -> list[Path]:
    """One manifest per fold (train: the other folds; test: the fold) under ``out/folds``;
    written once, reused by every candidate and seed."""
    from wikiart.data.artists import artists_of
    from wikiart.data.check import duplicate_sets
    from wikiart.data.resplit import write_manifest

    roots = [out / "folds" / f"fold{i}" for i in range(k)]
    if all((r / "split.csv").exists() for r in roots):
        return roots
    refs = sorted(refs, key=lambda r: r.key)
    together = duplicate_sets(refs)
    held = fold_indices(refs, k, seed, together, by)
    artists = dict(zip((r.key for r in refs), artists_of(refs), strict=True))
    for root, idx in zip(roots, held, strict=True):
        mask = np.zeros(len(refs), bool)
        mask[idx] = True
        splits = {
            "train": [r for r, m in zip(refs, mask, strict=True) if not m],
            "test": [r for r, m in zip(refs, mask, strict=True) if m],
        }
        root.mkdir(parents=True, exist_ok=True)
        write_manifest(root / "split.csv", splits, artists)
    sizes = [len(i) for i in held]
    print(f"{k} folds of {len(refs)} training paintings: {sizes}; {len(together)} sets of copies")
    return roots


def train_scored(run: Path, data: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A `wikiart train classifier` run's test-split figures (read from its metrics.json when it
    already finished) and its wall minutes."""
    import wikiart

    done = run / "metrics.json"
    if done.exists():
        metrics = json.loads(done.read_text())
        minutes = (
            json.loads((run / "cv_minutes.json").read_text())
            if (run / "cv_minutes.json").exists()
            else None
        )
    else:
        t0 = time.perf_counter()
        metrics = wikiart.train_classifier(run, data=data, overwrite=True, **settings)
        minutes = round((time.perf_counter() - t0) / 60, 2)
        (run / "cv_minutes.json").write_text(json.dumps(minutes))
    return {**{k: float(metrics[k]) for k in METRICS}, "minutes": minutes}


def _sd(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per candidate: each metric's mean over every (seed, fold) run, its sd over folds (within
    a seed, averaged) and over seeds (of each seed's fold mean), and the mean minutes."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["candidate"] for r in rows):
        sel = [r for r in rows if r["candidate"] == name]
        seeds = sorted({r["seed"] for r in sel})
        entry: dict[str, Any] = {"runs": len(sel), "seeds": seeds}
        for m in METRICS:
            per_seed = [[r[m] for r in sel if r["seed"] == s] for s in seeds]
            entry[m] = statistics.fmean(x for xs in per_seed for x in xs)
            entry[f"{m}_fold_sd"] = statistics.fmean(_sd(xs) for xs in per_seed)
            entry[f"{m}_seed_sd"] = _sd([statistics.fmean(xs) for xs in per_seed])
        minutes = [r["minutes"] for r in sel if r.get("minutes") is not None]
        entry["minutes"] = statistics.fmean(minutes) if minutes else None
        out[name] = entry
    return out


def print_table(summary: dict[str, dict[str, Any]], title: str) -> None:
    print(f"\n{title}")
    head = f"{'candidate':22s}{'runs':>5s}" + "".join(f"{m:>30s}" for m in METRICS)
    print(head + f"{'min/run':>9s}")
    for name, e in summary.items():
        cells = "".join(
            f"{e[m]:>12.3f} ±{e[f'{m}_fold_sd']:.3f}f ±{e[f'{m}_seed_sd']:.3f}s" for m in METRICS
        )
        mins = f"{e['minutes']:9.1f}" if e["minutes"] is not None else f"{'-':>9s}"
        print(f"{name:22s}{e['runs']:>5d}{cells}{mins}")
    print("(mean over folds and seeds, ±f: sd over folds, ±s: sd of the seeds' fold means)")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--out", default=str(Path("~/bench-cv").expanduser()))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fold-seed", type=int, default=0, help="seed of the fold assignment")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    ap.add_argument(
        "--by", choices=("artist", "image"), default="artist",
        help="fold groups: artists (named by the file names), or each image its own",
    )  # fmt: skip
    ap.add_argument("--candidates", nargs="+", default=["default", "lite0-frozen", "lite2-frozen"])
    ap.add_argument(
        "--candidate", action="append", default=[], metavar="NAME:key=value,...",
        help="a further candidate: `wikiart train classifier` settings over the preset's",
    )  # fmt: skip
    ap.add_argument("--precision", help="force a precision (fp32, bf16) in every run")
    ap.add_argument("--epochs", type=int, help="override every candidate's epochs (smoke runs)")
    ap.add_argument("--cache-dir", help="preprocessing and feature cache root")
    ap.add_argument("--final", metavar="NAME", help="train NAME on all of train, score on test")
    ap.add_argument("--list", action="store_true", help="list the candidates and exit")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    candidates = dict(CANDIDATES)
    candidates.update(parse_candidate(c) for c in args.candidate)
    if args.list:
        for name, settings in candidates.items():
            print(f"{name:22s} {json.dumps(settings)}")
        return
    unknown = [c for c in [*args.candidates, args.final] if c and c not in candidates]
    if unknown:
        raise SystemExit(f"unknown candidate(s) {unknown}; --list shows them")
    common = {
        k: v
        for k, v in (
            ("precision", args.precision), ("epochs", args.epochs), ("cache_dir", args.cache_dir)
        )
        if v is not None
    }  # fmt: skip
    out = Path(args.out).expanduser()
    tag = f"-{args.precision}" if args.precision else ""
    rows: list[dict[str, Any]] = []
    if args.final:
        for seed in args.seeds:
            run = out / "final" / f"{args.final}{tag}-s{seed}"
            settings = {**candidates[args.final], **common, "seed": seed}
            rows.append({"candidate": args.final, "seed": seed, "fold": "test",
                         **train_scored(run, args.data, settings)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
        summary = summarise(rows)
        print_table(summary, f"{args.final} on the test split ({len(args.seeds)} seed(s))")
        (out / f"final-{args.final}{tag}.json").write_text(
            json.dumps({"rows": rows, "summary": summary}, indent=2)
        )
        return
    from wikiart.data.dataset import open_dataset

    ds = open_dataset(args.data)
    roots = write_folds(list(ds.splits["train"]), args.folds, args.fold_seed, out, args.by)
    for name in args.candidates:
        for seed in args.seeds:
            for i, root in enumerate(roots):
                run = out / "runs" / f"{name}{tag}-s{seed}-fold{i}"
                settings = {**candidates[name], **common, "seed": seed}
                row = {"candidate": name, "seed": seed, "fold": i,
                       **train_scored(run, str(root), settings)}  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary = summarise(rows)
    result = {
        "data": args.data, "folds": args.folds, "fold_seed": args.fold_seed,
        "seeds": args.seeds, "precision": args.precision or "auto", "rows": rows,
        "summary": summary, "candidates": {n: candidates[n] for n in args.candidates},
        "machine": platform.processor() or platform.machine(),
    }  # fmt: skip
    (out / f"cv{tag}.json").write_text(json.dumps(result, indent=2))
    print_table(summary, f"{args.folds}-fold cross-validation on the training split")


if __name__ == "__main__":
    main()
