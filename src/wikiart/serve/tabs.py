"""What each tab of the app does, as plain Python over the jobs' public functions (no Gradio
here, so it is tested and benchmarked directly): `Server` loads every model once and answers
``classify``, ``similar``, ``repaint``, ``generate`` and the Explore tab's look-ups.

Every upload goes through the project's safe decoder; a file that is not a usable image is an
`UploadError` whose message is meant for the person who uploaded it."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from wikiart.data.images import fit_image, open_image
from wikiart.data.refs import display
from wikiart.errors import BadImageError, WikiartError
from wikiart.imaging import image_to_chw, to_hwc
from wikiart.jobs import job_for_kind, load
from wikiart.models.repaint import Painter
from wikiart.serve.models import ServeSpec

log = logging.getLogger(__name__)

#: The largest upload decoded, in pixels (a decompression bomb is refused before decoding).
MAX_PIXELS = 40_000_000
#: Bounds on what one Generate request may ask for.
MAX_IMAGES, MAX_STEPS, MAX_GUIDANCE = 8, 200, 20.0

_REASONS = {
    "empty": "The file is empty.",
    "not_an_image": "This file is not an image (expected JPEG, PNG, WebP, BMP, TIFF or GIF).",
    "truncated": "This image file is incomplete (truncated): upload the whole file again.",
    "too_large": "This image is too large to decode safely",
    "unreadable": "This image cannot be decoded",
}


class UploadError(WikiartError):
    """An upload that is not a usable image; the message is shown in the page."""


def read_upload(path: str | Path | None, what: str = "image", max_pixels: int = MAX_PIXELS):
    """An uploaded file decoded to RGB by the safe decoder, or an `UploadError` saying why not."""
    if path is None or str(path) == "":
        raise UploadError(f"Upload an {what} first.")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UploadError(f"The uploaded {what} could not be read: {exc.strerror or exc}") from None
    try:
        return open_image(data, max_pixels=max_pixels)
    except BadImageError as exc:
        text = _REASONS.get(exc.reason, "This image cannot be decoded")
        if exc.reason in ("too_large", "unreadable") and exc.detail:
            text = f"{text}: {exc.detail}."
        raise UploadError(text) from None


def _rounded(x: Any) -> Any:
    return round(float(x), 3) if isinstance(x, int | float) else x


@dataclass
class Similar:
    """One gallery painting close to a query."""

    index: int
    style: str
    name: str
    distance: float


class Server:
    """Every model of a `ServeSpec`, loaded once on ``device``, and one method per tab."""

    def __init__(
        self,
        spec: ServeSpec,
        *,
        device: torch.device,
        cache_dir: str | None = None,
        gallery_per_style: int = 100,
        max_size: int = 1024,
        progress: bool = False,
    ) -> None:
        self.spec, self.device, self.max_size = spec, device, int(max_size)
        self.classifier = self.payload = self.gallery = self.map = None
        self.metrics: dict[str, Any] | None = None
        self.painter: Painter | None = None
        self.generator: Any = None
        self._embed_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        if spec.classifier is not None:
            self._load_classifier(spec, cache_dir, gallery_per_style, progress)
        if spec.repaint is not None:
            self.painter = _opener("repaint", spec.repaint_kind)(spec.repaint, device=device)
        if spec.generator is not None:
            open_generator = _opener("generate", spec.generator_kind)
            self.generator = open_generator(spec.generator, device=device)
        log.info("serve: models ready in %.1fs: %s", time.perf_counter() - t0, spec.tabs())

    # -- loading -------------------------------------------------------------------------
    def _load_classifier(self, spec, cache_dir, per_style, progress) -> None:
        load_classifier = _opener("classify", spec.classifier_kind)
        self.classifier, self.payload = load_classifier(spec.classifier, device=self.device)
        self.classes = list(self.payload["classes"])
        pre = self.payload["preprocess"]
        self.image_size, self.fit = int(pre["image_size"]), pre.get("fit", "crop")
        metrics_file = spec.classifier.parent / "metrics.json"
        if metrics_file.is_file():
            try:
                self.metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("serve: ignoring unreadable %s (%s)", display(metrics_file), exc)
        if spec.gallery is not None:
            from wikiart.serve.gallery import build_gallery
            from wikiart.serve.gallery_map import draw_map

            self.gallery = build_gallery(
                self.classifier, self.payload, spec.gallery, device=self.device,
                cache_dir=cache_dir, per_style=per_style, progress=progress,
            )  # fmt: skip
            labels = [r.style for r in self.gallery.refs]
            self.map = draw_map(self.gallery.xy, self.gallery.styles, labels)

    # -- Classify ------------------------------------------------------------------------
    def _require(self, model: Any, tab: str) -> None:
        if model is None:
            raise WikiartError(f"the {tab} tab has no model: this server was started without it")

    @torch.inference_mode()
    def _embedding(self, path: str | None) -> np.ndarray:
        """The classifier's embedding of an upload (the mean of it and its mirror image),
        remembered for the last few uploads, since Classify asks for the styles and the
        similar paintings of the same file at once."""
        if not path:
            raise UploadError("Upload a painting first.")
        try:
            st = Path(path).stat()
        except OSError as exc:
            raise UploadError(f"The upload could not be read: {exc.strerror or exc}") from None
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._embed_cache:
                self._embed_cache.move_to_end(key)
                return self._embed_cache[key]
        im = fit_image(read_upload(path, "image"), self.image_size, self.fit)
        x = image_to_chw(im)[None]
        from wikiart.classify.infer import predict_logits
        from wikiart.device import inference_precision

        pre = self.payload["preprocess"]
        z, _ = predict_logits(
            self.classifier, [(x, torch.zeros(1, dtype=torch.long))], self.device,
            precision=inference_precision(self.payload, self.device), tta=True,
            channels_last=bool(pre.get("channels_last")), embed=True,
        )  # fmt: skip
        vec = z[0].numpy()
        with self._lock:
            self._embed_cache[key] = vec
            while len(self._embed_cache) > 32:
                self._embed_cache.popitem(last=False)
        return vec

    @torch.inference_mode()
    def classify(self, path: str | None, top_k: int = 5) -> dict[str, float]:
        """The ``top_k`` most probable styles of an uploaded painting, most probable first."""
        self._require(self.classifier, "Classify")
        vec = self._embedding(path)
        z = torch.from_numpy(np.asarray(vec))[None].to(self.device)
        probs = torch.softmax(self.classifier.logits_from_embedding(z).float(), dim=1)[0].cpu()
        top = torch.topk(probs, min(max(1, int(top_k)), len(self.classes)))
        return {
            self.classes[i]: round(float(p), 4)
            for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        }

    def similar(self, path: str | None, k: int = 8) -> list[Similar]:
        """The ``k`` gallery paintings nearest to an upload in the classifier's embedding."""
        self._require(self.gallery, "similar-paintings")
        k = int(k)
        if not 1 <= k <= 48:
            raise WikiartError(f"ask for 1 to 48 similar paintings, not {k}")
        vec = self._embedding(path)
        return [
            Similar(i, self.gallery.refs[i].style, self.gallery.refs[i].name, round(max(d, 0.0), 4))
            for i, d in self.gallery.nearest(vec, k)
        ]

    # -- Explore -------------------------------------------------------------------------
    def painting(self, index: int) -> tuple[Image.Image, str]:
        """Gallery painting ``index`` as a thumbnail, and its caption."""
        self._require(self.gallery, "Explore")
        i = int(index)
        return self.gallery.thumbnail(i), self.gallery.caption(i)

    def point_at(self, x: float, y: float) -> int | None:
        """The gallery painting drawn nearest a click on the map (None: no point near)."""
        self._require(self.map, "Explore")
        return self.map.point_at(float(x), float(y))

    def metrics_table(self) -> tuple[list[str], list[list[Any]], str]:
        """The classifier's test metrics from its run folder: headers, one row per style,
        and a one-line summary (empty when the run has no ``metrics.json``)."""
        if not self.metrics:
            return ["style"], [], ""
        m = self.metrics
        rows = [
            [s, *(_rounded(v.get(key)) for key in ("precision", "recall", "f1")), v.get("support")]
            for s, v in sorted((m.get("per_class") or {}).items())
        ]
        summary = ", ".join(
            f"{label} {m[key]:.3f}"
            for key, label in (
                ("accuracy", "accuracy"),
                ("balanced_accuracy", "balanced accuracy"),
                ("macro_f1", "macro-F1"),
                ("top5_accuracy", "top-5 accuracy"),
            )
            if isinstance(m.get(key), int | float)
        )
        n = m.get("n")
        summary = f"Test split ({n} paintings): {summary}" if n else summary
        return ["style", "precision", "recall", "f1", "support"], rows, summary

    def confusion_image(self) -> Image.Image | None:
        """The classifier run's ``confusion.png``, when it has one."""
        if self.spec.classifier is None:
            return None
        png = self.spec.classifier.parent / "confusion.png"
        try:
            return open_image(png.read_bytes())
        except (OSError, BadImageError):
            return None

    # -- Re-paint ------------------------------------------------------------------------
    @property
    def repaint_styles(self) -> list[str]:
        return list(self.painter.styles) if self.painter is not None else []

    @torch.inference_mode()
    def repaint(
        self,
        content: str,
        style: str | None = None,
        style_image: str | None = None,
        alpha: float = 1.0,
        keep_colors: bool = False,
    ) -> np.ndarray:
        """The content image painted in a style (a name, or an uploaded painting where the
        model takes one), ``H x W x 3`` uint8: at its own size (scaled down to ``max_size``) by
        style transfer, or at the generator's size by a style generator."""
        self._require(self.painter, "Re-paint")
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise WikiartError(f"alpha must be between 0 and 1, not {alpha}")
        image = read_upload(content, "image to re-paint")
        exemplar = None
        if style_image and self.painter.exemplars:
            exemplar = read_upload(style_image, "style painting")
        return self.painter.paint(image, style, exemplar, alpha, bool(keep_colors), self.max_size)

    # -- Generate ------------------------------------------------------------------------
    @property
    def generate_styles(self) -> list[str]:
        return list(self.generator.styles) if self.generator is not None else []

    def generate(
        self, style: str, seed: int = 0, steps: int = 25, guidance: float = 3.0, n: int = 4
    ) -> list[np.ndarray]:
        """``n`` paintings of ``style`` from the diffusion model; the same seed, the same
        paintings. ``H x W x 3`` uint8 each."""
        self._require(self.generator, "Generate")
        seed, steps, n, guidance = int(seed), int(steps), int(n), float(guidance)
        if not 1 <= n <= MAX_IMAGES:
            raise WikiartError(f"ask for 1 to {MAX_IMAGES} images, not {n}")
        if not 1 <= steps <= MAX_STEPS:
            raise WikiartError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")
        if not 0.0 <= guidance <= MAX_GUIDANCE:
            raise WikiartError(f"guidance must be between 0 and {MAX_GUIDANCE}, not {guidance}")
        if not 0 <= seed < 2**31:
            raise WikiartError(f"the seed must be between 0 and {2**31 - 1}, not {seed}")
        images = self.generator.images(style, n, seed=seed, guidance=guidance, steps=steps)
        return [to_hwc(im) for im in images]


def _opener(role: str, kind: str | None) -> Any:
    """The function that opens a ``kind`` checkpoint for the app's ``role`` tab (its job's
    `wikiart.jobs.Job.app`)."""
    job = job_for_kind(kind)
    if job is None or role not in job.app:
        raise WikiartError(f"a {kind!r} checkpoint cannot serve the app's {role} tab")
    return load(job.app[role])
