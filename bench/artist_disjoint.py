"""How much of a style score is recognising the artist: the same collection re-split two ways.

Every image of --data (all its splits pooled; ../shared/data/wikiart-sample by default) is split,
for each seed, into train and test (--test-fraction) twice:

- **artist-disjoint**: `wikiart data split --by artist` (no artist in both);
- **random**: stratified by style, with exactly the artist-disjoint split's number of test
  images of each style (the same sizes, artists shared as they fall).

On each split: the default classifier (`efficientnet-lite0`; --mode picks its training mode,
default the preset's) trained on train and scored on test (macro-F1, accuracy, balanced
accuracy), and the 5-NN style accuracy of test paintings among the training paintings in the
offline ImageNet Lite0 embedding (the clustering's best source; `clusters.json`'s leave-one-out
5-NN within test is reported too). The gap between the two splits is the part of the score
that came from the artist. Writes bench.json and prints the table.

    python bench/artist_disjoint.py [--data ../shared/data/wikiart-sample] [--seeds 0 1 2]
        [--mode frozen] [--out runs/bench-artist] [--skip-knn] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"


def random_like(refs, test_counts: Counter, seed: int):
    """A random split with ``test_counts[style]`` test images of each style."""
    rng = np.random.default_rng([seed, 0xA57])
    by_style: dict[str, list] = {}
    for r in sorted(refs, key=lambda r: r.key):
        by_style.setdefault(r.style, []).append(r)
    train, test = [], []
    for style, items in sorted(by_style.items()):
        order = rng.permutation(len(items))
        n = test_counts.get(style, 0)
        test += [items[i] for i in order[:n]]
        train += [items[i] for i in order[n:]]
    return {"train": train, "test": test}


def knn_scores(vectors: dict[str, np.ndarray], splits, k: int = 5) -> dict[str, float]:
    """5-NN style accuracy of test among train (standardised on train), and leave-one-out
    within test (`wikiart.eval.clustering.knn_accuracy`, as in ``clusters.json``)."""
    from sklearn.neighbors import KNeighborsClassifier

    from wikiart.eval.clustering import knn_accuracy, normalize_embeddings

    xtr = np.stack([vectors[r.key] for r in splits["train"]])
    xte = np.stack([vectors[r.key] for r in splits["test"]])
    ytr = np.array([r.style for r in splits["train"]])
    yte = np.array([r.style for r in splits["test"]])
    mu, sd = xtr.mean(0), xtr.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    clf = KNeighborsClassifier(n_neighbors=k).fit((xtr - mu) / sd, ytr)
    return {
        "knn_from_train": float(np.mean(clf.predict((xte - mu) / sd) == yte)),
        "knn_within_test": knn_accuracy(normalize_embeddings(xte), yte, k),
    }


def embed_all(refs, out: Path, cache_dir: str | None) -> dict[str, np.ndarray]:
    """The pretrained Lite0 embedding of every image, once (a manifest listing them all as
    one split)."""
    from wikiart.clustering import embed_split
    from wikiart.data.resplit import write_manifest

    root = out / "all-images"
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root / "split.csv", {"test": list(refs)}, {})
    emb = embed_split(root, source="pretrained", cache_dir=cache_dir, device="cpu")
    by_path = {os.path.abspath(p): v for p, v in zip(emb.paths, emb.vectors, strict=True)}
    return {r.key: by_path[os.path.abspath(r.path)] for r in refs}


def mean_sd(xs: list[float]) -> str:
    return (
        f"{statistics.fmean(xs):.3f} ± {statistics.stdev(xs):.3f}"
        if len(xs) > 1
        else f"{xs[0]:.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--out", default="runs/bench-artist")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--mode", help="classifier training mode (default: the preset's)")
    ap.add_argument("--epochs", type=int, help="classifier epochs (default: the preset's)")
    ap.add_argument("--cache-dir", help="preprocessing and feature cache root")
    ap.add_argument("--skip-classifier", action="store_true", help="only the 5-NN scores")
    ap.add_argument("--skip-knn", action="store_true", help="only the classifier's scores")
    ap.add_argument(
        "--reuse", action="store_true",
        help="a run folder already holding metrics.json is scored from it, not retrained "
        "(a benchmark restarted after an interruption)",
    )  # fmt: skip
    args = ap.parse_args()

    import wikiart
    from wikiart.data.dataset import open_dataset
    from wikiart.data.resplit import split_refs, write_manifest

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = open_dataset(args.data)
    refs = [r for split in ds.splits.values() for r in split]
    t0 = time.perf_counter()
    vectors = None if args.skip_knn else embed_all(refs, out, args.cache_dir)
    embed_s = time.perf_counter() - t0
    rows = []
    for seed in args.seeds:
        art = split_refs(refs, test_fraction=args.test_fraction, by="artist", seed=seed)
        counts = Counter(r.style for r in art.splits["test"])
        pairs = {
            "artist-disjoint": art.splits,
            "random": random_like(refs, counts, seed),
        }
        for name, splits in pairs.items():
            root = out / "splits" / f"{name}-s{seed}"
            root.mkdir(parents=True, exist_ok=True)
            write_manifest(root / "split.csv", splits, art.artists)
            train_artists = {art.artists.get(r.key) for r in splits["train"]} - {None}
            shared = sum(art.artists.get(r.key) in train_artists for r in splits["test"])
            row = {
                "split": name, "seed": seed, "train": len(splits["train"]),
                "test": len(splits["test"]), "test_by_train_artists": shared,
                **(knn_scores(vectors, splits) if vectors is not None else {}),
            }  # fmt: skip
            run = out / "runs" / root.name
            if not args.skip_classifier:
                minutes = None
                if args.reuse and (run / "metrics.json").exists():
                    metrics = json.loads((run / "metrics.json").read_text())
                else:
                    settings = {"data": str(root), "seed": seed, "cache_dir": args.cache_dir,
                                "overwrite": True}  # fmt: skip
                    settings.update(
                        {k: v for k, v in (("mode", args.mode), ("epochs", args.epochs)) if v}
                    )
                    t1 = time.perf_counter()
                    metrics = wikiart.train_classifier(run, **settings)
                    minutes = round((time.perf_counter() - t1) / 60, 1)
                row.update({k: metrics[k] for k in ("macro_f1", "accuracy", "balanced_accuracy")})
                row["train_minutes"] = minutes
            rows.append(row)
            print(json.dumps(row), flush=True)

    summary = {}
    keys = ([] if args.skip_knn else ["knn_from_train", "knn_within_test"]) + (
        [] if args.skip_classifier else ["macro_f1", "accuracy", "balanced_accuracy"]
    )
    for name in ("artist-disjoint", "random"):
        sel = [r for r in rows if r["split"] == name]
        summary[name] = {k: [r[k] for r in sel] for k in keys}
        summary[name]["test_share_by_train_artists"] = [
            r["test_by_train_artists"] / r["test"] for r in sel
        ]
    result = {
        "data": args.data, "seeds": args.seeds, "test_fraction": args.test_fraction,
        "mode": args.mode or "preset", "epochs": args.epochs or "preset", "rows": rows,
        "summary": summary, "embed_seconds": round(embed_s, 1),
        "machine": f"{platform.processor() or platform.machine()}",
    }  # fmt: skip
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    print(f"\n{'':22s}" + "".join(f"{k:>24s}" for k in keys))
    for name, s in summary.items():
        print(f"{name:22s}" + "".join(f"{mean_sd(s[k]):>24s}" for k in keys))
    gap = {
        k: statistics.fmean(summary["random"][k]) - statistics.fmean(summary["artist-disjoint"][k])
        for k in keys
    }
    print(f"{'gap (random - disjoint)':22s}" + "".join(f"{gap[k]:>24.3f}" for k in keys))


if __name__ == "__main__":
    main()
