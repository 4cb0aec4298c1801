"""The style-conditioned generator: training (`wikiart train stylegen`), rendering (`wikiart
render`) and its evaluation by an independent judge (`wikiart evaluate --judge`).

Data flows one way: a trained classifier checkpoint -> ``style_embeddings.pt`` (per-style mean
penultimate embeddings on the training split) -> `StyleGenerator` trained with the shared loop
-> ``model.pt`` -> renders, ``grid.png`` and ``stylegen_eval.json``.

Why these losses. Reconstruction alone lets a decoder ignore its style input: the input image
already says everything needed to rebuild it. So every batch also renders each image in a
randomly drawn *other* style and asks (b) the frozen training classifier to recognise that
target style in the render (cross-entropy), while (c) a content term keeps the render close to
the input in the frozen ImageNet Lite0's early features (strokes and edges, not colours), so
the render must keep the composition and may change palette and texture. (a) L1 reconstruction
under the image's own style anchors the whole thing. A classifier that is the only judge of
style during training invites renders that fool it and no other network; two guards: it sees a
random view of each render (crop, mirror, noise: `random_view`), and its cross-entropy is a
hinge (a render already accepted with margin stops pulling). Two terms carry style and content
without it: the render at 1/8 resolution against the input's (layout and palette), and the
render's per-channel feature mean and spread in the frozen Lite0 maps against the target
style's averages (`texture_stats`, stored in the checkpoint). Optional terms: the render's
content code against the input's, and its classifier embedding against the target style's mean.

The evaluation never trusts the training classifier: a separately trained judge decides which
style each render shows, and two references keep the figure honest: the *floor* (how often the
judge already calls the unmodified input the target style) and a *colour baseline* that only
moves each image's per-channel colour mean and spread to the target style's average.
"""

from __future__ import annotations

import hashlib
import json
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

