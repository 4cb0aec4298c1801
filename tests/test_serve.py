"""`wikiart serve`: the app launched in-process on a free port over tiny models trained here,
every endpoint called with `gradio_client`, bad uploads answered with a message while the
server goes on serving, and what the server refuses to serve."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import wikiart
from conftest import dark_bright_rare, requires, unavailable, write_image
from wikiart.builtins import builtin_path
from wikiart.cli import main
from wikiart.errors import WikiartError
from wikiart.serve import Server, UploadError, find_models
from wikiart.serve.app import ENDPOINTS, build_app
from wikiart.serve.launch import ServeOptions, is_loopback, launch

gr = requires("gradio", "app")
requires("gradio_client", "app")
requires("diffusers", "diffusion")

TINY_DIFFUSION = {
    "image_size": 16, "widths": [8, 16], "batch_size": 8, "steps_per_epoch": 2, "epochs": 1,
    "lr": 5e-3, "samples": 2, "sample_steps": 2, "sample_every": 1, "device": "cpu",
    "loader_workers": 0,
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_models(tmp: Path) -> dict[str, Path]:
    """Dark / Bright / Rare paintings, a classifier and a diffusion model trained on them."""
    root = dark_bright_rare(tmp)
    argv = [
        "--no-progress", "train", "classifier", "--data", str(root), "--out", str(tmp / "clf"),
        "--arch", "baseline-cnn", "--image-size", "32", "--batch-size", "8", "--epochs", "1",
        "--workers", "0", "--val-fraction", "0.25", "--seed", "0", "--cache-dir",
        str(tmp / "cache"),
    ]  # fmt: skip
    assert main(argv) == 0
    wikiart.train_diffusion(
        tmp / "diff", data=str(root), cache_dir=str(tmp / "cache"), **TINY_DIFFUSION
    )
    return {
        "root": root,
        "classifier": tmp / "clf" / "model.pt",
        "diffusion": tmp / "diff" / "model.pt",
        "cache": tmp / "cache",
    }


def _is_local(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return not isinstance(host, str) or host.startswith("127.") or host in ("::1", "localhost")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app over the tiny models and the packaged transfer decoder, listening on a free
    port of 127.0.0.1, with a 1 MB upload limit. Any connection this process tries to open to
    another host while the app lives is refused and recorded in ``outside``."""
    outside: list = []
    connect = socket.socket.connect

    def local_only(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            outside.append(address)
            raise OSError(f"the test refuses connections outside this machine: {address}")
        return connect(sock, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", local_only)
        yield from _serve(tmp_path_factory, outside)


def _serve(tmp_path_factory, outside: list):
    tmp = tmp_path_factory.mktemp("serve")
    m = tiny_models(tmp)
    spec = find_models(
        classifier=m["classifier"], gallery=m["root"], transfer="builtin",
        diffusion=m["diffusion"],
    )  # fmt: skip
    server = Server(spec, device=torch.device("cpu"), cache_dir=str(m["cache"]))
    (tmp / "examples").mkdir()
    app = build_app(server, example_dir=tmp / "examples")
    url = launch(app, ServeOptions(port=free_port(), max_upload_mb=1))
    from gradio_client import Client

    client = Client(url, verbose=False)
    yield {
        **m, "server": server, "app": app, "url": url, "client": client, "tmp": tmp,
        "outside": outside,
    }  # fmt: skip
    app.close()


def call(served, *args, api: str):
    from gradio_client import handle_file

    args = [handle_file(str(a)) if isinstance(a, Path) else a for a in args]
    return served["client"].predict(*args, api_name=f"/{api}")


def test_every_tab_is_an_endpoint_with_its_stable_name(served):
    api = served["client"].view_api(print_info=False, return_format="dict")
    assert sorted(api["named_endpoints"]) == sorted(f"/{e}" for e in ENDPOINTS)
    assert served["server"].spec.tabs() == ["Classify", "Explore", "Re-paint", "Generate"]


def test_classify_gives_the_top_styles_as_predict_does(served):
    image = served["root"] / "test" / "Rare" / "r0.png"
    answer = call(served, image, api="classify")
    got = {c["label"]: c["confidence"] for c in answer["confidences"]}
    (expected,) = wikiart.predict(served["classifier"], [image], top_k=5, device="cpu")
    assert answer["label"] == expected["top"][0]["style"]
    assert set(got) == {"Dark", "Bright", "Rare"}
    for row in expected["top"]:
        assert got[row["style"]] == pytest.approx(row["probability"], abs=2e-3)


def test_similar_finds_the_painting_itself_first(served):
    image = served["root"] / "test" / "Bright" / "b1.png"
    shots, table = call(served, image, 4, api="similar")
    assert len(shots) == 4 and len(table["data"]) == 4
    rank, style, name, distance = table["data"][0]
    assert (rank, style, name) == (1, "Bright", "b1.png")
    assert distance == pytest.approx(0.0, abs=1e-4)
    distances = [row[3] for row in table["data"]]
    assert distances == sorted(distances)
    assert all(Path(s["image"]).is_file() for s in shots)


def test_gallery_embeddings_are_cached_on_disk_and_reused(served, caplog):
    server = served["server"]
    files = list((served["cache"] / "features").glob("*.pt"))
    assert files, "no gallery embeddings in the feature cache"
    caplog.set_level("INFO")
    again = Server(server.spec, device=torch.device("cpu"), cache_dir=str(served["cache"]))
    assert "embedded" not in caplog.text  # nothing recomputed
    np.testing.assert_allclose(again.gallery.vectors, server.gallery.vectors, atol=1e-6)
    np.testing.assert_allclose(again.gallery.xy, server.gallery.xy)


def test_explore_shows_a_painting_and_a_click_on_the_map_finds_it(served):
    server = served["server"]
    image, caption = call(served, 2, api="painting")
    assert Path(image).is_file()
    ref = server.gallery.refs[2]
    assert ref.style in caption and ref.name in caption
    x, y = server.map.pixels[5]
    assert server.point_at(x + 1, y - 1) == 5
    assert server.point_at(-500, -500) is None
    headers, rows, summary = server.metrics_table()
    assert headers[:2] == ["style", "precision"] and len(rows) == 3 and "macro-F1" in summary


def test_transfer_keeps_the_content_size_and_alpha_zero_keeps_the_content(served, tmp_path):
    content = tmp_path / "content.png"
    write_image(content, seed=5, size=(70, 45), fmt="PNG")
    out = call(served, content, "Baroque", None, 1.0, False, api="transfer")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (70, 45)
        painted = np.asarray(im.convert("RGB"), dtype=np.float32)
    original = np.asarray(Image.open(content).convert("RGB"), dtype=np.float32)
    assert np.abs(painted - original).mean() > 5  # it was re-painted
    kept = call(served, content, "Baroque", None, 0.0, False, api="transfer")
    # alpha 0 decodes the content's own features: close to the content, far closer than alpha 1
    diff0 = np.abs(np.asarray(Image.open(kept).convert("RGB"), np.float32) - original).mean()
    assert diff0 < np.abs(painted - original).mean()
    style = tmp_path / "style.png"
    write_image(style, seed=9, size=(50, 50), fmt="PNG")
    by_image = call(served, content, "Baroque", style, 1.0, True, api="transfer")
    assert Image.open(by_image).size == (70, 45)


def test_generate_is_reproducible_per_seed(served):
    a = call(served, "Dark", 3, 2, 2.0, 2, api="generate")
    b = call(served, "Dark", 3, 2, 2.0, 2, api="generate")
    c = call(served, "Dark", 4, 2, 2.0, 2, api="generate")
    assert len(a) == 2
    pix = lambda shots: [np.asarray(Image.open(s["image"])) for s in shots]  # noqa: E731
    assert all(np.array_equal(x, y) for x, y in zip(pix(a), pix(b), strict=True))
    assert not np.array_equal(pix(a)[0], pix(c)[0])
    assert pix(a)[0].shape == (16, 16, 3)


def _bomb(path: Path) -> None:
    """A small PNG file that decodes to 7000 x 7000 pixels (over the app's 40 MP limit)."""
    Image.new("RGB", (7000, 7000), (200, 30, 30)).save(path, optimize=False, compress_level=9)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not a picture"), "not an image"),
        (lambda p: p.write_bytes(b""), "empty"),
        (
            lambda p: write_image(p, size=(64, 64)) or p.write_bytes(p.read_bytes()[:300]),
            "incomplete",
        ),
        (_bomb, "too large"),
    ],
    ids=["text", "empty", "truncated", "bomb"],
)
def test_a_bad_upload_is_a_message_and_the_server_goes_on(served, tmp_path, make, message):
    from gradio_client.exceptions import AppError

    bad = tmp_path / "upload.jpg"
    make(bad)
    for api, extra in (
        ("classify", ()),
        ("similar", (3,)),
        ("transfer", ("Baroque", None, 1.0, False)),
    ):
        with pytest.raises(AppError) as err:
            call(served, bad, *extra, api=api)
        assert message in str(err.value), str(err.value)
        assert "Traceback" not in str(err.value)
    good = served["root"] / "test" / "Dark" / "d0.png"
    assert call(served, good, api="classify")["label"] in {"Dark", "Bright", "Rare"}


