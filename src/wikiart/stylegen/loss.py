"""The generator's training loss, `StylegenLoss`, and the pieces it is made of.

Reconstruction alone lets a decoder ignore its style input: the input image already says
everything needed to rebuild it. So every batch also renders each image in a randomly drawn
*other* style and asks (b) the frozen training classifier to recognise that target style in the
render (cross-entropy), while (c) a content term keeps the render close to the input in the
frozen ImageNet Lite0's early features (strokes and edges, not colours), so the render must keep
the composition and may change palette and texture. (a) L1 reconstruction under the image's own
style anchors the whole thing. A classifier that is the only judge of style during training
invites renders that fool it and no other network; two guards: it sees a random view of each
render (crop, mirror, noise: `random_view`), and its cross-entropy is a hinge (a render already
accepted with margin stops pulling). Two terms carry style and content without it: the render
at 1/8 resolution against the input's (layout and palette), and the render's per-channel feature
mean and spread in the frozen Lite0 maps against the target style's averages (`texture_stats`,
stored in the checkpoint). Optional terms: the render's content code against the input's, and
its classifier embedding against the target style's mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wikiart.functional import channel_mean_std
from wikiart.models.perceptual import relative_distance
from wikiart.models.stylegen import StyleGenerator
from wikiart.stylegen.settings import StylegenConfig
from wikiart.stylegen.styles import standardised_table


def as_model_input(normalizer: nn.Module, x01: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` float images -> what a model with this `Normalizer` expects from uint8 input
    (its own mean/std, differentiably): renders go through exactly the classifier's
    preprocessing."""
    return torch.addcmul(normalizer.bias, x01 * 255.0, normalizer.scale)


def classifier_view(clf: nn.Module, x01: torch.Tensor, size: int) -> torch.Tensor:
    """Renders resized to the classifier's input size and normalised its way."""
    if x01.shape[-1] != size:
        x01 = F.interpolate(x01, size=(size, size), mode="bilinear", antialias=True)
    return as_model_input(clf.normalizer, x01)


def other_styles(labels: torch.Tensor, k: int) -> torch.Tensor:
    """A uniformly random style different from each label (``k >= 2``)."""
    shift = torch.randint(1, k, labels.shape, device=labels.device)
    return (labels + shift) % k


