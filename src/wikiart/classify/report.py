"""``report.md`` of a classifier run: the test metrics, per-style scores beside the training
counts, and the figures."""

from __future__ import annotations

from pathlib import Path

from wikiart.files import write_text


def write_report(out: Path, cfg, classes, counts, history, metrics, seconds: float) -> None:
    lines = [
        f"# Style classifier: {cfg.arch}",
        "",
        f"- data: `{cfg.data.data}`, {len(classes)} styles, image size {cfg.data.image_size}",
        f"- mode {cfg.mode}, imbalance `{cfg.imbalance}`, {len(history)} epochs recorded, "
        f"wall time {seconds / 60:.1f} min",
        "",
    ]
    if metrics:
        lines += [
            "## Test split",
            "",
            "| n | accuracy | balanced accuracy | macro-F1 | top-5 |",
            "|---:|---:|---:|---:|---:|",
            f"| {metrics['n']} | {metrics['accuracy']:.3f} | {metrics['balanced_accuracy']:.3f} "
            f"| {metrics['macro_f1']:.3f} | {_fmt(metrics['top5_accuracy'])} |",
            "",
            "| style | train images | precision | recall | F1 | test support |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for i, name in enumerate(classes.classes):
            pc = metrics["per_class"][name]
            lines.append(
                f"| {name} | {int(counts[i])} | {pc['precision']:.3f} | {pc['recall']:.3f} "
                f"| {pc['f1']:.3f} | {pc['support']} |"
            )
        lines += ["", "![confusion matrix](confusion.png)", ""]
    else:
        lines += [
            "## Test split",
            "",
            "The data has no test split, so there are no test metrics (`--test-fraction F` "
            "carves one from train).",
            "",
        ]
    lines += ["## Training", "", "![loss](loss.png)", ""]
    write_text(out / "report.md", "\n".join(lines))


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