def test_bad_values_are_refused_with_a_message(served):
    from gradio_client.exceptions import AppError

    good = served["root"] / "test" / "Dark" / "d0.png"
    refused = "unknown style|not in the list of choices"  # the app's check, or the dropdown's
    with pytest.raises(AppError, match=refused):
        call(served, good, "Nope", None, 1.0, False, api="transfer")
    with pytest.raises(AppError, match=refused):
        call(served, good, "/etc/passwd", None, 1.0, False, api="transfer")  # never read
    with pytest.raises(AppError, match=refused):
        call(served, "Nope", 0, 2, 2.0, 1, api="generate")
    with pytest.raises(WikiartError, match="unknown style"):  # behind the dropdown, the app
        served["server"].repaint(str(good), "/etc/passwd")
    with pytest.raises((AppError, ValueError)):
        call(served, "Dark", 0, 2, 2.0, 50, api="generate")  # more images than allowed
    with pytest.raises(AppError, match="999"):  # beyond the gallery
        call(served, 999, api="painting")


def test_uploads_over_the_size_limit_are_refused(served):
    import httpx

    big = io.BytesIO(np.random.default_rng(0).bytes(1_300_000))
    r = httpx.post(
        f"{served['url']}gradio_api/upload", files={"files": ("big.jpg", big, "image/jpeg")}
    )
    assert r.status_code == 413, r.text