def random_view(
    x01: torch.Tensor, scale: tuple[float, float] = (0.7, 1.0), noise: float = 0.02
) -> torch.Tensor:
    """A differentiable random view of each ``[0, 1]`` image: a random crop (side ``scale`` of
    the image, anywhere), a random horizontal flip, resampled to the full size, plus Gaussian
    noise. The frozen classifier judges renders through it, so that a pattern fooling it at one
    exact pixel alignment stops paying and only what survives any view (the style) does."""
    n = x01.shape[0]
    dev, dt = x01.device, x01.dtype
    side = torch.empty(n, device=dev, dtype=dt).uniform_(*scale)
    flip = torch.randint(0, 2, (n,), device=dev).to(dt) * 2 - 1
    tx = (1 - side) * (2 * torch.rand(n, device=dev, dtype=dt) - 1)
    ty = (1 - side) * (2 * torch.rand(n, device=dev, dtype=dt) - 1)
    zero = torch.zeros_like(side)
    theta = torch.stack(
        [torch.stack([side * flip, zero, tx], 1), torch.stack([zero, side, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x01.shape), align_corners=False)
    out = F.grid_sample(x01, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if noise > 0:
        out = out + noise * torch.randn_like(out)
    return out.clamp(0, 1)


def texture_distance(
    maps: Sequence[torch.Tensor], target: torch.Tensor, stats: dict[str, list[torch.Tensor]]
) -> torch.Tensor:
    """Mean over layers of the squared distance between each render's per-channel feature mean
    and spread and its target style's averages (`texture_stats`), each layer relative to the
    energy of those averages (so every layer weighs alike)."""
    terms = []
    for m, tm, ts in zip(maps, stats["mean"], stats["std"], strict=True):
        mu, sd = (v.flatten(1) for v in channel_mean_std(m.float()))
        tm, ts = tm.to(mu.device), ts.to(mu.device)  # no copy when already there
        scale = (tm.pow(2) + ts.pow(2)).mean().clamp_min(1e-8)
        terms.append(((mu - tm[target]).pow(2) + (sd - ts[target]).pow(2)).mean() / scale)
    return torch.stack(terms).mean()


def layout_distance(render: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
    """L1 between render and input at 1/8 resolution: the composition and palette, leaving
    strokes and texture free to change."""
    cells = max(1, render.shape[-1] // 8)
    return F.l1_loss(F.adaptive_avg_pool2d(render, cells), F.adaptive_avg_pool2d(x01, cells))


def _kept(parts: dict[str, torch.Tensor], name: str, value: torch.Tensor) -> torch.Tensor:
    """Record a term's value (detached) under ``name`` for the history; return it."""
    parts[name] = value.detach()
    return value


class StylegenLoss(nn.Module):
    """``loss(generator, uint8 batch, labels) -> (loss, parts)``; see the module docstring.

    ``embeddings`` (the style embeddings) is needed for the embedding-statistics term only,
    ``texture`` (`texture_stats`) for the texture term only; the content and texture terms need
    ``features``. The classifier and features are frozen judges: they stay in eval mode."""

    def __init__(
        self,
        classifier: nn.Module,
        classifier_size: int,
        cfg: StylegenConfig,
        features: nn.Module | None = None,
        embeddings: dict[str, Any] | None = None,
        texture: dict[str, list[torch.Tensor]] | None = None,
    ) -> None:
        super().__init__()
        self.classifier = classifier
        self.features = features
        self.classifier_size = int(classifier_size)
        self.cfg = cfg
        self.use_content = cfg.content_weight > 0 and features is not None
        self.use_texture = cfg.texture_weight > 0 and features is not None and texture is not None
        # plain copies: tensors made under inference_mode cannot enter autograd
        emb = embeddings
        for name, value in (
            ("embed_mean", None if emb is None else emb["embed_mean"].clone()),
            ("embed_std", None if emb is None else emb["embed_std"].clone()),
            ("table", None if emb is None else standardised_table(emb).clone()),
        ):
            self.register_buffer(name, value, persistent=False)
        self._texture_layers = 0 if texture is None else len(texture["mean"])
        for i in range(self._texture_layers):
            self.register_buffer(f"texture_mean_{i}", texture["mean"][i], persistent=False)
            self.register_buffer(f"texture_std_{i}", texture["std"][i], persistent=False)

    @property
    def texture(self) -> dict[str, list[torch.Tensor]]:
        """The target styles' feature statistics, ``{"mean": [...], "std": [...]}``."""
        n = self._texture_layers
        return {
            "mean": [getattr(self, f"texture_mean_{i}") for i in range(n)],
            "std": [getattr(self, f"texture_std_{i}") for i in range(n)],
        }

    def train(self, mode: bool = True) -> StylegenLoss:
        super().train(mode)
        for judge in (self.classifier, self.features):
            if judge is not None:
                judge.eval()
        return self

    def forward(
        self, model: StyleGenerator, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        k = len(model.style_names)
        x01 = x.float() / 255
        code = model.encode(x)
        own = model.decode(code, y).float()
        rec = F.l1_loss(own, x01)
        total, parts = cfg.rec_weight * rec, {"rec": rec.detach()}
        if k < 2:
            return total, parts
        t = other_styles(y, k)
        swapped = model.decode(code, t).float()
        total = total + cfg.style_weight * self._style_ce(swapped, t, parts)
        if cfg.layout_weight > 0:
            layout = _kept(parts, "layout", layout_distance(swapped, x01))
            total = total + cfg.layout_weight * layout
        if self.use_content or self.use_texture:
            total = self._feature_terms(total, swapped, x01, t, parts)
        if cfg.code_weight > 0:
            code_l = _kept(parts, "code", self._code_distance(model, code, swapped))
            total = total + cfg.code_weight * code_l
        if cfg.stats_weight > 0 and self.table is not None:
            stats = _kept(parts, "stats", self._stats_distance(swapped, t))
            total = total + cfg.stats_weight * stats
        return total, parts

    def _style_ce(
        self, swapped: torch.Tensor, t: torch.Tensor, parts: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """The frozen classifier's cross-entropy toward the target styles, seen through a
        random view; a hinge: once the target's cross-entropy is under the margin, that render
        stops pulling (no reward for fooling the frozen classifier ever harder)."""
        seen = random_view(swapped) if self.cfg.style_augment else swapped
        clf = self.classifier
        logits = clf(classifier_view(clf, seen, self.classifier_size)).float()
        ce_each = F.cross_entropy(logits, t, reduction="none")
        parts["style_ce"] = ce_each.mean().detach()
        parts["style_acc"] = (logits.argmax(1) == t).float().mean()
        margin = self.cfg.style_margin
        return ce_each.clamp_min(margin).mean() if margin > 0 else ce_each.mean()

    def _feature_terms(
        self,
        total: torch.Tensor,
        swapped: torch.Tensor,
        x01: torch.Tensor,
        t: torch.Tensor,
        parts: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """``total`` plus the content and texture terms, from one Lite0 pass of the renders."""
        got = self.features(swapped)  # type: ignore[misc]
        if self.use_content:
            with torch.no_grad():
                want = self.features(x01)  # type: ignore[misc]
            content = _kept(parts, "content", relative_distance(got, want))
            total = total + self.cfg.content_weight * content
        if self.use_texture:
            tex = _kept(parts, "texture", texture_distance(got, t, self.texture))
            total = total + self.cfg.texture_weight * tex
        return total

    def _code_distance(
        self, model: StyleGenerator, code: tuple[torch.Tensor, ...], swapped: torch.Tensor
    ) -> torch.Tensor:
        """L1 between the render's content code and the input's (held fixed)."""
        code_sw = model.encode(as_model_input(model.normalizer, swapped))
        return F.l1_loss(code_sw[0].float(), code[0].detach().float())

    def _stats_distance(self, swapped: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Squared distance between the render's standardised classifier embedding and the
        target style's row of the table."""
        clf = self.classifier
        z = clf.embed(classifier_view(clf, swapped, self.classifier_size)).float()
        z = (z - self.embed_mean.to(z.device)) / self.embed_std.to(z.device)
        return F.mse_loss(z, self.table.to(z.device)[t])
