"""`wikiart evaluate` for a diffusion or LoRA run: does each style come out as that style, how
close are the samples to real paintings, and are they copies of training images?

- ``judge_share``: the share of a style's samples that an independently trained classifier (the
  judge) assigns to that style, averaged over styles; ``chance`` is one over the judge's number
  of styles. ``real_share`` is the judge on real test images of the same styles brought to the
  generator's resolution: the ceiling a perfect generator would reach.
- ``frechet_lite0``: the Fréchet distance between samples and real test images in the pooled
  feature space of the offline ImageNet EfficientNet-Lite0 (not FID, which needs Inception
  weights); ``frechet_lite0_train_vs_test`` is the same distance for as many real training images:
  what real paintings score.
- ``memorisation``: each sample's cosine distance to its nearest training image in that space,
  against the same for real test images (which are certainly not copies):
  ``closer_than_test_p5`` is the share of samples nearer a training image than 95% of test
  images are; about 0.05 means no sign of copying, far more means memorised training images.

Writes ``diffusion_eval.json``, ``grid.png`` (samples per style, labelled with their judge share)
and ``nearest.png`` (the samples closest to a training image, beside that image).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wikiart.checkpoints import load_model
from wikiart.config import EvaluateConfig
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_dataset
from wikiart.data.loader import CachedImageDataset, prepare_split
from wikiart.device import resolve_device
from wikiart.diffusion.generate import ANY_STYLE, null_samples, open_generator
from wikiart.diffusion.sample import write_sample_grid
from wikiart.errors import WikiartError
from wikiart.eval.generator import Generator, SampleOptions
from wikiart.files import write_json

log = logging.getLogger(__name__)

EVAL_FILE = "diffusion_eval.json"
#: The side at which samples and real images (all at the generator's resolution) are shown to
#: Lite0 for the Fréchet distance and the memorisation check.
FEATURE_SIZE = 128


def evaluate_diffusion(
    cfg: EvaluateConfig, progress: bool = False, *, feature_size: int = FEATURE_SIZE
) -> dict[str, Any]:
    """Sample ``cfg.n_per_style`` images of every style the generator (``cfg.checkpoint``)
    knows, judge them (``cfg.judge``), compare them with ``cfg.data``'s test and training
    images; writes ``diffusion_eval.json``, ``grid.png`` and ``nearest.png`` into ``cfg.out`` and
    returns what the JSON holds. ``cfg.batch_size`` also batches the judge and the feature
    network."""
    options = SampleOptions.of(cfg, cfg.n_per_style)
    judge, out = cfg.require_judge("a diffusion or LoRA run"), Path(cfg.out)
    dev = resolve_device(cfg.device)
    t0 = time.perf_counter()
    gen = _styled_generator(cfg.checkpoint, dev)
    ref = _Judge.load(judge, gen.styles, dev)
    test, train = _real_splits(cfg.data, gen, cfg.cache_dir, progress)
    samples = gen.sample_styles(list(gen.styles), options)
    sample_seconds = time.perf_counter() - t0
    per_style = _judge_styles(ref, samples, test, gen.styles, options.batch_size)
    judged = [v["real_share"] for v in per_style.values() if v["real_share"] is not None]
    result: dict[str, Any] = {
        "n_per_style": options.n,
        "judge_share": round(float(np.mean([v["judge_share"] for v in per_style.values()])), 4),
        "per_style": per_style,
        "chance": round(1.0 / len(ref.classes), 4),
        "real_share": round(float(np.mean(judged)), 4) if judged else None,
        "styles": list(gen.styles),
        "generator": gen.describe,
        "sampling": {"seed": options.seed, **options.settings(gen.defaults)},
        "judge": {"path": str(judge), "arch": ref.arch, "size": ref.size},
    }
    all_samples = torch.cat([samples[s] for s in gen.styles])
    result |= _feature_checks(
        all_samples, test, train, dev, options.batch_size, options.seed, out, feature_size
    )
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["sample_seconds"] = round(sample_seconds, 1)
    out.mkdir(parents=True, exist_ok=True)
    labels = {s: f"{s}\njudge {v['judge_share']:.2f}" for s, v in per_style.items()}
    grid = SampleOptions(n=8)
    write_sample_grid(gen, gen.styles, out / "grid.png", grid, images=samples, labels=labels)
    write_json(out / EVAL_FILE, result)
    return result


def null_share(
    base: str | os.PathLike[str],
    judge: str | os.PathLike[str],
    style: str,
    options: SampleOptions,
    device: torch.device,
) -> float:
    """The judge's share of ``style`` among a base's "no style" samples: what the base gives a
    style it never saw before any adapter (the "before" of LoRA onto that style)."""
    ref = _Judge.load(judge, [style], device)
    return _share(ref, null_samples(base, options, device), style, options.batch_size)


def _styled_generator(checkpoint: str | os.PathLike[str], dev: torch.device) -> Generator:
    """The run's generator; an unconditional one has no styles to judge."""
    gen = open_generator(checkpoint, device=dev)
    if gen.styles in ([], [ANY_STYLE]):
        raise WikiartError(
            f"{checkpoint} is unconditional: it has no styles to judge (adapt it to styles with "
            "`wikiart train lora`, then evaluate that run)"
        )
    return gen