from wikiart.autoencode import pick_per_style
from wikiart.config import StylegenConfig, build_config, check_same_run, save_config
from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_dataset, open_eval_split
from wikiart.data.loader import CachedImageDataset, make_loader, prepare_split
from wikiart.data.refs import display
from wikiart.data.transforms import train_transform
from wikiart.device import loader_workers, resolve_device
from wikiart.device import seed_everything as seed_all
from wikiart.errors import WikiartError
from wikiart.functional import channel_mean_std, match_channel_stats, ssim
from wikiart.models.stylegen import StyleGenerator, build_stylegen, check_padding
from wikiart.train.checkpoint import (
    FORMAT_VERSION,
    check_kind,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from wikiart.train.loop import LoopConfig, StepOutput, fit

log = logging.getLogger(__name__)

KIND = "stylegen"
EMBEDDINGS_FILE = "style_embeddings.pt"
#: Defaults of the stylegen job: small images (CPU time bounds the run; the content code is
#: 64 x 8 x 8 at 64 px), then a TOML file and flags override them.
PRESETS: dict[str, Any] = {"data": {"image_size": 64}, "epochs": 10, "batch_size": 16, "lr": 2e-3}


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> StylegenConfig:
    """Defaults <- `PRESETS` <- TOML <- flags, checked."""
    cfg = build_config(StylegenConfig, config_file, overrides, PRESETS)
    if cfg.data.data is None:
        raise WikiartError("no training data: pass --data DIR (or `data` in the config file)")
    if cfg.classifier is None:
        raise WikiartError("no classifier: pass --classifier RUN/model.pt (a trained classifier)")
    if not Path(cfg.classifier).is_file():
        raise WikiartError(f"classifier checkpoint not found: {cfg.classifier}")
    weights = (cfg.rec_weight, cfg.style_weight, cfg.content_weight, cfg.code_weight)
    if min(*weights, cfg.stats_weight, cfg.texture_weight, cfg.layout_weight, cfg.style_margin) < 0:
        raise WikiartError("stylegen loss weights must be >= 0")
    check_padding(cfg.padding)
    return cfg


# -- helpers shared by training and evaluation -----------------------------------------------
def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file: how the evaluation recognises the training classifier under any name."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def to_uint8(x01: torch.Tensor) -> torch.Tensor:
    return (x01.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no gradients: a judge of renders, never trained by them."""
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@torch.inference_mode()
def style_embeddings(
    clf: nn.Module,
    data: CachedImageDataset,
    classes: Sequence[str],
    device: torch.device,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Per-style mean penultimate embeddings of ``data`` (training images at the classifier's
    own size), with the mean and spread of all embeddings (to standardise the table)."""
    loader = make_loader(data, batch_size=batch_size, num_workers=loader_workers(None))
    feats, labels = [], []
    for x, y in loader:
        feats.append(clf.embed(x.to(device)).float().cpu())
        labels.append(y)
    z, lab = torch.cat(feats), torch.cat(labels)
    k = len(classes)
    counts = torch.bincount(lab, minlength=k)
    if (counts == 0).any():
        missing = [classes[i] for i in torch.nonzero(counts == 0).flatten().tolist()]
        raise WikiartError(f"no training images of style(s) {missing}: cannot embed them")
    means = torch.zeros(k, z.shape[1]).index_add_(0, lab, z) / counts[:, None]
    return {
        "classes": list(classes),
        "mean": means,
        "embed_mean": z.mean(0),
        "embed_std": z.std(0).clamp_min(1e-6),
        "counts": counts.tolist(),
    }


def standardised_table(emb: dict[str, Any]) -> torch.Tensor:
    """The style table the generator sees: per-style means standardised per dimension."""
    return (emb["mean"] - emb["embed_mean"]) / emb["embed_std"]


def save_style_embeddings(path: str | os.PathLike[str], emb: dict[str, Any]) -> None:
    """``style_embeddings.pt``: the table with its style names, written atomically like a
    checkpoint and read back with ``weights_only=True``."""
    save_checkpoint(path, {**emb, "kind": "style_embeddings", "format_version": FORMAT_VERSION})


def load_style_embeddings(path: str | os.PathLike[str]) -> dict[str, Any]:
    emb = load_checkpoint(path)
    if emb.get("kind") != "style_embeddings":
        raise WikiartError(f"{path} is not a style embeddings file")
    return emb


def color_stats(data: CachedImageDataset, k: int, batch_size: int = 128) -> dict[str, list]:
    """Per-style average of each image's per-channel colour mean and spread (in [0, 1]): what
    the colour-statistics baseline moves an image to."""
    loader = make_loader(data, batch_size=batch_size)
    sums = torch.zeros(k, 2, 3, dtype=torch.float64)
    counts = torch.zeros(k, dtype=torch.float64)
    for x, y in loader:
        x01 = x.double() / 255
        m = x01.mean(dim=(2, 3))
        s = x01.var(dim=(2, 3), unbiased=False).add(1e-5).sqrt()
        sums.index_add_(0, y, torch.stack([m, s], 1))
        counts.index_add_(0, y, torch.ones(len(y), dtype=torch.float64))
    avg = sums / counts.clamp_min(1)[:, None, None]
    return {"mean": avg[:, 0].float().tolist(), "std": avg[:, 1].float().tolist()}


def other_styles(labels: torch.Tensor, k: int) -> torch.Tensor:
    """A uniformly random style different from each label (``k >= 2``)."""
    shift = torch.randint(1, k, labels.shape, device=labels.device)
    return (labels + shift) % k


def _lite_features(device: torch.device) -> nn.Module | None:
    """The frozen ImageNet Lite0 early stages, or None where its weights package is missing."""
    from wikiart.autoencode import perceptual_features

    try:
        return perceptual_features(device)
    except WikiartError as exc:
        log.warning("no pretrained features (%s)", exc)
        return None


# -- training --------------------------------------------------------------------------------
def _payload_extra(
    model: StyleGenerator,
    cfg: StylegenConfig,
    colors: dict,
    clf_info: dict,
    texture: dict[str, list[torch.Tensor]] | None = None,
) -> dict[str, Any]:
    extra = {} if texture is None else {"texture_stats": texture}
    return {
        **extra,
        "kind": KIND,
        "model_config": dict(model.config),
        "classes": list(model.style_names),
        "preprocess": {
            "image_size": model.image_size,
            "fit": cfg.data.fit,
            "mean": list(model.mean),
            "std": list(model.std),
        },
        "color_stats": colors,
        "classifier": clf_info,
    }


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


@torch.no_grad()
def texture_stats(
    features: nn.Module,
    data: CachedImageDataset,
    k: int,
    device: torch.device,
    batch_size: int = 64,
) -> dict[str, list[torch.Tensor]]:
    """Per-style average, over the training images, of each image's per-channel mean and
    standard deviation in every layer of the frozen pretrained ``features`` (the statistics
    that AdaIN and neural style transfer treat as a texture's signature): ``{"mean": [k x C_l
    per layer], "std": [...]}``, on the CPU."""
    loader = make_loader(data, batch_size=batch_size)
    sums: list[torch.Tensor] = []
    counts = torch.zeros(k, dtype=torch.float64)
    for x, y in loader:
        maps = features(x.to(device).float() / 255)
        stats = [torch.cat([s.flatten(1) for s in channel_mean_std(m.float())], 1) for m in maps]
        if not sums:
            sums = [torch.zeros(k, st.shape[1], dtype=torch.float64) for st in stats]
        for acc, st in zip(sums, stats, strict=True):
            acc.index_add_(0, y, st.double().cpu())
        counts.index_add_(0, y, torch.ones(len(y), dtype=torch.float64))
    avg = [(acc / counts.clamp_min(1)[:, None]).float() for acc in sums]
    half = [a.shape[1] // 2 for a in avg]
    return {
        "mean": [a[:, :h].contiguous() for a, h in zip(avg, half, strict=True)],
        "std": [a[:, h:].contiguous() for a, h in zip(avg, half, strict=True)],
    }


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


def make_stylegen_loss(
    clf: nn.Module,
    clf_size: int,
    cfg: StylegenConfig,
    features: nn.Module | None,
    emb: dict[str, Any] | None = None,
    texture: dict[str, list[torch.Tensor]] | None = None,
):
    """``(generator, uint8 batch, labels) -> (loss, parts)``; see the module docstring. ``emb``
    (the style embeddings) is needed for the embedding-statistics term only, ``texture``
    (`texture_stats`) for the texture term only; both need ``features`` for the content and
    texture terms."""
    from wikiart.models.perceptual import relative_distance

    if emb is not None:  # plain copies: tensors made under inference_mode cannot enter autograd
        mu, sd = emb["embed_mean"].clone(), emb["embed_std"].clone()
        table = standardised_table(emb).clone()

    def loss_fn(g: StyleGenerator, x: torch.Tensor, y: torch.Tensor):
        k = len(g.style_names)
        x01 = x.float() / 255
        code = g.encode(x)
        own = g.decode(code, y).float()
        rec = F.l1_loss(own, x01)
        total, parts = cfg.rec_weight * rec, {"rec": rec.detach()}
        if k < 2:
            return total, parts
        t = other_styles(y, k)
        swapped = g.decode(code, t).float()
        seen = random_view(swapped) if cfg.style_augment else swapped
        logits = clf(classifier_view(clf, seen, clf_size)).float()
        ce_each = F.cross_entropy(logits, t, reduction="none")
        parts["style_ce"] = ce_each.mean().detach()
        parts["style_acc"] = (logits.argmax(1) == t).float().mean()
        # a hinge: once the target's cross-entropy is under the margin, that render stops
        # pulling (no reward for fooling the frozen classifier ever harder)
        ce = ce_each.clamp_min(cfg.style_margin).mean() if cfg.style_margin > 0 else ce_each.mean()
        total = total + cfg.style_weight * ce
        if cfg.layout_weight > 0:
            # the composition and palette at 1/8 resolution: free to change strokes and texture
            cells = max(1, swapped.shape[-1] // 8)
            layout = F.l1_loss(
                F.adaptive_avg_pool2d(swapped, cells), F.adaptive_avg_pool2d(x01, cells)
            )
            parts["layout"] = layout.detach()
            total = total + cfg.layout_weight * layout
        use_content = cfg.content_weight > 0 and features is not None
        use_texture = cfg.texture_weight > 0 and features is not None and texture is not None
        if use_content or use_texture:
            got = features(swapped)
            if use_content:
                with torch.no_grad():
                    want = features(x01)
                content = relative_distance(got, want)
                parts["content"] = content.detach()
                total = total + cfg.content_weight * content
            if use_texture:
                tex = texture_distance(got, t, texture)  # type: ignore[arg-type]
                parts["texture"] = tex.detach()
                total = total + cfg.texture_weight * tex
        if cfg.code_weight > 0:
            code_sw = g.encode(as_model_input(g.normalizer, swapped))
            code_l = F.l1_loss(code_sw[0].float(), code[0].detach().float())
            parts["code"] = code_l.detach()
            total = total + cfg.code_weight * code_l
        if cfg.stats_weight > 0 and emb is not None:
            z = clf.embed(classifier_view(clf, swapped, clf_size)).float()
            z = (z - mu.to(z.device)) / sd.to(z.device)
            stats = F.mse_loss(z, table.to(z.device)[t])
            parts["stats"] = stats.detach()
            total = total + cfg.stats_weight * stats
        return total, parts

    return loss_fn


def train_stylegen(
    cfg: StylegenConfig, out: str | os.PathLike[str], *, progress: bool = False
) -> dict[str, Any]:
    """Embed the styles with the frozen classifier, train the generator with the shared loop,
    then write ``loss.png`` and a ``grid.png`` of test renders. Returns the last epoch's row."""
    from wikiart.classify import load_classifier

    out = Path(out)
    t_start = time.perf_counter()
    device = resolve_device(cfg.device)
    seed_all(cfg.seed, cfg.deterministic)
    clf, clf_payload = load_classifier(cfg.classifier, device)  # type: ignore[arg-type]
    clf = freeze(clf)
    classes = ClassMap(tuple(clf_payload["classes"]))
    ds = open_dataset(cfg.data.data, split_csv=cfg.data.split_csv)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.resume:
        check_same_run(cfg, out)
    save_config(cfg, out)
    cache = {
        "source": ds.root,
        "cache_root": cfg.data.cache_dir,
        "workers": cfg.data.decode_workers,
        "progress": progress,
    }
    clf_size = int(cfg.classifier_size or clf_payload["preprocess"]["image_size"])
    emb_path = out / EMBEDDINGS_FILE
    if cfg.resume and emb_path.exists():
        emb = load_style_embeddings(emb_path)
    else:
        clf_pre = clf_payload["preprocess"]
        at_clf = prepare_split(
            ds.split("train"),
            classes,
            split="train",
            image_size=clf_pre["image_size"],
            fit=clf_pre.get("fit", "crop"),
            **cache,
        )
        emb = style_embeddings(clf, at_clf, classes.classes, device, cfg.batch_size)
        emb["classifier"] = str(cfg.classifier)
        save_style_embeddings(emb_path, emb)
    size = cfg.data.image_size
    full = prepare_split(
        ds.split("train"), classes, split="train", image_size=size, fit=cfg.data.fit, **cache
    )
    colors = color_stats(full, len(classes))
    train = full.subset(np.arange(len(full)), train_transform(size, scale=(0.8, 1.0)))
    loader = make_loader(
        train,
        batch_size=cfg.batch_size,
        shuffle=True,
        seed=cfg.seed,
        num_workers=loader_workers(cfg.loader_workers),
        drop_last=len(train) > cfg.batch_size,
    )
    model = StyleGenerator(
        size,
        list(classes.classes),
        standardised_table(emb),
        widths=cfg.widths,
        code_channels=cfg.code_channels,
        hidden=cfg.hidden,
        norm=cfg.norm,
        skips=cfg.skips,
        padding=cfg.padding,
    ).to(device)
    log.info(
        "stylegen: %d styles, embedding %d, code %s, %d parameters; %d training images at %d px",
        len(classes),
        model.style_dim,
        "x".join(map(str, model.code_shape)),
        sum(p.numel() for p in model.parameters()),
        len(train),
        size,
    )
    need = cfg.content_weight > 0 or cfg.texture_weight > 0
    features = _lite_features(device) if need else None
    texture = None
    if features is not None and cfg.texture_weight > 0:
        texture = texture_stats(features, full, len(classes), device, cfg.batch_size)
    # on the training device once (the checkpoint keeps the CPU copy), not once per step
    on_device = (
        None if texture is None else {k: [t.to(device) for t in v] for k, v in texture.items()}
    )
    loss_fn = make_stylegen_loss(clf, clf_size, cfg, features, emb, on_device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=max(1, len(loader) * cfg.epochs), pct_start=0.15
    )

    def step(m: nn.Module, batch, dev: torch.device) -> StepOutput:
        x = batch[0].to(dev, non_blocking=True)
        y = batch[1].to(dev, non_blocking=True)
        loss, parts = loss_fn(m, x, y)  # type: ignore[arg-type]
        return StepOutput(loss, len(x), parts)

    clf_info = {"path": str(cfg.classifier), "sha256": file_digest(cfg.classifier)}
    loop = LoopConfig.for_job(cfg, device, out, progress, patience=None)  # nothing monitored
    result = fit(
        model,
        opt,
        loader,
        step,
        loop,
        scheduler=sched,
        make_payload_extra=lambda: _payload_extra(model, cfg, colors, clf_info, texture),
    )
    from wikiart.report.classifier_plots import plot_history

    plot_history(
        result.history,
        out / "loss.png",
        keys=(
            "train_loss",
            "train_rec",
            "train_style_ce",
            "train_layout",
            "train_content",
            "train_texture",
        ),
        metric_keys=("train_style_acc",),
    )
    gen, _ = load_stylegen(out / "model.pt", device)
    split = "test" if "test" in ds.splits else "train"
    test = prepare_split(
        ds.split(split), classes, split=split, image_size=size, fit=cfg.data.fit, **cache
    )
    pick = pick_per_style(test.labels, cfg.samples, cfg.seed)
    x = torch.stack([test.raw(i) for i in pick]) if pick else torch.zeros(0, 3, size, size)
    write_grid(gen, x, [classes.classes[test.labels[i]] for i in pick], None, out / "grid.png")
    row = dict(result.history[-1]) if result.history else {}
    row["seconds"] = time.perf_counter() - t_start
    return row


# -- loading and rendering -------------------------------------------------------------------
def load_stylegen(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[StyleGenerator, dict[str, Any]]:
    """Rebuild a style generator (with its style table) from its checkpoint alone."""
    payload = load_checkpoint(path)
    check_kind(payload, KIND, path)
    pre = payload["preprocess"]
    model = build_stylegen(
        **payload["model_config"], mean=tuple(pre["mean"]), std=tuple(pre["std"])
    )
    load_weights(model, payload, path)
    return model.to(device).eval(), payload


@torch.inference_mode()
def render(
    model: StyleGenerator, x: torch.Tensor, styles: Sequence[int], batch_size: int = 64
) -> torch.Tensor:
    """uint8 images ``N x 3 x S x S`` -> ``N x len(styles) x 3 x S x S`` renders in [0, 1]."""
    device = next(model.parameters()).device
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        code = model.encode(xb)
        per = [
            model.decode(code, torch.full((len(xb),), s, device=device, dtype=torch.long))
            for s in styles
        ]
        outs.append(torch.stack(per, 1).float().cpu())
    if not outs:
        return torch.zeros(0, len(styles), 3, model.image_size, model.image_size)
    return torch.cat(outs)


def write_grid(
    model: StyleGenerator,
    x: torch.Tensor,
    row_labels: Sequence[str],
    styles: Sequence[str] | None,
    path: Path,
) -> Path:
    """Rows: inputs; columns: original, own-style reconstruction, then each style."""
    from wikiart.report.stylegen_plots import plot_render_grid

    styles = list(model.style_names) if styles is None else list(styles)
    own = [model.style_index(s) for s in row_labels]
    idx = [model.style_index(s) for s in styles]
    r = render(model, x, idx)
    own_r = (
        torch.stack([render(model, x[i : i + 1], [own[i]])[0, 0] for i in range(len(x))])
        if len(x)
        else r[:, :0].squeeze(1)
    )
    cols = [x.permute(0, 2, 3, 1).numpy(), _hwc(own_r)] + [_hwc(r[:, j]) for j in range(len(idx))]
    cells = [[c[i] for c in cols] for i in range(len(x))]
    return plot_render_grid(cells, list(row_labels), ["original", "own style", *styles], path)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return to_uint8(t).permute(0, 2, 3, 1).numpy()


def read_image(path: str | os.PathLike[str], size: int, fit: str = "crop") -> torch.Tensor:
    """An image file -> ``3 x size x size`` uint8, resized the way training data was."""
    from wikiart.data.images import decode_fitted

    try:
        with open(path, "rb") as fh:
            arr = decode_fitted(fh.read(), size, fit)  # type: ignore[arg-type]
    except OSError as exc:
        raise WikiartError(f"cannot read {display(path)}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise WikiartError(f"{display(path)} is not a usable image: {exc}") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def render_command(
    checkpoint: str | os.PathLike[str],
    images: Sequence[str | os.PathLike[str]],
    styles: Sequence[str],
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
) -> list[Path]:
    """`wikiart render`: one PNG per (image, style) and ``grid.png``; returns the PNGs."""
    from PIL import Image

    dev = resolve_device(device)
    model, payload = load_stylegen(checkpoint, dev)
    if not styles:
        raise WikiartError(f"no --style given; this model knows {model.style_names}")
    idx = [model.style_index(s) for s in styles]  # unknown names fail before any work
    pre = payload["preprocess"]
    x = torch.stack([read_image(p, model.image_size, pre.get("fit", "crop")) for p in images])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = render(model, x, idx)
    written = []
    for i, src in enumerate(images):
        stem = Path(os.fsdecode(src)).stem
        for j, name in enumerate(styles):
            path = out / f"{i:03d}_{stem}_{name}.png"
            Image.fromarray(_hwc(r[i : i + 1, j])[0]).save(path)
            written.append(path)
    _grid_for_files(model, x, [Path(os.fsdecode(p)) for p in images], list(styles), out)
    return written


def _grid_for_files(
    model: StyleGenerator, x: torch.Tensor, paths: list[Path], styles: list[str], out: Path
) -> Path:
    """The render grid for image files: an image's own style is its parent folder's name
    (the WikiArt layout) when the model knows it; otherwise that cell stays empty."""
    from wikiart.report.stylegen_plots import plot_render_grid

    r = render(model, x, [model.style_index(s) for s in styles])
    rows, labels = [], []
    for i, path in enumerate(paths):
        own_name = path.parent.name if path.parent.name in model.style_names else None
        own = None
        if own_name is not None:
            own = _hwc(render(model, x[i : i + 1], [model.style_index(own_name)])[:, 0])[0]
        rows.append(
            [
                x[i].permute(1, 2, 0).numpy(),
                own,
                *(_hwc(r[i : i + 1, j])[0] for j in range(len(styles))),
            ]
        )
        labels.append(f"{path.name}\n({own_name})" if own_name else path.name)
    return plot_render_grid(rows, labels, ["original", "own style", *styles], out / "grid.png")


# -- evaluation by an independent judge ------------------------------------------------------
def evaluate_stylegen(
    checkpoint: str | os.PathLike[str],
    judge: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    device: str = "auto",
    batch_size: int = 64,
    max_per_style: int | None = None,
    cache_dir: str | None = None,
    progress: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Swap success, floor and colour baseline by the judge; SSIM and pretrained-feature
    distance of render and baseline against the input. Writes ``stylegen_eval.json`` and
    ``grid.png`` into ``out``."""
    from wikiart.classify import load_classifier
    from wikiart.models.perceptual import relative_distance

    dev = resolve_device(device)
    model, payload = load_stylegen(checkpoint, dev)
    if not Path(judge).is_file():
        raise WikiartError(f"judge checkpoint not found: {judge}")
    trained_with = payload.get("classifier", {})
    same_path = trained_with.get("path") and Path(trained_with["path"]).resolve() == (
        Path(judge).resolve()
    )
    if same_path or trained_with.get("sha256") == file_digest(judge):
        raise WikiartError(
            f"the judge {judge} is the classifier this generator was trained against; train an "
            "independent judge (another --arch or --seed) and pass that"
        )
    jm, jp = load_classifier(judge, dev)
    jm = freeze(jm)
    judge_classes = list(jp["classes"])
    missing = [s for s in model.style_names if s not in judge_classes]
    if missing:
        raise WikiartError(f"the judge does not know style(s) {missing}; it knows {judge_classes}")
    to_judge = torch.tensor([judge_classes.index(s) for s in model.style_names], device=dev)
    judge_size = int(jp["preprocess"]["image_size"])
    classes = ClassMap(tuple(model.style_names))
    root, refs = open_eval_split(data)
    size = model.image_size
    cache = {"source": root, "cache_root": cache_dir, "workers": None, "progress": progress}
    test = prepare_split(refs, classes, split="test", image_size=size, **cache)
    keep = np.arange(len(test))
    if max_per_style:
        rng = np.random.default_rng(seed)
        keep = np.sort(
            np.concatenate(
                [
                    rng.permutation(np.flatnonzero(test.labels == c))[:max_per_style]
                    for c in np.unique(test.labels)
                ]
            )
        )
        test = test.subset(keep)
    if len(test) == 0:
        raise WikiartError(f"no usable test images in {display(root)}")
    colors = payload["color_stats"]
    cmean = torch.tensor(colors["mean"], device=dev)
    cstd = torch.tensor(colors["std"], device=dev)
    features = _lite_features(dev)
    k = len(classes)

    def judge_pred(x01: torch.Tensor) -> torch.Tensor:
        u8 = to_uint8(x01)
        if judge_size != size:
            u8 = to_uint8(
                F.interpolate(u8.float() / 255, size=(judge_size, judge_size), mode="bilinear")
            )
        return jm(u8).float().argmax(1)

    sums = {k_: 0.0 for k_ in ("swap", "floor", "base", "ssim", "fd", "base_ssim", "base_fd")}
    own_ssim = 0.0
    per_target = torch.zeros(k, 2)
    pairs = 0
    loader = make_loader(test, batch_size=batch_size)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            x01 = x.float() / 255
            code = model.encode(x)
            own = model.decode(code, y).float()
            own_ssim += float(ssim(own, x01).sum())
            floor_pred = judge_pred(x01)
            want = features(x01) if features is not None else None  # once for every target
            for t in range(k):
                sel = y != t
                if not sel.any():
                    continue
                n = int(sel.sum())
                tt = torch.full((n,), t, device=dev, dtype=torch.long)
                r = model.decode(tuple(c[sel] for c in code), tt).float()
                b = match_channel_stats(x01[sel], cmean[t], cstd[t])
                hit = judge_pred(r) == to_judge[t]
                sums["swap"] += float(hit.sum())
                sums["floor"] += float((floor_pred[sel] == to_judge[t]).sum())
                sums["base"] += float((judge_pred(b) == to_judge[t]).sum())
                sums["ssim"] += float(ssim(r, x01[sel]).sum())
                sums["base_ssim"] += float(ssim(b, x01[sel]).sum())
                if want is not None:
                    target = [w[sel] for w in want]
                    sums["fd"] += float(relative_distance(features(r), target)) * n
                    sums["base_fd"] += float(relative_distance(features(b), target)) * n
                per_target[t, 0] += float(hit.sum())
                per_target[t, 1] += n
                pairs += n
    if pairs == 0:
        raise WikiartError("no (image, other style) pairs: the test split needs 2+ styles")
    fd = (lambda v: round(v / pairs, 4)) if features is not None else (lambda v: None)
    result = {
        "pairs": pairs,
        "swap_success": round(sums["swap"] / pairs, 4),
        "floor": round(sums["floor"] / pairs, 4),
        "color_baseline": round(sums["base"] / pairs, 4),
        "ssim": round(sums["ssim"] / pairs, 4),
        "feature_distance": fd(sums["fd"]),
        "color_baseline_ssim": round(sums["base_ssim"] / pairs, 4),
        "color_baseline_feature_distance": fd(sums["base_fd"]),
        "own_style_ssim": round(own_ssim / len(test), 4),
        "images": len(test),
        "styles": list(model.style_names),
        "swap_success_per_target": {
            s: round(float(per_target[i, 0] / per_target[i, 1].clamp_min(1)), 4)
            for i, s in enumerate(model.style_names)
        },
        "judge": {"path": str(judge), "arch": jp["model_config"].get("arch"), "size": judge_size},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stylegen_eval.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    pick = pick_per_style(test.labels, 6, seed)
    xs = torch.stack([test.raw(i) for i in pick])
    write_grid(
        model.to(dev), xs, [classes.classes[test.labels[i]] for i in pick], None, out / "grid.png"
    )
    return result


EVAL_HEADER = (
    "pairs",
    "swap success",
    "floor",
    "colour baseline",
    "SSIM",
    "baseline SSIM",
    "feature dist.",
    "baseline feature dist.",
)


def eval_row(r: dict[str, Any]) -> list[Any]:
    return [
        r["pairs"],
        r["swap_success"],
        r["floor"],
        r["color_baseline"],
        r["ssim"],
        r["color_baseline_ssim"],
        r["feature_distance"],
        r["color_baseline_feature_distance"],
    ]


def format_table(r: dict[str, Any]) -> str:
    """The one table `wikiart evaluate` prints for a stylegen checkpoint."""
    cells = [[str(h) for h in EVAL_HEADER], [_cell(v) for v in eval_row(r)]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(EVAL_HEADER))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)
