"""Per-style file counts per split (the course's ``find | uniq -c``), with imbalance ratios."""

from __future__ import annotations

from typing import Any

from wikiart.data.dataset import SPLIT_ORDER, Dataset
from wikiart.data.refs import display


def dataset_stats(ds: Dataset) -> dict[str, Any]:
    """Counts of files per style and split, as found on disk (no decoding)."""
    splits: dict[str, Any] = {}
    names = [s for s in SPLIT_ORDER if s in ds.splits] + sorted(set(ds.splits) - set(SPLIT_ORDER))
    for name in names:
        counts = dict(sorted(ds.counts(name).items()))
        nonzero = [c for c in counts.values() if c]
        splits[name] = {
            "total": sum(counts.values()),
            "styles": len(counts),
            "imbalance_ratio": round(max(nonzero) / min(nonzero), 3) if nonzero else None,
            "counts": counts,
        }
    styles = sorted({s for v in splits.values() for s in v["counts"]})
    return {"root": display(ds.root), "kind": ds.kind, "styles": styles, "splits": splits}


def format_stats(stats: dict[str, Any]) -> str:
    """A fixed-width table: one row per style, one column per split."""
    splits = list(stats["splits"])
    width = max([len("style"), len("imbalance (max/min)")] + [len(s) for s in stats["styles"]])
    col = max([7] + [len(s) for s in splits])
    lines = [f"{stats['root']} ({stats['kind']})", ""]
    lines.append(f"{'style':<{width}}  " + "  ".join(f"{s:>{col}}" for s in splits))
    lines.append("-" * (width + (col + 2) * len(splits)))
    for style in stats["styles"]:
        cells = [stats["splits"][s]["counts"].get(style, 0) for s in splits]
        lines.append(f"{style:<{width}}  " + "  ".join(f"{c:>{col}}" for c in cells))
    lines.append("-" * (width + (col + 2) * len(splits)))
    totals = [stats["splits"][s]["total"] for s in splits]
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{t:>{col}}" for t in totals))
    ratios = []
    for s in splits:
        r = stats["splits"][s]["imbalance_ratio"]
        ratios.append(f"{r:>{col}.1f}" if r is not None else f"{'-':>{col}}")
    lines.append(f"{'imbalance (max/min)':<{width}}  " + "  ".join(ratios))
    return "\n".join(lines)