def _real_splits(
    data: str | os.PathLike[str], gen: Generator, cache_dir: str | None, progress: bool
) -> tuple[CachedImageDataset, CachedImageDataset]:
    """``data``'s test and training images of the generator's styles, at its size."""
    ds = open_dataset(data)
    for split in ("train", "test"):
        if split not in ds.splits:
            raise WikiartError(f"{data} has no {split}/ split (evaluate needs train/ and test/)")
    classes = ClassMap(tuple(gen.styles))
    cache = {"cache_root": cache_dir, "workers": None, "progress": progress,
             "image_size": gen.image_size, "source": ds.cache_source}  # fmt: skip
    test = _split(ds.split("test"), classes, "test", cache)
    train = _split(ds.split("train"), classes, "train", cache)
    return test, train


def _judge_styles(
    ref: _Judge,
    samples: dict[str, torch.Tensor],
    test: CachedImageDataset,
    styles: Sequence[str],
    batch_size: int,
) -> dict[str, dict[str, Any]]:
    """Per style: the judge's share of its samples and of its real test images."""
    per_style: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(styles):
        real = _images(test, test.labels == i)
        per_style[s] = {
            "judge_share": _share(ref, samples[s], s, batch_size),
            "real_share": _share(ref, real, s, batch_size) if len(real) else None,
            "n_test": len(real),
        }
    return per_style


class _Judge:
    """The independent classifier: uint8 images at any size -> its verdicts."""

    def __init__(self, model: nn.Module, payload: dict[str, Any], styles: Sequence[str]) -> None:
        self.model = model
        self.classes = list(payload["classes"])
        self.size = int(payload["preprocess"]["image_size"])
        self.arch = payload["model_config"].get("arch")
        missing = [s for s in styles if s not in self.classes]
        if missing:
            raise WikiartError(f"the judge does not know style(s) {missing}; it knows "
                               f"{self.classes}")  # fmt: skip

    @classmethod
    def load(cls, path: str | os.PathLike[str], styles: Sequence[str], dev: torch.device) -> _Judge:
        if not Path(path).is_file():
            raise WikiartError(f"judge checkpoint not found: {path}")
        _, model, payload = load_model(path, dev, kind="classifier")
        for p in model.parameters():
            p.requires_grad_(False)
        return cls(model.eval(), payload, styles)

    @torch.inference_mode()
    def predict(self, u8: torch.Tensor, batch_size: int) -> list[str]:
        dev = next(self.model.parameters()).device
        out: list[str] = []
        for i in range(0, len(u8), batch_size):
            x = _resize_u8(u8[i : i + batch_size].to(dev), self.size)
            out += [self.classes[j] for j in self.model(x).float().argmax(1).tolist()]
        return out


def _resize_u8(u8: torch.Tensor, size: int) -> torch.Tensor:
    if u8.shape[-1] == size:
        return u8
    x = F.interpolate(u8.float() / 255, size=(size, size), mode="bilinear", antialias=True)
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def _share(judge: _Judge, u8: torch.Tensor, style: str, batch_size: int) -> float:
    verdicts = judge.predict(u8, batch_size)
    return round(sum(v == style for v in verdicts) / max(len(verdicts), 1), 4)


def _split(refs: Sequence[Any], classes: ClassMap, name: str, cache: dict) -> CachedImageDataset:
    """The split's images of the generator's styles, at the generator's size."""
    keep = [r for r in refs if r.style in classes]
    if not keep:
        raise WikiartError(f"the {name} split has no images of the styles {list(classes)}")
    return prepare_split(keep, classes, split=name, **cache)


def _images(data: CachedImageDataset, mask: np.ndarray | None = None) -> torch.Tensor:
    idx = np.flatnonzero(mask) if mask is not None else np.arange(len(data))
    if len(idx) == 0:
        return torch.zeros(0, 3, data.image_size, data.image_size, dtype=torch.uint8)
    return torch.stack([data.raw(int(i)) for i in idx])


