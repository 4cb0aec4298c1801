"""Style-conditioned diffusion on real paintings, and LoRA onto a style the base never saw.

1. An independent judge, trained on the training split at the generator's resolution
   (--judge-arch small-resnet from scratch at --image-size by default; `efficientnet-lite0` is
   trained in frozen mode, a linear head on its ImageNet embeddings, at --judge-size).
2. A class-conditional base (`train diffusion`) on every style but --held-out.
3. `evaluate` of the base on its styles: judge share, real share, Fréchet distance in Lite0
   features, memorisation check (the table of `wikiart evaluate`).
4. Before: the base's "no style" samples, judged as the held-out style (the base never saw it).
5. `train lora` onto the held-out style with its training images only, then `evaluate` of the
   adapter: the held-out style's judge share after, the adapter's size against the base's.

Prints every figure and writes bench.json with them and the wall times. The budget scales with
--scale (steps per epoch and epochs multiply; on a GPU try --scale 4 --image-size 64).

    python bench/diffusion.py [--out runs/bench-diffusion] [--device auto] [--scale 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--out", default="runs/bench-diffusion")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--held-out", default="Ukiyo_e", help="the style the base never sees")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=15, help="base epochs")
    ap.add_argument("--steps-per-epoch", type=int, default=50, help="base optimizer steps/epoch")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lora-epochs", type=int, default=8)
    ap.add_argument("--lora-steps-per-epoch", type=int, default=30)
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--n", type=int, default=32, help="samples per style in the evaluations")
    ap.add_argument("--judge-arch", default="small-resnet")
    ap.add_argument("--judge-size", type=int, help="judge image size (default: --image-size)")
    ap.add_argument("--judge-epochs", type=int, default=30)
    ap.add_argument(
        "--reuse", action="store_true", help="keep the judge, base and LoRA runs already in --out"
    )
    ap.add_argument("--scale", type=float, default=1.0, help="multiply steps per epoch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", help="preprocessing cache (default: the user cache)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s: %(message)s")

    import torch

    import wikiart
    from wikiart.device import resolve_device
    from wikiart.diffusion.evaluate import format_table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, cache = str(args.data), args.cache_dir
    dev = resolve_device(args.device)
    steps = max(1, round(args.steps_per_epoch * args.scale))
    lora_steps = max(1, round(args.lora_steps_per_epoch * args.scale))
    times: dict[str, float] = {}
    started = time.perf_counter()

    def timed(name: str, fn, *a, **kw):
        t0 = time.perf_counter()
        res = fn(*a, **kw)
        times[name] = round(time.perf_counter() - t0, 1)
        print(f"[{name}] {times[name]:.0f} s", flush=True)
        return res

    judge_size = args.judge_size or args.image_size
    judge = out / f"judge-{args.judge_arch}-{judge_size}"
    frozen = {"mode": "frozen"} if args.judge_arch.startswith("efficientnet") else {}
    if not (args.reuse and (judge / "model.pt").exists()):
        timed(
            "judge", wikiart.train_classifier, judge, data=data, arch=args.judge_arch,
            image_size=judge_size, epochs=args.judge_epochs, seed=args.seed + 1,
            device=args.device, cache_dir=cache, **frozen,
        )  # fmt: skip
    judge_metrics = json.loads((judge / "metrics.json").read_text())
    f1 = judge_metrics["macro_f1"]
    print(f"judge: {args.judge_arch}, test macro-F1 {f1:.3f} at {judge_size} px")

    base = out / "base"
    reuse_base = args.reuse and (base / "model.pt").exists()
    timed(
        "base", _unless(reuse_base, wikiart.train_diffusion), base, data=data,
        exclude_styles=[args.held_out], image_size=args.image_size, epochs=args.epochs,
        steps_per_epoch=steps, batch_size=args.batch_size, seed=args.seed, device=args.device,
        cache_dir=cache, sample_every=5,
    )  # fmt: skip
    base_eval = timed(
        "evaluate base", wikiart.evaluate, base / "model.pt", data, out / "base-eval",
        judge=judge / "model.pt", n_per_style=args.n, seed=args.seed, device=args.device,
        cache_dir=cache,
    )  # fmt: skip
    print(format_table(base_eval))

    before = timed("before", _held_out_share_of_base, base, judge, args, dev)
    print(f"before: the base's 'no style' samples judged {args.held_out}: {before:.3f}")

    lora = out / "lora"
    reuse_lora = args.reuse and (lora / "lora.json").exists()
    row = timed(
        "lora", _unless(reuse_lora, wikiart.train_lora), lora, base=str(base / "model.pt"),
        data=data, styles=[args.held_out], rank=args.rank, epochs=args.lora_epochs,
        steps_per_epoch=lora_steps, batch_size=args.batch_size // 2, seed=args.seed,
        device=args.device, cache_dir=cache,
    )  # fmt: skip
    lora_eval = timed(
        "evaluate lora", wikiart.evaluate, lora / "model.pt", data, out / "lora-eval",
        judge=judge / "model.pt", n_per_style=args.n, seed=args.seed, device=args.device,
        cache_dir=cache,
    )  # fmt: skip
    print(format_table(lora_eval))
    adapter_bytes = (lora / "pytorch_lora_weights.safetensors").stat().st_size
    base_bytes = sum(p.numel() * 4 for p in torch.load(
        base / "model.pt", weights_only=True, mmap=True)["state_dict"].values())  # fmt: skip
    after = lora_eval["per_style"][args.held_out]["judge_share"]
    if reuse_lora:
        row = json.loads((lora / "lora.json").read_text())
    print(
        f"held-out {args.held_out}: judge share before {before:.3f} -> after {after:.3f} "
        f"(real {lora_eval['per_style'][args.held_out]['real_share']}, chance "
        f"{lora_eval['chance']:.3f}); adapter {row['adapter_parameters']:,} parameters "
        f"({adapter_bytes / 1e6:.2f} MB file) vs base {row['base_parameters']:,} "
        f"({base_bytes / 1e6:.2f} MB of fp32 weights)"
    )
    summary = {
        "device": str(dev),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "args": vars(args),
        "judge": {
            "arch": args.judge_arch,
            "size": judge_size,
            "macro_f1": judge_metrics["macro_f1"],
        },
        "reused": {"base": reuse_base, "lora": reuse_lora},
        "base_eval": base_eval,
        "held_out": args.held_out,
        "held_out_before": before,
        "held_out_after": after,
        "lora_eval": lora_eval,
        "adapter_parameters": row["adapter_parameters"],
        "base_parameters": row["base_parameters"],
        "adapter_file_bytes": adapter_bytes,
        "seconds": times,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "bench.json").write_text(json.dumps(summary, indent=2))
    print(f"total {summary['total_seconds']:.0f} s; wrote {out / 'bench.json'}")


def _unless(reuse: bool, train):
    """``train``, or (reusing an earlier run in --out) a stand-in that trains nothing."""
    return (lambda *a, **kw: {}) if reuse else train


def _held_out_share_of_base(base: Path, judge: Path, args: argparse.Namespace, dev) -> float:
    """The judge's share of the held-out style among the base's "no style" samples: what the
    base gives that style before any adapter."""
    from wikiart.checkpoints import load_checkpoint
    from wikiart.diffusion.evaluate import null_share
    from wikiart.eval.generator import SampleOptions

    steps = load_checkpoint(base / "model.pt")["sampling"]["steps"]
    options = SampleOptions(n=args.n, seed=args.seed, steps=steps, batch_size=64)
    return null_share(base / "model.pt", judge / "model.pt", args.held_out, options, dev)


if __name__ == "__main__":
    main()
