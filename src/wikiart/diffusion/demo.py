"""The diffusion job's stage of `wikiart demo`: a judge, the class-conditional model and its
samples judged (registered as its `wikiart.jobs.Job.demo`). Skipped, with a note, without the
``diffusion`` extra."""

from __future__ import annotations

import time
from typing import Any

from wikiart.config import EvaluateConfig
from wikiart.report.stage import DemoStage, train_judge

#: The demo's diffusion budget: ``EPOCHS x STEPS`` optimizer steps of ``BATCH`` images at
#: ``SIZE`` px (16 px: what a 2-core CPU trains far enough in two minutes), and ``SAMPLES``
#: samples per style judged.
DIFFUSION_EPOCHS, DIFFUSION_STEPS, DIFFUSION_BATCH, DIFFUSION_SAMPLES = 16, 20, 64, 16
DIFFUSION_SIZE = 16


def diffusion_stage(st: DemoStage) -> None:
    """Train a judge at 32 px, then the class-conditional diffusion model, and judge its
    samples. Skipped (with a note) where the diffusion extra is not installed."""
    from wikiart.errors import WikiartError
    from wikiart.models.diffusion import require_diffusers

    try:
        require_diffusers()
    except WikiartError as exc:
        st.skipped("Diffusion", exc)
        return
    from wikiart.diffusion.evaluate import evaluate_diffusion
    from wikiart.diffusion.settings import resolve_config
    from wikiart.diffusion.train import train_diffusion

    cache = st.cache
    data = st.data(DIFFUSION_SIZE)
    judge_cfg, judge = train_judge(st, st.out / "diffusion-judge", data, st.seed + 2, 15)
    cfg = resolve_config(
        None,
        {
            "epochs": DIFFUSION_EPOCHS,
            "steps_per_epoch": DIFFUSION_STEPS,
            "batch_size": DIFFUSION_BATCH,
            "sample_every": 0,
            "samples": 4,
            "seed": st.seed,
            "overwrite": True,
            "data": data,
        },
    )
    t0 = time.perf_counter()
    train_diffusion(cfg, st.out / "diffusion", progress=st.progress)
    train_s = time.perf_counter() - t0
    res = evaluate_diffusion(
        EvaluateConfig(
            checkpoint=str(st.out / "diffusion" / "model.pt"),
            judge=str(st.out / "diffusion-judge" / "model.pt"), data=str(st.data_dir),
            out=str(st.out / "diffusion-eval"), n_per_style=DIFFUSION_SAMPLES, seed=st.seed,
            cache_dir=cache,
        ),
        st.progress,
        feature_size=64,
    )  # fmt: skip
    _report(st, cfg, res, judge_cfg, judge, train_s)


def _report(
    st: DemoStage, cfg: Any, res: dict[str, Any], judge_cfg: Any, judge: dict[str, Any],
    train_s: float,
) -> None:  # fmt: skip
    """The report's diffusion section: the recipe, the judge's shares, the sample grids."""
    st.report.section("Diffusion")
    steps = cfg.epochs * (cfg.steps_per_epoch or 0)
    size = cfg.data.image_size
    st.report.text(
        f"A class-conditional diffusion model (diffusers UNet2DModel, widths "
        f"{', '.join(map(str, cfg.widths))}, a class embedding with one extra 'no style' class) "
        f"trained from scratch at {size} px for {steps} steps of {cfg.batch_size} class-balanced "
        f"images ({train_s:.0f} s here), then sampled with DDIM ({res['sampling']['steps']} "
        f"steps, classifier-free guidance {res['sampling']['guidance']}). An independent judge "
        f"({judge_cfg.arch} at {size} px, st.seed {judge_cfg.seed}, test macro-F1 "
        f"{judge.get('macro_f1', float('nan')):.3f}) labels {res['n_per_style']} samples per "
        f"style: judge share {res['judge_share']:.3f} against chance {res['chance']:.3f}; on real "
        f"test images at {size} px it gets {res['real_share']:.3f} right. Run folders: "
        "diffusion-judge/, diffusion/, diffusion-eval/."
    )
    st.report.table(
        ["style", "judge share", "real share"],
        [[s, v["judge_share"], v["real_share"]] for s, v in res["per_style"].items()],
    )
    if res.get("memorisation"):
        m = res["memorisation"]
        st.report.text(
            f"Fréchet distance to the test images in Lite0 features: {res['frechet_lite0']} "
            f"(real training images: {res['frechet_lite0_train_vs_test']}). Memorisation check: "
            f"{m['closer_than_test_p5']:.0%} of samples are nearer a training image than 95% of "
            f"test images are (about 5% without copying)."
        )
    st.report.image(
        st.out / "diffusion-eval" / "grid.png", "Samples per style, with the judge's share", st.out
    )
    st.report.image(
        st.out / "diffusion-eval" / "nearest.png",
        "The samples nearest a training image, beside it",
        st.out,
    )
