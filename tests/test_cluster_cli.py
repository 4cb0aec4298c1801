"""End to end on tiny data: train autoencoder -> cluster (each embedding source) -> contract files;
bad input exits 2 with one line."""

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from conftest import assert_png
from wikiart.checkpoints import load_checkpoint
from wikiart.cli import main

CONTRACT_KEYS = {"n", "k", "method", "nmi", "ari", "silhouette", "knn_accuracy"}


def ae_args(root, out, *extra):
    return [
        "--no-progress", "train", "autoencoder", "--data", str(root), "--out", str(out),
        "--model", "pixel", "--image-size", "16", "--widths", "8,16", "--bottleneck", "4x4x4",
        "--batch-size", "8", "--epochs", "2", "--workers", "0",
        "--cache-dir", str(out.parent / "cache"), "--val-fraction", "0.25", *extra,
    ]  # fmt: skip


def cluster_args(root, out, *source):
    return [
        "--no-progress", "cluster", *source, "--data", str(root), "--out", str(out),
        "--cache-dir", str(out.parent / "cache"),
    ]  # fmt: skip


def standardised(x):
    """What `--normalize standard` (the default) does, written out: zero mean, unit variance per
    dimension, constant dimensions left at 0."""
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)


def loo_knn_bounds(x, labels, k=5):
    """Leave-one-out k-NN accuracy by brute force, as ``(lo, hi)``: a point counts in ``lo`` when
    its style wins its neighbours' vote outright, in ``hi`` when it is among the tied winners (any
    tie-break rule lands in between)."""
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    lo = hi = 0
    for i in range(len(x)):
        votes = np.bincount(labels[np.argsort(d[i], kind="stable")[:k]], minlength=labels.max() + 1)
        winners = np.flatnonzero(votes == votes.max())
        lo += int(winners.tolist() == [labels[i]])
        hi += int(labels[i] in winners)
    return lo / len(x), hi / len(x)


def check_scores_independently(out, res):
    """clusters.json's numbers recomputed from the files written next to it: NMI, ARI and
    silhouette of every method's clusters in assignments.csv against the styles in
    embeddings.npz (scikit-learn), k-means clusters that are a fixpoint of Lloyd's algorithm in
    the standardised space, and leave-one-out 5-NN accuracy by brute force."""
    with np.load(out / "embeddings.npz", allow_pickle=False) as z:
        vectors, labels = z["vectors"], z["labels"]
        paths, classes = [str(p) for p in z["paths"]], [str(c) for c in z["classes"]]
    with open(out / "assignments.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == paths
    assert [r["style"] for r in rows] == [classes[i] for i in labels]
    x = standardised(vectors)
    for method, scores in res["methods"].items():
        a = np.array([int(r[method]) for r in rows])
        assert len(np.unique(a)) == res["k"], method  # k clusters, none empty
        assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(labels, a), abs=1e-9)
        assert scores["ari"] == pytest.approx(adjusted_rand_score(labels, a), abs=1e-9)
        assert scores["silhouette"] == pytest.approx(silhouette_score(x, a), abs=1e-6)
    assert {key: res[key] for key in ("nmi", "ari", "silhouette")} == res["methods"]["kmeans"]
    assert res["silhouette_styles"] == pytest.approx(silhouette_score(x, labels), abs=1e-6)
    km = np.array([int(r["kmeans"]) for r in rows])
    centres = np.stack([x[km == c].mean(axis=0) for c in range(res["k"])])
    nearest = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
    assert (nearest == km).all()  # every point sits with its nearest centre
    lo, hi = loo_knn_bounds(x, labels, res["knn_k"])
    assert res["knn_k"] == 5 and lo - 1e-9 <= res["knn_accuracy"] <= hi + 1e-9


def check_cluster_outputs(out, n, classes):
    for name in ("scatter_pca.png", "scatter_tsne.png"):
        assert_png(out / name, (935, 660))  # 8.5 x 6 in at 110 dpi
    res = json.loads((out / "clusters.json").read_text())
    assert set(res) >= CONTRACT_KEYS
    assert res["n"] == n and res["k"] == len(classes) and res["method"] == "kmeans"
    assert set(res["methods"]) == {"kmeans", "agglomerative", "gmm"}
    with np.load(out / "embeddings.npz", allow_pickle=False) as z:
        assert z["vectors"].shape[0] == n == len(z["labels"]) == len(z["paths"])
        assert [str(c) for c in z["classes"]] == classes
    check_scores_independently(out, res)
    return res


