"""The public Python API (`wikiart.api`), the generated flags (`wikiart.flags`) and the defaults
that depend on what is installed."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

import wikiart
from wikiart.classify.settings import ClassifierConfig, default_arch
from wikiart.cli import build_parser, main
from wikiart.errors import WikiartError
from wikiart.stylegen.settings import StylegenConfig


def _small(tmp_path, **extra):
    return {
        "arch": "small-resnet", "image_size": 32, "batch_size": 8, "epochs": 1,
        "loader_workers": 0, "cache_dir": str(tmp_path / "cache"), "val_fraction": 0.25, **extra,
    }  # fmt: skip


def test_import_wikiart_is_light_and_lists_its_api():
    code = "import sys, wikiart; print('torch' in sys.modules, dir(wikiart))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, names = out.stdout.split(" ", 1)
    assert loaded == "False"  # the API is loaded on first use
    for name in ("train_job", "train_classifier", "train_lora", "predict", "evaluate", "embed",
                 "cluster", "load_model"):  # fmt: skip
        assert name in names and callable(getattr(wikiart, name))
    assert wikiart.train_transfer.__name__ == "train_transfer"
    with pytest.raises(AttributeError):
        wikiart.no_such_function  # noqa: B018


def test_the_command_line_parses_without_importing_torch():
    code = (
        "import sys; from wikiart.cli import build_parser; "
        "build_parser().parse_args(['train', 'classifier', '--epochs', '2']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # `wikiart --help` and `--version` stay instant


def test_api_trains_predicts_evaluates_embeds_and_clusters(learnable_root, tmp_path):
    run = tmp_path / "clf"
    metrics = wikiart.train_classifier(run, data=str(learnable_root), **_small(tmp_path))
    saved = json.loads((run / "metrics.json").read_text())
    assert metrics == saved and saved["n"] == 8  # 3 Dark + 3 Bright + 2 Rare test images
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["image_size"] == 32 and cfg["arch"] == "small-resnet"

    kind, model, payload = wikiart.load_model(run / "model.pt")
    assert kind == "classifier" and not model.training and payload["classes"] == saved["classes"]
    image = next((learnable_root / "test" / "Bright").iterdir())
    (pred,) = wikiart.predict(run / "model.pt", [image], top_k=2)
    assert len(pred["top"]) == 2 and {t["style"] for t in pred["top"]} <= set(saved["classes"])

    again = wikiart.evaluate(run / "model.pt", learnable_root / "test", tmp_path / "ev")
    assert again == json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert again["macro_f1"] == pytest.approx(saved["macro_f1"])  # the same model, same data

    emb = wikiart.embed(learnable_root, checkpoint=run / "model.pt")
    assert emb.vectors.shape[0] == 8 and emb.classes == saved["classes"]
    scores = wikiart.cluster(emb, tmp_path / "cl", methods=["kmeans"], tsne=False)
    written = json.loads((tmp_path / "cl" / "clusters.json").read_text())
    assert written == scores and scores["k"] == 3 and scores["plots"] == ["scatter_pca.png"]
    with pytest.raises(WikiartError, match="unknown clustering method"):
        wikiart.cluster(emb, tmp_path / "x", methods=["dbscan"])


def test_api_takes_a_config_object_or_file(learnable_root, tmp_path):
    cfg = ClassifierConfig(arch="small-resnet")
    cfg.data.data, cfg.data.image_size, cfg.epochs = str(learnable_root), 32, 1
    cfg.loader_workers, cfg.batch_size, cfg.data.val_fraction = 0, 8, 0.25
    cfg.data.cache_dir = str(tmp_path / "cache")
    wikiart.train_classifier(tmp_path / "a", config=cfg, seed=3)
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert saved["seed"] == 3 and saved["arch"] == cfg.arch and saved["data"]["image_size"] == 32
    with pytest.raises(WikiartError, match="config must be"):
        wikiart.train_classifier(tmp_path / "b", config=42)
    with pytest.raises(WikiartError, match="unknown setting 'epoch'"):
        wikiart.train_classifier(tmp_path / "c", data=str(learnable_root), epoch=3)


def test_evaluate_refuses_a_checkpoint_kind_it_cannot_evaluate(tmp_path):
    from wikiart.checkpoints import save_checkpoint

    save_checkpoint(tmp_path / "ae.pt", {"format_version": 1, "kind": "autoencoder"})
    with pytest.raises(WikiartError, match="'autoencoder' checkpoint"):
        wikiart.evaluate(tmp_path / "ae.pt", tmp_path, tmp_path / "out")


def test_load_model_rebuilds_every_kind_and_refuses_unknown_ones(tmp_path):
    from wikiart.checkpoints import load_model, save_checkpoint
    from wikiart.models.autoencoder import ConvAutoencoder

    torch.manual_seed(0)
    ae = ConvAutoencoder(32, "4x8x8", (8, 16))
    pre = {"image_size": 32, "mean": list(ae.mean), "std": list(ae.std)}
    save_checkpoint(
        tmp_path / "ae.pt",
        {"format_version": 1, "kind": "autoencoder", "model_config": ae.config,
         "state_dict": ae.state_dict(), "classes": ["A"], "preprocess": pre},
    )  # fmt: skip
    kind, model, _ = load_model(tmp_path / "ae.pt")
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert kind == "autoencoder" and torch.equal(model.encode(x), ae.eval().encode(x))
    with pytest.raises(WikiartError, match="not a classifier"):
        load_model(tmp_path / "ae.pt", kind="classifier")
    save_checkpoint(tmp_path / "x.pt", {"format_version": 1, "kind": "painting-robot"})
    with pytest.raises(WikiartError, match=r"cannot rebuild .*known kinds: autoencoder"):
        load_model(tmp_path / "x.pt")


# -- flags -----------------------------------------------------------------------------------
def _flags(text: str) -> list[str]:
    """The flags an argparse help text lists, one per option line (``--x, --no-x`` as --x)."""
    return re.findall(r"^  (--[a-z0-9-]+)", text, flags=re.M)


def _help(capsys, *cmd: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*cmd, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_help_lists_everyday_flags_first_and_groups_the_advanced_ones(capsys):
    text = _help(capsys, "train", "classifier")
    first, second = text.split("advanced options:")
    everyday, advanced = _flags(first), _flags(second)
    for flag in ("--data", "--out", "--arch", "--imbalance", "--epochs", "--print-config"):
        assert flag in everyday and flag not in advanced
    for flag in ("--ema-decay", "--layer-decay", "--mix", "--head-l2", "--workers", "--fit"):
        assert flag in advanced and flag not in everyday
    assert everyday.index("--data") < everyday.index("--epochs") < everyday.index("--arch")
    assert "(default: the --arch preset's)" in first  # epochs depend on the architecture


def test_every_config_field_has_exactly_one_flag(capsys):
    """Flags are generated: each setting of each training config appears once in --help."""
    import dataclasses
    import typing

    from wikiart.jobs import all_jobs

    def settings(cls):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]):
                yield from settings(hints[f.name])
            else:
                yield f

    for name, job in all_jobs().items():
        text = _help(capsys, "train", name)
        for f in settings(job.settings):
            flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
            assert _flags(text).count(flag) == 1, (name, flag)


def test_print_config_round_trips_through_config(learnable_root, tmp_path, capsys):
    argv = ["train", "classifier", "--data", str(learnable_root), "--arch", "baseline-cnn",
            "--lr", "0.005", "--image-size", "48", "--print-config"]  # fmt: skip
    assert main(argv) == 0
    toml = capsys.readouterr().out
    assert 'arch = "baseline-cnn"' in toml and "lr = 0.005" in toml and "image_size = 48" in toml
    assert "epochs = 25" in toml  # the baseline-cnn preset's, not the dataclass's 10
    path = tmp_path / "run.toml"
    path.write_text(toml)
    assert main(["train", "classifier", "--config", str(path), "--print-config"]) == 0
    assert capsys.readouterr().out == toml
    # a flag still overrides the file
    assert (
        main(["train", "classifier", "--config", str(path), "--seed", "9", "--print-config"]) == 0
    )
    assert "seed = 9" in capsys.readouterr().out


def test_train_without_out_or_data_is_a_usage_error(learnable_root, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "autoencoder", "--data", str(learnable_root)])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err
    assert main(["train", "autoencoder", "--out", "/tmp/never-used-run"]) == 2
    assert "no training data" in capsys.readouterr().err


def test_choices_are_checked_for_flags_and_files(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "stylegen", "--norm", "layer", "--print-config"])
    assert "invalid choice: 'layer'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('norm = "layer"\n')
    assert main(["train", "stylegen", "--config", str(bad), "--print-config"]) == 2
    assert "unknown norm 'layer'; expected one of batch, instance" in capsys.readouterr().err


def test_old_names_are_clear_errors(capsys):
    assert main(["train", "classifier", "--arch", "seed-cnn", "--print-config"]) == 2
    assert "now called 'baseline-cnn'" in capsys.readouterr().err
    assert main(["train", "autoencoder", "--bottleneck", "seed", "--print-config"]) == 2
    assert "shape CxHxW" in capsys.readouterr().err


# -- defaults that depend on what is installed -------------------------------------------------
def test_default_arch_is_the_pretrained_lite0_where_installed(monkeypatch, caplog, capsys):
    import wikiart.classify.presets as presets
    import wikiart.models.registry as registry

    monkeypatch.setattr(registry, "pretrained_available", lambda arch="": True)
    assert default_arch() == "efficientnet-lite0"
    cfg = presets.resolve_config(None, {})
    assert (cfg.arch, cfg.mode, cfg.data.image_size, cfg.pretrained) == (
        "efficientnet-lite0", "probe+finetune", 288, "auto",
    )  # fmt: skip
    monkeypatch.setattr(registry, "pretrained_available", lambda arch="": False)
    monkeypatch.setattr(presets, "pretrained_available", lambda arch="": False)
    with caplog.at_level("INFO"):
        cfg = presets.resolve_config(None, {})
    assert cfg.arch == "small-resnet" and cfg.features == "stats" and cfg.epochs == 40
    assert "pip install 'wikiart[pretrained]'" in caplog.text
    assert ClassifierConfig().arch == "small-resnet"


def test_stylegen_defaults_are_the_current_design():
    cfg = StylegenConfig()
    assert cfg.skips and cfg.padding == "reflect" and cfg.data.image_size == 64


def test_every_package_s_lazy_exports_resolve():
    """The job packages export their names lazily (so the command line imports no torch): each
    listed name must still exist where the table says."""
    import importlib

    for package in ("classify", "autoencode", "stylegen", "transfer", "diffusion", "clustering",
                    "serve"):  # fmt: skip
        module = importlib.import_module(f"wikiart.{package}")
        assert module.__all__, package
        for name in module.__all__:
            assert getattr(module, name) is not None, (package, name)
        with pytest.raises(AttributeError):
            module.no_such_name  # noqa: B018
