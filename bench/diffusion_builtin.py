"""The packaged diffusion base (``builtin``): its recipe, its export, and its measurements.

Stages (each skipped when its output is complete, resumed when it was interrupted: run the same
command again to carry on):

    train     the latent autoencoder (`train vae`) and the class-conditional latent diffusion
              model on it (`train diffusion --vae`), both on wikiart-sample's train split
    export    the base's EMA weights as fp16 into the package (src/wikiart/diffusion/builtin.pt)
    evaluate  a judge trained at the base's resolution on the train split, then `evaluate` of
              the exported base on the test split: judge share, real share, Fréchet distance in
              Lite0 features, the memorisation check, grid.png and nearest.png
    sampling  the base's sampling settings (guidance, DDIM steps) chosen without the test split:
              for each setting, the judge share of its samples and their Fréchet distance to
              as many training paintings (SAMPLING, which the export records, is its choice)
    more      (optional) the base trained on from its weights (`train diffusion --init`) with
              a new schedule: OUT/base-more, exported with --base-run base-more
              (--more-from base-more: another round, into OUT/base-more-more)
    decoder   another decoder for the same latents, sharpened against a critic (`train vae
              --init --decoder-only --perceptual-weight --adversarial-weight`);
              `--with-decoder` exports the base with it
    lora      LoRA onto a style the base never saw (real paintings from --unseen, see
              bench/endless_tuning_data.py): the judge share of that style among the base's
              "no style" samples (before) and the adapter's samples (after), judged by a judge
              trained on the sample's styles and the unseen one

    python bench/diffusion_builtin.py --out ~/builtin-diffusion [--stages train,export]
        [--device auto] [--unseen ~/et --unseen-style Art_Nouveau_Modern]

Under torchrun the train stage runs on every process (DistributedDataParallel); run the other
stages as one process. Prints every figure and writes OUT/bench.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path
from typing import Any

from diffusion_unseen import _judge, lora
from stages import run_stages, stage_parser

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
PACKAGE_FILE = HERE.parent / "src" / "wikiart" / "diffusion" / "builtin.pt"

#: The recipe of the shipped base (docs/models.md): a 64 px latent diffusion model.
VAE = {
    "image_size": 64,
    "crop": 32,
    "epochs": 20,
    "batch_size": 32,
    "lr": 1e-3,
    "latent_channels": 8,
}
BASE = {
    "image_size": 64, "widths": [64, 128, 160], "layers_per_block": 2, "attention_levels": 2,
    "epochs": 60, "batch_size": 64, "lr": 1e-3, "ema_decay": 0.998, "grad_clip": 1.0,
    "sample_every": 20,
}  # fmt: skip
#: The ``more`` stage: the base's EMA weights trained on with a new one-cycle schedule.
MORE = {"epochs": 40, "lr": 3e-4, "sample_every": 20}
#: The ``decoder`` stage: the autoencoder's decoder alone fine-tuned on whole 64 px paintings
#: against a PatchGAN critic (adversarial term adaptively weighted) with L1 and a perceptual
#: term (EfficientNet-Lite2 features); the encoder and the latent scale are kept, so the base's
#: latents stay valid. Measured, not shipped (docs/models.md): its samples came nearer the
#: training paintings, with a judge share no higher. (A peak LR of 2e-4 for 16 epochs did
#: worse on both; L1 + perceptual weight 0.1 alone, without the critic, made them farther.)
DECODER = {
    "image_size": 64, "crop": 0, "decoder_only": True, "perceptual_weight": 1.0,
    "adversarial_weight": 0.5, "mse_weight": 0.0, "epochs": 12, "steps_per_epoch": 50,
    "batch_size": 32, "lr": 1e-4,
}  # fmt: skip
#: The sampling settings the ``sampling`` stage compares: (guidance, DDIM steps).
SWEEP = [(1.5, 25), (2.0, 25), (3.0, 25), (4.0, 25), (5.0, 25), (3.0, 50)]
#: What the export records as the base's sampling defaults: chosen by the ``sampling`` stage
#: (the highest judge share among the 25-step settings whose Fréchet distance to training
#: paintings was no worse than guidance 3's; docs/models.md).
SAMPLING = {"sampler": "ddim", "steps": 25, "guidance": 4.0}


def main() -> None:
    ap = stage_parser(__doc__, SAMPLE, PACKAGE_FILE, "train,export,evaluate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the base's epochs")
    ap.add_argument("--n", type=int, default=32, help="samples per style in the evaluations")
    ap.add_argument(
        "--more-from", default="base", help="the more stage trains OUT/NAME on into OUT/NAME-more"
    )
    ap.add_argument("--base-run", default="base",
                    help="the run the export takes: base, or base-more")  # fmt: skip
    ap.add_argument("--with-decoder", action="store_true",
                    help="export the base with the decoder stage's decoder")  # fmt: skip
    ap.add_argument("--settings", help="the sampling stage's settings as GUIDANCE:STEPS,... "
                    "(default: SWEEP)")  # fmt: skip
    ap.add_argument("--unseen", help="a train/ test/ folder of the unseen style's paintings")
    ap.add_argument("--unseen-style", default="Art_Nouveau_Modern")
    ap.add_argument("--unseen-max", type=int, default=300, help="its training paintings, at most")
    ap.add_argument("--cache-dir", help="preprocessing cache (default: the user cache)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s: %(message)s")
    stages = {"train": train, "more": more, "decoder": decoder, "export": export,
              "evaluate": evaluate, "sampling": sampling, "lora": lora}  # fmt: skip
    run_stages(args, stages, lambda: _machine(args.device))


def _machine(device: str) -> dict[str, Any]:
    import torch

    from wikiart.device import resolve_device

    return {
        "device": str(resolve_device(device)),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }


def _run(train_fn, run: Path, **settings: Any) -> dict[str, Any]:
    """Train ``run`` unless it is complete; carry on an interrupted one (``--resume``)."""
    from wikiart.checkpoints import load_checkpoint

    last = run / "last.pt"
    if last.is_file():
        done = int(load_checkpoint(last, mmap=True)["epoch"])
        if done >= settings["epochs"]:
            print(f"{run}: complete ({done} epochs), kept")
            return {"epochs": done, "reused": True}
        print(f"{run}: resuming after epoch {done}")
        return dict(train_fn(run, resume=True, **settings))
    return dict(train_fn(run, **settings))


def train(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import wikiart

    common = {"data": args.data, "device": args.device, "seed": args.seed,
              "cache_dir": args.cache_dir}  # fmt: skip
    vae = _run(wikiart.train_vae, out / "vae", **VAE, **common)
    base_settings = {**BASE, "epochs": max(1, round(BASE["epochs"] * args.scale))}
    base = _run(
        wikiart.train_diffusion, out / "base", vae=str(out / "vae" / "model.pt"),
        **base_settings, **common,
    )  # fmt: skip
    return {"vae": vae, "base": base, "recipe": {"vae": VAE, "base": base_settings}}


def more(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import wikiart

    settings = {k: v for k, v in BASE.items() if k not in ("widths", "layers_per_block",
                "attention_levels")}  # fmt: skip
    settings |= MORE
    src = args.more_from  # each round a seed of its own: base -> base-more (seed + 1) -> ...
    return _run(wikiart.train_diffusion, out / f"{src}-more", init=str(out / src / "model.pt"),
                data=args.data, device=args.device, seed=args.seed + 1 + src.count("more"),
                cache_dir=args.cache_dir, **settings)  # fmt: skip


def decoder(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import wikiart

    common = {"data": args.data, "device": args.device, "seed": args.seed,
              "cache_dir": args.cache_dir}  # fmt: skip
    return _run(wikiart.train_vae, out / "vae-decoder", init=str(out / "vae" / "model.pt"),
                **DECODER, **common)  # fmt: skip


def _with_decoder(payload: dict[str, Any], vae: Path) -> dict[str, Any]:
    """The base's payload with the autoencoder of ``vae`` (a decoder-only fine-tune of the one
    it was trained on: the same encoder and scale, checked)."""
    from wikiart.checkpoints import load_checkpoint

    new = {f"codec.{k}": v for k, v in load_checkpoint(vae)["state_dict"].items()}
    sd = payload["state_dict"]
    kept = [k for k in new if not k.startswith(("codec.vae.decoder.", "codec.vae.post_quant"))]
    changed = [k for k in kept if not torch_equal(sd[k], new[k])]
    if changed:
        raise SystemExit(f"{vae} is not a decoder-only fine-tune of the base's ({changed[0]})")
    payload["state_dict"] = {**sd, **new}
    return payload


def torch_equal(a: Any, b: Any) -> bool:
    import torch

    return bool(torch.equal(a.float(), b.float()))


def export(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The base's ``model.pt`` (EMA weights) with floating tensors in fp16, and what made it
    (with the ``decoder`` stage's decoder under ``--with-decoder``)."""
    from wikiart.checkpoints import load_checkpoint, save_checkpoint

    payload = load_checkpoint(out / args.base_run / "model.pt")
    sharp = out / "vae-decoder" / "model.pt"
    if args.with_decoder:
        payload = _with_decoder(payload, sharp)
    payload["state_dict"] = {
        k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()
    }
    history = (out / args.base_run / "history.csv").read_text().strip().splitlines()
    payload["metrics"] = {**payload.get("metrics", {}), "trained": {
        "recipe": _recipe(args),
        "data": "wikiart-sample train split", "epochs": int(payload["epoch"]),
        "history_rows": len(history) - 1}}  # fmt: skip
    payload["data"] = "wikiart-sample (train split)"
    if args.with_decoder:
        payload["metrics"]["trained"]["decoder"] = "decoder stage: " + json.dumps(DECODER)
    payload["sampling"] = dict(SAMPLING)
    dest = Path(args.export_to)
    save_checkpoint(dest, payload)
    size = dest.stat().st_size
    params = sum(v.numel() for v in payload["state_dict"].values())
    print(f"exported {dest}: {size / 1e6:.1f} MB, {params:,} values in fp16")
    return {"path": str(dest), "bytes": size, "values": params}


