import json

import pytest

from wikiart.config import DataConfig, TrainConfig, build_config, save_config
from wikiart.errors import WikiartError


def test_defaults_toml_then_flags(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('epochs = 5\nlr = 0.01\n\n[data]\nimage-size = 64\nsplit_csv = "a.csv,b.csv"\n')
    cfg = build_config(TrainConfig, toml, {"epochs": 2, "lr": None, "data": {"fit": "pad"}})
    assert cfg.epochs == 2  # the flag wins
    assert cfg.lr == 0.01  # a flag left unset does not erase the file's value
    assert cfg.batch_size == 32  # default
    assert cfg.data == DataConfig(image_size=64, split_csv=["a.csv", "b.csv"], fit="pad")


def test_saved_as_config_json(tmp_path):
    cfg = build_config(TrainConfig, None, {"seed": 7})
    path = save_config(cfg, tmp_path / "run")
    saved = json.loads(path.read_text())
    assert saved["seed"] == 7 and saved["data"]["image_size"] == 128


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epoch = 3\n", "unknown setting 'epoch'"),
        ('epochs = "three"\n', "expected int"),
        ("lr = true\n", "expected float"),
        ("resume = 1\n", "expected true or false"),
        ("data = 3\n", "must be a table"),
        ("epochs = \n", "not valid TOML"),
    ],
)
def test_bad_config_files(tmp_path, text, match):
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    with pytest.raises(WikiartError, match=match):
        build_config(TrainConfig, toml)


def test_missing_config_file(tmp_path):
    with pytest.raises(WikiartError, match="not found"):
        build_config(TrainConfig, tmp_path / "none.toml")


def test_int_accepted_for_float():
    assert build_config(TrainConfig, None, {"lr": 1}).lr == 1.0
