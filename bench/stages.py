"""What the bench scripts made of stages share (``diffusion_builtin.py``, ``transfer_builtin.py``):
their common flags, and the loop that runs the stages asked for into ``OUT/bench.json``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Stage = Callable[[argparse.Namespace, Path], dict[str, Any]]


def stage_parser(
    doc: str | None, data: Path, export_to: Path, stages: str
) -> argparse.ArgumentParser:
    """``--data``, ``--out``, ``--stages``, ``--device`` and ``--export-to``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(data))
    ap.add_argument("--out", required=True, help="the runs' folder (keep it outside the repo)")
    ap.add_argument("--stages", default=stages)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--export-to", default=str(export_to))
    return ap


def run_stages(
    args: argparse.Namespace,
    stages: dict[str, Stage],
    machine: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Each of ``args.stages`` in turn, its result and seconds kept in ``OUT/bench.json`` (with
    the ``machine`` it ran on) as soon as it ends."""
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "bench.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    for name in args.stages.split(","):
        t0 = time.perf_counter()
        summary[name] = stages[name](args, out)
        summary[name]["stage_seconds"] = round(time.perf_counter() - t0, 1)
        if machine is not None:
            summary["machine"] = machine()
        summary_path.write_text(json.dumps(summary, indent=2))
        print(f"[{name}] {summary[name]['stage_seconds']:.0f} s; wrote {summary_path}", flush=True)
