"""AdaIN style transfer against the optimisation baseline, at 512 px on this machine.

For each (content photo, style painting) pair of ../shared/data/style-transfer (both scaled to
--size on their longer side):

- AdaIN: one pass of a trained transfer checkpoint (`wikiart transfer`'s `paint`), timed;
- the baseline (Gatys et al. 2016 with AdaIN's statistics): the content image's pixels optimised
  by Adam (lr --lr) for --iterations steps against the same encoder and the same losses (content
  at the AdaIN taps against the content image's features, channel mean/std at every tap up to
  the AdaIN layer against the style image's, weights --content-weight / --style-weight; pass
  the --style-weight the decoder was trained with), timed.

Reported per method: seconds per image, the style loss (the decoder's training loss, without any
smoothing) and the content loss of the output against the content image's features; and the
share of the baseline's style-loss gap that AdaIN closes: (L(content) - L(AdaIN)) /
(L(content) - L(baseline)), where L(content) is the content image's own style loss. Writes
bench.json and grid.png (contents x styles, AdaIN; and the baseline's for the first pairs).

    python bench/transfer.py --checkpoint builtin [--out runs/bench-transfer] [--pairs 9]

With --sample DATA (e.g. ../shared/data/wikiart-sample) it instead compares, by style name under
one independent judge (baseline-cnn, seed 1, 64 px), the checkpoint with DATA's statistics
(`train transfer --init CHECKPOINT --epochs 0`, medoid and mean banks, at --sample-size) against
the style generator trained by its benchmark recipe (a frozen Lite0 classifier at 96 px, then 4
epochs at 64 px), all through `wikiart evaluate` on the same --max-per-style test images.

    python bench/transfer.py --checkpoint builtin --sample ../shared/data/wikiart-sample

With --judge-arch efficientnet-lite2 --judge-size 224 (a judge that does not share the transfer
encoder: the frozen ImageNet Lite2 at 224 px) and --no-generator it scores the transfer rows
alone at --sample-size (224 px), with --baseline CHECKPOINT beside them (another transfer
checkpoint, e.g. builtin, with the same statistics):

    python bench/transfer.py --checkpoint RUN/model.pt --baseline builtin --sample S \
        --sample-size 224 --judge-arch efficientnet-lite2 --judge-size 224 --no-generator
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent.parent / "shared" / "data" / "style-transfer"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", default="builtin", help="a transfer model.pt, or builtin")
    ap.add_argument("--examples", default=str(EXAMPLES), help="folder with content/ and style/")
    ap.add_argument("--out", default="runs/bench-transfer")
    ap.add_argument("--size", type=int, default=512, help="longer side of content and style")
    ap.add_argument("--iterations", type=int, default=200, help="baseline Adam steps")
    ap.add_argument("--lr", type=float, default=0.02, help="baseline Adam learning rate")
    ap.add_argument("--pairs", type=int, default=6, help="pairs the (slow) baseline runs on")
    ap.add_argument("--content-weight", type=float, default=1.0)
    ap.add_argument("--style-weight", type=float, default=10.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sample", help="a dataset: compare with the style generator instead")
    ap.add_argument("--sample-size", type=int, default=64, help="transfer's render size there")
    ap.add_argument("--max-per-style", type=int, default=10)
    ap.add_argument("--judge-epochs", type=int, default=20)
    ap.add_argument("--stylegen-epochs", type=int, default=4)
    ap.add_argument("--judge-arch", default="baseline-cnn", help="the judge's --arch")
    ap.add_argument("--judge-size", type=int, default=64, help="the judge's --image-size")
    ap.add_argument("--no-generator", action="store_true", help="transfer rows only")
    ap.add_argument("--baseline", help="another transfer checkpoint scored beside --checkpoint")
    args = ap.parse_args()
    if args.sample:
        _against_generator(args)
        return

    import torch

    from wikiart.data.images import read_image_at_most
    from wikiart.device import resolve_device
    from wikiart.transfer import load_transfer, paint, resolve_style

    dev = resolve_device(args.device)
    model, _ = load_transfer(args.checkpoint, dev)
    model.eval()
    root = Path(args.examples)
    contents = sorted((root / "content").glob("*.jpg"))
    styles = sorted((root / "style").glob("*.jpg"))
    if not contents or not styles:
        raise SystemExit(f"no content/ and style/ images in {root}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    imgs = {p.stem: read_image_at_most(p, args.size) for p in contents}
    targets = {p.stem: resolve_style(model, str(p), args.size) for p in styles}
    style_maps = {}
    with torch.inference_mode():
        for p in styles:
            x = read_image_at_most(p, args.size)[None].to(dev).float() / 255
            style_maps[p.stem] = [f.float() for f in model.features(_pad(x, model.stride))]

    # warm-up (first-call allocations), then time every pair
    paint(model, next(iter(imgs.values())), next(iter(targets.values())))
    rows = []
    adain_out: dict[tuple[str, str], torch.Tensor] = {}
    for c, img in imgs.items():
        for s, style in targets.items():
            t0 = time.perf_counter()
            res = paint(model, img, style)
            secs = time.perf_counter() - t0
            adain_out[(c, s)] = res
            lc, ls = _losses(model, res, img, style_maps[s], dev)
            l0 = _losses(model, img.float() / 255, img, style_maps[s], dev)[1]
            rows.append(
                {"content": c, "style": s, "size": list(img.shape[1:]), "adain_s": secs,
                 "style_loss_content": l0, "style_loss_adain": ls, "content_loss_adain": lc}
            )  # fmt: skip
            print(f"{c:>20} x {s:<28} AdaIN {secs:5.2f}s  L_style {l0:8.3f} -> {ls:8.3f}")

    pairs = _spread(rows, args.pairs)
    base_out = {}
    for r in pairs:
        img = imgs[r["content"]]
        t0 = time.perf_counter()
        res = _optimise(model, img, style_maps[r["style"]], args, dev)
        r["baseline_s"] = time.perf_counter() - t0
        base_out[(r["content"], r["style"])] = res
        lc, ls = _losses(model, res, img, style_maps[r["style"]], dev)
        r["style_loss_baseline"], r["content_loss_baseline"] = ls, lc
        gap = r["style_loss_content"] - ls
        r["gap_closed"] = (r["style_loss_content"] - r["style_loss_adain"]) / gap if gap else None
        print(
            f"{r['content']:>20} x {r['style']:<28} baseline {r['baseline_s']:6.1f}s  "
            f"L_style {r['style_loss_content']:8.3f} -> {ls:8.3f} "
            f"(AdaIN {r['style_loss_adain']:.3f}, gap closed {r['gap_closed']:.2f})"
        )

    summary = _summary(rows, pairs, args)
    print(json.dumps(summary, indent=2))
    (out / "bench.json").write_text(
        json.dumps({"summary": summary, "rows": rows, "machine": _machine(torch)}, indent=2)
    )
    _grid(imgs, targets, adain_out, base_out, styles, out)
    print(f"wrote {out}/bench.json, grid.png and baseline_grid.png")


def _against_generator(args) -> None:
    """Judge, generator (its recipe) and transfer (two banks) on one dataset; one table."""
    import wikiart
    from wikiart.eval.repaint_table import EVAL_HEADER, eval_row

    out = Path(args.out)
    data = str(args.sample)
    t0 = time.perf_counter()
    judge = out / "judge"
    # the from-scratch CNN for --judge-epochs, a pretrained one as a frozen probe (its defaults)
    how: dict = {"epochs": args.judge_epochs} if args.judge_arch == "baseline-cnn" else {}
    how = how or {"mode": "frozen"}
    wikiart.train_classifier(
        judge, data=data, arch=args.judge_arch, image_size=args.judge_size, seed=1,
        overwrite=True, **how,
    )  # fmt: skip
    runs = {}
    if not args.no_generator:
        wikiart.train_classifier(
            out / "clf",
            data=data,
            arch="efficientnet-lite0",
            mode="frozen",
            image_size=96,
            overwrite=True,
        )
        wikiart.train_stylegen(
            out / "sg", data=data, classifier=str(out / "clf" / "model.pt"), image_size=64,
            epochs=args.stylegen_epochs, overwrite=True,
        )  # fmt: skip
        runs["style generator"] = out / "sg"
    checkpoints = {"": args.checkpoint} | ({"baseline-": args.baseline} if args.baseline else {})
    for tag, checkpoint in checkpoints.items():
        for bank in ("medoid", "mean"):
            run = out / f"{tag}transfer-{bank}"
            wikiart.train_transfer(
                run,
                data=data,
                init=checkpoint,
                epochs=0,
                bank=bank,
                image_size=args.sample_size,
                overwrite=True,
            )
            runs[f"{tag}transfer ({bank} bank, {args.sample_size} px)"] = run
    rows = {}
    for name, run in runs.items():
        rows[name] = wikiart.evaluate(
            run / "model.pt", data, out / f"{run.name}-eval", judge=judge / "model.pt",
            max_per_style=args.max_per_style, device=args.device,
        )  # fmt: skip
    print("| model | " + " | ".join(EVAL_HEADER) + " | own-style SSIM |")
    for name, res in rows.items():
        cells = [*eval_row(res), res["own_style_ssim"]]
        print(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    summary = {name: {k: v for k, v in res.items() if k != "judge"} for name, res in rows.items()}
    (out / "bench_sample.json").write_text(json.dumps(summary, indent=2))
    print(f"{time.perf_counter() - t0:.0f} s; wrote {out}/bench_sample.json")


def _pad(x, stride):
    from wikiart.models.transfer import pad_to_stride

    return pad_to_stride(x, stride)[0]


def _losses(model, out01, content_u8, style_maps, dev) -> tuple[float, float]:
    """(content loss against the content image's features, style loss against the style's)."""
    import torch

    from wikiart.functional import channel_mean_std, mean_std_loss

    with torch.inference_mode():
        x = _pad(out01[None].to(dev).float(), model.stride)
        c = _pad(content_u8[None].to(dev).float() / 255, model.stride)
        got = model.features(x)
        want = [channel_mean_std(f) for f in style_maps]
        lc = _content(model, got, model.features(c))
        return float(lc), float(mean_std_loss(got, want))


def _content(model, got, want):
    """The content term of the model's training loss: summed over its AdaIN taps (one tap
    unless it was trained with --levels)."""
    from wikiart.functional import content_loss

    return sum(content_loss(got[t], want[t]) for t in model.adain_taps)


def _optimise(model, content_u8, style_maps, args, dev):
    """The baseline: Adam on the pixels from the content image, the same encoder and losses."""
    import torch

    from wikiart.functional import channel_mean_std, mean_std_loss

    c = _pad(content_u8[None].to(dev).float() / 255, model.stride)
    h, w = content_u8.shape[1:]
    with torch.no_grad():
        fc = model.features(c)
        want = [channel_mean_std(f) for f in style_maps]
    x = c.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=args.lr)
    for _ in range(args.iterations):
        got = model.features(x)
        loss = args.content_weight * _content(model, got, fc) + args.style_weight * (
            mean_std_loss(got, want)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()[0, :, :h, :w].cpu()


def _spread(rows, n):
    """``n`` pairs spread over contents and styles (the baseline is slow)."""
    contents = sorted({r["content"] for r in rows})
    styles = sorted({r["style"] for r in rows})
    pick = []
    for i in range(min(n, len(rows))):
        c, s = contents[i % len(contents)], styles[(i * 3) % len(styles)]
        pick.append(next(r for r in rows if r["content"] == c and r["style"] == s))
    return pick


def _summary(rows, pairs, args):
    import statistics as st

    def med(key, rs):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return round(st.median(vals), 4) if vals else None

    def mean(key, rs):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return round(st.fmean(vals), 4) if vals else None

    adain_s, base_s = med("adain_s", rows), med("baseline_s", pairs)
    return {
        "size": args.size,
        "pairs": len(rows),
        "baseline_pairs": len(pairs),
        "baseline_iterations": args.iterations,
        "adain_seconds_median": adain_s,
        "baseline_seconds_median": base_s,
        "speedup": round(base_s / med("adain_s", pairs), 1) if base_s else None,
        "style_loss_content_mean": mean("style_loss_content", rows),
        "style_loss_adain_mean": mean("style_loss_adain", rows),
        "content_loss_adain_mean": mean("content_loss_adain", rows),
        "on_baseline_pairs": {
            "style_loss_content": mean("style_loss_content", pairs),
            "style_loss_adain": mean("style_loss_adain", pairs),
            "style_loss_baseline": mean("style_loss_baseline", pairs),
            "content_loss_adain": mean("content_loss_adain", pairs),
            "content_loss_baseline": mean("content_loss_baseline", pairs),
            "gap_closed_mean": mean("gap_closed", pairs),
            "gap_closed_min": round(min(r["gap_closed"] for r in pairs), 4) if pairs else None,
        },
    }


def _grid(imgs, targets, adain_out, base_out, styles, out):
    from wikiart.report.grids import plot_render_grid
    from wikiart.transfer.stylize import _thumb

    names = [p.stem for p in styles]
    rows = [[None, *(_thumb(targets[s].exemplar) for s in names)]]
    labels = ["style"]
    for c, img in imgs.items():
        rows.append([_thumb(img), *(_thumb(adain_out[(c, s)]) for s in names)])
        labels.append(c)
    plot_render_grid(rows, labels, ["content", *names], out / "grid.png", cell=1.6)
    if base_out:
        brows, blabels = [], []
        for (c, s), res in base_out.items():
            brows.append([_thumb(imgs[c]), _thumb(targets[s].exemplar), _thumb(adain_out[(c, s)]),
                          _thumb(res)])  # fmt: skip
            blabels.append(f"{c}\nx {s}")
        cols = ["content", "style", "AdaIN", "optimisation"]
        plot_render_grid(brows, blabels, cols, out / "baseline_grid.png", cell=2.0)


def _machine(torch) -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }


if __name__ == "__main__":
    main()
