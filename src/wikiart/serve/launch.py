"""Launching the app of `wikiart serve` safely: loopback by default, no share link, the system's
fonts only, a bounded queue; `serve_command` loads the models once and serves until Ctrl+C."""

from __future__ import annotations

import ipaddress
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wikiart.errors import WikiartError
from wikiart.serve.app import build_app, import_gradio
from wikiart.serve.models import find_models
from wikiart.serve.settings import ServeConfig
from wikiart.serve.tabs import Server

log = logging.getLogger(__name__)

#: Fonts the page asks the browser for: the system's own, nothing fetched from outside.
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


@dataclass
class ServeOptions:
    """How the server runs (the launch flags of `wikiart serve`)."""

    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: float = 20.0
    concurrency: int = 2  # Classify requests at once; Re-paint and Generate run one at a time
    queue_size: int = 64  # requests waiting beyond that are refused, not held in memory


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def launch(app: Any, options: ServeOptions) -> str:
    """Start the server in the background; returns its local address (`serve` then blocks)."""
    gr = import_gradio()
    if not is_loopback(options.host):
        log.warning(
            "serving on %s: anyone who can reach this machine on port %d can use the app and "
            "its models (there is no login); use the default 127.0.0.1 to keep it local",
            options.host, options.port,
        )  # fmt: skip
    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    app.queue(default_concurrency_limit=max(1, options.concurrency), max_size=options.queue_size)
    try:
        _, url, _ = app.launch(
            server_name=options.host, server_port=options.port, share=False, inbrowser=False,
            prevent_thread_lock=True, show_error=False,
            max_file_size=int(options.max_upload_mb * 1024 * 1024),
            ssr_mode=False, mcp_server=False, enable_monitoring=False, pwa=False, theme=theme,
            footer_links=["api"], quiet=True,
        )  # fmt: skip
    except OSError as exc:  # the port is taken, or the address is not this machine's
        detail = str(exc).split(". ")[0]  # Gradio's advice names its own parameters
        raise WikiartError(
            f"cannot serve on {options.host}:{options.port} ({detail}); choose another --port"
        ) from None
    return url


def serve_command(cfg: ServeConfig, *, progress: bool = False) -> None:
    """`wikiart serve`: check what to serve, load every model once, then serve until Ctrl+C."""
    from wikiart.device import resolve_device

    spec = find_models(
        run=cfg.run, classifier=cfg.classifier, gallery=cfg.gallery, transfer=cfg.transfer,
        diffusion=cfg.diffusion,
    )  # fmt: skip
    options = ServeOptions(
        host=cfg.host, port=cfg.port, max_upload_mb=cfg.max_upload_mb,
        concurrency=cfg.concurrency,
    )  # fmt: skip
    import_gradio()  # a missing extra is said before any model loads
    server = Server(
        spec, device=resolve_device(cfg.device), cache_dir=cfg.cache_dir,
        gallery_per_style=cfg.gallery_per_style, max_size=cfg.max_size, progress=progress,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="wikiart-serve-") as tmp:
        app = build_app(server, concurrency=options.concurrency, example_dir=Path(tmp))
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        launch(app, options)
        host = f"[{options.host}]" if ":" in options.host else options.host
        print(
            f"wikiart serve: {', '.join(spec.tabs())} at http://{host}:{options.port}/ "
            "(Ctrl+C stops it)",
            flush=True,
        )
        try:
            app.block_thread()
        finally:
            app.close()
