"""Covariance matching (whitening-colouring, Li et al. 2017) against AdaIN, on one decoder.

AdaIN matches each channel's mean and standard deviation at the AdaIN layer; the
whitening-colouring transform (WCT) matches the whole covariance of the channels, C(C+1)/2
numbers instead of C. This probe keeps a trained single-level transfer checkpoint's encoder and
decoder and swaps the transform: each test image's map at the AdaIN layer is whitened and
coloured with the covariance and mean of its target style's medoid painting (the painting the
checkpoint's `--bank medoid` picks, among at most --bank-images training paintings per style),
then decoded. Scored by ``wikiart evaluate``'s scorer and judge on the same test images, so the
figures sit beside the checkpoint's own ``stylegen_eval.json``. (Li et al. decode WCT features
with decoders trained for reconstruction; this one was trained on AdaIN's targets, whose
statistics are close.)

    python bench/transfer_wct.py --checkpoint RUN/model.pt --judge JUDGE/model.pt --data DATA \
        --out OUT [--max-per-style 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch


def wct(
    x: torch.Tensor, mean: torch.Tensor, colour: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Each map of ``x`` (``N x C x H x W``) whitened, then coloured by ``colour``
    (``N x C x C``, a style covariance's square root) and shifted to ``mean`` (``N x C``)."""
    n, c, h, w = x.shape
    f = x.double().reshape(n, c, h * w)
    f = f - f.mean(2, keepdim=True)
    cov = f @ f.transpose(1, 2) / max(h * w - 1, 1) + eps * torch.eye(c, dtype=f.dtype)
    vals, vecs = torch.linalg.eigh(cov)
    white = vecs @ torch.diag_embed(vals.clamp_min(eps).rsqrt()) @ vecs.transpose(1, 2) @ f
    out = colour.double() @ white + mean.double()[..., None]
    return out.reshape(n, c, h, w).to(x.dtype)


def covariance_root(x: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """One map's (``1 x C x H x W``) channel mean and the square root of its covariance."""
    _, c, h, w = x.shape
    f = x.double().reshape(c, h * w)
    mean = f.mean(1)
    f = f - mean[:, None]
    cov = f @ f.T / max(h * w - 1, 1) + eps * torch.eye(c, dtype=f.dtype)
    vals, vecs = torch.linalg.eigh(cov)
    return mean, vecs @ torch.diag(vals.clamp_min(eps).sqrt()) @ vecs.T


def main() -> None:
    from wikiart.checkpoints import load_model
    from wikiart.data.classmap import ClassMap
    from wikiart.data.dataset import open_dataset
    from wikiart.data.loader import make_loader, prepare_split
    from wikiart.data.splits import cap_per_style
    from wikiart.eval.judge import load_judge
    from wikiart.eval.repaint import _Scorer, _test_images
    from wikiart.models.perceptual import optional_perceptual_features

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="a single-level transfer model.pt")
    ap.add_argument("--judge", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-per-style", type=int, default=10)
    ap.add_argument("--bank-images", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    dev = torch.device("cpu")
    _, model, payload = load_model(args.checkpoint, dev, kind="transfer")
    if model.levels != 1:
        raise SystemExit("WCT here needs a single-level (--levels 1) checkpoint")
    classes = ClassMap(tuple(model.style_names))
    ds = open_dataset(args.data)
    train = prepare_split(
        ds.split("train"), classes, split="train", image_size=model.image_size,
        source=ds.cache_source, progress=False,
    )  # fmt: skip
    train = train.subset(cap_per_style(train.labels, args.bank_images, args.seed))
    bank = _wct_bank(model, train, len(classes))

    class Whitened(type(model)):  # type: ignore[misc]
        """The checkpoint with WCT to the style's medoid in place of AdaIN."""

        def decode(self, codes: tuple[torch.Tensor, ...], style: torch.Tensor) -> torch.Tensor:
            fmap, sizes = codes
            means = torch.stack([bank[int(r)][0] for r in style])
            roots = torch.stack([bank[int(r)][1] for r in style])
            h, w = (int(v) for v in sizes[0])
            return self.render([wct(fmap, means, roots)])[..., :h, :w].clamp(0, 1)

    model.__class__ = Whitened
    referee, _ = load_judge(args.judge, payload, model, dev)
    test = _test_images(args.data, classes, model.image_size,
                        {"cache_root": None, "workers": None, "progress": False},
                        args.max_per_style, args.seed)  # fmt: skip
    scorer = _Scorer(model, referee, optional_perceptual_features(dev), payload["color_stats"], dev)
    with torch.inference_mode():
        for x, y in make_loader(test, batch_size=32):
            scorer.add_batch(x, y)
    result: dict[str, Any] = scorer.result(len(test))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "wct_eval.json").write_text(json.dumps(result, indent=2))
    keys = ("swap_success", "floor", "color_baseline", "ssim", "own_style_ssim")
    print({k: result[k] for k in keys})


@torch.no_grad()
def _wct_bank(model: Any, data: Any, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per style: the mean and covariance root, at the AdaIN layer, of the painting whose
    channel mean/std the checkpoint's medoid bank holds (the nearest such painting)."""
    best: list[tuple[float, tuple[torch.Tensor, torch.Tensor]]] = [(float("inf"), None)] * k  # type: ignore[list-item]
    for i in range(len(data)):
        x, y = data[i]
        fmap = model.codes(x[None].float() / 255)[-1]
        mean, std = model.statistics([fmap])
        gap = float(
            (mean[0] - model.style_mean[y]).abs().sum() + (std[0] - model.style_std[y]).abs().sum()
        )
        if gap < best[y][0]:
            best[y] = (gap, covariance_root(fmap))
    return [b[1] for b in best]


if __name__ == "__main__":
    main()
