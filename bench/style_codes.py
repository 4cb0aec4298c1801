"""The style autoencoder's settings, chosen on a validation split carved from train (never test).

The training split of --data (wikiart-sample's by default) is cut once, by artist, into a
selection-train part (80%) and a validation part (20%; copies of a painting kept on one side).
Each candidate (`wikiart train autoencoder --model style` settings) is trained on the first, and
its code of the validation paintings clustered the way `wikiart cluster` does (standardised,
k-means with k = styles): NMI, ARI and leave-one-out 5-NN accuracy. The frozen pretrained
statistics it starts from and raw pixels are scored on the same validation paintings. Candidates
are ranked by NMI + 5-NN. The test split is not read here: the chosen settings are scored on it
by `bench/representations.py`, once.

    python bench/style_codes.py [--data ../shared/data/wikiart-sample] [--out ~/bench-style]
        [--candidates c64 c32 ...] [--cache-dir DIR] [--list]

Each candidate's run and clusters stay under OUT; a candidate already scored (its
clusters.json present) is read back, so an interrupted benchmark carries on.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"

#: Candidate settings over the style model's defaults (code 64, invariance 1, 4 views, crops
#: from 0.3 of the area, 40 epochs).
CANDIDATES: dict[str, dict[str, Any]] = {
    "c64": {},
    "c32": {"code_dim": 32},
    "c128": {"code_dim": 128},
    "c16": {"code_dim": 16},
    "c64-inv0": {"invariance_weight": 0.0},
    "c64-inv3": {"invariance_weight": 3.0},
    "c64-views2": {"views": 2},
    "c64-views6": {"views": 6},
}


def selection_split(data: str, out: Path) -> Path:
    """``out/selection/split.csv``: train's paintings, 80% train / 20% test (the validation
    part) by artist, copies together; written once."""
    from wikiart.data.check import duplicate_sets
    from wikiart.data.dataset import open_dataset
    from wikiart.data.resplit import split_refs, write_manifest

    root = out / "selection"
    if (root / "split.csv").exists():
        return root
    refs = list(open_dataset(data).splits["train"])
    together = [[refs[i].key for i in s] for s in duplicate_sets(refs)]
    res = split_refs(refs, test_fraction=0.2, by="artist", seed=0, together=together)
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root / "split.csv", res.splits, res.artists)
    sizes = {k: len(v) for k, v in res.splits.items()}
    print(f"selection split of {len(refs)} training paintings: {sizes}", flush=True)
    return root


def scored(name: str, out: Path, embed_kw: dict[str, Any], data: Path, cache: str | None):
    """clusters.json of one source on the validation paintings (computed once)."""
    from wikiart.clustering import cluster_embeddings, embed_split

    dest = out / "clusters" / name
    if (dest / "clusters.json").exists():
        return json.loads((dest / "clusters.json").read_text())
    t0 = time.perf_counter()
    emb = embed_split(data, cache_dir=cache, **embed_kw)
    return cluster_embeddings(emb, dest, seed=0, embed_seconds=time.perf_counter() - t0)


def train(name: str, settings: dict[str, Any], sel: Path, out: Path, cache: str | None) -> float:
    """Train one candidate on the selection-train part; its seconds (0 when it was already)."""
    from wikiart.autoencode import resolve_config, train_autoencoder

    run = out / "runs" / name
    if (run / "model.pt").exists() and (run / "history.csv").exists():
        return 0.0
    over = {"model": "style", **settings, "overwrite": True, "seed": 0,
            "data": {"data": str(sel), "cache_dir": cache}}  # fmt: skip
    t0 = time.perf_counter()
    train_autoencoder(resolve_config(None, over), run)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--out", default=str(Path("~/bench-style").expanduser()))
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    ap.add_argument("--cache-dir")
    ap.add_argument("--list", action="store_true")
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for every candidate (smoke runs: image_size=32, epochs=1)",
    )  # fmt: skip
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if args.list:
        for name, settings in CANDIDATES.items():
            print(f"{name:12s} {json.dumps(settings)}")
        return
    out = Path(args.out).expanduser()
    sel = selection_split(args.data, out)
    val = sel  # the manifest's test split is the validation part
    rows: list[dict[str, Any]] = []
    for name, kw in (
        ("pixels", {"source": "pixels"}),
        ("lite0-stats", {"source": "pretrained", "features": "stats"}),
    ):
        rows.append({"name": name, "train_s": 0.0, **scored(name, out, kw, val, args.cache_dir)})
    common = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    for name in args.candidates:
        secs = train(name, {**CANDIDATES[name], **common}, sel, out, args.cache_dir)
        ckpt = {"checkpoint": str(out / "runs" / name / "model.pt")}
        rows.append({"name": name, "train_s": secs, **scored(name, out, ckpt, val, args.cache_dir)})
        print(f"{name}: nmi={rows[-1]['nmi']:.3f} knn={rows[-1]['knn_accuracy']:.3f}", flush=True)
    print(f"\n{'source':14s}{'dims':>6s}{'NMI':>8s}{'ARI':>8s}{'5-NN':>8s}{'train s':>9s}")
    for r in sorted(rows, key=lambda r: -(r["nmi"] + r["knn_accuracy"])):
        print(
            f"{r['name']:14s}{r['dims']:>6d}{r['nmi']:>8.3f}{r['ari']:>8.3f}"
            f"{r['knn_accuracy']:>8.3f}{r['train_s']:>9.0f}"
        )
    (out / "selection.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
