"""The diffusion job's stage of `wikiart demo`: the packaged base (``builtin``, trained once on
real WikiArt paintings) draws its styles, then a short LoRA adapts it to one of the demo's own
synthetic styles, judged before and after by the demo's independent 64 px judge (registered as
its `wikiart.jobs.Job.demo`). Skipped, with a note, without the ``diffusion`` extra or the
packaged base."""

from __future__ import annotations

import time
from typing import Any

from wikiart.config import EvaluateConfig
from wikiart.report.stage import DemoStage, train_judge

#: The synthetic style the base never saw that the demo adapts it to, and the adapter's budget:
#: ``LORA_EPOCHS x LORA_STEPS`` optimizer steps of ``LORA_BATCH`` images at rank ``LORA_RANK``
#: (peak learning rate ``LORA_LR``);
#: ``SAMPLES`` samples judged before and after, ``BASE_SAMPLES`` per style in the base's grid,
#: every one drawn with ``STEPS`` DDIM steps (the checkpoints' default is 25).
LORA_STYLE = "Color_Field_Painting"
LORA_EPOCHS, LORA_STEPS, LORA_BATCH, LORA_RANK, LORA_LR = 4, 15, 16, 8, 1e-3
SAMPLES, BASE_SAMPLES, STEPS = 16, 3, 15


def diffusion_stage(st: DemoStage) -> None:
    """Sample the packaged base, train a short LoRA onto `LORA_STYLE` and judge it. Skipped
    (with a note) where the diffusion extra or the packaged base is missing."""
    from wikiart.builtins import builtin_path
    from wikiart.errors import WikiartError
    from wikiart.models.diffusion import require_diffusers

    try:
        require_diffusers()
        base = builtin_path("diffusion")
    except WikiartError as exc:
        st.skipped("Diffusion", exc)
        return
    from wikiart.device import resolve_device
    from wikiart.diffusion.evaluate import evaluate_diffusion, null_share
    from wikiart.diffusion.generate import open_generator
    from wikiart.diffusion.lora import train_lora
    from wikiart.diffusion.sample import write_sample_grid
    from wikiart.diffusion.settings import resolve_lora_config
    from wikiart.eval.generator import SampleOptions

    gen = open_generator(base, device="cpu")
    size = gen.image_size
    style = _lora_style(st, gen.styles)
    (st.out / "diffusion-base").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_sample_grid(gen, gen.styles, st.out / "diffusion-base" / "grid.png",
                      SampleOptions(n=BASE_SAMPLES, seed=st.seed, steps=STEPS))  # fmt: skip
    base_s = time.perf_counter() - t0
    judge_path, judge_note = _judge(st, size)
    options = SampleOptions(n=SAMPLES, seed=st.seed, steps=STEPS, batch_size=64)
    before = null_share(base, judge_path, style, options, resolve_device("cpu"))
    cfg = resolve_lora_config(None, {
        "base": "builtin", "styles": [style], "epochs": LORA_EPOCHS,
        "steps_per_epoch": LORA_STEPS, "batch_size": LORA_BATCH, "rank": LORA_RANK, "lr": LORA_LR,
        "samples": 2, "sample_steps": STEPS, "seed": st.seed, "overwrite": True,
        "data": st.data(size),
    })  # fmt: skip
    t0 = time.perf_counter()
    row = train_lora(cfg, st.out / "diffusion-lora", progress=st.progress)
    train_s = time.perf_counter() - t0
    res = evaluate_diffusion(
        EvaluateConfig(
            checkpoint=str(st.out / "diffusion-lora" / "model.pt"), judge=str(judge_path),
            data=str(st.data_dir), out=str(st.out / "diffusion-eval"), n_per_style=SAMPLES,
            seed=st.seed, steps=STEPS, cache_dir=st.cache,
        ),
        st.progress,
        feature_size=64,
    )  # fmt: skip
    facts = {"style": style, "before": before, "judge": judge_note, "row": row,
             "train_s": train_s, "base_s": base_s}  # fmt: skip
    _report(st, gen, cfg, res, facts)


def _lora_style(st: DemoStage, known: list[str]) -> str:
    """`LORA_STYLE` where the demo's data has it, else its first style the base does not know
    (else its first style)."""
    have = sorted(p.name for p in (st.data_dir / "train").iterdir() if p.is_dir())
    if LORA_STYLE in have:
        return LORA_STYLE
    return next((s for s in have if s not in known), have[0])


def _judge(st: DemoStage, size: int) -> tuple[Any, str]:
    """The demo's independent judge at ``size`` px (the style generator's, else one trained
    here) and a phrase describing it."""
    from wikiart.checkpoints import load_checkpoint

    path = st.out / "judge" / "model.pt"
    payload = load_checkpoint(path, mmap=True) if path.is_file() else None
    if payload is None or payload["preprocess"]["image_size"] != size:
        path = st.out / "diffusion-judge" / "model.pt"
        train_judge(st, path.parent, st.data(size), st.seed + 2, 8)
        payload = load_checkpoint(path, mmap=True)
    f1 = payload.get("metrics", {}).get("val_macro_f1", float("nan"))
    arch = payload["model_config"].get("arch")
    return path, f"{arch} at {size} px, validation macro-F1 {f1:.3f} ({path.parent.name}/)"


def _report(st: DemoStage, gen: Any, cfg: Any, res: dict[str, Any], facts: dict[str, Any]) -> None:
    """The report's diffusion section: the base's styles, the adapter before and after."""
    style = facts["style"]
    new = (
        ", which it never saw"
        if style not in gen.styles
        else " (a name it knows from real paintings)"
    )
    st.report.section("Diffusion")
    st.report.text(
        f"The packaged diffusion base ({gen.describe}: a class-conditional latent diffusion "
        f"model trained once on real WikiArt paintings, see docs/models.md) draws each of its "
        f"{len(gen.styles)} styles ({facts['base_s']:.0f} s for the grid here). A LoRA adapter "
        f"(rank {cfg.rank}, {facts['row'].get('adapter_parameters', 0):,} parameters) then "
        f"adapts it to the demo's style {style}{new}: "
        f"{cfg.epochs * (cfg.steps_per_epoch or 0)} steps of {cfg.batch_size} images "
        f"({facts['train_s']:.0f} s here). The demo's independent judge "
        f"({facts['judge']}) assigns {style} to {facts['before']:.0%} of the base's "
        f"'no style' samples before and to "
        f"{res['per_style'][style]['judge_share']:.0%} of the adapter's samples after "
        f"(judge share {res['per_style'][style]['judge_share']:.3f}; real test images: "
        f"{res['per_style'][style]['real_share']:.0%}; chance "
        f"{res['chance']:.0%}). Run folders: diffusion-base/, diffusion-lora/, diffusion-eval/."
    )
    st.report.image(
        st.out / "diffusion-base" / "grid.png", "The packaged base, one row per style", st.out
    )
    if res.get("memorisation"):
        m = res["memorisation"]
        st.report.text(
            f"Fréchet distance of the adapter's samples to the test images in Lite0 features: "
            f"{res['frechet_lite0']} (real training images: "
            f"{res['frechet_lite0_train_vs_test']}). Memorisation check: "
            f"{m['closer_than_test_p5']:.0%} of samples are nearer a training image than 95% of "
            f"test images are (about 5% without copying)."
        )
    st.report.image(
        st.out / "diffusion-eval" / "grid.png",
        f"The adapter's {style}, with the judge's share",
        st.out,
    )
