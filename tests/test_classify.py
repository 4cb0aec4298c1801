"""End to end on tiny synthetic data: train -> files -> evaluate -> predict, CPU only."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
from torch.utils.data import Dataset, WeightedRandomSampler

from conftest import assert_png, write_image
from wikiart.checkpoints import load_checkpoint
from wikiart.classify import load_classifier, resolve_config
from wikiart.classify.infer import predict_images
from wikiart.classify.settings import ClassifierConfig
from wikiart.classify.stages import balanced_loader
from wikiart.cli import main
from wikiart.errors import WikiartError
from wikiart.train.losses import LogitAdjustedLoss

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
    assert_png(run / "loss.png", (1100, 440))  # two panels, 10 x 4 in at 110 dpi
    assert_png(run / "confusion.png", (627, 495))  # 3 styles: (4.5 + 1.2) x 4.5 in at 110 dpi
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
    assert main([*argv, "--data", str(subset), "--out", str(out), "--overwrite"]) == 2
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


# -- imbalance strategies: what the training loop is fed and which loss it minimises ----------
IMBALANCED = np.repeat(np.arange(3), [300, 60, 20])  # 15 : 3 : 1
STRATEGIES = ["none", "resample", "sampler", "weighted-loss", "logit-adjust"]


class Indexed(Dataset):
    """``(index, label)`` pairs: what a loader draws, without any image."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return i, int(self.labels[i])


def one_epoch(strategy, labels=IMBALANCED, batch_size=20):
    """The dataset indices the training loader of ``strategy`` yields in one epoch."""
    cfg = ClassifierConfig(imbalance=strategy, seed=3)
    loader = balanced_loader(Indexed(labels), labels, cfg, 3, batch_size=batch_size, num_workers=0)
    batches = list(loader)
    idx = torch.cat([i for i, _ in batches]).numpy()
    assert (torch.cat([y for _, y in batches]).numpy() == labels[idx]).all()
    return idx


@pytest.mark.parametrize("strategy", ["none", "weighted-loss", "logit-adjust"])
def test_loss_side_strategies_feed_every_training_image_once(strategy):
    idx = one_epoch(strategy)  # 380 images in batches of 20: nothing dropped
    assert sorted(idx.tolist()) == list(range(len(IMBALANCED)))  # each image exactly once...
    assert (np.diff(idx) < 0).any()  # ...shuffled
    assert np.bincount(IMBALANCED[idx]).tolist() == [300, 60, 20]


def test_resample_feeds_the_median_count_of_every_style():
    idx = one_epoch("resample")
    labels = IMBALANCED[idx]
    assert np.bincount(labels).tolist() == [60, 60, 60]  # the median of 300, 60, 20
    assert len(set(idx[labels == 0].tolist())) == 60  # the big style subsampled, no repeats
    assert sorted(idx[labels == 1].tolist()) == list(range(300, 360))  # the median one as is
    rare = np.bincount(idx[labels == 2] - 360, minlength=20)
    assert rare.tolist() == [3] * 20  # each rare image tiled 3 times, none left out


def test_sampler_draws_styles_about_equally_with_replacement():
    idx = one_epoch("sampler")
    assert len(idx) == len(IMBALANCED)  # an epoch keeps its length
    counts = np.bincount(IMBALANCED[idx], minlength=3)
    # 1/3 each in expectation (sd 9.2 of 380 draws) where the data holds 79% / 16% / 5%
    assert all(80 <= c <= 175 for c in counts), counts
    assert len(set(idx[IMBALANCED[idx] == 2].tolist())) < counts[2]  # drawn with replacement


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_imbalance_strategy_changes_what_training_sees(
    learnable_root, tmp_path, monkeypatch, strategy
):
    """End to end: the labels of every training batch and the criterion they go through."""
    import wikiart.classify.train as classify

    seen, criteria, loaders = [], [], []
    real_loss, real_loader = classify.mixed_loss, classify.balanced_loader

    def recording_loss(criterion, logits, y, y_partner, lam):
        seen.append(y.cpu())
        criteria.append(criterion)
        return real_loss(criterion, logits, y, y_partner, lam)

    def recording_loader(*args, **kwargs):
        loaders.append(real_loader(*args, **kwargs))
        return loaders[-1]

    monkeypatch.setattr(classify, "mixed_loss", recording_loss)
    monkeypatch.setattr(classify, "balanced_loader", recording_loader)
    run = tmp_path / strategy
    # one batch holds the whole epoch, so no ragged batch is dropped
    extra = ("--imbalance", strategy, "--epochs", "1", "--batch-size", "32")
    assert main(train_args(learnable_root, run, *extra)) == 0
    assert json.loads((run / "config.json").read_text())["imbalance"] == strategy

    payload = load_checkpoint(run / "model.pt")
    assert payload["classes"] == ["Bright", "Dark", "Rare"] and payload["imbalance"] == strategy
    counts = np.array(payload["train_counts"])  # 12 : 12 : 3 less the validation share
    assert counts.sum() < 27 and counts[0] == counts[1] >= 3 * counts[2] > 0
    y = torch.cat(seen).numpy()
    fed = np.bincount(y, minlength=3)
    (loader,) = loaders
    crit = criteria[0]
    assert all(c is crit for c in criteria)
    assert isinstance(crit, nn.CrossEntropyLoss | LogitAdjustedLoss)
    assert crit.label_smoothing == pytest.approx(0.1)  # the default, whatever the strategy

    if strategy == "resample":
        assert fed.tolist() == [int(np.median(counts))] * 3
        assert len(loader.dataset) == 3 * int(np.median(counts))  # a resampled index list
    elif strategy == "sampler":
        assert isinstance(loader.sampler, WeightedRandomSampler) and len(y) == counts.sum()
        w = loader.sampler.weights.numpy()  # per image, in training order: 1 / its style's count
        per_style = np.array(
            [w[np.flatnonzero(loader.dataset.labels == c)].sum() for c in range(3)]
        )
        assert per_style == pytest.approx([per_style[0]] * 3)  # every style equally likely
        assert fed[2] > counts[2]  # the rare style turns up more often than it exists
    else:
        assert fed.tolist() == counts.tolist()  # the training split as it is
        assert len(loader.dataset) == counts.sum()  # not resampled
        assert not isinstance(loader.sampler, WeightedRandomSampler)

    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 2, 1, 0])
    value = crit(logits.to(crit_device(crit)), target.to(crit_device(crit))).cpu()
    if strategy == "weighted-loss":
        assert type(crit) is nn.CrossEntropyLoss and crit.weight is not None
        w = crit.weight.cpu().numpy()  # inverse frequency, mean weight per training image 1
        assert w * counts == pytest.approx([counts.sum() / 3] * 3, rel=1e-5)
        want = F.cross_entropy(logits, target, weight=crit.weight.cpu(), label_smoothing=0.1)
    elif strategy == "logit-adjust":
        assert isinstance(crit, LogitAdjustedLoss) and crit.tau == 1.0
        prior = torch.log(torch.tensor(counts / counts.sum(), dtype=torch.float32))
        assert torch.allclose(crit.log_prior.cpu(), prior)
        want = F.cross_entropy(logits + prior, target, label_smoothing=0.1)
    else:  # none, resample, sampler: the data is (re)balanced, the loss is plain cross-entropy
        assert type(crit) is nn.CrossEntropyLoss and crit.weight is None
        want = F.cross_entropy(logits, target, label_smoothing=0.1)
    assert torch.allclose(value, want, atol=1e-6)


