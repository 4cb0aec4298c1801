"""The style-conditioned generator: pure maths, registered fusion layers, learning, rendering,
checkpoint round trips, the CLI (train stylegen, render, evaluate --judge) and its errors."""

import json

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from conftest import assert_png, grid_px, has_lite0
from wikiart.checkpoints import load_checkpoint
from wikiart.cli import main
from wikiart.errors import WikiartError
from wikiart.functional import adain, match_channel_stats
from wikiart.functional import channel_mean_std as channel_stats
from wikiart.models.repaint import render_styles
from wikiart.models.stylegen import StyleGenerator, build_stylegen
from wikiart.stylegen import (
    EMBEDDINGS_FILE,
    StylegenLoss,
    load_style_embeddings,
    load_stylegen,
    other_styles,
    random_view,
    save_style_embeddings,
    texture_distance,
    texture_stats,
)
from wikiart.stylegen.settings import StylegenConfig

STYLES = ["A", "B", "C"]


def small_model(
    seed: int = 0, size: int = 16, norm: str = "batch", skips: bool = False
) -> StyleGenerator:
    torch.manual_seed(seed)
    table = torch.randn(len(STYLES), 5)
    return StyleGenerator(
        size, STYLES, table, widths=(8, 16), code_channels=8, hidden=16, norm=norm, skips=skips
    )


# -- pure maths ------------------------------------------------------------------------------
def test_channel_stats_and_adain_set_the_given_statistics():
    x = torch.randn(2, 3, 8, 8) * 4 + 7
    mean, std = channel_stats(x)
    assert torch.allclose(mean.flatten(), x.mean(dim=(2, 3)).flatten(), atol=1e-5)
    assert torch.allclose(std.flatten(), x.std(dim=(2, 3), unbiased=False).flatten(), atol=1e-3)
    gamma = torch.tensor([[0.5, 2.0, 1.0], [3.0, 1.0, 0.1]])
    beta = torch.tensor([[1.0, -1.0, 0.0], [0.0, 5.0, 2.0]])
    y = adain(x, gamma, beta)
    m, s = channel_stats(y)
    assert torch.allclose(m.squeeze(), beta, atol=1e-4)
    assert torch.allclose(s.squeeze(), gamma, atol=1e-3)


def test_colour_baseline_moves_channel_statistics_to_the_target_and_stays_in_range():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16) * 0.3 + 0.2  # a narrow range, far from the target
    target_mean, target_std = torch.tensor([0.7, 0.5, 0.3]), torch.tensor([0.05, 0.1, 0.08])
    y = match_channel_stats(x, target_mean, target_std)
    m, s = channel_stats(y)
    assert torch.allclose(m.squeeze(-1).squeeze(-1), target_mean.expand(4, 3), atol=1e-3)
    assert torch.allclose(s.squeeze(-1).squeeze(-1), target_std.expand(4, 3), atol=2e-3)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    # the composition (the ranking of pixels within a channel) is kept
    a, b = x[0, 0].flatten().argsort(), y[0, 0].flatten().argsort()
    assert torch.equal(a, b)


def test_other_styles_never_draws_the_own_style():
    y = torch.arange(3).repeat(200)
    t = other_styles(y, 3)
    assert not (t == y).any() and set(t.tolist()) == {0, 1, 2}


# -- the module ------------------------------------------------------------------------------
def test_fusion_layers_and_style_table_are_registered_and_move_with_the_model():
    model = small_model()
    keys = model.state_dict().keys()
    assert "style_table" in keys
    assert any(k.startswith("modulation.heads.") for k in keys)
    assert any(k.startswith("modulation.trunk.") for k in keys)
    # every parameter and buffer follows .to(): nothing is left behind on the CPU
    moved = model.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in moved.parameters())
    assert moved.style_table.dtype == torch.float64
    meta = small_model().to("meta")
    assert all(t.device.type == "meta" for t in [*meta.parameters(), *meta.buffers()])


