"""Bad input, systematically: every flag of every command, generated from the parser, given
bad numbers (0, -1, NaN, a huge value, a non-number) and bad paths (a missing path, a file, a
folder) must end with exit 0 or 2 (one error line) and never a traceback; training commands run
with ``--dry-run`` (settings, data and run folder checked, nothing trained). Plus the cases
that slipped through before: symbolic-link loops in a dataset, a one-style training split, a
style too small for a validation share, and a repeated command over a finished run."""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
from pathlib import Path

import pytest

from conftest import dark_bright_rare, write_image
from wikiart.cli import build_parser, main

NUMBERS = ("0", "-1", "nan", "abc")
HUGE = {"int": "99999999999999", "float": "1e30"}
#: Commands only parsed (never run) by the fuzz: a server that blocks, the whole demo.
PARSE_ONLY = {("serve",), ("demo",)}


def _leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(command path, parser)`` of every command that runs (``("train", "classifier")``)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaf_parsers(sub, (*path, name))


def _kind(action: argparse.Action) -> str | None:
    """ "number" (int, float, a list of them), "text" (free strings: paths, names), or None
    (switches, choices, positionals)."""
    if not action.option_strings or action.choices is not None or action.nargs == 0:
        return None
    name = getattr(action.type, "__name__", "")
    if action.type in (int, float) or name in ("int", "float", "parse"):
        return "number"
    if action.type in (None, str):
        return "text"
    return None


