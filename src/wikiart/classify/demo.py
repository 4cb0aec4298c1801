"""The classifier's stage of `wikiart demo` (registered as its `wikiart.jobs.Job.demo`)."""

from __future__ import annotations

from wikiart.classify.presets import resolve_config
from wikiart.classify.train import train_classifier
from wikiart.report.stage import DemoStage


def classifier_stage(st: DemoStage) -> None:
    """Train the from-scratch classifier briefly and st.report its test metrics."""

    run = st.out / "classifier"
    overrides = {
        "arch": "small-resnet",
        "epochs": 7,
        "batch_size": 32,
        # the demo's own settings, pinned (the style generator trains against this classifier):
        # whole 64 px images, pooled features
        "features": "pool",
        "train_scale": 1.0,
        "crop_scale": 0.6,
        "crop_max": 1.0,
        "seed": st.seed,
        "overwrite": True,
        "imbalance": "logit-adjust",
        "data": st.data(min(st.image_size, 64)),
    }
    cfg = resolve_config(None, overrides)
    metrics = train_classifier(cfg, run, progress=st.progress)
    st.report.section("Style classifier")
    st.report.text(
        f"{cfg.arch} trained from scratch for {cfg.epochs} epochs at {cfg.data.image_size} px with "
        f"the {cfg.imbalance} imbalance strategy; the best epoch by validation macro-F1 (a split "
        "carved from train) is evaluated on the test split. Run folder: classifier/."
    )
    if metrics:
        st.report.table(
            ["n", "accuracy", "balanced accuracy", "macro-F1", "top-5"],
            [
                [
                    metrics["n"],
                    metrics["accuracy"],
                    metrics["balanced_accuracy"],
                    metrics["macro_f1"],
                    metrics["top5_accuracy"],
                ]
            ],
        )
        st.report.table(
            ["style", "precision", "recall", "F1", "support"],
            [
                [name, pc["precision"], pc["recall"], pc["f1"], pc["support"]]
                for name, pc in metrics["per_class"].items()
            ],
        )
        st.report.image(run / "confusion.png", "Confusion matrix on the test split", st.out)
    st.report.image(run / "loss.png", "Training loss and validation metrics per epoch", st.out)