@pytest.mark.parametrize(
    ("norm", "skips"), [("batch", False), ("instance", False), ("batch", True)]
)
def test_output_in_image_range_and_the_style_changes_it(norm, skips):
    model = small_model(norm=norm, skips=skips).eval()
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        a = model(x, torch.tensor([0, 0]))
        b = model(x, torch.tensor([1, 1]))
    assert a.shape == (2, 3, 16, 16) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert (a - b).abs().max() > 1e-3  # a fresh model already depends on its style input
    with pytest.raises(WikiartError, match=r"unknown style 'Z'.*\['A', 'B', 'C'\]"):
        model.style_index("Z")


def test_skips_feed_encoder_features_to_the_decoder_and_are_the_default():
    plain, unet = small_model(), small_model(skips=True)
    # the first upsampling stage reads the 8-channel encoder features at its resolution
    assert plain.stages[0][1].weight.shape[1] == 16
    assert unet.stages[0][1].weight.shape[1] == 16 + 8
    # ... and the last (full-resolution) stage the normalised input image itself
    assert unet.stages[-1][1].weight.shape[1] == plain.stages[-1][1].weight.shape[1] + 3
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    code = unet.encode(x)
    assert isinstance(code, tuple) and code[0].shape == (2, 8, 4, 4)
    assert [c.shape for c in plain.encode(x)] == [(2, 8, 4, 4)]  # the code alone, still a tuple
    assert code[1].shape == (2, 8, 8, 8) and code[2].shape == (2, 3, 16, 16)
    assert unet.config["skips"] is True
    unstated = {k: v for k, v in plain.config.items() if k != "skips"}
    again = build_stylegen(**unstated)
    again.load_state_dict(unet.state_dict())
    assert again.skips is True


def test_reflect_padding_reaches_every_padded_conv_and_is_the_default():
    torch.manual_seed(0)
    table = torch.randn(len(STYLES), 5)
    kw = {"widths": (8, 16), "code_channels": 8, "hidden": 16, "skips": True}
    model = StyleGenerator(16, STYLES, table, padding="reflect", **kw)
    padded = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.padding != (0, 0)]
    assert padded and all(m.padding_mode == "reflect" for m in padded)
    assert model.config["padding"] == "reflect"
    # the padding is part of the function: the same weights with zero padding render otherwise
    zeros = StyleGenerator(16, STYLES, table, padding="zeros", **kw)
    zeros.load_state_dict(model.state_dict())
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    style = torch.tensor([0, 1])
    with torch.no_grad():
        assert not torch.equal(model.eval()(x, style), zeros.eval()(x, style))
    unstated = {k: v for k, v in zeros.config.items() if k != "padding"}
    assert all(
        m.padding_mode == "reflect"
        for m in build_stylegen(**unstated).modules()
        if isinstance(m, nn.Conv2d) and m.padding != (0, 0)
    )
    with pytest.raises(WikiartError, match="padding"):
        StyleGenerator(16, STYLES, table, padding="circular", **kw)


def test_rebuilds_from_config_and_bad_sizes():
    model = small_model()
    again = build_stylegen(**model.config)
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.style_table, model.style_table)
    with pytest.raises(WikiartError, match="multiple of 4"):
        StyleGenerator(18, STYLES, style_dim=4, widths=(8, 16))


class _TinyClassifier(torch.nn.Module):
    """A stand-in frozen classifier: mean colour -> logits (differentiable, like the real one)."""

    def __init__(self) -> None:
        super().__init__()
        from wikiart.data.transforms import Normalizer

        self.normalizer = Normalizer()
        self.head = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(3) * 5)
            self.head.bias.zero_()

    def embed(self, x):
        return self.normalizer(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.embed(x))