def test_the_server_serves_no_file_by_its_path(served):
    import httpx

    gallery_file = served["root"] / "test" / "Dark" / "d0.png"
    for path in (gallery_file, Path("/etc/passwd"), served["classifier"], Path.cwd() / "README.md"):
        r = httpx.get(f"{served['url']}gradio_api/file={path}")
        assert r.status_code in (403, 404), (path, r.status_code)


def test_concurrent_requests_are_all_answered(served):
    image = served["root"] / "test" / "Rare" / "r1.png"
    answers, errors = [], []

    def ask() -> None:
        try:
            answers.append(call(served, image, api="classify")["label"])
        except Exception as exc:  # collected, so that the assertion names it
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(answers) == 6 and len(set(answers)) == 1


def test_read_upload_names_what_is_wrong(tmp_path):
    from wikiart.serve.tabs import read_upload

    with pytest.raises(UploadError, match="Upload an image first"):
        read_upload(None)
    with pytest.raises(UploadError, match="could not be read"):
        read_upload(tmp_path / "missing.png")
    ok = tmp_path / "ok.png"
    write_image(ok, size=(20, 10), fmt="PNG")
    assert read_upload(ok).size == (20, 10)


def test_find_models_reads_a_run_folder_and_checks_kinds(served, tmp_path, monkeypatch):
    run = tmp_path / "run"
    for name, src in (("classifier", served["classifier"]), ("diffusion", served["diffusion"])):
        (run / name).mkdir(parents=True)
        (run / name / "model.pt").write_bytes(Path(src).read_bytes())
    spec = find_models(run=run)
    assert spec.classifier == run / "classifier" / "model.pt"
    assert spec.generator == run / "diffusion" / "model.pt"
    assert spec.repaint is None and spec.tabs() == ["Classify", "Generate"]  # no gallery data
    with pytest.raises(WikiartError, match="this tab takes classifier"):
        find_models(classifier=served["diffusion"])
    with pytest.raises(WikiartError, match="checkpoint not found"):
        find_models(transfer=tmp_path / "nope.pt")
    spec = find_models(run=tmp_path / "run" / "classifier")  # no models of its own
    assert spec.tabs() == ["Generate"] and spec.generator == builtin_path("diffusion")
    import wikiart.serve.models as models

    monkeypatch.setattr(models, "packaged", lambda job: None)  # an installation without it
    with pytest.raises(WikiartError, match="nothing to serve"):
        find_models(run=tmp_path / "run" / "classifier")


