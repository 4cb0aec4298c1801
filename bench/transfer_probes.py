"""Which style representation for AdaIN transfer, measured on short runs without the test split.

The sample's *train* split is carved into a selection set (OUT/sel: train/ = 90% of each
style's training paintings, test/ = the other 10%, at least 5; symlinks, nothing copied). A
judge that does not use the transfer encoder (EfficientNet-Lite2, frozen, 224 px) is trained on
OUT/sel/train; every probe trains a decoder on OUT/sel/train for --steps steps of 8 random
128 px crops at 224 px, and ``wikiart evaluate`` re-paints --max-per-style images of each style
of OUT/sel/test into every other style by name (the medoid bank) and asks the judge (swap
success, beside the floor and the colour baseline). The probes:

- ``builtin``: the packaged decoder (tap 2, 2,000 steps) with OUT/sel's statistics;
- ``A``: today's recipe (AdaIN at tap 2, style loss over taps 0-2);
- ``B``: the same with the style loss over taps 0-4 (``--style-depth 4``);
- ``C``: B with SWAG smoothing (``--smoothing 10``);
- ``D``: multi-level AdaIN at taps 2-4 (``--layer 4 --levels 3 --style-depth 4``);
- ``E``: multi-level AdaIN at taps 2-3 (``--layer 3 --levels 2 --style-depth 4``);
- ``F``: D with style weight 30; ``D2000``: D for 2,000 steps;
- ``wct-B``: B's decoder with whitening-colouring in place of AdaIN (bench/transfer_wct.py).

    python bench/transfer_probes.py --out ~/t28 [--probes builtin,A,B,D] [--steps 500]

Runs that exist are kept (delete a folder to re-run it). Writes OUT/probes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
PROBES = {
    "builtin": ["--init", "builtin", "--epochs", "0"],
    "A": [],
    "B": ["--style-depth", "4"],
    "C": ["--style-depth", "4", "--smoothing", "10"],
    "D": ["--layer", "4", "--levels", "3", "--style-depth", "4"],
    "E": ["--layer", "3", "--levels", "2", "--style-depth", "4"],
    "F": ["--layer", "4", "--levels", "3", "--style-depth", "4", "--style-weight", "30"],
    "D2000": ["--layer", "4", "--levels", "3", "--style-depth", "4"],
}
#: Probes with their own number of steps (else --steps).
STEPS = {"D2000": 2000}
KEYS = ("swap_success", "floor", "color_baseline", "ssim", "own_style_ssim", "feature_distance")


def carve(sample: Path, out: Path, share: float = 0.1, seed: int = 0) -> Path:
    """OUT/sel: the sample's training paintings split into train/ and a held-out test/."""
    sel = out / "sel"
    if sel.is_dir():
        return sel
    rng = random.Random(seed)
    for style in sorted(os.listdir(sample / "train")):
        files = sorted(os.listdir(sample / "train" / style))
        rng.shuffle(files)
        k = max(5, round(share * len(files)))
        for split, part in (("test", files[:k]), ("train", files[k:])):
            folder = sel / split / style
            folder.mkdir(parents=True, exist_ok=True)
            for name in part:
                (folder / name).symlink_to(sample / "train" / style / name)
    return sel


def wikiart(*argv: str, log: Path) -> None:
    with log.open("a") as fh:
        subprocess.run([sys.executable, "-m", "wikiart", "--no-progress", *argv],
                       check=True, stdout=fh, stderr=subprocess.STDOUT)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sample", default=str(SAMPLE))
    ap.add_argument("--out", required=True)
    ap.add_argument("--probes", default=",".join([*PROBES, "wct-B"]))  # wct-B after B
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--max-per-style", type=int, default=10)
    args = ap.parse_args()
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    sel = carve(Path(args.sample), out)
    judge = out / "judge"
    if not (judge / "model.pt").is_file():
        wikiart("train", "classifier", "--data", str(sel), "--out", str(judge), "--arch",
                "efficientnet-lite2", "--mode", "frozen", "--image-size", "224", "--seed", "1",
                log=out / "judge.log")  # fmt: skip
    results_path = out / "probes.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for name in args.probes.split(","):
        run, log = out / f"p-{name}", out / f"p-{name}.log"
        t0 = time.perf_counter()
        if name.startswith("wct-"):
            ckpt = out / f"p-{name[4:]}" / "model.pt"
            subprocess.run([sys.executable, str(HERE / "transfer_wct.py"), "--checkpoint",
                            str(ckpt), "--judge", str(judge / "model.pt"), "--data", str(sel),
                            "--out", str(run), "--max-per-style", str(args.max_per_style)],
                           check=True)  # fmt: skip
            result = json.loads((run / "wct_eval.json").read_text())
        else:
            if not (run / "model.pt").is_file():
                wikiart("train", "transfer", "--data", str(sel), "--out", str(run),
                        "--image-size", "224", "--crop", "128", "--epochs", "1",
                        "--steps-per-epoch", str(STEPS.get(name, args.steps)), "--batch-size",
                        "8", "--seed", "0",
                        *PROBES[name], log=log)  # fmt: skip
            if not (run / "eval" / "stylegen_eval.json").is_file():
                wikiart("evaluate", "--checkpoint", str(run / "model.pt"), "--judge",
                        str(judge / "model.pt"), "--data", str(sel), "--out", str(run / "eval"),
                        "--max-per-style", str(args.max_per_style), log=log)  # fmt: skip
            result = json.loads((run / "eval" / "stylegen_eval.json").read_text())
        results[name] = {k: result[k] for k in KEYS} | {"seconds": round(time.perf_counter() - t0)}
        print(name, results[name], flush=True)
        results_path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
