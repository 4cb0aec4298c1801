"""The Gradio app of `wikiart serve`: one tab per model given (Classify, Explore, Re-paint,
Generate), each also an API endpoint with a stable name (``/classify``, ``/similar``,
``/painting``, ``/transfer``, ``/generate``) for `gradio_client` and scripts.

Safe by default: it binds 127.0.0.1, makes no share link, sends no analytics and loads no
fonts or scripts from outside; uploads are size-limited and decoded by the project's safe
decoder, so a bad file is a message in the page and the server goes on; requests are queued
with a concurrency limit (style transfer and generation one at a time) so that a burst of
requests cannot exhaust memory."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wikiart.errors import WikiartError
from wikiart.serve.tabs import MAX_GUIDANCE, MAX_IMAGES, MAX_STEPS, Server, UploadError

log = logging.getLogger(__name__)

#: The stable API names of the app's endpoints.
ENDPOINTS = ("classify", "similar", "painting", "transfer", "generate")
#: The buttons on pictures the app shows (no "share": it posts to a hosted service).
BUTTONS = ["download", "fullscreen"]


def import_gradio():
    """Gradio, with its analytics switched off before it loads; a clear error without it."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio as gr
    except ImportError:
        raise WikiartError(
            "the web app needs Gradio: pip install 'wikiart[app]' (or `make install`)"
        ) from None
    return gr


def _image_upload(gr):
    """A ``gr.Image`` factory whose upload reaches the app as the file's path, untouched.
    Gradio's own preprocessing opens the file with Pillow first, and a non-image then fails
    there with no message for the person who uploaded it; the app's safe decoder reads it
    instead. (The instance's ``preprocess`` is replaced rather than subclassing gr.Image:
    Gradio writes a ``.pyi`` stub beside the module of every component subclass.)"""

    def preprocess(payload: Any) -> str | None:
        if payload is None:
            return None
        if getattr(payload, "path", None) is None:
            raise gr.Error("Send the image as a file upload.", print_exception=False)
        return str(payload.path)

    def make(**kwargs: Any):
        image = gr.Image(type="filepath", sources=["upload", "clipboard"], **kwargs)
        image.preprocess = preprocess
        return image

    return make


