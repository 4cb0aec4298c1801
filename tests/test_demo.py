import json

from wikiart.cli import main


def test_demo_on_given_data_writes_report(tiny_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WIKIART_CACHE", str(tmp_path / "cache"))
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
    for source in ("pixels", "autoencoder", "classifier"):
        clusters = json.loads((out / "clusters" / source / "clusters.json").read_text())
        assert clusters["n"] == 3 and clusters["k"] == 3
    assert json.loads((out / "classes.json").read_text())["classes"] == [
        "Baroque",
        "Cubism",
        "Ukiyo_e",
    ]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["splits"]["train"]["total"] == 7
    for name in ("counts.png", "samples.png", "check.json"):
        assert (out / name).stat().st_size > 0