def test_a_few_steps_reduce_the_loss_and_the_classifier_stays_frozen():
    torch.manual_seed(0)
    model = small_model()
    clf = _TinyClassifier().eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    cfg = StylegenConfig(content_weight=0.0)
    loss_fn = StylegenLoss(clf, 16, cfg)
    x = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        torch.manual_seed(1)  # the same target styles each step: a fair before/after
        loss, parts = loss_fn(model, x, y)
        assert {"rec", "style_ce", "style_acc"} <= set(parts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.grad is None for p in clf.parameters())
    assert all(torch.equal(v, before[k]) for k, v in clf.state_dict().items())


def test_random_view_is_differentiable_in_range_and_varies():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    v = random_view(x)
    assert v.shape == x.shape and float(v.detach().min()) >= 0 and float(v.detach().max()) <= 1
    v.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not torch.allclose(random_view(x.detach()), random_view(x.detach()))


class _TinyFeatures(torch.nn.Module):
    """A stand-in frozen feature extractor: two fixed conv layers."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.a = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.b = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1)
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        a = torch.relu(self.a(x))
        return [a, torch.relu(self.b(a))]


def test_texture_stats_average_per_style_and_the_distance_vanishes_at_the_target():
    torch.manual_seed(0)
    feats = _TinyFeatures()
    imgs = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    stats = texture_stats(feats, TensorDataset(imgs, labels), 3, torch.device("cpu"), batch_size=4)
    assert [m.shape for m in stats["mean"]] == [(3, 4), (3, 6)]
    maps = feats(imgs.float() / 255)
    want = channel_stats(maps[1][:2])[0].flatten(1).mean(0)
    assert torch.allclose(stats["mean"][1][0], want, atol=1e-5)
    # one image per style: its own statistics are the target, the distance is zero there
    one = {"mean": [channel_stats(m[[0, 2, 4]])[0].flatten(1) for m in maps],
           "std": [channel_stats(m[[0, 2, 4]])[1].flatten(1) for m in maps]}  # fmt: skip
    sel = [m[[0, 2, 4]] for m in maps]
    assert float(texture_distance(sel, torch.tensor([0, 1, 2]), one)) < 1e-10
    assert float(texture_distance(sel, torch.tensor([1, 2, 0]), one)) > 1e-4


def test_texture_term_and_hinge_train_and_report_their_parts():
    torch.manual_seed(0)
    model = small_model(skips=True)
    clf = _TinyClassifier().eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    feats = _TinyFeatures()
    x = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    texture = texture_stats(feats, TensorDataset(x, y), 3, torch.device("cpu"))
    cfg = StylegenConfig(
        content_weight=1.0,
        texture_weight=1.0,
        layout_weight=1.0,
        style_margin=0.5,
        style_augment=True,
    )
    loss_fn = StylegenLoss(clf, 16, cfg, feats, texture=texture)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        torch.manual_seed(1)
        loss, parts = loss_fn(model, x, y)
        assert {"rec", "style_ce", "content", "texture", "layout"} <= set(parts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_stylegen_loss_is_reproducible_and_reports_the_configured_terms():
    model = small_model(skips=True)
    clf = _TinyClassifier().eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    x = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    emb = {"mean": torch.randn(3, 3), "embed_mean": torch.zeros(3), "embed_std": torch.ones(3)}
    cfg = StylegenConfig(content_weight=0.0, texture_weight=0.0, code_weight=0.1, stats_weight=0.1)
    loss_fn = StylegenLoss(clf, 16, cfg, embeddings=emb)
    assert isinstance(loss_fn, nn.Module)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)  # the same target styles and random views
        runs.append(loss_fn(model, x, y))
    (a, parts_a), (b, parts_b) = runs
    assert torch.equal(a, b)
    assert set(parts_a) == {"rec", "style_ce", "style_acc", "layout", "code", "stats"}
    assert all(torch.equal(parts_a[k], parts_b[k]) for k in parts_a)
    # a term is reported only when it is configured (and has what it needs)
    bare = StylegenConfig(content_weight=1.0, texture_weight=0.0, layout_weight=0.0)
    _, parts = StylegenLoss(clf, 16, bare, features=None)(model, x, y)
    assert set(parts) == {"rec", "style_ce", "style_acc"}
    loss_fn.train()
    assert not clf.training  # the frozen judge stays in eval mode


# -- end to end through the CLI --------------------------------------------------------------
def _train_classifier(root, run, seed, arch="baseline-cnn"):
    argv = [
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(run),
        "--arch", arch, "--image-size", "32", "--batch-size", "8", "--epochs", "1",
        "--workers", "0", "--val-fraction", "0.25", "--seed", str(seed), "--no-tta",
    ]  # fmt: skip
    assert main(argv) == 0
    return run / "model.pt"


@pytest.fixture
def trained(learnable_root, tmp_path):
    """A classifier, an independent judge and a stylegen trained for 2 epochs at 16 px."""
    clf = _train_classifier(learnable_root, tmp_path / "clf", 0)
    judge = _train_classifier(learnable_root, tmp_path / "judge", 1)
    run = tmp_path / "sg"
    argv = [
        "--no-progress", "train", "stylegen", "--data", str(learnable_root), "--out", str(run),
        "--classifier", str(clf), "--image-size", "16", "--batch-size", "8", "--epochs", "2",
        "--workers", "0", "--widths", "8,16", "--code-channels", "8", "--content-weight", "0",
    ]  # fmt: skip
    assert main(argv) == 0
    return {"root": learnable_root, "clf": clf, "judge": judge, "run": run, "tmp": tmp_path}


def test_train_stylegen_writes_contract_files_and_rebuilds_alone(trained):
    run = trained["run"]
    for name in ("model.pt", EMBEDDINGS_FILE, "history.csv"):
        assert (run / name).stat().st_size > 0, name
    assert_png(run / "loss.png", (1100, 440))  # two panels, 10 x 4 in at 110 dpi
    # 6 test images (2 per style, round robin) x (original, own style, 3 styles)
    assert_png(run / "grid.png", grid_px(6, 5, cell=1.2, col_labels=True))
    emb = load_style_embeddings(run / EMBEDDINGS_FILE)
    assert emb["classes"] == ["Bright", "Dark", "Rare"]
    assert emb["mean"].shape[0] == 3 and emb["mean"].ndim == 2
    payload = load_checkpoint(run / "model.pt")
    assert payload["kind"] == "stylegen" and payload["classes"] == ["Bright", "Dark", "Rare"]
    assert len(payload["color_stats"]["mean"]) == 3
    lite = has_lite0()  # the texture term needs the pretrained Lite0 weights (CI has them)
    assert ("texture_stats" in payload) == lite
    if lite:
        tex = payload["texture_stats"]
        assert len(tex["mean"]) == len(tex["std"]) == 3  # one entry per Lite0 layer
        assert all(m.shape[0] == 3 for m in tex["mean"])  # one row per style

    model, _ = load_stylegen(run / "model.pt")
    again, _ = load_stylegen(run / "model.pt")
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    a, b = render_styles(model, x, [0, 1, 2]), render_styles(again, x, [0, 1, 2])
    assert torch.equal(a, b)  # a checkpoint round trip reproduces renders exactly
    assert (a[:, 0] - a[:, 1]).abs().max() > 1e-3  # another style, another image


def test_style_embeddings_round_trip_keeps_names(tmp_path):
    emb = {"classes": ["X", "Y"], "mean": torch.randn(2, 4)}
    save_style_embeddings(tmp_path / "e.pt", emb)
    back = load_style_embeddings(tmp_path / "e.pt")
    assert back["classes"] == ["X", "Y"] and torch.equal(back["mean"], emb["mean"])


# test images of learnable_root: 3 Bright, 3 Dark, 2 Rare -> the pairs that target each style
PAIRS_PER_TARGET = {"Bright": 5, "Dark": 5, "Rare": 6}


def check_eval_relations(res):
    """What stylegen_eval.json's numbers must satisfy, whatever the models learnt."""
    pairs = res["pairs"]
    assert res["styles"] == ["Bright", "Dark", "Rare"] and pairs == sum(PAIRS_PER_TARGET.values())
    # judge verdicts are counts of pairs (rounded to 4 places in the file)
    for key in ("swap_success", "floor", "color_baseline"):
        hits = res[key] * pairs
        assert abs(hits - round(hits)) < 2e-3, (key, hits)
    # an unchanged image is called at most one of its other styles: the floor counts each image
    # at most once, so it cannot pass images / pairs (a floor that counted the image's own style
    # would reach 1 with a good judge)
    assert round(res["floor"] * pairs) <= res["images"]
    # swap success is the pair-weighted mean of its per-target shares
    per = res["swap_success_per_target"]
    weighted = sum(per[s] * n for s, n in PAIRS_PER_TARGET.items()) / pairs
    assert res["swap_success"] == pytest.approx(weighted, abs=1e-3)
    for s, n in PAIRS_PER_TARGET.items():
        assert abs(per[s] * n - round(per[s] * n)) < 2e-3, s


