import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import assert_png, grid_px, has_extra, write_image
from wikiart.checkpoints import load_checkpoint
from wikiart.cli import main


def test_demo_on_given_data_writes_report(tiny_root, tmp_path, capsys, monkeypatch):
    import wikiart.demo as demo
    import wikiart.diffusion.demo as diffusion_stage

    monkeypatch.setenv("WIKIART_CACHE", str(tmp_path / "cache"))
    for name, value in (("LORA_EPOCHS", 1), ("LORA_STEPS", 1), ("LORA_BATCH", 2),
                        ("SAMPLES", 2), ("BASE_SAMPLES", 1)):  # fmt: skip
        monkeypatch.setattr(diffusion_stage, name, value)
    # a second Ukiyo_e painting: a classifier needs two of a style to hold one back
    write_image(tiny_root / "train" / "Ukiyo_e" / "img9.jpg", seed=99)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--data", str(tiny_root), "--image-size", "16"]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert "Data check" in html and "Preprocessing cache" in html and "samples.png" in html
    assert "Autoencoder and style clusters" in html and "reconstructions.png" in html
    assert "scatter_tsne.png" in html and "5-NN acc." in html
    assert "Style-conditioned generator" in html and "stylegen-eval/grid.png" in html
    sg = json.loads((out / "stylegen-eval" / "stylegen_eval.json").read_text())
    assert sg["pairs"] == 3 * 2  # three test images, each rendered in the two other styles
    assert (Path(demo.__file__).parent / "transfer" / "builtin.pt").is_file()  # package data
    assert "Style transfer" in html and "transfer-eval/grid.png" in html
    tr = json.loads((out / "transfer-eval" / "stylegen_eval.json").read_text())
    assert tr["pairs"] == sg["pairs"] and tr["styles"] == sg["styles"]
    if has_extra("diffusers", "diffusion") and has_extra("peft", "diffusion"):
        assert "Diffusion" in html and "diffusion-eval/grid.png" in html
        assert "diffusion-base/grid.png" in html  # the packaged base's styles
        ev = json.loads((out / "diffusion-eval" / "diffusion_eval.json").read_text())
        # every style of this data is one the base knows: the LoRA adapts the first
        assert ev["n_per_style"] == 2 and set(ev["per_style"]) == {"Baroque"}
        assert f"judge share {ev['judge_share']:.3f}" in html
        assert_png(out / "diffusion-eval" / "grid.png", min_side=50)
        assert json.loads((out / "diffusion-lora" / "lora.json").read_text())["base"] == "builtin"
    for source in ("pixels", "autoencoder", "classifier"):
        clusters = json.loads((out / "clusters" / source / "clusters.json").read_text())
        assert clusters["n"] == 3 and clusters["k"] == 3
    assert json.loads((out / "classes.json").read_text())["classes"] == [
        "Baroque",
        "Cubism",
        "Ukiyo_e",
    ]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["splits"]["train"]["total"] == 8
    assert_png(out / "counts.png", (880, round((0.35 * 3 + 1.5) * 110)))  # 3 styles' bars
    # one row per style, as many columns as the most training images of a style (4, 2, 2)
    assert_png(out / "samples.png", grid_px(3, 4, cell=1.3))
    check = json.loads((out / "check.json").read_text())
    assert check["errors"] == 0 and check["bad_files"] == []
    assert check["splits"]["train"] == {"files": 8, "styles": 3}


def reported_numbers(out):
    """Every number a demo folder reports (classifier and judge metrics, each embedding's
    clusters, the generator's and style transfer's evaluations), without timings and paths."""
    found = {
        "classifier": json.loads((out / "classifier" / "metrics.json").read_text()),
        "judge": json.loads((out / "judge" / "metrics.json").read_text()),
    }
    for path in sorted((out / "clusters").glob("*/clusters.json")):
        res = json.loads(path.read_text())
        del res["seconds"]
        found[f"clusters/{path.parent.name}"] = res
    for name in ("stylegen", "transfer"):
        path = out / f"{name}-eval" / "stylegen_eval.json"
        if path.exists():
            res = json.loads(path.read_text())
            del res["seconds"], res["judge"]["path"]
            found[name] = res
    return found


@pytest.mark.slow
def test_demo_on_the_built_in_data_is_reproducible(tmp_path):
    """`wikiart demo` end to end on its built-in data (at 16 px, to take minutes), twice with the
    same seed in two processes side by side: the same numbers everywhere, the same weights."""
    runs = [tmp_path / "a", tmp_path / "b"]
    argv = [sys.executable, "-m", "wikiart", "--no-progress", "demo", "--image-size", "16"]
    procs = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core each: two 2-thread jobs thrash
    for out in runs:
        with open(f"{out}.log", "wb") as log:
            procs.append(
                subprocess.Popen([*argv, "--out", str(out)], stdout=log, stderr=log, env=env)
            )
    for out, proc in zip(runs, procs, strict=True):
        assert proc.wait(timeout=1800) == 0, Path(f"{out}.log").read_text()[-3000:]
    a, b = (reported_numbers(out) for out in runs)
    assert {"clusters/pixels", "clusters/autoencoder", "clusters/classifier"} <= set(a)
    assert {"stylegen", "transfer"} <= set(a)  # both evaluations ran
    assert a == b
    for model in ("classifier", "judge", "autoencoder", "stylegen"):
        wa, wb = (load_checkpoint(out / model / "model.pt")["state_dict"] for out in runs)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), model
    # and a real run: 8 styles, 40 test images each; the classifier is well above chance (1/8)
    metrics = a["classifier"]
    assert metrics["n"] == 320 and len(metrics["classes"]) == 8
    assert metrics["balanced_accuracy"] > 0.25
    assert a["stylegen"]["pairs"] == 8 * 10 * 7  # 10 test images per style, 7 other styles
