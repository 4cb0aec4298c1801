"""The style generator's stage of `wikiart demo`: an independent judge, the generator, its
re-painting evaluation (registered as its `wikiart.jobs.Job.demo`)."""

from __future__ import annotations

from wikiart.config import EvaluateConfig
from wikiart.eval.repaint import evaluate_repainter
from wikiart.eval.repaint_table import EVAL_HEADER, eval_row
from wikiart.report.stage import DemoStage, train_judge
from wikiart.stylegen.settings import resolve_config as sg_config
from wikiart.stylegen.train import train_stylegen


def stylegen_stage(st: DemoStage) -> None:
    """Train an independent judge (another architecture and seed), then the style generator
    against the demo classifier at 64 px, and score its style swaps with the judge."""

    classifier = st.out / "classifier" / "model.pt"
    if not classifier.exists():
        return
    cache = st.cache
    size = min(st.image_size, 64)
    data = st.data(size)
    judge_cfg, judge = train_judge(st, st.out / "judge", data, st.seed + 1, 8)
    cfg = sg_config(
        None,
        {
            "classifier": str(classifier),
            "epochs": 1,
            "batch_size": 16,
            "seed": st.seed,
            "overwrite": True,
            "data": data,
        },
    )
    row = train_stylegen(cfg, st.out / "stylegen", progress=st.progress)
    res = evaluate_repainter(
        EvaluateConfig(
            checkpoint=str(st.out / "stylegen" / "model.pt"),
            judge=str(st.out / "judge" / "model.pt"), data=str(st.data_dir),
            out=str(st.out / "stylegen-eval"), cache_dir=cache, seed=st.seed, max_per_style=10,
        ),
        st.progress,
    )  # fmt: skip
    st.report.section("Style-conditioned generator")
    st.report.text(
        f"The generator (content code {cfg.code_channels} x {size // 8} x {size // 8}"
        f"{', U-Net skips' if cfg.skips else ''}, every decoder stage modulated by the style "
        f"embedding after {cfg.norm} normalisation) trained for "
        f"{cfg.epochs} epochs at {size} px against the frozen demo classifier "
        f"(last epoch: the classifier saw the target style in "
        f"{row.get('train_style_acc', float('nan')):.0%} of the training renders). "
        f"An independent judge ({judge_cfg.arch}, st.seed {judge_cfg.seed}, test macro-F1 "
        f"{judge.get('macro_f1', float('nan')):.3f}) then labels each test image re-rendered in "
        "every other style: swap success is the share it assigns to the target style; the floor "
        "is that share for the unchanged inputs, the colour baseline for inputs whose channel "
        "means and spreads were moved to the target style's. SSIM and the pretrained-feature "
        "distance compare each render with its input. Run folders: judge/, stylegen/, "
        "stylegen-eval/."
    )
    st.report.table(list(EVAL_HEADER), [eval_row(res)])
    st.report.image(
        st.out / "stylegen-eval" / "grid.png",
        "Test images (rows): original, own-style reconstruction, then every style",
        st.out,
    )
    st.report.image(st.out / "stylegen" / "loss.png", "Style generator losses per epoch", st.out)