@torch.inference_mode()
def _lite0_features(
    model: nn.Module, u8: torch.Tensor, dev: torch.device, batch_size: int, size: int
) -> np.ndarray:
    out = []
    for i in range(0, len(u8), batch_size):
        x = _resize_u8(u8[i : i + batch_size].to(dev), size)
        out.append(model.embed(x).float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of feature vectors:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``.

    The trace of the matrix square root is computed exactly without ``sqrtm`` (which is slow
    and unstable on the singular covariances of fewer vectors than dimensions): the eigenvalues
    of ``S_a S_b`` are those of ``S_a^(1/2) S_b S_a^(1/2)``, and with fewer vectors than
    dimensions its nonzero ones are the squared singular values of the centred vectors'
    cross-product ``A B^T / sqrt((n_a - 1)(n_b - 1))``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    x1, x2 = a - mu1, b - mu2
    n1, n2 = max(len(a) - 1, 1), max(len(b) - 1, 1)
    if min(len(a), len(b)) <= a.shape[1]:
        root_trace = np.linalg.svd(x1 @ x2.T / np.sqrt(n1 * n2), compute_uv=False).sum()
    else:
        w, v = np.linalg.eigh(x1.T @ x1 / n1)
        half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        eig = np.linalg.eigvalsh(half @ (x2.T @ x2 / n2) @ half)
        root_trace = np.sqrt(np.clip(eig, 0, None)).sum()
    traces = (x1**2).sum() / n1 + (x2**2).sum() / n2
    return float(((mu1 - mu2) ** 2).sum() + traces - 2 * root_trace)


def _nearest(queries: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance of each query to its nearest pool vector, and that vector's index."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True).clip(1e-12)
    p = pool / np.linalg.norm(pool, axis=1, keepdims=True).clip(1e-12)
    sim = q @ p.T
    idx = sim.argmax(1)
    return 1.0 - sim[np.arange(len(q)), idx], idx


def _feature_checks(
    samples: torch.Tensor,
    test: CachedImageDataset,
    train: CachedImageDataset,
    dev: torch.device,
    batch_size: int,
    seed: int,
    out: Path,
    size: int,
) -> dict[str, Any]:
    """Fréchet distances and the memorisation check in Lite0's feature space (None, with a
    warning, where the pretrained weights are not installed)."""
    from wikiart.models.registry import build_classifier, pretrained_available

    if not pretrained_available("efficientnet-lite0"):
        log.warning("no offline Lite0 weights (the 'pretrained' extra): no Fréchet distance or "
                    "memorisation check")  # fmt: skip
        return {"frechet_lite0": None, "frechet_lite0_train_vs_test": None, "memorisation": None}
    model = build_classifier("efficientnet-lite0", 1, pretrained=True).to(dev).eval()
    test_u8, train_u8 = _images(test), _images(train)
    f_samples = _lite0_features(model, samples, dev, batch_size, size)
    f_test = _lite0_features(model, test_u8, dev, batch_size, size)
    f_train = _lite0_features(model, train_u8, dev, batch_size, size)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(f_train), size=min(len(f_samples), len(f_train)), replace=False)
    d_samples, nn_idx = _nearest(f_samples, f_train)
    d_test, _ = _nearest(f_test, f_train)
    p5 = float(np.percentile(d_test, 5))
    _write_nearest(samples, train_u8, d_samples, nn_idx, out / "nearest.png")
    return {
        "frechet_lite0": round(frechet_distance(f_samples, f_test), 2),
        "frechet_lite0_train_vs_test": round(frechet_distance(f_train[pick], f_test), 2),
        "feature_space": f"ImageNet EfficientNet-Lite0 pooled features at {size} px",
        "memorisation": {
            "sample_nn_median": round(float(np.median(d_samples)), 4),
            "test_nn_median": round(float(np.median(d_test)), 4),
            "sample_nn_min": round(float(d_samples.min()), 4),
            "test_nn_min": round(float(d_test.min()), 4),
            "test_nn_p5": round(p5, 4),
            "closer_than_test_p5": round(float((d_samples < p5).mean()), 4),
            "n_train": len(f_train),
        },
    }


def _write_nearest(
    samples: torch.Tensor, train: torch.Tensor, d: np.ndarray, idx: np.ndarray, path: Path
) -> None:
    """The 8 samples nearest a training image, each beside that image."""
    from wikiart.report.plots import image_grid

    path.parent.mkdir(parents=True, exist_ok=True)
    order = np.argsort(d)[:8]
    rows = [
        (f"d={d[i]:.3f}", [samples[i].permute(1, 2, 0).numpy(),
                           train[idx[i]].permute(1, 2, 0).numpy()])
        for i in order
    ]  # fmt: skip
    image_grid(rows, path, cell=1.0, col_labels=["sample", "nearest training image"])


def format_table(r: dict[str, Any]) -> str:
    """The table `wikiart evaluate` prints for a diffusion or LoRA run."""
    width = max(len(s) for s in r["per_style"]) + 2
    lines = [f"{'style':<{width}}{'judge share':>12}{'real share':>12}"]
    for s, v in r["per_style"].items():
        real = "-" if v["real_share"] is None else f"{v['real_share']:.3f}"
        lines.append(f"{s:<{width}}{v['judge_share']:>12.3f}{real:>12}")
    real = "-" if r["real_share"] is None else f"{r['real_share']:.3f}"
    lines.append(f"{'mean':<{width}}{r['judge_share']:>12.3f}{real:>12}")
    lines.append(f"chance {r['chance']:.3f}; {r['n_per_style']} samples per style")
    if r.get("frechet_lite0") is not None:
        m = r["memorisation"]
        lines.append(
            f"Fréchet distance (Lite0 features) to test: {r['frechet_lite0']:.1f} "
            f"(real training images: {r['frechet_lite0_train_vs_test']:.1f})"
        )
        lines.append(
            f"nearest training image, median cosine distance: samples {m['sample_nn_median']:.3f}"
            f", test images {m['test_nn_median']:.3f}; samples closer than 95% of test images: "
            f"{m['closer_than_test_p5']:.3f} (0.05 expected without copying)"
        )
    return "\n".join(lines)