def _handler(gr, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its errors shown in the page: a bad upload or bad value as its own message,
    anything unexpected as one line (the traceback goes to the server's log, not the page)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", "request")
        try:
            return fn(*args, **kwargs)
        except UploadError as exc:
            log.info("serve: %s refused an upload: %s", name, exc)
            raise gr.Error(
                str(exc), title="Not a usable image", duration=8, print_exception=False
            ) from None
        except WikiartError as exc:
            log.info("serve: %s refused: %s", name, exc)
            raise gr.Error(str(exc), title="Cannot do that", print_exception=False) from None
        except Exception:
            log.exception("serve: %s failed", name)
            raise gr.Error(
                "Something went wrong on the server; its log has the details.",
                title="Error", print_exception=False,
            ) from None  # fmt: skip

    return run


def _examples(server: Server, folder: Path, n: int = 8) -> list[str]:
    """One painting of each style (up to ``n``) as thumbnails in ``folder``, so that the app
    serves copies it decoded itself and never a gallery file by its path."""
    g = server.gallery
    if g is None:
        return []
    seen: dict[str, int] = {}
    for i, r in enumerate(g.refs):
        if r.style not in seen and len(seen) < n:
            seen[r.style] = i
    paths = []
    for style, i in seen.items():
        p = folder / f"{len(paths):02d}_{style}.jpg"
        try:
            g.thumbnail(i).save(p, quality=90)
        except Exception as exc:  # a broken gallery file is one example fewer
            log.warning("serve: no example from %s (%s)", g.refs[i].name, exc)
            continue
        paths.append(str(p))
    return paths


def build_app(server: Server, *, concurrency: int = 2, example_dir: Path | None = None):
    """The ``gr.Blocks`` of the app over a loaded `Server` (not launched)."""
    gr = import_gradio()
    ImageUpload = _image_upload(gr)
    h = functools.partial(_handler, gr)
    tabs = server.spec.tabs()
    heavy = {"concurrency_id": "heavy", "concurrency_limit": 1}
    light = {"concurrency_id": "light", "concurrency_limit": max(1, int(concurrency))}

    with gr.Blocks(title="wikiart", analytics_enabled=False) as app:
        gr.Markdown(
            "# wikiart\nArt styles in paintings: "
            + ", ".join(f"**{t}**" for t in tabs)
            + ". Every tab is also an API endpoint (see *Use via API* at the bottom)."
        )
        with gr.Tabs():
            if "Classify" in tabs:
                _classify_tab(gr, server, ImageUpload, h, light, example_dir)
            if "Explore" in tabs:
                _explore_tab(gr, server, h, light)
            if "Re-paint" in tabs:
                _repaint_tab(gr, server, ImageUpload, h, heavy)
            if "Generate" in tabs:
                _generate_tab(gr, server, h, heavy)
    return app


def _classify_tab(gr, server: Server, ImageUpload, h, light, example_dir) -> None:
    with gr.Tab("Classify", id="classify"):
        with gr.Row():
            with gr.Column(scale=1):
                image = ImageUpload(
                    label="A painting", height=340, elem_id="classify-image",
                )  # fmt: skip
                button = gr.Button("Classify", variant="primary", elem_id="classify-button")
                k = gr.Slider(
                    1, 24, value=8, step=1, label="Similar paintings to show",
                    visible=server.gallery is not None,
                )  # fmt: skip
                examples = _examples(server, example_dir) if example_dir is not None else []
            with gr.Column(scale=2):
                top = gr.Label(num_top_classes=5, label="Top-5 styles", elem_id="classify-top5")
                if server.gallery is not None:
                    gallery = gr.Gallery(
                        label="The most similar paintings of the gallery (classifier embedding)",
                        columns=4, height=380, object_fit="contain", buttons=BUTTONS,
                        elem_id="classify-similar",
                    )  # fmt: skip
                    table = gr.Dataframe(
                        headers=["rank", "style", "painting", "distance"],
                        label="Cosine distance in the classifier's embedding (0: same direction)",
                        interactive=False, elem_id="classify-table",
                    )  # fmt: skip

        def classify(path: str | None) -> dict[str, float]:
            return server.classify(path, top_k=5)

        # an upload (or the button) asks for the styles, then, if the file was an image, for
        # the similar paintings: one message for a bad file, not one per output
        event = gr.on(
            [button.click, image.upload], h(classify), [image], [top], api_name="classify", **light
        )
        if server.gallery is not None:

            def similar(path: str | None, k: int = 8):
                found = server.similar(path, int(k))
                shots = [
                    (server.gallery.thumbnail(s.index), f"{s.style} · {s.distance:.3f}")
                    for s in found
                ]
                rows = [[r + 1, s.style, s.name, s.distance] for r, s in enumerate(found)]
                return shots, rows

            event.success(
                h(similar), [image, k], [gallery, table], api_name="similar", **light
            )  # fmt: skip
        if examples:
            outputs = [top] if server.gallery is None else [top, gallery, table]

            def example(path: str):
                found = classify(path)
                return found if server.gallery is None else (found, *similar(path, 8))

            with gr.Row():
                gr.Examples(
                    [[f] for f in examples], inputs=[image], outputs=outputs, fn=h(example),
                    run_on_click=True, cache_examples=False, label="Or click a gallery painting",
                    examples_per_page=8, api_visibility="private", elem_id="classify-examples",
                )  # fmt: skip


def _explore_tab(gr, server: Server, h, light) -> None:
    headers, rows, summary = server.metrics_table()
    with gr.Tab("Explore", id="explore"):
        gr.Markdown(
            f"The {len(server.gallery)} paintings of the gallery "
            f"({len(server.gallery.styles)} styles), placed by the classifier's embedding: "
            "neighbours look alike to the model. Click a point to see its painting."
        )
        with gr.Row():
            with gr.Column(scale=3):
                the_map = gr.Image(
                    value=server.map.image, label="The gallery map", show_label=False,
                    interactive=False, buttons=BUTTONS, elem_id="explore-map",
                )  # fmt: skip
            with gr.Column(scale=2):
                number = gr.Number(
                    value=None, label="Painting number", precision=0, minimum=0,
                    maximum=len(server.gallery) - 1, elem_id="explore-number",
                )  # fmt: skip
                picked = gr.Image(
                    label="The painting",
                    interactive=False,
                    height=340,
                    buttons=BUTTONS,
                    elem_id="explore-pick",
                )
                caption = gr.Markdown(elem_id="explore-caption")
        if rows:
            gr.Markdown(f"### The classifier on its test split\n{summary}")
            with gr.Row():
                gr.Dataframe(
                    value=rows, headers=headers, label="Per style", interactive=False,
                    elem_id="explore-metrics",
                )  # fmt: skip
                confusion = server.confusion_image()
                if confusion is not None:
                    gr.Image(
                        value=confusion,
                        label="Confusion matrix",
                        interactive=False,
                        buttons=BUTTONS,
                    )

        def on_click(evt):
            x, y = evt.index
            i = server.point_at(x, y)
            return gr.skip() if i is None else i

        on_click.__annotations__["evt"] = gr.SelectData  # how Gradio knows to pass the click

        def painting(index: float | None):
            if index is None:
                return None, ""
            image, text = server.painting(int(index))
            return image, f"**#{int(index)}** · {text}"

        the_map.select(on_click, None, [number], api_visibility="private")
        number.change(h(painting), [number], [picked, caption], api_name="painting", **light)


def _repaint_tab(gr, server: Server, ImageUpload, h, heavy) -> None:
    transfer = server.painter is not None and server.painter.exemplars
    names = server.repaint_styles
    how = server.painter.describe if server.painter is not None else ""
    with gr.Tab("Re-paint", id="repaint"):
        gr.Markdown(f"Any picture painted in a style: {how}.")
        with gr.Row():
            with gr.Column():
                content = ImageUpload(
                    label="Your picture", height=340, elem_id="repaint-content",
                )  # fmt: skip
                style = gr.Dropdown(
                    names, value=names[0] if names else None, label="Style", elem_id="repaint-style"
                )
                style_image = ImageUpload(
                    label="Or a painting whose style to use (optional)", height=160,
                    visible=transfer,
                )  # fmt: skip
                alpha = gr.Slider(
                    0.0, 1.0, value=1.0, step=0.05, visible=transfer,
                    label="Style strength (0: your picture, 1: fully re-painted)",
                )  # fmt: skip
                keep = gr.Checkbox(label="Keep the picture's colours", visible=transfer)
                button = gr.Button("Re-paint", variant="primary", elem_id="repaint-button")
            with gr.Column():
                result = gr.Image(
                    label="Re-painted", interactive=False, format="png", height=340,
                    buttons=BUTTONS, elem_id="repaint-result",
                )  # fmt: skip

        def repaint(content_path, style_name, style_path, alpha_value, keep_colors):
            return server.repaint(content_path, style_name, style_path, alpha_value, keep_colors)

        button.click(
            h(repaint), [content, style, style_image, alpha, keep], [result],
            api_name="transfer", **heavy,
        )  # fmt: skip


def _generate_tab(gr, server: Server, h, heavy) -> None:
    gen = server.generator
    names = server.generate_styles
    steps0 = int(gen.defaults.get("steps", 25))
    guidance0 = float(gen.defaults.get("guidance", 3.0))
    with gr.Tab("Generate", id="generate"):
        gr.Markdown(
            f"New paintings of a style from the diffusion model ({gen.describe}); "
            "the same seed gives the same paintings."
        )
        with gr.Row():
            with gr.Column(scale=1):
                style = gr.Dropdown(
                    names, value=names[0] if names else None, label="Style",
                    elem_id="generate-style",
                )  # fmt: skip
                seed = gr.Number(value=0, label="Seed", precision=0, minimum=0)
                steps = gr.Slider(
                    1, MAX_STEPS, value=min(steps0, MAX_STEPS), step=1, label="Denoising steps"
                )
                guidance = gr.Slider(
                    0.0, MAX_GUIDANCE, value=guidance0, step=0.5, label="Guidance scale"
                )
                n = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="Paintings")
                button = gr.Button("Generate", variant="primary", elem_id="generate-button")
            with gr.Column(scale=2):
                out = gr.Gallery(
                    label="Generated", columns=4, height=380, object_fit="contain", format="png",
                    buttons=BUTTONS, elem_id="generate-gallery",
                )  # fmt: skip

        def generate(style_name, seed_value, steps_value, guidance_value, count):
            return server.generate(
                style_name, int(seed_value or 0), int(steps_value), float(guidance_value),
                int(count),
            )  # fmt: skip

        button.click(
            h(generate), [style, seed, steps, guidance, n], [out], api_name="generate", **heavy
        )
