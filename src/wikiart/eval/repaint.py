"""`wikiart evaluate --judge` for a model that re-paints images in other styles (a style
generator or an AdaIN transfer model): an independent judge scores its style swaps.

The evaluation never trusts the training classifier: a separately trained judge decides which
style each render shows, and two references keep the figure honest: the *floor* (how often the
judge already calls the unmodified input the target style) and a *colour baseline* that only
moves each image's per-channel colour mean and spread to the target style's average. Writes
``stylegen_eval.json`` (its name and keys shared by both kinds of model) and ``grid.png``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from wikiart.checkpoints import load_model
from wikiart.config import EvaluateConfig
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_eval_split
from wikiart.data.loader import CachedImageDataset, make_loader, prepare_split
from wikiart.data.refs import display
from wikiart.data.splits import cap_per_style, pick_per_style
from wikiart.device import resolve_device
from wikiart.errors import WikiartError
from wikiart.eval.judge import Judge, load_judge
from wikiart.eval.repaint_table import REPAINT_EVALUATION
from wikiart.files import write_json
from wikiart.functional import match_channel_stats, ssim
from wikiart.jobs import all_jobs
from wikiart.models.perceptual import optional_perceptual_features, relative_distance
from wikiart.models.repaint import Repainter
from wikiart.report.grids import write_render_grid

EVAL_FILE = "stylegen_eval.json"
_SUMS = ("swap", "floor", "base", "ssim", "fd", "base_ssim", "base_fd")


def evaluate_repainter(cfg: EvaluateConfig, progress: bool = False) -> dict[str, Any]:
    """Swap success, floor and colour baseline by the judge; SSIM and pretrained-feature
    distance of render and baseline against the input. Writes ``stylegen_eval.json`` and
    ``grid.png`` into ``cfg.out`` (a stylegen or a transfer checkpoint, judged by ``cfg.judge``;
    at most ``cfg.max_per_style`` test images of each style, chosen with ``cfg.seed``)."""
    dev = resolve_device(cfg.device)
    kind, loaded, payload = load_model(cfg.checkpoint, dev, kind=repainting_kinds())
    model = cast(Repainter, loaded)
    judge = cfg.require_judge(f"a {kind} checkpoint")
    referee, judge_payload = load_judge(judge, payload, model, dev)
    classes = ClassMap(tuple(model.style_names))
    cache = {"cache_root": cfg.cache_dir, "workers": None, "progress": progress}
    seed = cfg.seed
    test = _test_images(cfg.data, classes, model.image_size, cache, cfg.max_per_style, seed)
    scorer = _Scorer(model, referee, optional_perceptual_features(dev), payload["color_stats"], dev)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x, y in make_loader(test, batch_size=cfg.batch_size):
            scorer.add_batch(x.to(dev), y.to(dev))
    result = scorer.result(len(test))
    arch = judge_payload["model_config"].get("arch")
    result["judge"] = {"path": judge, "arch": arch, "size": referee.size}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / EVAL_FILE, result)
    pick = pick_per_style(test.labels, 6, seed)
    xs = torch.stack([test.raw(i) for i in pick])
    labels = [classes.classes[test.labels[i]] for i in pick]
    write_render_grid(model, xs, labels, None, out / "grid.png")
    return result


def repainting_kinds() -> tuple[str, ...]:
    """The checkpoint kinds scored here: those of the jobs registered with this evaluation
    (`wikiart.eval.repaint_table.REPAINT_EVALUATION`); each model is a `Repainter`."""
    return tuple(
        kind
        for job in all_jobs().values()
        if job.evaluation is REPAINT_EVALUATION
        for kind in job.kinds
    )


def _test_images(
    data: str | os.PathLike[str],
    classes: ClassMap,
    size: int,
    cache: dict[str, Any],
    max_per_style: int | None,
    seed: int,
) -> CachedImageDataset:
    """The test split (or split folder) at the model's size, at most ``max_per_style``
    images of each style (a seeded random choice); no usable image is an error."""
    root, refs = open_eval_split(data)
    test = prepare_split(refs, classes, split="test", image_size=size, source=root, **cache)
    if max_per_style:
        test = test.subset(cap_per_style(test.labels, max_per_style, seed))
    if len(test) == 0:
        raise WikiartError(f"no usable test images in {display(root)}")
    return test


@dataclass
class _Scorer:
    """Running sums over (test image, other style) pairs: the judge's verdicts on renders, the
    unmodified inputs (floor) and the colour baseline, and SSIM and feature distances."""

    model: Repainter
    judge: Judge
    features: nn.Module | None
    colors: dict[str, list[Any]]
    device: torch.device
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0.0))
    own_ssim: float = 0.0
    pairs: int = 0

    def __post_init__(self) -> None:
        self.k = len(self.model.style_names)
        self.per_target = torch.zeros(self.k, 2)  # hits, pairs
        self.cmean = torch.tensor(self.colors["mean"], device=self.device)
        self.cstd = torch.tensor(self.colors["std"], device=self.device)

    def add_batch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Score one batch: its own-style reconstructions, then every other target style."""
        x01 = x.float() / 255
        code = self.model.encode(x)
        own = self.model.decode(code, y).float()
        self.own_ssim += float(ssim(own, x01).sum())
        floor_pred = self.judge.predict(x01)
        want = self.features(x01) if self.features is not None else None  # once for all targets
        for t in range(self.k):
            sel = y != t
            if sel.any():
                self._add_target(t, sel, code, x01, floor_pred, want)

    def _add_target(
        self,
        t: int,
        sel: torch.Tensor,
        code: tuple[torch.Tensor, ...],
        x01: torch.Tensor,
        floor_pred: torch.Tensor,
        want: list[torch.Tensor] | None,
    ) -> None:
        """The images ``sel`` (not of style ``t``) rendered in ``t`` and colour-matched to it."""
        n = int(sel.sum())
        tt = torch.full((n,), t, device=self.device, dtype=torch.long)
        r = self.model.decode(tuple(c[sel] for c in code), tt).float()
        b = match_channel_stats(x01[sel], self.cmean[t], self.cstd[t])
        wanted = self.judge.to_judge[t]
        hit = self.judge.predict(r) == wanted
        self.sums["swap"] += float(hit.sum())
        self.sums["floor"] += float((floor_pred[sel] == wanted).sum())
        self.sums["base"] += float((self.judge.predict(b) == wanted).sum())
        self.sums["ssim"] += float(ssim(r, x01[sel]).sum())
        self.sums["base_ssim"] += float(ssim(b, x01[sel]).sum())
        feats = self.features
        if feats is not None and want is not None:
            target = [w[sel] for w in want]
            self.sums["fd"] += float(relative_distance(feats(r), target)) * n
            self.sums["base_fd"] += float(relative_distance(feats(b), target)) * n
        self.per_target[t, 0] += float(hit.sum())
        self.per_target[t, 1] += n
        self.pairs += n

    def result(self, images: int) -> dict[str, Any]:
        """The averages of ``stylegen_eval.json`` (the judge and timing are added by the
        caller)."""
        pairs, sums, names = self.pairs, self.sums, self.model.style_names
        if pairs == 0:
            raise WikiartError("no (image, other style) pairs: the test split needs 2+ styles")

        def mean(v: float) -> float:
            return round(v / pairs, 4)

        def fd(v: float) -> float | None:
            return mean(v) if self.features is not None else None

        hits, seen = self.per_target[:, 0], self.per_target[:, 1].clamp_min(1)
        return {
            "pairs": pairs,
            "swap_success": mean(sums["swap"]),
            "floor": mean(sums["floor"]),
            "color_baseline": mean(sums["base"]),
            "ssim": mean(sums["ssim"]),
            "feature_distance": fd(sums["fd"]),
            "color_baseline_ssim": mean(sums["base_ssim"]),
            "color_baseline_feature_distance": fd(sums["base_fd"]),
            "own_style_ssim": round(self.own_ssim / images, 4),
            "images": images,
            "styles": list(names),
            "swap_success_per_target": {
                s: round(float(hits[i] / seen[i]), 4) for i, s in enumerate(names)
            },
        }
