"""Style transfer's stage of `wikiart demo`: the packaged decoder with this collection's
style statistics, scored like the generator (registered as its `wikiart.jobs.Job.demo`)."""

from __future__ import annotations

from wikiart.config import EvaluateConfig
from wikiart.errors import WikiartError
from wikiart.eval.repaint import evaluate_repainter
from wikiart.eval.repaint_table import EVAL_HEADER, eval_row
from wikiart.report.stage import DemoStage
from wikiart.transfer.settings import builtin_path, resolve_config
from wikiart.transfer.train import train_transfer


def transfer_stage(st: DemoStage) -> None:
    """The packaged AdaIN decoder given this collection's style statistics (``train transfer
    --init builtin --epochs 0``), then scored like the generator, by the same judge."""

    judge = st.out / "judge" / "model.pt"
    try:
        builtin_path()
    except WikiartError as exc:
        st.skipped("Style transfer", exc)
        return
    if not judge.exists():
        return
    cache = st.cache
    data = st.data(st.image_size)
    cfg = resolve_config(
        None, {"epochs": 0, "init": "builtin", "seed": st.seed, "overwrite": True, "data": data}
    )
    train_transfer(cfg, st.out / "transfer", progress=st.progress)
    res = evaluate_repainter(
        EvaluateConfig(
            checkpoint=str(st.out / "transfer" / "model.pt"), judge=str(judge),
            data=str(st.data_dir), out=str(st.out / "transfer-eval"), cache_dir=cache,
            seed=st.seed, max_per_style=10,
        ),
        st.progress,
    )  # fmt: skip
    st.report.section("Style transfer")
    st.report.text(
        "The packaged AdaIN decoder (over the frozen ImageNet EfficientNet-Lite0, trained once on "
        "real paintings) with each style of this collection summarised by its paintings' "
        "feature statistics: no training here, only those statistics (`wikiart train transfer "
        f"--init builtin --epochs 0`). The same judge as the generator's scores it at "
        f"{st.image_size} px, on the same test images, so the two rows compare directly; "
        "`wikiart transfer` paints any picture at its own size. Run folders: transfer/, "
        "transfer-eval/."
    )
    st.report.table(list(EVAL_HEADER), [eval_row(res)])
    st.report.image(
        st.out / "transfer-eval" / "grid.png",
        "Test images (rows): original, own style, then every style by name",
        st.out,
    )