def crit_device(crit):
    buffers = list(crit.buffers())
    return buffers[0].device if buffers else torch.device("cpu")


def test_bad_mix_settings_exit_2(learnable_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(learnable_root, run, "--mix", "cutmix", "--mix-alpha", "0")) == 2
    assert "mix_alpha (--mix-alpha) must be a finite number in (0, 100]" in capsys.readouterr().err


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
    assert "(--weight-decay) must be a finite number in [0, 10]" in capsys.readouterr().err
    assert main(train_args(learnable_root, tmp_path / "r3", "--dropout", "1")) == 2
    assert "dropout (--dropout) must be a finite number in [0, 1)" in capsys.readouterr().err


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
    # metrics.json holds the test scores of model.pt (the average): its predictions, made
    # afresh image by image, give the same accuracy and macro-F1 by scikit-learn
    metrics = json.loads((run / "metrics.json").read_text())
    images = sorted((learnable_root / "test").glob("*/*.png"))
    truth = [p.parent.name for p in images]
    preds = [p["top"][0]["style"] for p in predict_images(run / "model.pt", images)]
    assert metrics["n"] == len(images) == 8
    assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, preds), abs=1e-9)
    assert metrics["macro_f1"] == pytest.approx(f1_score(truth, preds, average="macro"), abs=1e-9)
    # per_class.csv says the same: its F1 column averages to macro_f1, its supports add up to n
    with open(run / "per_class.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["style"] for r in rows] == metrics["classes"]
    assert sum(int(r["support"]) for r in rows) == metrics["n"]
    f1 = [float(r["f1"]) for r in rows]
    assert np.mean(f1) == pytest.approx(metrics["macro_f1"], abs=1e-6)
    assert main(train_args(learnable_root, tmp_path / "r2", "--ema-decay", "1")) == 2
    assert "ema_decay (--ema-decay) must be a finite number in [0, 1)" in capsys.readouterr().err


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
    assert "(--train-scale) must be a finite number in (0, 1]" in capsys.readouterr().err


def test_feature_store_gives_views_of_a_split_it_holds_in_order(tmp_path):
    from wikiart.data.features import FeatureStore

    store = FeatureStore(tmp_path / "f.pt")
    plain, mirror = torch.randn(6, 4), torch.randn(6, 4)
    store.add([f"k{i}" for i in range(6)], plain, mirror)
    p, m = store.get(["k2", "k3", "k4"])  # consecutive rows: no copy
    assert p.data_ptr() == plain[2].data_ptr() and torch.equal(m, mirror[2:5])
    p, m = store.get(["k4", "k1"])  # any other order: copied rows
    assert p.data_ptr() != plain[4].data_ptr() and torch.equal(p, plain[[4, 1]])


def test_probe_statistics_over_parts_match_the_joined_embeddings():
    from wikiart.classify.probe import feature_stats

    torch.manual_seed(0)
    parts = [torch.randn(37, 5) * 3 + 1, torch.randn(5000, 5), torch.randn(2, 5) - 4]
    mean, std = feature_stats(parts, chunk=64)
    joined = torch.cat(parts)
    assert torch.allclose(mean, joined.mean(0), atol=1e-5)
    assert torch.allclose(std, joined.std(0), atol=1e-5)
