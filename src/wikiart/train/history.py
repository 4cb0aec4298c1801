"""The loop's per-epoch rows: building one, its log line, and ``history.csv``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wikiart.files import write_csv

RESERVED_COLUMNS = ("epoch", "train_loss", "lr", "seconds")


def write_history_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``history.csv`` atomically; columns in first-seen order, gaps as empty cells."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    write_csv(path, rows, columns, lineterminator="\n")


def epoch_row(
    epoch: int,
    train_stats: dict[str, float],
    metrics: dict[str, float],
    lr: float,
    epoch_start: float,
) -> dict[str, Any]:
    """One epoch's history row: epoch, train numbers, eval metrics, LR, then the seconds
    since ``epoch_start`` (a ``time.perf_counter()`` value)."""
    if clash := sorted(set(metrics) & set(train_stats)):
        raise ValueError(f"eval_fn metrics {clash} clash with the train numbers")
    row: dict[str, Any] = {"epoch": epoch, **train_stats, **metrics, "lr": lr}
    row["seconds"] = time.perf_counter() - epoch_start
    return row


def epoch_line(epoch: int, total: int, row: Mapping[str, Any], seen: int, best: bool) -> str:
    """The log line that sums up one epoch's row (``*best`` when the monitor improved)."""
    parts = [f"epoch {epoch}/{total}"]
    for key, value in row.items():
        if key in ("epoch", "lr", "seconds"):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    secs = float(row["seconds"])
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{secs:.1f}s ({seen / max(secs, 1e-9):.0f} samples/s)")
    return "  ".join(parts) + ("  *best" if best else "")
