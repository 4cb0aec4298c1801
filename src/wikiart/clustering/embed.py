"""Embedding one split with any source (`embed_split`).

Sources:

- an autoencoder checkpoint: its flat code (`ConvAutoencoder.encode`);
- a classifier checkpoint: its penultimate embedding (`StyleClassifier.embed`); the kind is read
  from the checkpoint, and the split's styles are mapped through the checkpoint's class list;
- ``pretrained``: the offline ImageNet-pretrained EfficientNet-Lite0 (``pool`` or ``stats``);
- ``pixels``: raw downsampled pixels, the floor every learned representation has to beat.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wikiart.checkpoints import load_model
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_eval_split
from wikiart.data.loader import make_loader, prepare_split
from wikiart.data.refs import display
from wikiart.data.transforms import eval_transform
from wikiart.device import autocast, inference_precision, loader_workers, resolve_device
from wikiart.errors import WikiartError
from wikiart.files import atomic_open

SOURCES = ("pixels", "pretrained")
#: Side of the raw-pixel vectors (the pretrained source uses its weights' own resolution).
PIXELS_SIZE = 32


@dataclass
class Embeddings:
    """Vectors of one split with their style labels (indices into ``classes``) and file paths."""

    vectors: np.ndarray
    labels: np.ndarray
    paths: list[str]
    classes: list[str]
    source: str

    def save(self, path: str | os.PathLike[str]) -> Path:
        """``embeddings.npz``: ``vectors``, ``labels``, ``paths``, ``classes`` (plain arrays, so
        ``np.load(path)`` reads it back without pickle)."""
        path = Path(path)
        with atomic_open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                vectors=self.vectors.astype(np.float32),
                labels=self.labels.astype(np.int64),
                paths=np.array(self.paths, dtype=str),
                classes=np.array(self.classes, dtype=str),
                source=np.array(self.source),
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Embeddings:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                vectors=z["vectors"],
                labels=z["labels"],
                paths=[str(p) for p in z["paths"]],
                classes=[str(c) for c in z["classes"]],
                source=str(z["source"]),
            )


@torch.inference_mode()
def run_batches(fn, loader, device: torch.device, precision: str = "fp32") -> np.ndarray:
    """``fn`` of every batch of ``loader`` (under ``precision``), as one N x D fp32 array."""
    outs = []
    for x, _ in loader:
        with autocast(device, precision):
            outs.append(fn(x.to(device)).float().flatten(1).cpu())
    return torch.cat(outs).numpy()


@dataclass
class _Embedder:
    """How one source embeds a batch, and the preprocessing it needs."""

    fn: Callable[[torch.Tensor], torch.Tensor]
    classes: ClassMap
    size: int
    fit: str
    precision: str
    label: str


def _from_checkpoint(checkpoint: str | os.PathLike[str], dev: torch.device) -> _Embedder:
    kind, model, payload = load_model(checkpoint, dev, kind=("autoencoder", "classifier"))
    try:
        classes = ClassMap(tuple(payload["classes"]))
        size = int(payload["preprocess"]["image_size"])
        fit = payload["preprocess"].get("fit", "crop")
    except (KeyError, TypeError, ValueError):
        raise WikiartError(f"{checkpoint} lacks its classes or preprocessing") from None
    if kind == "autoencoder":
        code = model.config.get("bottleneck") or f"{model.config.get('code_dim')}-d style"
        label = f"autoencoder {code} code, {payload.get('loss')} loss"
        return _Embedder(model.encode, classes, size, fit, "fp32", label)
    label = f"classifier {payload['model_config'].get('arch')} embedding"
    return _Embedder(model.embed, classes, size, fit, inference_precision(payload, dev), label)


def _from_source(
    source: str, refs, image_size: int | None, features: str | None, dev: torch.device
) -> _Embedder:
    if source not in SOURCES:
        raise WikiartError(f"unknown source {source!r}; expected one of {SOURCES}")
    classes = ClassMap.from_styles(r.style for r in refs)
    if source == "pixels":
        size = int(image_size or PIXELS_SIZE)
        fn = lambda x: x.float() / 255.0  # noqa: E731
        return _Embedder(fn, classes, size, "crop", "fp32", f"raw pixels {size}x{size}x3")
    from wikiart.models.registry import ARCHS, build_classifier

    size = int(image_size or ARCHS["efficientnet-lite0"].image_size)  # type: ignore[arg-type]
    feats = features or "pool"
    model = build_classifier("efficientnet-lite0", 1, pretrained=True, features=feats)
    model = model.to(dev).eval()
    label = f"pretrained EfficientNet-Lite0 ({feats}, ImageNet, {size} px)"
    return _Embedder(model.embed, classes, size, "crop", "fp32", label)


def embed_split(
    data: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    source: str | None = None,
    image_size: int | None = None,
    features: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    cache_dir: str | None = None,
    progress: bool = False,
) -> Embeddings:
    """Embed a split folder (or a dataset root's ``test/``) with a checkpoint or a source."""
    if (checkpoint is None) == (source is None):
        raise WikiartError(
            "pass either --checkpoint RUN/model.pt (autoencoder or classifier) or "
            f"--source {{{','.join(SOURCES)}}}"
        )
    if checkpoint is not None and (image_size is not None or features is not None):
        raise WikiartError(
            "--image-size and --features apply to --source; a checkpoint brings its own "
            "preprocessing and embedding"
        )
    root, refs = open_eval_split(data)
    if not refs:
        raise WikiartError(f"no images found in {display(root)}")
    dev = resolve_device(device)
    e = (
        _from_checkpoint(checkpoint, dev)
        if checkpoint is not None
        else _from_source(str(source), refs, image_size, features, dev)
    )
    ds = prepare_split(
        refs, e.classes, source=root, image_size=e.size, fit=e.fit, cache_root=cache_dir,
        progress=progress, split="cluster", transform=eval_transform(e.size),
    )  # fmt: skip
    if len(ds) < 2:
        raise WikiartError(f"need at least 2 usable images to cluster, found {len(ds)}")
    loader = make_loader(ds, batch_size=batch_size, num_workers=loader_workers(None))
    vectors = run_batches(e.fn, loader, dev, e.precision)
    paths = [r.key for r in ds.refs]
    return Embeddings(vectors, ds.labels.copy(), paths, list(e.classes.classes), e.label)