def test_cli_without_models_says_which_command_makes_one(tmp_path, monkeypatch, capsys):
    import wikiart.serve.models as models

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(models, "packaged", lambda job: None)  # an installation without them
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "nothing to serve" in err and "make demo" in err and "Traceback" not in err
    assert main(["serve", "--transfer", "builtin", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "port (--port) must be an integer from 1 to 65535, got 0" in err
    assert len(err.strip().splitlines()) == 1


def test_only_loopback_hosts_count_as_local():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_a_person_uses_every_tab_in_a_real_browser(served, tmp_path):
    """Headless Chromium: upload, top-5 and similar paintings, a bad upload, then each tab."""
    requires("playwright", "dev")
    from browser_tour import chromium_path, tour

    if chromium_path() is None:
        unavailable("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    server = served["server"]
    seen = tour(
        served["url"], served["root"] / "test" / "Dark" / "d1.png", tmp_path / "shots",
        bad_file=bad, map_point=tuple(server.map.pixels[4]),
    )  # fmt: skip
    assert any(s in seen.top5 for s in ("Dark", "Bright", "Rare")), seen.top5
    assert seen.similar >= 1
    assert "not an image" in seen.error_toast and "Traceback" not in seen.error_toast
    assert "%" in seen.after_error  # the page went on working after the bad upload
    assert seen.example_caption  # a click on a gallery example classified it
    ref = server.gallery.refs[4]
    assert "#4" in seen.explore_caption and ref.name in seen.explore_caption
    assert seen.repainted and seen.generated == 4  # the Generate tab asks for 4 by default
    assert seen.hosts <= {"127.0.0.1", "localhost"}, f"the page fetched from {seen.hosts}"
    assert not seen.page_errors
    for shot in seen.screenshots:
        with Image.open(shot) as im:
            assert im.format == "PNG" and im.width >= 1000


def test_repaint_with_a_style_generator_renders_at_its_size(served, tmp_path):
    """Given a `stylegen` checkpoint, Re-paint uses the style generator, by style name only."""
    run = tmp_path / "sg"
    argv = [
        "--no-progress", "train", "stylegen", "--data", str(served["root"]), "--out", str(run),
        "--classifier", str(served["classifier"]), "--image-size", "16", "--batch-size", "8",
        "--epochs", "1", "--workers", "0", "--widths", "8,16", "--code-channels", "8",
        "--cache-dir", str(served["cache"]),
    ]  # fmt: skip
    assert main(argv) == 0
    spec = find_models(transfer=run / "model.pt")  # Generate: the packaged diffusion base
    assert spec.repaint_kind == "stylegen" and spec.tabs() == ["Re-paint", "Generate"]
    server = Server(spec, device=torch.device("cpu"))
    content = tmp_path / "photo.png"
    write_image(content, seed=3, size=(50, 40), fmt="PNG")
    out = server.repaint(str(content), "Bright")
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert not np.array_equal(out, server.repaint(str(content), "Dark"))
    with pytest.raises(WikiartError, match="unknown style"):
        server.repaint(str(content), "Nope")
    app = build_app(server)  # the tab builds, with the transfer-only controls hidden
    assert sorted(app.get_api_info()["named_endpoints"]) == ["/generate", "/transfer"]


def test_nothing_was_fetched_from_outside(served):
    """Run last in this file: every test above used the app; none of it reached out."""
    assert served["outside"] == []