def check_eval_on_known_renders(ev, trained, res, monkeypatch):
    """`evaluate` with the generator replaced by renders whose scores are known: the input
    itself (SSIM 1, swap success = the floor) and the colour baseline (every score equal to the
    baseline's). The floor and the baseline do not depend on the generator at all."""
    tmp = trained["tmp"]
    colors = load_checkpoint(trained["run"] / "model.pt")["color_stats"]
    cmean, cstd = torch.tensor(colors["mean"]), torch.tensor(colors["std"])

    def encode(self, x):
        return (x.float() / 255,)

    def identity(self, codes, style):
        return codes[0]

    def colour_matched(self, codes, style):
        s = style.cpu()
        return match_channel_stats(codes[0], cmean[s].to(codes[0]), cstd[s].to(codes[0]))

    same = ("pairs", "floor", "color_baseline", "color_baseline_ssim")
    monkeypatch.setattr(StyleGenerator, "encode", encode)
    for name, decode in (("identity", identity), ("colour", colour_matched)):
        monkeypatch.setattr(StyleGenerator, "decode", decode)
        out = tmp / f"ev-{name}"
        assert main([*ev, "--judge", str(trained["judge"]), "--out", str(out)]) == 0
        known = json.loads((out / "stylegen_eval.json").read_text())
        check_eval_relations(known)
        assert {k: known[k] for k in same} == {k: res[k] for k in same}
        if name == "identity":
            assert known["ssim"] == known["own_style_ssim"] == 1.0
            assert known["swap_success"] == known["floor"]
            assert known["feature_distance"] in (None, 0.0)
        else:
            assert known["swap_success"] == known["color_baseline"]
            assert known["ssim"] == known["color_baseline_ssim"] < 1.0
            assert known["feature_distance"] == known["color_baseline_feature_distance"]
    monkeypatch.undo()