def _huge(action: argparse.Action) -> str:
    return HUGE["float" if getattr(action.type, "__name__", "") == "float" else "int"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny dataset, an image, and tiny classifier, style-generator and diffusion runs."""
    import wikiart

    tmp = tmp_path_factory.mktemp("fuzz")
    root = dark_bright_rare(tmp)
    cache = str(tmp / "cache")
    small = {"image_size": 16, "batch_size": 8, "epochs": 1, "loader_workers": 0,
             "cache_dir": cache, "device": "cpu"}  # fmt: skip
    wikiart.train_classifier(tmp / "clf", data=str(root), arch="baseline-cnn", **small)
    wikiart.train_stylegen(
        tmp / "sg", data=str(root), classifier=str(tmp / "clf" / "model.pt"), widths=[8, 16],
        code_channels=8, **small,
    )  # fmt: skip
    wikiart.train_diffusion(
        tmp / "diff", data=str(root), widths=[8, 16], steps_per_epoch=1, samples=1,
        sample_steps=1, sample_every=0, **small,
    )  # fmt: skip
    return {
        "root": root, "cache": Path(cache), "image": root / "test" / "Dark" / "d0.png",
        "clf": tmp / "clf" / "model.pt", "sg": tmp / "sg" / "model.pt",
        "diff": tmp / "diff" / "model.pt",
    }  # fmt: skip


def _base(command: tuple[str, ...], i: dict[str, Path], out: Path) -> list[str]:
    """A valid invocation of ``command`` over the tiny inputs (runs fast, trains nothing)."""
    root, cache, image = str(i["root"]), str(i["cache"]), str(i["image"])
    data_cmds = {
        "stats": [root], "check": [root, "--workers", "1"],
        "cache": [root, "--workers", "1", "--image-size", "16", "--cache-dir", cache],
        "split": [root, "--out", str(out), "--test-fraction", "0.5"],
        "synth": ["--out", str(out), "--image-size", "16", "--train-max", "2",
                  "--test-per-style", "1", "--workers", "1"],
    }  # fmt: skip
    if command[0] == "data":
        return data_cmds[command[1]]
    if command[0] == "train":
        extra = {
            "stylegen": ["--classifier", str(i["clf"])],
            "lora": ["--base", str(i["diff"])],
            "transfer": ["--init", "builtin"],
        }.get(command[1], [])
        return ["--data", root, "--out", str(out), "--image-size", "16", "--cache-dir", cache,
                "--dry-run", *extra]  # fmt: skip
    return {
        "evaluate": ["--checkpoint", str(i["clf"]), "--data", str(i["root"] / "test"),
                     "--out", str(out), "--cache-dir", cache],
        "predict": ["--checkpoint", str(i["clf"]), image],
        "render": ["--checkpoint", str(i["sg"]), "--image", image, "--style", "Rare",
                   "--out", str(out)],
        "transfer": ["--content", image, "--style", image, "--out", str(out),
                     "--max-size", "32", "--style-size", "32"],
        "sample": ["--checkpoint", str(i["diff"]), "--style", "Dark", "--n", "1", "--steps",
                   "1", "--out", str(out)],
        "cluster": ["--source", "pixels", "--data", str(i["root"] / "test"), "--out",
                    str(out), "--no-tsne", "--methods", "kmeans", "--cache-dir", cache],
        "serve": ["--classifier", str(i["clf"])],
        "demo": ["--out", str(out)],
    }[command[0]]  # fmt: skip


def _without(argv: list[str], flag: str, action: argparse.Action) -> list[str]:
    """``argv`` minus ``flag`` and its value(s)."""
    out, skip = [], False
    for arg in argv:
        if skip and not arg.startswith("--"):
            if action.nargs not in ("+", "*"):
                skip = False
            continue
        skip = False
        if arg in action.option_strings:
            skip = True
            continue
        out.append(arg)
    return out


def _run(argv: list[str]) -> tuple[int | str, str]:
    """Exit code (or the escaped exception) and stderr of ``wikiart ARGV`` in this process."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc: int | str = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # what the test looks for
            rc = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return rc, err.getvalue()


def _cases():
    for command, parser in _leaf_parsers(build_parser()):
        for action in parser._actions:
            kind = _kind(action)
            if kind is not None:
                yield command, action, kind


def test_every_flag_of_every_command_takes_bad_values_without_a_traceback(
    inputs, tmp_path, monkeypatch
):
    monkeypatch.setenv("WIKIART_CACHE", str(inputs["cache"]))
    failures, tried, commands = [], 0, set()
    counter = itertools.count()
    for command, action, kind in _cases():
        flag = action.option_strings[-1]
        commands.add(command)
        values = [*NUMBERS, _huge(action)] if kind == "number" else ["MISSING", "FILE", "FOLDER"]
        for value in values:
            case = tmp_path / f"c{next(counter)}"
            case.mkdir()
            (case / "file.txt").write_text("not what was asked for\n")
            (case / "folder").mkdir()
            actual = {"MISSING": str(case / "missing" / "x"), "FILE": str(case / "file.txt"),
                      "FOLDER": str(case / "folder")}.get(value, value)  # fmt: skip
            base = _base(command, inputs, case / "out")
            argv = [*command, *_without(base, flag, action), flag, actual]
            tried += 1
            if command in PARSE_ONLY:
                buf = io.StringIO()
                try:
                    with contextlib.redirect_stderr(buf):
                        build_parser().parse_args(["--no-progress", *argv])
                    rc = 0
                except SystemExit as exc:
                    rc = exc.code
                err = buf.getvalue()
            else:
                rc, err = _run(["--no-progress", "-q", *argv])
            allowed = (0, 1, 2) if command == ("data", "check") else (0, 2)  # 1: findings
            errors = [line for line in err.splitlines() if "error:" in line]
            if rc not in allowed or "Traceback" in err or (rc == 2 and len(errors) != 1):
                failures.append(f"wikiart {' '.join(argv)}\n    -> {rc} {err.strip()[-300:]}")
    assert not failures, f"{len(failures)} of {tried} cases:\n" + "\n".join(failures[:60])
    assert len(commands) >= 18 and tried > 1000, (len(commands), tried)


def test_the_fuzz_covers_every_flag_it_can_type():
    """Each flag that takes a value is fuzzed, or is a choice (argparse checks those)."""
    for command, parser in _leaf_parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.nargs != 0 and action.choices is None:
                assert _kind(action) is not None, (command, action.option_strings)


# -- the four cases ---------------------------------------------------------------------------
def test_a_symlink_loop_in_a_dataset_is_a_warning_not_a_crash(tmp_path, capsys):
    root = dark_bright_rare(tmp_path)
    os.symlink("../", root / "train" / "Dark" / "loop")  # back to train/
    os.symlink("../../", root / "train" / "Bright" / "up")  # the dataset root (test/ in it)
    os.symlink(".", root / "test" / "again")  # the split folder as a "style"
    os.symlink("self", root / "test" / "Rare" / "self")  # a link to itself
    assert main(["data", "check", str(root), "--json", "--workers", "1"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert report["splits"]["train"] == {"files": 24, "styles": 3}  # nothing twice
    assert report["splits"]["test"] == {"files": 9, "styles": 3}
    skipped = {(s["split"], Path(s["folder"].split(" (")[0]).name) for s in
               report["skipped_folders"]}  # fmt: skip
    assert skipped == {("train", "loop"), ("train", "up"), ("test", "again"), ("test", "self")}
    assert report["warnings"] >= 4
    argv = ["--no-progress", "train", "classifier", "--data", str(root), "--out",
            str(tmp_path / "run"), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    assert "train 24, test 9 images" in capsys.readouterr().out


def _train(root: Path, out: Path, *extra: str) -> list[str]:
    return ["--no-progress", "-q", "train", "classifier", "--data", str(root), "--out", str(out),
            "--arch", "baseline-cnn", "--image-size", "16", "--batch-size", "8", "--epochs", "1",
            "--workers", "0", *extra]  # fmt: skip


def test_a_single_style_or_a_one_image_style_is_refused_by_name(tmp_path, capsys):
    one = tmp_path / "one"
    for i in range(4):
        write_image(one / "train" / "Baroque" / f"b{i}.png", seed=i, fmt="PNG")
    for extra in ((), ("--dry-run",)):
        assert main(_train(one, tmp_path / "r1", *extra)) == 2
        err = capsys.readouterr().err
        assert "1 style (Baroque)" in err and "at least two styles" in err
    assert not (tmp_path / "r1" / "model.pt").exists()

    write_image(one / "train" / "Cubism" / "c0.png", seed=9, fmt="PNG")
    assert main(_train(one, tmp_path / "r2")) == 2
    err = capsys.readouterr().err
    assert "single training image" in err and "Cubism" in err and "--val-fraction" in err


def test_a_finished_run_is_never_overwritten_silently(tmp_path, capsys):
    root = dark_bright_rare(tmp_path)
    run = tmp_path / "run"
    assert main(_train(root, run)) == 0
    kept = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(_train(root, run, "--seed", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == kept
    assert main(_train(root, run, "--overwrite", "--resume")) == 2
    assert main(_train(root, run, "--seed", "1", "--overwrite")) == 0
    assert (run / "model.pt").read_bytes() != kept["model.pt"]

    ev = ["--no-progress", "-q", "evaluate", "--checkpoint", str(run / "model.pt"), "--data",
          str(root / "test"), "--out", str(tmp_path / "ev")]  # fmt: skip
    assert main(ev) == 0
    before = (tmp_path / "ev" / "metrics.json").read_bytes()
    capsys.readouterr()
    assert main(ev) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "ev" / "metrics.json").read_bytes() == before
    assert main([*ev, "--overwrite"]) == 0


def test_every_numeric_setting_declares_its_range():
    """A new numeric setting must say which values it allows (`wikiart.config.LIMITS`, or
    its own ``setting(limit=...)``)."""
    import dataclasses
    import typing

    from wikiart import config
    from wikiart.jobs import all_jobs

    settings = [job.settings for job in all_jobs().values()] + [config.EvaluateConfig]
    assert len(settings) >= 7
    missing = set()
    for job in settings:
        stack = [job]
        while stack:
            cls = stack.pop()
            hints = typing.get_type_hints(cls)
            for f in dataclasses.fields(cls):
                tp = hints[f.name]
                if dataclasses.is_dataclass(tp):
                    stack.append(tp)
                elif any(t in str(tp) for t in ("int", "float")) and not (
                    f.metadata.get("limit") or f.name in config.LIMITS
                ):
                    missing.add(f"{cls.__name__}.{f.name}")
    assert not missing, sorted(missing)
    assert config.Limit(1, 10).describe(True) == "an integer from 1 to 10"
    assert config.Limit(0, 1, hi_open=True).describe(False) == "a finite number in [0, 1)"
    assert not config.Limit(0, None).allows(float("nan"))
    assert not config.Limit(None, None).allows(float("inf"))
