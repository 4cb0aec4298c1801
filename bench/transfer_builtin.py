"""The packaged transfer decoder (``builtin``): its recipe, its export and its measurements.

Stages (run the same command again to carry an interrupted one on):

    train     `wikiart train transfer` on wikiart-sample's train split with RECIPE: multi-level
              AdaIN at Lite0 taps 2-4 (`--layer 4 --levels 3`), the style loss over taps 0-4,
              style weight 30, 192 px crops at the paintings' own scale (the sample's paintings
              are 224 px: larger crops would be upsampled), 8 per step; resumed with --resume
              while OUT/decoder/last.pt is short of its epochs
    export    OUT/decoder/model.pt with floating tensors in fp16, into the package
              (src/wikiart/transfer/builtin.pt, or --export-to)
    evaluate  by style name on the test split at 224 px, under a judge that does not use the
              Lite0 encoder (the frozen ImageNet Lite2 at 224 px, trained on the train split),
              the exported decoder beside --baseline (default: the packaged one as it was
              before the export, kept as OUT/previous-builtin.pt); then at 512 px on the 9 x 8
              pairs of ../shared/data/style-transfer (seconds per image, the grid, the
              optimisation baseline with the same loss) via bench/transfer.py

    python bench/transfer_builtin.py --out ~/builtin-transfer [--stages train,export,evaluate]
        [--device cuda] [--epochs 12 --steps-per-epoch 1000]

On a GPU, raise --epochs (40 x 1,000 steps is 20 times the previous decoder's 2,000). Under
torchrun the train stage runs on every process; run the other stages as one process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from stages import run_stages, stage_parser

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
PACKAGE_FILE = HERE.parent / "src" / "wikiart" / "transfer" / "builtin.pt"
#: The decoder's recipe (docs/benchmarks.md, "The style representation, measured ...").
RECIPE = [
    "--image-size", "224", "--crop", "192", "--layer", "4", "--levels", "3",
    "--style-depth", "4", "--style-weight", "30", "--batch-size", "8", "--seed", "0",
]  # fmt: skip


def wikiart(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "wikiart", "--no-progress", *argv], check=True)


def train(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    run = out / "decoder"
    schedule = ["--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps_per_epoch)]
    history = run / "history.csv"
    done = len(history.read_text().strip().splitlines()) - 1 if history.is_file() else 0
    if (run / "model.pt").is_file() and done >= args.epochs:
        print(f"{run} is complete ({done} epochs)")
    else:
        resume = ["--resume"] if (run / "last.pt").is_file() else []
        wikiart("train", "transfer", "--data", args.data, "--out", str(run), "--device",
                args.device, *RECIPE, *schedule, *resume)  # fmt: skip
    rows = history.read_text().strip().splitlines()
    return {"recipe": " ".join(RECIPE + schedule), "last_epoch": rows[-1], "header": rows[0]}


def export(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The decoder's ``model.pt`` in fp16, and the command that made it."""
    from wikiart.checkpoints import load_checkpoint, save_checkpoint

    dest = Path(args.export_to)
    keep = out / "previous-builtin.pt"
    if dest.is_file() and not keep.is_file():
        shutil.copy2(dest, keep)
    payload = load_checkpoint(out / "decoder" / "model.pt")
    payload["state_dict"] = {
        k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()
    }
    payload["metrics"] = {**payload.get("metrics", {}), "trained": {
        "recipe": "wikiart train transfer --data wikiart-sample " + " ".join(RECIPE) +
        f" --epochs {args.epochs} --steps-per-epoch {args.steps_per_epoch}",
        "data": "wikiart-sample train split"}}  # fmt: skip
    payload["data"] = "wikiart-sample (train split)"
    save_checkpoint(dest, payload)
    size = dest.stat().st_size
    print(f"exported {dest}: {size / 1e6:.1f} MB")
    return {"path": str(dest), "bytes": size}


def evaluate(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    baseline = args.baseline or str(out / "previous-builtin.pt")
    bench = [sys.executable, str(HERE / "transfer.py"), "--checkpoint", args.export_to]
    subprocess.run([*bench, "--baseline", baseline, "--sample", args.data, "--sample-size",
                    "224", "--judge-arch", "efficientnet-lite2", "--judge-size", "224",
                    "--no-generator", "--out", str(out / "eval-224")], check=True)  # fmt: skip
    subprocess.run([*bench, "--pairs", "8", "--iterations", "200", "--style-weight", "30",
                    "--out", str(out / "eval-512")], check=True)  # fmt: skip
    return {
        "224": json.loads((out / "eval-224" / "bench_sample.json").read_text()),
        "512": json.loads((out / "eval-512" / "bench.json").read_text())["summary"],
    }


def main() -> None:
    ap = stage_parser(__doc__, SAMPLE, PACKAGE_FILE, "train,export,evaluate")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--steps-per-epoch", type=int, default=1000)
    ap.add_argument("--baseline", help="the transfer checkpoint scored beside the new one")
    run_stages(ap.parse_args(), {"train": train, "export": export, "evaluate": evaluate})


if __name__ == "__main__":
    main()