def test_render_evaluate_and_bad_inputs(trained, capsys, monkeypatch):
    root, run, tmp = trained["root"], trained["run"], trained["tmp"]
    ckpt = str(run / "model.pt")
    img = next((root / "test" / "Dark").iterdir())
    out = tmp / "render"
    argv = ["--no-progress", "render", "--checkpoint", ckpt, "--image", str(img)]
    assert main([*argv, "--style", "Bright", "Rare", "--out", str(out)]) == 0
    assert len(list(out.glob("*_Bright.png"))) == 1 and len(list(out.glob("*_Rare.png"))) == 1
    assert_png(out / "grid.png", grid_px(1, 4, cell=1.2, col_labels=True))  # original, own, 2

    capsys.readouterr()
    assert main([*argv, "--style", "Nope", "--out", str(tmp / "r2")]) == 2
    err = capsys.readouterr().err
    assert "unknown style 'Nope'" in err and "Bright" in err and "Traceback" not in err

    ev = ["--no-progress", "evaluate", "--checkpoint", ckpt, "--data", str(root)]
    assert main([*ev, "--judge", str(trained["judge"]), "--out", str(tmp / "ev")]) == 0
    res = json.loads((tmp / "ev" / "stylegen_eval.json").read_text())
    assert {"pairs", "swap_success", "floor", "color_baseline", "ssim", "feature_distance"} <= set(
        res
    )
    assert res["pairs"] == 8 * 2 and res["images"] == 8  # each test image x the 2 other styles
    check_eval_relations(res)
    assert_png(tmp / "ev" / "grid.png", grid_px(6, 5, cell=1.2, col_labels=True))
    assert "swap success" in capsys.readouterr().out
    check_eval_on_known_renders(ev, trained, res, monkeypatch)

    # the judge may not be the training classifier, even under another name
    copy = tmp / "copy.pt"
    copy.write_bytes(trained["clf"].read_bytes())
    for judge in (trained["clf"], copy):
        assert main([*ev, "--judge", str(judge), "--out", str(tmp / "bad")]) == 2
        assert "trained against" in capsys.readouterr().err
    assert main([*ev, "--out", str(tmp / "bad")]) == 2  # no judge at all
    assert "--judge" in capsys.readouterr().err
    missing = ["--no-progress", "render", "--checkpoint", str(tmp / "none.pt")]
    assert main([*missing, "--image", str(img), "--style", "A", "--out", str(tmp / "r3")]) == 2
    assert "not found" in capsys.readouterr().err


