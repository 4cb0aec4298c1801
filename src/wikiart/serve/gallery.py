"""The app's gallery: paintings of one split, embedded once by the classifier and kept in the
feature cache (keyed like the image cache: by file path, size and mtime, in a file named by the
classifier's weights and preprocessing), with a 2-D map of them and nearest-neighbour search.

Gallery paintings leave the server only as thumbnails decoded here by the project's safe
decoder; no gallery file is ever served by its path."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from wikiart.classify.probe import store_embeddings
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_eval_split
from wikiart.data.features import FeatureStore, feature_file
from wikiart.data.images import open_image
from wikiart.data.loader import prepare_split
from wikiart.data.refs import ImageRef, display
from wikiart.data.splits import cap_per_style, random_subset
from wikiart.data.transforms import eval_transform
from wikiart.device import inference_precision
from wikiart.errors import WikiartError
from wikiart.files import atomic_open

log = logging.getLogger(__name__)

#: Longest side of the thumbnails the app shows.
THUMB_SIDE = 320
#: The map shows at most this many paintings (a random choice, the same at every start); the
#: others are still searched by "similar" but have no point (NaN in ``xy``). More points would
#: only hide each other, and t-SNE's time grows faster than their number.
MAP_POINTS = 5_000


@dataclass
class Gallery:
    """``vectors[i]`` (unit length) and ``xy[i]`` (the 2-D map; NaN for a painting the map
    leaves out) of painting ``refs[i]``."""

    root: Path
    refs: list[ImageRef]
    vectors: np.ndarray
    xy: np.ndarray
    styles: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.styles = sorted({r.style for r in self.refs})
        self._thumb = lru_cache(maxsize=512)(self._load_thumb)

    def __len__(self) -> int:
        return len(self.refs)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` paintings closest to ``vector`` by cosine distance (0 = same direction)."""
        v = np.asarray(vector, dtype=np.float32)
        v = v / max(float(np.linalg.norm(v)), 1e-12)
        dist = 1.0 - self.vectors @ v
        order = np.argsort(dist, kind="stable")[: max(0, k)]
        return [(int(i), float(dist[i])) for i in order]

    def thumbnail(self, i: int) -> Image.Image:
        """Painting ``i`` decoded safely and scaled to at most ``THUMB_SIDE`` a side."""
        if not 0 <= i < len(self.refs):
            raise WikiartError(f"no painting {i} in the gallery (it has {len(self.refs)})")
        return self._thumb(i)

    def _load_thumb(self, i: int) -> Image.Image:
        im = open_image(self.refs[i].read_bytes(), target=THUMB_SIDE, fit="pad")
        im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
        return im

    def caption(self, i: int) -> str:
        return f"{self.refs[i].style} · {self.refs[i].name}"


def gallery_refs(data: str | os.PathLike[str], per_style: int, seed: int = 0) -> tuple[Path, list]:
    """The split a gallery shows (a split folder, or a dataset root's ``test/``), capped at
    ``per_style`` paintings of each style (0: all)."""
    root, refs = open_eval_split(data)
    if not refs:
        raise WikiartError(f"the gallery {display(root)} holds no images")
    if per_style > 0:
        classes = ClassMap.from_styles(r.style for r in refs)
        labels = np.array([classes.index(r.style) for r in refs])
        refs = [refs[i] for i in cap_per_style(labels, per_style, seed)]
    return root, refs


