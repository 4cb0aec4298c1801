"""The judges of `diffusion_builtin.py` and its ``lora`` stage: LoRA onto a style the packaged
base never saw, judged by a judge that knows that style too (run through
`diffusion_builtin.py --stages lora`)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

#: The judge of every evaluation: the offline Lite0 with a linear head at the base's size.
JUDGE = {"arch": "efficientnet-lite0", "mode": "frozen", "image_size": 64}
LORA = {"rank": 8, "epochs": 150, "batch_size": 16, "lr": 1e-3}
#: The adapter's guidance scales compared on samples of ``--seed`` (judged, no test paintings);
#: the chosen one is then evaluated on samples of ``--seed`` + 1.
LORA_GUIDANCE = (3.0, 5.0, 7.0)


def _judge(args: argparse.Namespace, run: Path, data: str) -> dict[str, Any]:
    import wikiart

    if not (run / "model.pt").is_file():
        wikiart.train_classifier(
            run, data=data, seed=args.seed + 1, device=args.device, cache_dir=args.cache_dir,
            **JUDGE,
        )  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    print(f"judge {run}: {JUDGE['arch']} at {JUDGE['image_size']} px, test macro-F1 "
          f"{metrics['macro_f1']:.3f}")  # fmt: skip
    return {"macro_f1": metrics["macro_f1"], **JUDGE}


def lora(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """LoRA onto ``--unseen-style`` (its first ``--unseen-max`` training paintings), judged by a
    judge trained on the sample's styles, the unseen style and the unseen source's paintings of
    styles the sample also has (so that the source itself is no clue)."""
    import wikiart
    from wikiart.device import resolve_device
    from wikiart.diffusion.evaluate import format_table, null_share
    from wikiart.eval.generator import SampleOptions

    if not args.unseen:
        raise SystemExit("the lora stage needs --unseen (see bench/endless_tuning_data.py)")
    style = args.unseen_style
    unseen = _subset(Path(args.unseen).expanduser(), out / "unseen-data", [style],
                     args.unseen_max)  # fmt: skip
    judge_data = _judge_data(Path(args.data), Path(args.unseen).expanduser(), out, style)
    judge = _judge(args, out / "judge-unseen", str(judge_data))
    dev = resolve_device(args.device)
    judge_file = out / "judge-unseen" / "model.pt"
    options = SampleOptions(n=args.n, seed=args.seed + 1, steps=25, batch_size=64)
    before = null_share("builtin", judge_file, style, options, dev)
    print(f"before: the base's 'no style' samples judged {style}: {before:.3f}")
    t0 = time.perf_counter()
    run = out / f"lora-{style}"
    reused = (run / "lora.json").is_file()
    if not reused:
        wikiart.train_lora(
            run, base="builtin", data=str(unseen), styles=[style], seed=args.seed,
            device=args.device, cache_dir=args.cache_dir, **LORA,
        )  # fmt: skip
    train_s = _train_seconds(run) if reused else round(time.perf_counter() - t0, 1)
    guidance = _choose_guidance(run, judge_file, style, args, dev)
    res = wikiart.evaluate(
        run / "model.pt", str(unseen), out / f"lora-{style}-eval", judge=judge_file,
        n_per_style=args.n, seed=args.seed + 1, guidance=guidance["chosen"],
        device=args.device, cache_dir=args.cache_dir, overwrite=True,
    )  # fmt: skip
    print(format_table(res))
    after = res["per_style"][style]["judge_share"]
    print(f"{style}: judge share before {before:.3f} -> after {after:.3f} "
          f"(real {res['per_style'][style]['real_share']}, chance {res['chance']:.3f}); "
          f"at guidance {guidance['chosen']}; LoRA trained in {train_s:.0f} s")  # fmt: skip
    return {"style": style, "judge": judge, "before": before, "after": after,
            "train_seconds": train_s, "guidance": guidance, "eval": res,
            "recipe": LORA}  # fmt: skip


def _train_seconds(run: Path) -> float:
    """A finished run's training time: its epochs' seconds (history.csv)."""
    import csv

    with (run / "history.csv").open() as fh:
        return round(sum(float(r["seconds"]) for r in csv.DictReader(fh)), 1)


def _choose_guidance(
    run: Path, judge: Path, style: str, args: argparse.Namespace, dev: Any
) -> dict[str, Any]:
    """The adapter's judge share at each of ``LORA_GUIDANCE`` on samples of ``--seed``, and the
    scale with the highest (no test paintings are read)."""
    from wikiart.diffusion.evaluate import _Judge, _share
    from wikiart.diffusion.generate import open_generator
    from wikiart.eval.generator import SampleOptions

    gen = open_generator(run, device=dev)
    ref = _Judge.load(judge, [style], dev)
    shares = {}
    for g in LORA_GUIDANCE:
        opts = SampleOptions(n=args.n, seed=args.seed, guidance=g, batch_size=64)
        shares[g] = _share(ref, gen.sample(style, opts), style, 64)
        print(f"guidance {g}: judge share {shares[g]:.3f} (selection samples)", flush=True)
    return {"shares": shares, "chosen": max(shares, key=lambda g: shares[g])}


def _subset(src: Path, dest: Path, styles: list[str], max_train: int) -> Path:
    """``dest/{train,test}/<Style>/``: links to ``src``'s paintings of ``styles`` (at most
    ``max_train`` training paintings each, in name order; every test painting)."""
    for split in ("train", "test"):
        for style in styles:
            files = sorted((src / split / style).glob("*"))
            if split == "train":
                files = files[:max_train]
            folder = dest / split / style
            folder.mkdir(parents=True, exist_ok=True)
            for f in files:
                link = folder / f.name
                if not link.exists():
                    link.symlink_to(f.resolve())
    return dest


def _judge_data(sample: Path, unseen: Path, out: Path, style: str) -> Path:
    """The unseen-style judge's data: the sample, plus the unseen source's paintings of the
    unseen style and of every style the sample shares with it."""
    dest = out / "judge-unseen-data"
    shared = [s.name for s in (unseen / "train").iterdir() if (sample / "train" / s.name).is_dir()]
    _subset(sample, dest, sorted(p.name for p in (sample / "train").iterdir()), 10**9)
    _subset(unseen, dest, [style, *shared], 10**9)
    return dest