def test_train_stylegen_refuses_a_missing_classifier(learnable_root, tmp_path, capsys):
    argv = [
        "--no-progress", "train", "stylegen", "--data", str(learnable_root),
        "--out", str(tmp_path / "sg"), "--classifier", str(tmp_path / "nope.pt"),
    ]  # fmt: skip
    assert main(argv) == 2
    assert "classifier checkpoint not found" in capsys.readouterr().err


def test_resume_continues_to_the_same_weights(learnable_root, tmp_path, monkeypatch):
    """The shared loop's promise holds for the generator: epoch 1, a crash, then --resume
    gives the same weights as two epochs in one go."""
    import shutil

    import wikiart.stylegen.train as sg

    clf = _train_classifier(learnable_root, tmp_path / "clf", 0)
    base = [
        "--no-progress", "train", "stylegen", "--data", str(learnable_root),
        "--classifier", str(clf), "--image-size", "16", "--batch-size", "8", "--workers", "0",
        "--widths", "8,16", "--code-channels", "8", "--content-weight", "0",
        "--stats-weight", "0.1", "--code-weight", "0.1", "--epochs", "2",
    ]  # fmt: skip
    real_fit = sg.fit
    snap = tmp_path / "epoch1.pt"

    def spying_fit(*args, **kwargs):
        run_dir = args[4].run_dir

        def keep(epoch, row):
            if epoch == 1:
                shutil.copy(run_dir / "last.pt", snap)

        return real_fit(*args, **kwargs, on_epoch_end=keep)

    monkeypatch.setattr(sg, "fit", spying_fit)
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    shutil.copy(snap, tmp_path / "a" / "last.pt")  # as if it had died during epoch 2
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert main([*base, "--out", str(tmp_path / "b"), "--resume"]) == 0
    a = load_checkpoint(tmp_path / "a" / "model.pt")
    b = load_checkpoint(tmp_path / "b" / "model.pt")
    assert a["epoch"] == b["epoch"] == 2
    assert all(torch.equal(v, b["state_dict"][k]) for k, v in a["state_dict"].items())
    hist = (tmp_path / "b" / "history.csv").read_text()
    assert "train_stats" in hist and "train_code" in hist and len(hist.splitlines()) == 3