@torch.inference_mode()
def embed_refs(
    model: nn.Module,
    payload: dict[str, Any],
    root: Path,
    refs: list[ImageRef],
    *,
    device: torch.device,
    cache_dir: str | os.PathLike[str] | None,
    progress: bool,
) -> tuple[list[ImageRef], np.ndarray]:
    """Each usable painting's classifier embedding, the mean of the image's and its mirror's
    (as `wikiart predict` averages both), from the feature cache where it is there already."""
    pre = payload["preprocess"]
    size, fit = int(pre["image_size"]), pre.get("fit", "crop")
    precision = inference_precision(payload, device)
    channels_last = bool(pre.get("channels_last"))
    spec = ["gallery-embedding", payload.get("model_config"), size, fit, precision, channels_last]
    store = FeatureStore(feature_file(spec, model.state_dict(), cache_dir, skip_prefixes=()))
    classes = ClassMap.from_styles(r.style for r in refs)
    data = prepare_split(
        refs, classes, source=root, image_size=size, fit=fit, cache_root=cache_dir,
        workers=None, progress=progress, split="gallery", transform=eval_transform(size),
    )  # fmt: skip
    if not data.refs:
        raise WikiartError(f"the gallery {display(root)} holds no usable images")
    t0 = time.perf_counter()
    before = len(store.keys)
    keys = store_embeddings(
        model, data, store, device, image_size=size, precision=precision,
        channels_last=channels_last,
    )  # fmt: skip
    if len(store.keys) > before:
        store.save()
        log.info(
            "gallery: embedded %d painting(s) in %.1fs (cached in %s)",
            len(store.keys) - before, time.perf_counter() - t0, display(store.path),
        )  # fmt: skip
    plain, mirror = store.get(keys)
    vectors = ((plain + mirror) / 2).numpy().astype(np.float32)
    return list(data.refs), vectors


def project_2d(vectors: np.ndarray, cache: Path | None = None, seed: int = 0) -> np.ndarray:
    """A 2-D map of the embeddings: t-SNE of the standardised vectors (PCA for fewer than 5)
    of at most ``MAP_POINTS`` of them (the rest NaN), cached beside the embeddings under a
    digest of the vectors themselves."""
    cache_file = None
    if cache is not None:
        digest = hashlib.sha1(np.ascontiguousarray(vectors).tobytes()).hexdigest()[:16]
        cache_file = cache.with_name(f"{cache.stem}-map-{digest}.npy")
        if cache_file.exists():
            try:
                xy = np.load(cache_file, allow_pickle=False)
                if xy.shape == (len(vectors), 2):
                    return xy
            except (OSError, ValueError):
                pass
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    rows = random_subset(len(vectors), MAP_POINTS, seed)
    shown = np.arange(len(vectors)) if rows is None else rows
    x = StandardScaler().fit_transform(vectors[shown].astype(np.float64))
    n = len(x)
    if n < 5:
        mapped = np.zeros((n, 2)) if n < 2 else PCA(2, random_state=seed).fit_transform(
            np.pad(x, ((0, 0), (0, max(0, 2 - x.shape[1]))))
        )  # fmt: skip
    else:
        perplexity = float(min(30.0, (n - 1) / 3))
        mapped = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    xy = np.full((len(vectors), 2), np.nan)
    xy[shown] = mapped
    xy = np.asarray(xy, dtype=np.float32)
    if cache_file is not None:
        try:
            with atomic_open(cache_file, "wb") as fh:
                np.save(fh, xy)
        except OSError as exc:  # a read-only cache only costs the next start a recompute
            log.warning("could not cache the gallery map in %s: %s", display(cache_file), exc)
    return xy


def build_gallery(
    model: nn.Module,
    payload: dict[str, Any],
    data: str | os.PathLike[str],
    *,
    device: torch.device,
    cache_dir: str | os.PathLike[str] | None = None,
    per_style: int = 100,
    progress: bool = False,
) -> Gallery:
    """The gallery of ``data`` as the classifier sees it (embeddings and their map)."""
    root, refs = gallery_refs(data, per_style)
    refs, vectors = embed_refs(
        model, payload, root, refs, device=device, cache_dir=cache_dir, progress=progress
    )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    from wikiart.data.cache import default_cache_root

    cache_root = Path(cache_dir) if cache_dir else default_cache_root()
    xy = project_2d(vectors, cache_root / "features" / "gallery")
    return Gallery(root, refs, unit.astype(np.float32), xy)