def _recipe(args: argparse.Namespace) -> str:
    """The bench commands that trained and exported these weights."""
    rounds = args.base_run.count("more")
    runs = ["train" + ",more" * min(rounds, 1)]
    runs += [f"more --more-from base{'-more' * r}" for r in range(1, rounds)]
    runs += ["decoder"] * args.with_decoder
    flags = (f" --base-run {args.base_run}" if args.base_run != "base" else "") + (
        " --with-decoder" if args.with_decoder else "")  # fmt: skip
    runs.append(f"export{flags}")
    cmd = "python bench/diffusion_builtin.py --out OUT --stages "
    return " && ".join(cmd + r for r in runs) + " (docs/models.md)"


def evaluate(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import wikiart
    from wikiart.diffusion.evaluate import format_table

    judge = _judge(args, out / "judge", args.data)
    res = wikiart.evaluate(  # samples of another seed than the ones the sampling stage compared
        args.export_to, args.data, out / "eval", judge=out / "judge" / "model.pt",
        n_per_style=args.n, seed=args.seed + 1, device=args.device, cache_dir=args.cache_dir,
        overwrite=True,
    )  # fmt: skip
    print(format_table(res))
    floor = _autoencoder_floor(args, res["n_per_style"] * len(res["styles"]))
    print(f"Fréchet distance to the test paintings: samples {res['frechet_lite0']}, the "
          f"autoencoder's reconstructions of training paintings {floor}, training paintings "
          f"{res['frechet_lite0_train_vs_test']}")  # fmt: skip
    return {"judge": judge, "eval": res, "frechet_autoencoder_floor": floor}


def _autoencoder_floor(args: argparse.Namespace, n: int) -> float:
    """The Fréchet distance to the test paintings of ``n`` training paintings passed through the
    base's autoencoder (the same pick as ``evaluate``'s real reference): what a perfect
    diffusion model on these latents would score."""
    import numpy as np
    import torch

    from wikiart.checkpoints import load_model
    from wikiart.diffusion.evaluate import _images, frechet_distance
    from wikiart.diffusion.vae import reconstruct

    ref = _Reference(args)
    _, net, _ = load_model(args.export_to, ref.dev, kind="diffusion")
    pick = np.random.default_rng(args.seed + 1).choice(len(ref.train), size=n, replace=False)
    recon = reconstruct(net.codec.float(), ref.train[torch.as_tensor(pick)], ref.dev)
    return round(frechet_distance(ref.features(recon), ref.features(_images(ref.test))), 2)


class _Reference:
    """The exported base's generator and the data's paintings at its size (``test``: the split,
    ``train``: uint8 images), with Lite0's features as `wikiart evaluate` computes them."""

    def __init__(self, args: argparse.Namespace) -> None:
        from wikiart.device import resolve_device
        from wikiart.diffusion.evaluate import _images, _real_splits
        from wikiart.diffusion.generate import open_generator
        from wikiart.models.registry import build_classifier

        self.dev = resolve_device(args.device)
        self.gen = open_generator(args.export_to, device=self.dev)
        self.test, train = _real_splits(args.data, self.gen, args.cache_dir, False)
        self.train = _images(train)
        self.lite0 = build_classifier("efficientnet-lite0", 1, pretrained=True)
        self.lite0 = self.lite0.to(self.dev).eval()

    def features(self, u8: Any) -> Any:
        from wikiart.diffusion.evaluate import FEATURE_SIZE, _lite0_features

        return _lite0_features(self.lite0, u8, self.dev, 64, FEATURE_SIZE)


def sampling(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Each of ``SWEEP``'s settings on the exported base, judged without the test split: the
    judge's share (the judge trained on the train split) and the Fréchet distance in Lite0
    features to as many training paintings as samples."""
    import numpy as np
    import torch

    from wikiart.diffusion.evaluate import _Judge, _share, frechet_distance
    from wikiart.eval.generator import SampleOptions

    ref = _Reference(args)
    gen, dev = ref.gen, ref.dev
    judge = _Judge.load(out / "judge" / "model.pt", gen.styles, dev)
    pick = np.random.default_rng(args.seed).choice(
        len(ref.train), size=min(args.n * len(gen.styles), len(ref.train)), replace=False
    )
    f_train = ref.features(ref.train[torch.as_tensor(pick)])
    rows = []
    sweep = SWEEP
    if args.settings:
        sweep = [(float(g), int(n)) for g, n in (v.split(":") for v in args.settings.split(","))]
    for guidance, steps in sweep:
        t0 = time.perf_counter()
        opts = SampleOptions(n=args.n, seed=args.seed, guidance=guidance, steps=steps,
                             batch_size=64)  # fmt: skip
        samples = {s: gen.sample(s, opts) for s in gen.styles}
        share = float(np.mean([_share(judge, samples[s], s, 64) for s in gen.styles]))
        f = ref.features(torch.cat(list(samples.values())))
        row = {"guidance": guidance, "steps": steps, "judge_share": round(share, 4),
               "frechet_to_train": round(frechet_distance(f, f_train), 2),
               "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
        print(row, flush=True)
        rows.append(row)
    return {"rows": rows}


if __name__ == "__main__":
    main()
