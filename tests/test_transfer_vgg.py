"""``--encoder vgg19``: VGG-19 laid out as pytorch-AdaIN's ``vgg_normalised`` (its taps and
strides), its weights read from either format of a local file (random weights here: nothing is
downloaded), a transfer model over it, the CLI and its one-line errors."""

import pytest
import torch

from conftest import dark_bright, paints_at_own_size
from wikiart.cli import main
from wikiart.errors import WikiartError
from wikiart.models.transfer import StyleTransfer
from wikiart.models.vgg import VGGFeatures
from wikiart.transfer import load_transfer

#: torchvision's vgg19 ``features`` indices of its first nine convolutions (up to conv4_1).
_TV_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19)
_TV_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 256, 512)


def test_taps_are_the_first_relu_of_each_stage_at_strides_1_to_8():
    vgg = VGGFeatures(depth=4)
    assert vgg.tap_index == [3, 10, 17, 30] and len(vgg.net) == 31  # pytorch-AdaIN's [:31]
    maps = vgg(torch.rand(1, 3, 32, 32))
    assert [(m.shape[1], m.shape[-1]) for m in maps] == [(64, 32), (128, 16), (256, 8), (512, 4)]
    assert all(float(m.min()) >= 0 for m in maps)  # after a ReLU
    assert not any(p.requires_grad for p in vgg.parameters())


def test_pytorch_adain_weights_load_as_they_are_past_layers_dropped(tmp_path):
    torch.manual_seed(0)
    full = VGGFeatures(depth=5)  # a vgg_normalised.pth holds more layers than are used
    path = tmp_path / "vgg_normalised.pth"
    torch.save(full.net.state_dict(), path)
    vgg = VGGFeatures(depth=3)
    vgg.load_weights(path)
    for k, v in vgg.net.state_dict().items():
        assert torch.equal(v, full.net.state_dict()[k]), k


def test_torchvision_weights_map_in_order_with_its_input_normalisation(tmp_path):
    torch.manual_seed(1)
    state, cin = {}, 3
    for i, w in zip(_TV_CONVS, _TV_WIDTHS, strict=True):
        state[f"features.{i}.weight"] = torch.randn(w, cin, 3, 3)
        state[f"features.{i}.bias"] = torch.randn(w)
        cin = w
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    vgg = VGGFeatures(depth=4)
    vgg.load_weights(path)
    own = vgg.net.state_dict()
    assert torch.equal(own["2.weight"], state["features.0.weight"])  # conv1_1
    assert torch.equal(own["29.weight"], state["features.19.weight"])  # conv4_1
    x = torch.rand(1, 3, 4, 4)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(vgg.net[0](x), (x - mean) / std, atol=1e-6)
    short = {k: v for k, v in state.items() if not k.startswith("features.19.")}
    torch.save(short, path)
    with pytest.raises(WikiartError, match="lack"):
        VGGFeatures(depth=4).load_weights(path)
    with pytest.raises(WikiartError, match="does not exist"):
        vgg.load_weights(tmp_path / "none.pth")


def test_a_transfer_model_over_vgg_paints_any_size_single_and_multi_level():
    torch.manual_seed(2)
    model = StyleTransfer(["A", "B"], layer=3, encoder="vgg19", widths=[8, 8, 8]).eval()
    assert model.stride == 8 and model.channels == 512
    multi = StyleTransfer(["A"], layer=2, levels=2, encoder="vgg19", widths=[8, 8]).eval()
    assert multi.tap_channels == [128, 256] and multi.stride == 4
    for m in (model, multi):
        m.set_style_bank(torch.randn(len(m.style_names), m.channels), torch.rand(1, m.channels) + 1)
        x = torch.randint(0, 256, (2, 3, 19, 26), dtype=torch.uint8)
        with torch.no_grad():
            out = m.decode(m.encode(x), torch.zeros(2, dtype=torch.long))
        assert out.shape == (2, 3, 19, 26)
    with pytest.raises(ValueError, match="widths"):
        StyleTransfer(["A"], layer=3, encoder="vgg19", widths=[8, 8, 8, 8])


def test_cli_trains_over_local_vgg_weights_and_refuses_bad_combinations(tmp_path, capsys):
    torch.manual_seed(3)
    weights = tmp_path / "vgg_normalised.pth"
    torch.save(VGGFeatures(depth=3).net.state_dict(), weights)
    root = dark_bright(tmp_path / "ds", {"train": 4, "test": 2})
    run = tmp_path / "run"
    base = ["--no-progress", "train", "transfer", "--data", str(root), "--image-size", "32",
            "--crop", "16", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main([*base, "--out", str(run), "--encoder", "vgg19", "--encoder-weights",
                 str(weights), "--layer", "2", "--widths", "8,8", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "2"]) == 0  # fmt: skip
    model, payload = load_transfer(run / "model.pt")
    assert payload["model_config"]["encoder"] == "vgg19" and model.channels == 256
    paints_at_own_size(run / "model.pt", tmp_path, "Bright", (30, 21))
    capsys.readouterr()
    for flags, words in (
        (["--encoder-weights", str(weights)], "is for --encoder vgg19"),
        (["--encoder", "vgg19", "--layer", "2", "--style-depth", "3"], "no deeper than --layer"),
        (["--encoder", "vgg19", "--layer", "0", "--crop", "16"], "relu2_1..relu5_1"),
        (["--encoder", "vgg19", "--encoder-weights", str(tmp_path / "no.pth"), "--layer", "2",
          "--widths", "8,8"], "not found"),
    ):  # fmt: skip
        bad = tmp_path / "bad"
        assert main([*base, "--out", str(bad), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
        assert not bad.exists()
