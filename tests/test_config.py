import json

import pytest

from wikiart.autoencode.settings import AutoencoderConfig
from wikiart.classify.settings import ClassifierConfig
from wikiart.config import DataConfig, TrainConfig
from wikiart.config_io import build_config, save_config, to_toml
from wikiart.diffusion.settings import DiffusionConfig, LoraConfig
from wikiart.errors import WikiartError
from wikiart.stylegen.settings import StylegenConfig


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
        ("data = 3\n", "'data': expected str"),
        ('fit = "stretch"\n', "unknown fit 'stretch'; expected one of crop, pad"),
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


def test_a_section_s_settings_may_be_flat_or_nested(tmp_path):
    flat = tmp_path / "flat.toml"
    flat.write_text('data = "/d"\nimage_size = 64\nepochs = 3\n')
    nested = tmp_path / "nested.toml"
    nested.write_text('epochs = 3\n[data]\ndata = "/d"\nimage-size = 64\n')
    a, b = build_config(TrainConfig, flat), build_config(TrainConfig, nested)
    assert a == b and a.data.data == "/d" and a.data.image_size == 64 and a.epochs == 3
    # a flag given flat overrides the file's nested value, key by key
    c = build_config(TrainConfig, nested, {"image_size": 32})
    assert c.data.image_size == 32 and c.data.data == "/d"


def test_job_defaults_live_in_their_dataclass():
    ae = AutoencoderConfig()
    assert ae.bottleneck == "16x8x8" and ae.data.image_size == 64 and ae.epochs == 15
    sg = StylegenConfig()
    assert sg.data.image_size == 64 and sg.batch_size == 16 and sg.skips and sg.padding == "reflect"
    # a nested section given in part keeps the job's other defaults
    assert build_config(AutoencoderConfig, None, {"data": "/d"}).data.image_size == 64


@pytest.mark.parametrize("cls", [ClassifierConfig, AutoencoderConfig, StylegenConfig])
def test_to_toml_reads_back_to_the_same_config(tmp_path, cls):
    cfg = build_config(cls, None, {"data": '/path/with "quotes"', "seed": 3, "lr": 1e-5})
    path = tmp_path / "cfg.toml"
    path.write_text(to_toml(cfg))
    assert build_config(cls, path) == cfg
    assert "# grad_clip = (unset)" in path.read_text()  # None has no TOML form: a comment


def test_a_field_s_own_limit_replaces_its_name_s():
    """`samples` allows 0 where a grid is optional (style generator) but not in the diffusion
    jobs' grids: the field's own ``setting(limit=...)`` wins over `LIMITS`."""
    assert build_config(StylegenConfig, None, {"samples": 0}).samples == 0
    for cls in (DiffusionConfig, LoraConfig):
        with pytest.raises(WikiartError, match=r"samples \(--samples\) must be an integer from 1"):
            build_config(cls, None, {"samples": 0})
        assert build_config(cls, None, {"samples": 1}).samples == 1


def test_resume_accepts_a_setting_the_run_predates_only_at_its_default(tmp_path):
    """A run saved before a setting existed resumes under a newer version at that setting's
    default; any other value, or a changed old setting, is refused."""
    from wikiart.config_io import check_same_run
    from wikiart.transfer.settings import TransferConfig

    cfg = build_config(TransferConfig, None, {"epochs": 3})
    path = save_config(cfg, tmp_path)
    old = json.loads(path.read_text())
    del old["encoder"], old["encoder_weights"]  # saved by a version without them
    path.write_text(json.dumps(old))
    check_same_run(cfg, tmp_path)
    with pytest.raises(WikiartError, match="encoder"):
        check_same_run(
            build_config(TransferConfig, None, {"epochs": 3, "encoder": "vgg19"}), tmp_path
        )
    with pytest.raises(WikiartError, match="epochs: 3 -> 4"):
        check_same_run(build_config(TransferConfig, None, {"epochs": 4}), tmp_path)
