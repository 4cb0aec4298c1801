"""The EMA of the weights (train.ema) and the loop's use of it: tiny models, CPU, seconds."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch
from torch import nn

from test_train_loop import assert_same_weights, build, config, extra, loader, step, toy_data
from wikiart.checkpoints import load_checkpoint, save_checkpoint
from wikiart.errors import WikiartError
from wikiart.train import fit
from wikiart.train.ema import make_ema


def test_ema_follows_the_warmed_up_recurrence_and_copies_integer_buffers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = make_ema(model, decay=0.9)
    expected = None
    for t in range(6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model.train()
        model(torch.randn(4, 3))  # moves the BatchNorm's running statistics and its counter
        ema.update_parameters(model)
        weight = model[0].weight.detach().clone()
        if expected is None:
            expected = weight  # the first update copies
        else:
            d = min(0.9, (1 + t) / (10 + t))  # t updates done before this one
            expected = d * expected + (1 - d) * weight
        torch.testing.assert_close(ema.module[0].weight, expected)
    assert not torch.equal(ema.module[0].weight, model[0].weight)
    assert ema.module[1].num_batches_tracked.item() == model[1].num_batches_tracked.item() == 6
    # running statistics are averaged too, not left at their initial values
    assert not torch.equal(ema.module[1].running_mean, torch.zeros(2))
    assert not torch.equal(ema.module[1].running_mean, model[1].running_mean)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_make_ema_rejects_a_decay_outside_the_open_interval(decay):
    with pytest.raises(WikiartError, match="decay"):
        make_ema(nn.Linear(2, 2), decay)


@pytest.mark.parametrize("decay", [1.0, -0.1])
def test_loop_rejects_a_bad_ema_decay(tmp_path, decay):
    with pytest.raises(WikiartError, match="ema_decay"):
        config(tmp_path, 2, ema_decay=decay)


def _fit(run_dir, epochs, seen: list | None = None, **kw):
    ds = toy_data()
    model, opt = build()
    val = toy_data(32, seed=1)

    def evaluate(m: nn.Module) -> dict[str, float]:
        if seen is not None:
            seen.append(m)
        x, y = val.tensors
        return {"val_loss": nn.functional.cross_entropy(m(x), y).item()}

    kw = {"monitor": "val_loss", "mode": "min", **kw}
    cfg = config(run_dir, epochs, ema_decay=0.9, **kw)
    result = fit(model, opt, loader(ds), step, cfg, eval_fn=evaluate, make_payload_extra=extra)
    return model, result


def test_the_average_is_evaluated_and_saved_as_the_model_and_last_keeps_both(tmp_path):
    seen: list[nn.Module] = []
    model, result = _fit(tmp_path, 3, seen, monitor=None)  # every epoch's model.pt is kept
    assert len(seen) == 3 and all(m is not model for m in seen)
    assert all(m is seen[0] for m in seen)  # one average, evaluated each epoch
    best = load_checkpoint(result.best_path)
    last = load_checkpoint(result.last_path)
    live = model.state_dict()
    assert best["state_dict"].keys() == live.keys()
    assert any(not torch.equal(best["state_dict"][k], live[k]) for k in live)
    assert all(torch.equal(last["state_dict"][k], live[k]) for k in live)
    ema = last["ema"]
    assert int(ema["n_averaged"]) == 3 * 8  # one update per optimizer step
    assert result.best_epoch == 3
    assert all(torch.equal(best["state_dict"][k], ema[f"module.{k}"]) for k in live)


def test_resume_with_an_average_is_bit_for_bit(tmp_path):
    model_a, _ = _fit(tmp_path / "a", 4)
    _fit(tmp_path / "b", 2)
    torch.rand(5)
    random.random()
    np.random.rand(3)
    model_b, result_b = _fit(tmp_path / "b", 4, resume=True)
    assert result_b.resumed_from == 2
    assert_same_weights(model_a, model_b)
    for name in ("model.pt", "last.pt"):
        a = load_checkpoint(tmp_path / "a" / name)
        b = load_checkpoint(tmp_path / "b" / name)
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    ema_a = load_checkpoint(tmp_path / "a" / "last.pt")["ema"]
    ema_b = load_checkpoint(tmp_path / "b" / "last.pt")["ema"]
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)


def test_resuming_a_run_saved_without_an_average_warns_and_restarts_it(tmp_path, caplog):
    _fit(tmp_path, 2)
    last = load_checkpoint(tmp_path / "last.pt")
    del last["ema"]
    save_checkpoint(tmp_path / "last.pt", last)
    with caplog.at_level(logging.WARNING):
        _, result = _fit(tmp_path, 3, resume=True)
    assert "no weight average" in caplog.text
    assert int(load_checkpoint(result.last_path)["ema"]["n_averaged"]) == 8  # epoch 3 only


def test_resuming_without_the_average_says_it_is_dropped(tmp_path, caplog):
    _fit(tmp_path, 2)
    ds = toy_data()
    model, opt = build()
    cfg = config(tmp_path, 3, resume=True)  # ema_decay 0
    with caplog.at_level(logging.WARNING):
        fit(model, opt, loader(ds), step, cfg, make_payload_extra=extra)
    assert "drops" in caplog.text
    assert "ema" not in load_checkpoint(tmp_path / "last.pt")
