"""The job registry: a job registered from outside wikiart (here, a toy job defined in this test
only) is a `wikiart train` command with generated flags, ``--print-config``, a Python API
function, a checkpoint kind `load_model` rebuilds, and an evaluation `wikiart evaluate` runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import wikiart
from wikiart import jobs
from wikiart.checkpoints import load_model, make_payload, save_checkpoint
from wikiart.cli import main
from wikiart.config import EvaluateConfig, Limit, TrainConfig, setting
from wikiart.errors import WikiartError


@dataclass
class ToySettings(TrainConfig):
    """`wikiart train toy`: a two-weight model set to one number."""

    flavour: str = setting("vanilla", "what the toy tastes of", choices=("vanilla", "mint"))
    strength: float = setting(0.5, "the value every weight is set to", limit=Limit(0, 1))


def toy_train(cfg: ToySettings, out: str, *, progress: bool = False) -> dict[str, Any]:
    model = nn.Linear(2, 1, bias=False)
    nn.init.constant_(model.weight, cfg.strength)
    Path(out).mkdir(parents=True, exist_ok=True)
    payload = make_payload(
        kind="toy", model_config={"flavour": cfg.flavour}, model=model, classes=None,
        preprocess={}, epoch=cfg.epochs, metrics={},
    )  # fmt: skip
    save_checkpoint(Path(out) / "model.pt", payload)
    return {"epoch": cfg.epochs, "strength": cfg.strength, "flavour": cfg.flavour}


def toy_from_checkpoint(payload: dict[str, Any]) -> nn.Module:
    assert payload["model_config"]["flavour"] in ("vanilla", "mint")
    return nn.Linear(2, 1, bias=False)


def toy_evaluate(cfg: EvaluateConfig, progress: bool) -> dict[str, Any]:
    _, model, _ = load_model(cfg.checkpoint, kind="toy")
    res = {"weight_sum": float(model.weight.detach().sum())}
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    (Path(cfg.out) / "toy_eval.json").write_text(json.dumps(res))
    return res


TOY = jobs.Job(
    name="toy",
    help="a toy model (registered by a test)",
    settings=ToySettings,
    train=f"{__name__}:toy_train",
    summary=lambda res, out: f"toy {res['flavour']} at {res['strength']}; run: {out}",
    kinds={"toy": f"{__name__}:toy_from_checkpoint"},
    evaluation=jobs.Evaluation(
        f"{__name__}:toy_evaluate",
        ("toy_eval.json",),
        lambda res, out: f"toy weight sum {res['weight_sum']:.2f}; wrote {out}",
    ),
)


@pytest.fixture
def toy():
    jobs.all_jobs()  # the built-in jobs first, as in any process
    yield jobs.register(TOY)
    jobs.unregister("toy")


def test_a_registered_job_is_a_command_with_generated_flags(toy, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "a toy model (registered by a test)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "toy", "--help"])
    text = capsys.readouterr().out
    assert "--flavour" in text and "--strength" in text and "--epochs" in text
    assert main(["train", "toy", "--strength", "0.25", "--flavour", "mint", "--print-config"]) == 0
    toml = capsys.readouterr().out
    assert "strength = 0.25" in toml and 'flavour = "mint"' in toml
    assert main(["train", "toy", "--strength", "2", "--print-config"]) == 2
    assert "strength (--strength) must be a finite number in [0, 1], got 2.0" in (
        capsys.readouterr().err
    )


def test_a_registered_job_trains_from_the_cli_and_the_api(toy, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "toy", "--out", str(run), "--strength", "0.75", "--epochs", "3"]) == 0
    assert capsys.readouterr().out.strip() == f"toy vanilla at 0.75; run: {run}"
    kind, model, payload = load_model(run / "model.pt")
    assert kind == "toy" and payload["epoch"] == 3
    assert torch.equal(model.weight, torch.full((1, 2), 0.75))

    res = wikiart.train_job("toy", tmp_path / "api", strength=0.1, flavour="mint")
    assert res == {"epoch": 10, "strength": 0.1, "flavour": "mint"}
    assert wikiart.train_toy(tmp_path / "api2", strength=0.2)["strength"] == 0.2
    assert "train_toy" in dir(wikiart)
    with pytest.raises(WikiartError, match="unknown setting 'strenght'"):
        wikiart.train_job("toy", tmp_path / "bad", strenght=0.2)


def test_a_registered_job_s_checkpoints_are_evaluated_by_its_evaluation(toy, tmp_path, capsys):
    wikiart.train_job("toy", tmp_path / "run", strength=0.5)
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", str(tmp_path / "run" / "model.pt"), "--data",
            str(tmp_path), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == f"toy weight sum 1.00; wrote {out}"
    assert main(argv) == 2  # its outputs are guarded like every evaluation's
    assert "--overwrite" in capsys.readouterr().err


def test_a_kind_no_job_writes_is_a_clear_error(tmp_path):
    model = nn.Linear(2, 1)
    payload = make_payload(
        kind="nobody", model_config={}, model=model, classes=None, preprocess={}, epoch=0,
        metrics={},
    )  # fmt: skip
    save_checkpoint(tmp_path / "model.pt", payload)
    with pytest.raises(WikiartError, match="kind 'nobody', which this version of wikiart cannot"):
        load_model(tmp_path / "model.pt")


def test_registration_refuses_a_second_owner_of_a_name_or_kind(toy):
    with pytest.raises(ValueError, match="already registered"):
        jobs.register(jobs.Job(name="toy", help="another", settings=ToySettings, train="x:y"))
    with pytest.raises(ValueError, match="already belongs to job 'classifier'"):
        other = {"settings": ToySettings, "train": "x:y", "kinds": {"classifier": "x:y"}}
        jobs.register(jobs.Job(name="toy2", help="x", **other))
    assert "toy2" not in jobs.all_jobs()


def test_every_built_in_job_is_registered_with_what_the_cli_needs():
    built_in = jobs.all_jobs()
    assert list(built_in)[:6] == [
        "classifier", "autoencoder", "stylegen", "transfer", "diffusion", "lora"
    ]  # fmt: skip
    assert sorted(k for j in built_in.values() for k in j.kinds) == sorted(built_in)
    for job in built_in.values():
        assert callable(job.trainer())
        if job.evaluation is not None:  # its files guard an evaluation's --out
            files = job.evaluation.outputs
            assert files and all(isinstance(f, str) for f in files)
            assert callable(jobs.load(job.evaluation.run))
        for target in job.kinds.values():
            assert callable(jobs.load(target))
    assert [j.demo[0] for j in built_in.values() if j.demo] == [
        "classifier", "autoencoder + clustering", "style generator (judge, training, evaluation)",
        "style transfer (style statistics, evaluation)", "diffusion (judge, training, evaluation)",
    ]  # fmt: skip
    for job in built_in.values():
        if job.demo:
            assert callable(jobs.load(job.demo[1]))
    assert {j.name for j in built_in.values() if j.evaluation} == {
        "classifier", "stylegen", "transfer", "diffusion", "lora"
    }  # fmt: skip
