"""End to end on tiny synthetic data: train -> files -> evaluate -> predict, CPU only."""

import json
import shutil

import pytest
import torch

from conftest import write_image
from wikiart.checkpoints import load_checkpoint
from wikiart.classify import load_classifier, resolve_config
from wikiart.cli import main
from wikiart.errors import WikiartError

CONTRACT_FILES = (
    "model.pt",
    "config.json",
    "history.csv",
    "loss.png",
    "metrics.json",
    "confusion.png",
    "report.md",
    "classes.json",
)


def train_args(root, out, *extra):
    return [
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(out),
        "--arch", "small-resnet", "--image-size", "32", "--batch-size", "8", "--epochs", "2",
        "--workers", "0", "--cache-dir", str(out.parent / "cache"), "--val-fraction", "0.25",
        *extra,
    ]  # fmt: skip


def test_train_writes_contract_files_and_evaluate_maps_by_name(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(learnable_root, run, "--imbalance", "logit-adjust")) == 0
    for name in CONTRACT_FILES:
        assert (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {
        "n", "classes", "accuracy", "balanced_accuracy", "macro_f1", "top5_accuracy", "per_class",
    }  # fmt: skip
    assert metrics["classes"] == ["Bright", "Dark", "Rare"] and metrics["n"] == 8
    payload = load_checkpoint(run / "model.pt")
    assert payload["kind"] == "classifier" and payload["classes"] == ["Bright", "Dark", "Rare"]
    assert payload["preprocess"]["image_size"] == 32

    assert payload["preprocess"]["precision"] in ("auto", "fp32", "bf16")

    # evaluating the checkpoint on the run's test split reproduces the run's metrics.json
    again = tmp_path / "again"
    argv = ["--no-progress", "evaluate", "--checkpoint", str(run / "model.pt")]
    assert main([*argv, "--data", str(learnable_root), "--out", str(again)]) == 0
    assert json.loads((again / "metrics.json").read_text()) == metrics

    # a test folder with a subset of the styles, whatever its folder order, maps by name
    subset = tmp_path / "subset"
    shutil.copytree(learnable_root / "test" / "Rare", subset / "Rare")
    out = tmp_path / "eval"
    assert main([*argv, "--data", str(subset), "--out", str(out)]) == 0
    ev = json.loads((out / "metrics.json").read_text())
    assert ev["n"] == 2 and ev["per_class"]["Rare"]["support"] == 2
    assert ev["per_class"]["Bright"]["support"] == 0
    assert (out / "per_class.csv").exists() and (out / "confusion.png").exists()

    # an unknown style is a clear error, exit 2
    write_image(subset / "Pop_Art" / "x.png", fmt="PNG")
    capsys.readouterr()
    assert main([*argv, "--data", str(subset), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Pop_Art" in err and "not among the model's classes" in err


def test_predict_prints_top_k(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(learnable_root, run)) == 0
    capsys.readouterr()
    img = learnable_root / "test" / "Dark" / "d0.png"
    argv = ["predict", "--checkpoint", str(run / "model.pt"), str(img), "--json", "--top-k", "2"]
    assert main(argv) == 0
    preds = json.loads(capsys.readouterr().out)
    assert len(preds) == 1 and len(preds[0]["top"]) == 2
    probs = [t["probability"] for t in preds[0]["top"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    assert main(["predict", "--checkpoint", str(run / "model.pt"), str(bad)]) == 2


@pytest.mark.parametrize("extra", [(), ("--mix", "cutmix")], ids=["plain", "cutmix"])
def test_killed_run_resumes_to_the_same_weights(learnable_root, tmp_path, monkeypatch, extra):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    assert main(train_args(learnable_root, straight, "--epochs", "3", *extra)) == 0

    import wikiart.train.loop as loop

    real, calls = loop._evaluate, {"n": 0}

    def killed_in_epoch_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed before epoch 3 was saved
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_evaluate", killed_in_epoch_3)
    assert main(train_args(learnable_root, resumed, "--epochs", "3", *extra)) == 130  # killed
    monkeypatch.setattr(loop, "_evaluate", real)
    assert load_checkpoint(resumed / "last.pt")["epoch"] == 2
    assert main(train_args(learnable_root, resumed, "--epochs", "3", "--resume", *extra)) == 0
    a = load_checkpoint(straight / "last.pt")["state_dict"]
    b = load_checkpoint(resumed / "last.pt")["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_changed_settings(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(learnable_root, run, "--epochs", "1")) == 0
    assert main(train_args(learnable_root, run, "--epochs", "2", "--resume")) == 2
    assert "epochs: 1 -> 2" in capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["resample", "sampler", "weighted-loss"])
def test_every_imbalance_strategy_trains(learnable_root, tmp_path, strategy):
    run = tmp_path / strategy
    assert main(train_args(learnable_root, run, "--imbalance", strategy, "--epochs", "1")) == 0
    assert json.loads((run / "config.json").read_text())["imbalance"] == strategy


def test_bad_mix_settings_exit_2(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(learnable_root, run, "--mix", "cutmix", "--mix-alpha", "0")) == 2
    assert "mix_alpha must be > 0" in capsys.readouterr().err


def test_bad_checkpoint_exits_2(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nope")
    argv = ["evaluate", "--checkpoint", str(junk), "--data", str(tmp_path), "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_frozen_mode_caches_embeddings_and_refits(learnable_root, tmp_path, capsys):
    run = tmp_path / "frozen"
    argv = train_args(learnable_root, run, "--mode", "frozen", "--head-epochs", "3")
    assert main(argv) == 0
    assert (run / "head" / "history.csv").exists() and (run / "head-refit" / "last.pt").exists()
    assert all((run / name).exists() for name in CONTRACT_FILES)  # a head-only run too
    assert (run / "history.csv").read_text() == (run / "head" / "history.csv").read_text()
    payload = load_checkpoint(run / "model.pt")
    assert payload["epoch"] == 3 and payload["kind"] == "classifier"
    scale = payload["state_dict"]["embed_scale"]
    assert not torch.allclose(scale, torch.ones_like(scale))  # embedding standardised
    features = list((tmp_path / "cache" / "features").glob("*.pt"))
    assert len(features) == 1
    stamp = features[0].stat().st_mtime_ns
    assert main(train_args(learnable_root, tmp_path / "again", "--mode", "frozen",
                           "--head-epochs", "2", "--seed", "1")) == 0  # fmt: skip
    assert features[0].stat().st_mtime_ns == stamp  # the second run reused every embedding


def test_train_scale_trains_on_smaller_crops_and_evaluates_whole_images(
    learnable_root, tmp_path, monkeypatch
):
    import wikiart.classify.train as classify

    seen: list[tuple[bool, int]] = []
    real_build = classify.build_classifier

    def recording_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(lambda m, inp: seen.append((m.training, inp[0].shape[-1])))
        return model

    monkeypatch.setattr(classify, "build_classifier", recording_build)
    run = tmp_path / "run"
    extra = ("--train-scale", "0.75", "--crop-scale", "0.2", "--crop-max", "0.5", "--epochs", "1")
    assert main(train_args(learnable_root, run, *extra)) == 0
    assert {size for training, size in seen if training} == {24}
    assert {size for training, size in seen if not training} == {32}
    assert load_checkpoint(run / "model.pt")["preprocess"]["image_size"] == 32
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train_scale"] == 0.75 and cfg["crop_max"] == 0.5


def test_weight_decay_and_dropout_flags(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    extra = ("--weight-decay", "0.05", "--dropout", "0.2", "--epochs", "1")
    assert main(train_args(learnable_root, run, *extra)) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["weight_decay"] == 0.05 and cfg["dropout"] == 0.2
    model, _ = load_classifier(run / "model.pt")
    assert isinstance(model.dropout, torch.nn.Dropout) and model.dropout.p == 0.2
    assert main(train_args(learnable_root, tmp_path / "r2", "--weight-decay", "-1")) == 2
    assert "weight_decay must be >= 0" in capsys.readouterr().err
    assert main(train_args(learnable_root, tmp_path / "r3", "--dropout", "1")) == 2
    assert "dropout must be in [0, 1)" in capsys.readouterr().err


def test_ema_decay_flag_keeps_the_average_as_the_model(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    # one epoch: model.pt and last.pt are both written after it
    assert main(train_args(learnable_root, run, "--ema-decay", "0.9", "--epochs", "1")) == 0
    assert json.loads((run / "config.json").read_text())["ema_decay"] == 0.9
    best = load_checkpoint(run / "model.pt")
    last = load_checkpoint(run / "last.pt")
    assert "ema" in last and "ema" not in best
    ema = last["ema"]  # model.pt holds the average, not the live weights
    assert all(torch.equal(v, ema[f"module.{k}"]) for k, v in best["state_dict"].items())
    assert any(not torch.equal(v, last["state_dict"][k]) for k, v in best["state_dict"].items())
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert main(train_args(learnable_root, tmp_path / "r2", "--ema-decay", "1")) == 2
    assert "ema_decay must be in [0, 1)" in capsys.readouterr().err


def test_sgd_optimizer_flag(learnable_root, tmp_path):
    run = tmp_path / "run"
    extra = ("--optimizer", "sgd", "--lr", "0.05", "--epochs", "1")
    assert main(train_args(learnable_root, run, *extra)) == 0
    assert json.loads((run / "config.json").read_text())["optimizer"] == "sgd"
    groups = load_checkpoint(run / "last.pt")["optimizer"]["param_groups"]
    assert all(g["nesterov"] and g["momentum"] > 0 for g in groups)
    with pytest.raises(WikiartError, match="unknown optimizer 'lamb'"):
        resolve_config(None, {"optimizer": "lamb"})


def test_crop_bounds_are_checked(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(learnable_root, run, "--crop-scale", "0.7", "--crop-max", "0.5")) == 2
    assert "crop_scale <= crop_max" in capsys.readouterr().err
    assert main(train_args(learnable_root, run, "--train-scale", "1.5")) == 2
    assert "train_scale must be in (0, 1]" in capsys.readouterr().err
