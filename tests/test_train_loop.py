"""The shared training loop and checkpoints: tiny MLP, 64 random samples, CPU, a few seconds."""

from __future__ import annotations

import csv
import gc
import logging
import random
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from wikiart.checkpoints import FORMAT_VERSION, load_checkpoint, make_payload, save_checkpoint
from wikiart.data.loader import make_loader
from wikiart.errors import WikiartError
from wikiart.train import LoopConfig, StepOutput, capture_rng, fit, restore_rng
from wikiart.train.loop import write_history_csv

CPU = torch.device("cpu")
PREPROCESS = {"image_size": 4, "mean": [0.5], "std": [0.25]}


def toy_data(n: int = 64, seed: int = 0) -> TensorDataset:
    """A learnable 2-class task: the label is the sign of the first two features' sum."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return TensorDataset(x, y)


def build(seed: int = 0, hidden: int = 16) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model and optimizer built the same way each time (Dropout so the RNG matters)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Dropout(0.3), nn.Linear(hidden, 2))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def loader(ds: TensorDataset):
    return make_loader(ds, batch_size=8, shuffle=True, seed=0)


def step(model: nn.Module, batch, device: torch.device) -> StepOutput:
    x, y = (t.to(device) for t in batch)
    logits = model(x)
    acc = (logits.argmax(dim=1) == y).float().mean()
    return StepOutput(F.cross_entropy(logits, y), x.shape[0], {"acc": acc})


def make_eval(ds: TensorDataset):
    def evaluate(model: nn.Module) -> dict[str, float]:
        x, y = ds.tensors
        logits = model(x)
        return {"val_loss": F.cross_entropy(logits, y).item(), "val_acc": 0.0}

    return evaluate


def extra() -> dict:
    return {
        "kind": "toy",
        "model_config": {"hidden": 16},
        "classes": ["a", "b"],
        "preprocess": PREPROCESS,
    }


def config(run_dir: Path, epochs: int, **kw) -> LoopConfig:
    return LoopConfig(epochs=epochs, device=CPU, run_dir=run_dir, progress=False, **kw)


def run(run_dir: Path, epochs: int, *, cosine: bool = False, step_fn=step, **kw):
    """A fresh 'process': new model, optimizer, scheduler and loader, then `fit`."""
    ds = toy_data()
    model, opt = build()
    dl = loader(ds)
    sched = None
    if cosine:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4 * len(dl))
    result = fit(
        model,
        opt,
        dl,
        step_fn,
        config(run_dir, epochs, **kw),
        eval_fn=make_eval(toy_data(32, seed=1)),
        scheduler=sched,
        make_payload_extra=extra,
    )
    return model, result


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_loss_goes_down(tmp_path):
    _, result = run(tmp_path / "run", 6)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert result.epochs_done == 6 and result.resumed_from == 0


@pytest.mark.parametrize("cosine", [False, True], ids=["constant-lr", "cosine-per-step"])
def test_resume_is_bit_for_bit(tmp_path, cosine):
    model_a, result_a = run(tmp_path / "a", 4, cosine=cosine, monitor="val_loss", mode="min")

    run(tmp_path / "b", 2, cosine=cosine, monitor="val_loss", mode="min")
    # Whatever happens between the two processes must not matter.
    torch.rand(123)
    random.random()
    np.random.rand(7)
    model_b, result_b = run(
        tmp_path / "b", 4, cosine=cosine, monitor="val_loss", mode="min", resume=True
    )

    assert result_b.resumed_from == 2 and result_b.epochs_done == 4
    assert_same_weights(model_a, model_b)
    assert without_seconds(result_a.history) == without_seconds(result_b.history)
    assert (result_a.best_epoch, result_a.best_metric) == (
        result_b.best_epoch,
        result_b.best_metric,
    )
    best_a = load_checkpoint(tmp_path / "a" / "model.pt")["state_dict"]
    best_b = load_checkpoint(tmp_path / "b" / "model.pt")["state_dict"]
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)
    if cosine:
        lrs = [row["lr"] for row in result_b.history]
        assert lrs == sorted(lrs, reverse=True) and lrs[0] > lrs[-1]


def test_crash_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    model_a, result_a = run(tmp_path / "a", 4)

    calls = 0

    def crashing_step(model, batch, device):
        nonlocal calls
        calls += 1
        if calls == 2 * 8 + 3:  # 8 batches an epoch: the 3rd batch of epoch 3
            raise RuntimeError("simulated crash")
        return step(model, batch, device)

    ds, (model_b, opt_b) = toy_data(), build()
    cfg = config(tmp_path / "b", 4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(model_b, opt_b, loader(ds), crashing_step, cfg, make_payload_extra=extra)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 2
    with open(tmp_path / "b" / "history.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2

    # Same objects, half-way through epoch 3 in memory: resuming must overwrite all of it.
    cfg = config(tmp_path / "b", 4, resume=True)
    result_b = fit(
        model_b,
        opt_b,
        loader(ds),
        step,
        cfg,
        eval_fn=make_eval(toy_data(32, seed=1)),
        make_payload_extra=extra,
    )
    assert result_b.resumed_from == 2
    assert_same_weights(model_a, model_b)
    assert [r["train_loss"] for r in result_a.history] == [
        r["train_loss"] for r in result_b.history
    ]


def test_keyboard_interrupt_propagates_and_says_resume(tmp_path, caplog):
    calls = 0

    def interrupted(model, batch, device):
        nonlocal calls
        calls += 1
        if calls == 8 + 2:
            raise KeyboardInterrupt
        return step(model, batch, device)

    model, opt = build()
    with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
        fit(model, opt, loader(toy_data()), interrupted, config(tmp_path, 3))
    assert "--resume" in caplog.text
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


def test_resume_without_checkpoint_starts_fresh_and_finished_run_returns(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        _, result = run(tmp_path, 2, resume=True)
    assert "starting from scratch" in caplog.text
    assert result.resumed_from == 0 and result.epochs_done == 2

    def must_not_train(model, batch, device):
        raise AssertionError("a finished run trained again")

    _, again = run(tmp_path, 2, resume=True, step_fn=must_not_train)
    assert again.epochs_done == 2 and len(again.history) == 2


def test_resume_into_a_different_model_is_a_clear_error(tmp_path):
    run(tmp_path, 1)
    model, opt = build(hidden=32)
    with pytest.raises(WikiartError, match="does not fit"):
        fit(
            model,
            opt,
            loader(toy_data()),
            step,
            config(tmp_path, 2, resume=True),
            make_payload_extra=extra,
        )
    model, opt = build()
    with pytest.raises(WikiartError, match="'toy' run"):
        fit(model, opt, loader(toy_data()), step, config(tmp_path, 2, resume=True))


def scripted(values: list[float], key: str = "val_score"):
    it = iter(values)
    return lambda model: {key: next(it)}


def test_best_checkpoint_and_early_stopping(tmp_path):
    model, opt = build()
    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def remember(epoch: int, row: dict) -> None:
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    cfg = config(tmp_path, 10, monitor="val_score", mode="max", patience=2)
    result = fit(
        model,
        opt,
        loader(toy_data()),
        step,
        cfg,
        eval_fn=scripted([0.1, 0.5, 0.4, 0.6, 0.55, 0.6, 0.9, 0.9, 0.9, 0.9]),
        make_payload_extra=extra,
        on_epoch_end=remember,
    )
    assert result.stopped_early
    assert (result.best_epoch, result.best_metric) == (4, 0.6)  # a tie is not an improvement
    assert len(result.history) == 6 and sorted(snapshots) == [1, 2, 3, 4, 5, 6]

    best = load_checkpoint(tmp_path / "model.pt")
    assert best["epoch"] == 4 and best["metrics"]["val_score"] == 0.6
    assert "optimizer" not in best and "loop" not in best
    assert best["kind"] == "toy" and best["classes"] == ["a", "b"]
    assert best["preprocess"] == PREPROCESS
    assert all(torch.equal(best["state_dict"][k], snapshots[4][k]) for k in snapshots[4])
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 6 and last["loop"]["stopped_early"]

    # Resuming an early-stopped run has nothing left to do.
    model, opt = build()
    cfg = config(tmp_path, 10, monitor="val_score", mode="max", patience=2, resume=True)
    again = fit(
        model, opt, loader(toy_data()), step, cfg, make_payload_extra=extra, eval_fn=scripted([])
    )
    assert again.stopped_early and again.epochs_done == 6


def test_mode_min_and_no_monitor_saves_every_epoch(tmp_path):
    model, opt = build()
    cfg = config(tmp_path / "min", 4, monitor="val_loss", mode="min")
    result = fit(
        model, opt, loader(toy_data()), step, cfg, eval_fn=scripted([3, 2, 2.5, 1], "val_loss")
    )
    assert (result.best_epoch, result.best_metric, result.stopped_early) == (4, 1.0, False)

    model, opt = build()
    result = fit(model, opt, loader(toy_data()), step, config(tmp_path / "none", 2))
    assert result.best_epoch == 2 and result.best_metric is None
    assert load_checkpoint(tmp_path / "none" / "model.pt")["epoch"] == 2


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(WikiartError, match="monitor"):
        config(tmp_path, 2, patience=3)
    with pytest.raises(WikiartError, match="mode"):
        config(tmp_path, 2, mode="best")
    model, opt = build()
    with pytest.raises(WikiartError, match="eval_fn"):
        fit(model, opt, loader(toy_data()), step, config(tmp_path, 1, monitor="val_acc"))
    with pytest.raises(WikiartError, match="not among"):
        fit(
            model,
            opt,
            loader(toy_data()),
            step,
            config(tmp_path, 1, monitor="val_f1"),
            eval_fn=scripted([1.0], "val_acc"),
        )


def test_history_csv_columns_and_no_graph_kept(tmp_path):
    losses: list[weakref.ref] = []

    def tracking_step(model, batch, device):
        out = step(model, batch, device)
        losses.append(weakref.ref(out.loss))
        return out

    _, result = run(tmp_path, 3, step_fn=tracking_step)
    with open(tmp_path / "history.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
    ]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for row, mem in zip(rows, result.history, strict=True):
        assert type(mem["train_loss"]) is float and type(mem["train_acc"]) is float
        assert float(row["train_loss"]) == mem["train_loss"]  # repr round-trips exactly
    gc.collect()
    assert len(losses) == 24 and all(ref() is None for ref in losses)


def test_history_csv_gaps_are_empty_cells(tmp_path):
    path = tmp_path / "history.csv"
    write_history_csv(path, [{"epoch": 1, "a": 0.5}, {"epoch": 2, "b": 1.5}])
    assert path.read_text() == "epoch,a,b\n1,0.5,\n2,,1.5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


# --- checkpoints -------------------------------------------------------------------------------


def small_payload(epoch: int = 1) -> dict:
    model, opt = build()
    return make_payload(
        kind="toy",
        model_config={"hidden": 16},
        model=model,
        classes=["a", "b"],
        preprocess=PREPROCESS,
        epoch=epoch,
        metrics={"val_acc": 0.5},
        optimizer=opt,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10),
        loop_state={"epoch": epoch, "history": [{"epoch": 1, "train_loss": 0.7}]},
        rng=capture_rng(),
    )


def test_save_is_atomic_and_a_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "last.pt"
    save_checkpoint(path, small_payload(epoch=1))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(WikiartError, match="No space left"):
        save_checkpoint(path, small_payload(epoch=2))

    def interrupted(obj, fh, *args, **kwargs):
        fh.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, small_payload(epoch=3))
    monkeypatch.undo()
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]
    assert load_checkpoint(path)["epoch"] == 1


def test_payload_is_plain_data_and_loads_with_weights_only(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, small_payload())
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["format_version"] == FORMAT_VERSION
    for key in ("package_version", "kind", "model_config", "state_dict", "classes"):
        assert key in raw
    assert {"preprocess", "epoch", "metrics", "optimizer", "scheduler", "rng", "loop"} <= set(raw)
    with pytest.raises(TypeError, match="numpy"):
        save_checkpoint(tmp_path / "bad.pt", {"format_version": 1, "x": np.zeros(3)})
    with pytest.raises(TypeError, match="Path"):
        save_checkpoint(tmp_path / "bad.pt", {"format_version": 1, "x": [tmp_path]})
    assert not (tmp_path / "bad.pt").exists()


def test_rng_round_trip_through_a_checkpoint(tmp_path):
    path = tmp_path / "rng.pt"
    save_checkpoint(path, {"format_version": 1, "rng": capture_rng()})
    first = (random.random(), np.random.rand(), torch.rand(3), np.random.randn())
    restore_rng(load_checkpoint(path)["rng"])
    second = (random.random(), np.random.rand(), torch.rand(3), np.random.randn())
    assert first[0] == second[0] and first[1] == second[1] and first[3] == second[3]
    assert torch.equal(first[2], second[2])


def _truncated(tmp_path: Path) -> Path:
    good = tmp_path / "good.pt"
    save_checkpoint(good, small_payload())
    data = good.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    return bad


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.pt", "not found"),
        (lambda d: d, "not a file"),
        (lambda d: (d / "g.pt").write_bytes(b"\x00garbage" * 50) and d / "g.pt", "damaged"),
        (_truncated, "damaged"),
        (lambda d: torch.save({"a": 1}, d / "x.pt") or d / "x.pt", "not a wikiart checkpoint"),
        (lambda d: torch.save([1, 2], d / "l.pt") or d / "l.pt", "not a wikiart checkpoint"),
        (lambda d: torch.save({"p": Path("x")}, d / "o.pt") or d / "o.pt", "plain data"),
        (
            lambda d: torch.save({"format_version": FORMAT_VERSION + 1}, d / "n.pt") or d / "n.pt",
            "upgrade",
        ),
    ],
    ids=["missing", "directory", "garbage", "truncated", "no-version", "list", "pickle", "newer"],
)
def test_load_checkpoint_errors_are_one_clear_line(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(WikiartError, match=message) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_grad_scaler_path_with_clipping_resumes_exactly(tmp_path, monkeypatch):
    """The fp16-on-CUDA path (scale, unscale for clipping, step, update, scaler state in
    last.pt), exercised on CPU with a CPU GradScaler."""
    import wikiart.train.loop as loop

    monkeypatch.setattr(loop, "_make_scaler", lambda device, amp: torch.amp.GradScaler("cpu"))
    model_a, result_a = run(tmp_path / "a", 3, grad_clip=0.5)
    run(tmp_path / "b", 1, grad_clip=0.5)
    model_b, result_b = run(tmp_path / "b", 3, grad_clip=0.5, resume=True)
    assert_same_weights(model_a, model_b)
    assert without_seconds(result_a.history) == without_seconds(result_b.history)
    assert "scale" in load_checkpoint(tmp_path / "b" / "last.pt")["scaler"]


def test_epoch_scheduler_and_lr_column(tmp_path):
    model, opt = build()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    cfg = config(tmp_path, 3, scheduler_interval="epoch")
    result = fit(model, opt, loader(toy_data()), step, cfg, scheduler=sched)
    assert [row["lr"] for row in result.history] == [1e-2, 5e-3, 2.5e-3]  # the LR each epoch used

    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(WikiartError, match="scheduler_interval='epoch'"):
        fit(model, opt, loader(toy_data()), step, config(tmp_path, 1), scheduler=plateau)


def test_non_finite_loss_is_a_clear_error(tmp_path):
    def exploding(model, batch, device):
        out = step(model, batch, device)
        return StepOutput(out.loss * float("inf"), out.n)

    model, opt = build()
    with pytest.raises(WikiartError, match="learning rate"):
        fit(model, opt, loader(toy_data()), exploding, config(tmp_path, 1))


def test_resuming_a_stopped_run_with_more_patience_continues(tmp_path):
    model, opt = build()
    cfg = config(tmp_path, 5, monitor="val_score", patience=1)
    first = fit(model, opt, loader(toy_data()), step, cfg, eval_fn=scripted([0.5, 0.4]))
    assert first.stopped_early and first.epochs_done == 2
    model, opt = build()
    cfg = config(tmp_path, 5, monitor="val_score", patience=3, resume=True)
    more = fit(model, opt, loader(toy_data()), step, cfg, eval_fn=scripted([0.3, 0.9, 0.8]))
    assert more.epochs_done == 5 and not more.stopped_early
    assert (more.best_epoch, more.best_metric) == (4, 0.9)