def test_train_autoencoder_then_cluster_its_codes(learnable_root, tmp_path, capsys):
    run = tmp_path / "ae"
    assert main(ae_args(learnable_root, run)) == 0
    for name in ("model.pt", "history.csv", "config.json"):
        assert (run / name).stat().st_size > 0, name
    assert_png(run / "loss.png", (1100, 440))  # two panels, 10 x 4 in at 110 dpi
    # inputs over reconstructions, one column per test image shown (8 of them): 1.6 in a cell
    assert_png(run / "reconstructions.png", (round((1.6 * 8 + 0.8) * 110), 440))
    payload = load_checkpoint(run / "model.pt")
    assert payload["kind"] == "autoencoder" and payload["classes"] == ["Bright", "Dark", "Rare"]
    assert payload["model_config"] == {"image_size": 16, "bottleneck": "4x4x4", "widths": [8, 16]}
    assert payload["preprocess"]["image_size"] == 16 and len(payload["preprocess"]["mean"]) == 3
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "val_loss", "val_ssim", "seconds"} <= set(header)

    out = tmp_path / "cl"
    assert main(cluster_args(learnable_root, out, "--checkpoint", str(run / "model.pt"))) == 0
    res = check_cluster_outputs(out, 8, ["Bright", "Dark", "Rare"])  # test split of the root
    assert res["dims"] == 64 and "autoencoder 4x4x4" in res["source"]
    assert "nmi=" in capsys.readouterr().out

    # a split folder works too, and the raw-pixel floor needs no checkpoint
    pix = tmp_path / "pix"
    split = learnable_root / "test"
    assert main([*cluster_args(split, pix, "--source", "pixels"), "--image-size", "8"]) == 0
    assert json.loads((pix / "clusters.json").read_text())["dims"] == 8 * 8 * 3


def test_autoencoder_resume_is_bit_exact(learnable_root, tmp_path, monkeypatch):
    """Killed in epoch 2, then `--resume`: the same weights as an uninterrupted run."""
    import wikiart.train.loop as loop

    full, part = tmp_path / "full", tmp_path / "part"
    assert main(ae_args(learnable_root, full)) == 0
    original = loop._train_epoch

    def killed_in_epoch_2(*args, **kwargs):
        if args[1] == 2:  # (run, epoch)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "_train_epoch", killed_in_epoch_2)
    assert main(ae_args(learnable_root, part)) == 130
    assert load_checkpoint(part / "last.pt")["epoch"] == 1
    monkeypatch.undo()
    assert main(ae_args(learnable_root, part, "--resume")) == 0
    a = load_checkpoint(full / "last.pt")["state_dict"]
    b = load_checkpoint(part / "last.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_classifier_checkpoint_gives_its_penultimate_embedding(learnable_root, tmp_path):
    run = tmp_path / "clf"
    argv = [
        "--no-progress", "train", "classifier", "--data", str(learnable_root), "--out", str(run),
        "--arch", "baseline-cnn", "--image-size", "32", "--batch-size", "8", "--epochs", "1",
        "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-fraction", "0.25",
    ]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "cl"
    assert main(cluster_args(learnable_root, out, "--checkpoint", str(run / "model.pt"))) == 0
    res = check_cluster_outputs(out, 8, ["Bright", "Dark", "Rare"])
    assert res["dims"] == 100 and "classifier baseline-cnn" in res["source"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "pixels", "--data", "{tmp}/missing"], "data folder not found"),
        (["--checkpoint", "{tmp}/junk.pt", "--data", "{root}"], "not a PyTorch checkpoint"),
        (["--checkpoint", "{tmp}/nope.pt", "--data", "{root}"], "checkpoint not found"),
        (["--checkpoint", "{tmp}/other.pt", "--data", "{root}"], "'stylegen' checkpoint"),
        (["--data", "{root}"], "pass either --checkpoint"),
        (["--checkpoint", "{tmp}/x.pt", "--image-size", "8", "--data", "{root}"], "apply to"),
        (["--source", "pixels", "--methods", "kmeans,dbscan", "--data", "{root}"], "dbscan"),
    ],
)
def test_bad_input_exits_2_with_one_line(learnable_root, tmp_path, capsys, args, message):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    from wikiart.checkpoints import save_checkpoint

    save_checkpoint(tmp_path / "other.pt", {"format_version": 1, "kind": "stylegen"})
    argv = [a.format(tmp=tmp_path, root=learnable_root) for a in args]
    capsys.readouterr()
    assert main(["cluster", *argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_train_autoencoder_bad_settings_exit_2(learnable_root, tmp_path, capsys):
    assert main(ae_args(learnable_root, tmp_path / "a", "--bottleneck", "3x3")) == 2
    assert "bottleneck" in capsys.readouterr().err
    assert main(ae_args(learnable_root, tmp_path / "b", "--image-size", "18")) == 2
    assert "multiple of 4" in capsys.readouterr().err
