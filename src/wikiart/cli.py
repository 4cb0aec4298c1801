"""Command line: parse flags, build a config, call one library function. Nothing else lives here.

Flags are generated from settings dataclasses (`wikiart.flags`): each ``train`` command's from
its registered job's (`wikiart.jobs`), the commands that use trained models from theirs
(`USE_COMMANDS`); ``wikiart data`` lives in `wikiart.data_cli`. Exit codes: 0 success; 1 the
job ran and found problems; 2 bad usage or bad input (one clear line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from wikiart import __version__
from wikiart.config_io import build_config, to_toml
from wikiart.data_cli import SEED, add_data_parsers, data_command
from wikiart.errors import WikiartError
from wikiart.flags import add_config_flags, config_overrides, number
from wikiart.jobs import all_jobs, get_job, load

#: Write failures a user can only fix by freeing space or changing disks: one line, exit 2.
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})

log = logging.getLogger("wikiart")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (the command, the problem, where help is), exit 2, like every
    other error; ``--help`` still prints the full usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


#: Commands whose --out is guarded: the files that show earlier outputs are there, and what
#: they are (a training run's own guard is in `wikiart.train.run.start_run`).
OUT_MARKERS: dict[str, tuple[tuple[str, ...], str]] = {
    "cluster": (("clusters.json",), "an earlier clustering"),
    "render": (("grid.png",), "earlier renders"),
    "transfer": (("grid.png",), "earlier paintings"),
    "sample": (("grid.png",), "earlier samples"),
}


def _out_markers(command: str) -> tuple[tuple[str, ...], str] | None:
    """What shows earlier outputs of ``command`` in its --out (an evaluation's: the files of
    every registered job's evaluation)."""
    if command == "evaluate":
        evaluations = [job.evaluation for job in all_jobs().values() if job.evaluation]
        return tuple(f for e in evaluations for f in e.outputs), "an earlier evaluation"
    return OUT_MARKERS.get(command)


def _train_parsers(sub: Any) -> None:
    train = sub.add_parser("train", help="train a model")
    tsub = train.add_subparsers(dest="model", required=True)
    for name, job in all_jobs().items():
        p = tsub.add_parser(
            name,
            help=job.help,
            usage=f"wikiart train {name} {job.usage + ' ' if job.usage else ''}"
            "--data DIR --out RUN [options]",
            description=f"Train {job.help}. Settings: flags > --config TOML > the preset; "
            "--print-config shows the result.",
        )
        p.add_argument("--out", help="run folder (required unless --print-config)")
        p.add_argument("--config", help="TOML file of settings (flags override it)")
        p.add_argument(
            "--print-config",
            action="store_true",
            help="print the resolved settings as TOML (usable as --config) and exit",
        )
        p.add_argument(
            "--dry-run",
            action="store_true",
            help="check the settings, the data and the run folder, then exit without training",
        )
        add_config_flags(p, job.settings, preset_keys=job.preset_keys, preset_note=job.preset_note)
        p.set_defaults(_parser=p)


#: ``wikiart COMMAND`` for the commands that use trained models: (its settings dataclass as
#: ``"module:Class"``, help, usage or None). Their flags are generated from the dataclass.
USE_COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "evaluate": (
        "wikiart.config:EvaluateConfig",
        "metrics of a checkpoint on a split folder or dataset",
        "wikiart evaluate --checkpoint RUN/model.pt --data DIR --out OUT "
        "[--judge CLASSIFIER/model.pt] [options]",
    ),
    "predict": (
        "wikiart.classify.settings:PredictConfig",
        "top-k styles of image files",
        "wikiart predict --checkpoint RUN/model.pt IMAGE... [--top-k K] [--json]",
    ),
    "render": (
        "wikiart.stylegen.settings:RenderConfig",
        "re-render images in other styles with a stylegen model",
        "wikiart render --checkpoint RUN/model.pt --image IMG... --style NAME... --out OUT",
    ),
    "transfer": (
        "wikiart.transfer.settings:PaintConfig",
        "paint images in a style (a name or a painting) with an AdaIN transfer model",
        "wikiart transfer --checkpoint RUN/model.pt --content IMG... --style NAME_OR_IMG... "
        "--out OUT [options]",
    ),
    "sample": (
        "wikiart.diffusion.settings:SampleConfig",
        "generate images of styles with a diffusion model, a LoRA run or a pipeline",
        "wikiart sample (--checkpoint RUN/model.pt | --base BASE [--lora RUN]) --style NAME... "
        "--out OUT [options]",
    ),
    "cluster": (
        "wikiart.clustering.settings:ClusterConfig",
        "embed a split, cluster it, score the clusters against the styles",
        None,
    ),
    "serve": (
        "wikiart.serve.settings:ServeConfig",
        "a web app (Gradio) over the trained models: classify, explore, re-paint, generate",
        "wikiart serve [--run DIR] [--classifier CKPT] [--gallery DATA] [--transfer CKPT] "
        "[--diffusion CKPT] [--host 127.0.0.1] [--port 7860] [options]",
    ),
}


def _use_parsers(sub: Any) -> None:
    for name, (settings, help_text, usage) in USE_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, usage=usage)
        add_config_flags(p, load(settings))
    p = sub.add_parser("demo", help="run every stage on the built-in data and write report.html")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--data", help="use this dataset instead of the built-in one")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--image-size", type=number(int, 8, 4096), default=96)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="wikiart", description="Model art styles in paintings.")
    parser.add_argument("--version", action="version", version=f"wikiart {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (default: only on a terminal)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_data_parsers(sub)
    _train_parsers(sub)
    _use_parsers(sub)
    return parser


# -- commands --------------------------------------------------------------------------------
def _cmd_train(args: argparse.Namespace, progress: bool) -> int:
    job = get_job(args.model)
    train = job.trainer()
    cfg = job.resolve_settings(args.config, config_overrides(args))
    if args.print_config:
        print(to_toml(cfg), end="")
        return 0
    if not args.out:
        args._parser.error("--out RUN is required (the run folder)")
    if args.dry_run:
        from wikiart.train.run import DRY_RUN, DryRun

        token = DRY_RUN.set(True)
        try:
            train(cfg, args.out, progress=progress)
        except DryRun as stop:
            counts = {n: len(refs) for n, refs in stop.dataset.splits.items()}
            styles = len({r.style for r in stop.dataset.splits.get("train", [])})
            split_text = ", ".join(f"{n} {k}" for n, k in counts.items())
            print(f"dry run: settings, data ({split_text} images; {styles} training styles) "
                  f"and {args.out} checked; nothing trained")  # fmt: skip
            return 0
        finally:
            DRY_RUN.reset(token)
        raise WikiartError("--dry-run: this job does not support a dry run")
    res = train(cfg, args.out, progress=progress)
    print(job.summary(res, args.out))
    return 0


def _settings(args: argparse.Namespace) -> Any:
    """The command's settings dataclass from its flags (ranges and choices checked); an
    earlier output in its ``--out`` is refused unless ``--overwrite``."""
    cfg = build_config(load(USE_COMMANDS[args.command][0]), None, config_overrides(args))
    guarded = _out_markers(args.command)
    if guarded is not None:
        from wikiart.files import guard_out

        guard_out(cfg.out, *guarded, overwrite=cfg.overwrite)
    return cfg


def _cmd_cluster(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.clustering import cluster_command

    cfg = _settings(args)
    res = cluster_command(cfg, progress=progress)
    print(
        f"{res['source']}: n={res['n']} k={res['k']} nmi={res['nmi']:.3f} "
        f"ari={res['ari']:.3f} silhouette={res['silhouette']:.3f} "
        f"knn_accuracy={res['knn_accuracy']:.3f}; wrote {cfg.out}"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.api import evaluation_for

    cfg = _settings(args)
    evaluation = evaluation_for(cfg)
    print(evaluation.summary(evaluation.evaluate(cfg, progress), cfg.out))
    return 0


def _cmd_predict(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.classify.infer import predict_images

    cfg = _settings(args)
    preds = predict_images(
        cfg.checkpoint, cfg.images, top_k=cfg.top_k, device=cfg.device, tta=cfg.tta
    )
    if cfg.json:
        print(json.dumps(preds, indent=2))
    for p in [] if cfg.json else preds:
        tops = ", ".join(f"{t['style']} {t['probability']:.2f}" for t in p["top"])
        print(f"{p['image']}: {tops}")
    return 0


def _cmd_render(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.stylegen.render import render_command

    cfg = _settings(args)
    paths = render_command(cfg)
    print(f"wrote {len(paths)} render(s) and grid.png to {cfg.out}")
    return 0


def _cmd_transfer(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.transfer.stylize import transfer_command

    cfg = _settings(args)
    paths = transfer_command(cfg)
    print(f"wrote {len(paths)} image(s) and grid.png to {cfg.out}")
    return 0


def _cmd_sample(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.api import sample_with

    cfg = _settings(args)
    paths = sample_with(cfg)
    print(f"wrote {len(paths)} image(s) and grid.png to {cfg.out}")
    return 0


def _cmd_serve(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.serve.launch import serve_command

    serve_command(_settings(args), progress=progress)
    return 0


def _cmd_demo(args: argparse.Namespace, progress: bool) -> int:
    from wikiart.demo import run_demo

    report = run_demo(
        Path(args.out), data=args.data, seed=args.seed, image_size=args.image_size,
        progress=progress,
    )  # fmt: skip
    print(f"report: {report}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, bool], int]] = {
    "data": data_command,
    "train": _cmd_train,
    "cluster": _cmd_cluster,
    "evaluate": _cmd_evaluate,
    "predict": _cmd_predict,
    "render": _cmd_render,
    "sample": _cmd_sample,
    "transfer": _cmd_transfer,
    "serve": _cmd_serve,
    "demo": _cmd_demo,
}


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="wikiart: %(levelname)s: %(message)s", force=True)


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # file names need not be valid UTF-8
        sys.stderr.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        return COMMANDS[args.command](args, progress)
    except WikiartError as exc:
        print(f"wikiart: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wikiart: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        # a write the atomic helpers do not cover (a library's own file): one line, not a trace
        where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
        print(f"wikiart: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
