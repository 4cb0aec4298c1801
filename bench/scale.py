"""How each step's cost grows with the collection: the whole pipeline on three sizes of real
WikiArt paintings, each step a plain `wikiart` command (the code users run) in its own process,
its wall time and peak memory measured from outside.

Sizes (each pooled into ``POOL/train/<Style>/`` links, then re-split by the pipeline itself):

- ``sample``: wikiart-sample's train split (3,209 paintings, 11 styles);
- ``jalpv1``: `jalpv1/wiki-art-selected-resized` at HEAD (10 styles, ~17.7k; file names carry
  the artist, so the split is artist-disjoint);
- ``both``: jalpv1 and `eliogrande/TheEndlessTuning_WikiArt224` (7 styles x 4,000, letterboxed:
  the pads cropped off by ``bench/endless_tuning_data.py``'s `crop_pads`; numeric names, no
  artists: each of its paintings is its own group, so that part is split by image) - 16 styles,
  ~45.7k paintings (Impressionism comes from both).

Steps, per size: ``check`` (`data check` on the pool), ``split`` (`data split --by artist`,
70/10/20, copies of a painting kept in one split), ``cache`` (`data cache` of the split at
the classifier's size), ``classifier``
(`train classifier --mode frozen`: the offline ImageNet Lite0 probe; ``--default`` adds the
default preset as ``classifier-default``), ``cluster`` (`cluster --source pretrained` of the
train split), ``gallery`` (the web app's gallery of the test split, every painting: embedding,
map and its picture) and ``bank`` (`train transfer --epochs 0 --init builtin`: the style bank).
Per step: wall seconds, peak memory of the step's process tree (the largest sum of proportional
set sizes, PSS, over the tree, sampled every 0.2 s; shared pages counted once), its anonymous
part (what is not file pages mapped in, such as the memory-mapped image cache, which the kernel
can drop and read again) and the output's key figure.

    python bench/scale.py prepare --root ~/scale --jalpv1 MIRROR --eliogrande MIRROR
    python bench/scale.py run --root ~/scale [--sizes sample,jalpv1,both] [--steps ...]
        [--default] [--device cpu] [--redo]
    python bench/scale.py report --root ~/scale     # the table and docs/scale.png

Each size has its own preprocessing cache (``ROOT/cache/<size>``), so a step never reuses
another size's decoded images. Results go to ``ROOT/results.json`` as each step ends; ``run``
skips steps already there (unless --redo), so an interrupted run carries on. The paintings stay
under ROOT (outside the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SAMPLE = HERE.parent.parent / "shared" / "data" / "wikiart-sample"
SIZES = ("sample", "jalpv1", "both")
STEPS = ("check", "split", "cache", "classifier", "cluster", "gallery", "bank")
#: The classifier preset's cached image size (efficientnet-lite0 trains at 288 px).
CACHE_SIZE = 288


# -- measuring one process tree ---------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _pss_kb(pid: int) -> tuple[int, int]:
    """The process's proportional set size and its anonymous part (kB): the rest is file pages
    mapped in (the memory-mapped image cache, libraries), which the kernel can drop and re-read."""
    pss = anon = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Pss_Anon:"):
                    anon = int(line.split()[1])
    except OSError:
        pass
    return pss, anon


def measured(argv: list[str], log: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv`` (stdout to ``log``, stderr beside it as ``.err``); its wall seconds, exit
    status, peak tree PSS and peak anonymous PSS (MB)."""
    peak = [0, 0]
    with open(log, "w") as fh, open(log.with_suffix(".err"), "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=fh, stderr=err, env=env)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                sizes = [_pss_kb(p) for p in _children(proc.pid)]
                peak[0] = max(peak[0], sum(s for s, _ in sizes))
                peak[1] = max(peak[1], sum(a for _, a in sizes))

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        rc = proc.wait()
        seconds = time.perf_counter() - t0
        done.set()
        watcher.join()
    mb = {"peak_mb": round(peak[0] / 1024), "peak_anon_mb": round(peak[1] / 1024)}
    return {"seconds": round(seconds, 1), **mb, "rc": rc}


# -- the collections --------------------------------------------------------------------------
def _link_tree(pool: Path, sources: list[Path]) -> int:
    """``pool/train/<Style>/<file>`` links to every image of ``sources`` (``<Style>/<file>``)."""
    n = 0
    for src in sources:
        for style_dir in sorted(p for p in src.iterdir() if p.is_dir()):
            dest = pool / "train" / style_dir.name
            dest.mkdir(parents=True, exist_ok=True)
            for f in sorted(style_dir.iterdir()):
                link = dest / f.name
                if not link.exists():
                    link.symlink_to(f.resolve())
                n += 1
    return n


def _extract_jalpv1(git_dir: Path, dest: Path) -> None:
    if dest.is_dir():
        return
    tmp = dest.with_name(dest.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    archive = subprocess.Popen(["git", f"--git-dir={git_dir}", "archive", "HEAD"],
                               stdout=subprocess.PIPE)  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive failed in {git_dir}")
    for extra in tmp.iterdir():  # the repository's own files beside the style folders
        if extra.is_file():
            extra.unlink()
    tmp.rename(dest)


def _extract_eliogrande(git_dir: Path, dest: Path) -> dict[str, int]:
    """Every painting with its pads cropped, as ``dest/<Style>/et<label>-<n>.jpg`` (no ``_`` in
    the name: it has no artist, so no two of its paintings are tied together when splitting)."""
    import io

    from PIL import Image

    from endless_tuning_data import CLASSES, crop_pads, list_files, read_blobs

    cropped = {}
    for label, style in CLASSES.items():
        folder = dest / style
        files = list_files(git_dir, label)
        if folder.is_dir() and len(list(folder.iterdir())) == len(files):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        cropped[style] = 0
        for start in range(0, len(files), 500):
            chunk = files[start : start + 500]
            for path, blob in zip(chunk, read_blobs(git_dir, chunk), strict=True):
                image = Image.open(io.BytesIO(blob)).convert("RGB")
                inner = crop_pads(image)
                cropped[style] += inner.size != image.size
                inner.save(folder / f"et{label}-{Path(path).stem}.jpg", quality=95)
        print(f"{style}: {len(files)} paintings, {cropped[style]} had pads cropped", flush=True)
    return cropped


def prepare(args: argparse.Namespace) -> None:
    root = Path(args.root).expanduser()
    raw = root / "raw"
    _extract_jalpv1(Path(args.jalpv1).expanduser(), raw / "jalpv1")
    _extract_eliogrande(Path(args.eliogrande).expanduser(), raw / "eliogrande")
    pools = {
        "sample": [Path(args.sample) / "train"],
        "jalpv1": [raw / "jalpv1"],
        "both": [raw / "jalpv1", raw / "eliogrande"],
    }
    for size, sources in pools.items():
        n = _link_tree(root / "pools" / size, sources)
        print(f"{size}: {n} paintings in {root / 'pools' / size}", flush=True)


# -- the steps --------------------------------------------------------------------------------
def _wikiart(*argv: str) -> list[str]:
    return [sys.executable, "-m", "wikiart", "--no-progress", *argv]


def step_command(step: str, size: str, root: Path, args: argparse.Namespace) -> list[str]:
    pool, split = root / "pools" / size, root / "splits" / size
    runs = root / "runs" / size
    dev = ("--device", args.device)
    if step == "check":
        return _wikiart("data", "check", str(pool), "--json")
    if step == "split":
        fractions = ("--test-fraction", "0.2", "--val-fraction", "0.1", "--seed", "0")
        return _wikiart("data", "split", str(pool), "--out", str(split), "--by", "artist",
                        *fractions)  # fmt: skip
    if step == "cache":
        return _wikiart("data", "cache", str(split), "--image-size", str(CACHE_SIZE))
    if step in ("classifier", "classifier-default"):
        mode = ("--mode", "frozen") if step == "classifier" else ()
        return _wikiart("train", "classifier", "--data", str(split), "--out", str(runs / step),
                        "--overwrite", *mode, *dev, "--seed", "0")  # fmt: skip
    if step == "cluster":
        return _wikiart("cluster", "--data", str(split / "train"), "--out", str(runs / "cluster"),
                        "--source", "pretrained", "--overwrite", *dev)  # fmt: skip
    if step == "gallery":
        return [sys.executable, str(HERE / "scale_gallery.py"), "--run",
                str(runs / "classifier"), "--data", str(split / "test"), "--out",
                str(runs / "gallery"), "--device", args.device]  # fmt: skip
    if step == "bank":
        return _wikiart("train", "transfer", "--data", str(split), "--out", str(runs / "bank"),
                        "--init", "builtin", "--epochs", "0", "--overwrite", *dev)  # fmt: skip
    raise SystemExit(f"unknown step {step!r}; expected some of {STEPS}")


def _json_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def key_figures(step: str, size: str, root: Path, stdout: Path) -> dict[str, Any]:
    """The step's output, in a few numbers."""
    runs, split = root / "runs" / size, root / "splits" / size
    if step == "check":
        rep = _json_file(stdout)
        return {
            "files": sum(s["files"] for s in rep.get("splits", {}).values()),
            "bad": len(rep.get("bad_files", [])),
            "exact_groups": len(rep.get("exact_duplicates", [])),
            "near_pairs": len(rep.get("near_duplicates", [])),
            "artists": rep.get("artists", {}).get("distinct"),
        }
    if step == "split":
        return _split_figures(split, stdout.with_name("check.out"))
    if step == "cache":
        stores = list((root / "cache" / size).glob(f"*/{CACHE_SIZE}-*/pixels.u8"))
        return {"cache_gb": round(sum(p.stat().st_size for p in stores) / 1e9, 2)}
    if step.startswith("classifier"):
        m = _json_file(runs / step / "metrics.json")
        return {k: m.get(k) for k in ("macro_f1", "accuracy", "balanced_accuracy")}
    if step == "cluster":
        c = _json_file(runs / "cluster" / "clusters.json")
        return {k: c.get(k) for k in ("n", "nmi", "ari", "silhouette", "knn_accuracy", "seconds")}
    if step == "gallery":
        return _json_file(runs / "gallery" / "gallery.json")
    if step == "bank":
        styles = [d for d in (split / "train").iterdir() if d.is_dir()]
        return {"styles": len(styles), "model": (runs / "bank" / "model.pt").is_file()}
    return {}


def _split_figures(split: Path, check_out: Path) -> dict[str, Any]:
    """Images per split, the artist overlap, and how many of the pool's duplicate pairs (exact
    or near, from the ``check`` step) the split put on both sides."""
    where: dict[tuple[str, str], str] = {}
    man = split / "split.csv"
    if man.is_file():
        import csv

        with open(man, newline="") as fh:
            for row in csv.DictReader(fh):
                where[(row["style"], Path(row["path"]).name)] = row["split"]
    counts = {s: sum(1 for v in where.values() if v == s) for s in sorted(set(where.values()))}
    rep = _json_file(check_out)
    groups = [g["items"] for g in rep.get("exact_duplicates", []) + rep.get("near_duplicates", [])]
    across = sum(
        len({where.get((i["style"], Path(i["path"]).name)) for i in items} - {None}) > 1
        for items in groups
    )
    artists = _json_file(split / "split.json").get("artists", {})
    return {"counts": counts, "duplicates_across_splits": across, **artists}


def run(args: argparse.Namespace) -> None:
    root = Path(args.root).expanduser()
    results_path = root / "results.json"
    results: dict[str, Any] = _json_file(results_path)
    steps = args.steps.split(",")
    if args.default and "classifier-default" not in steps:
        steps.insert(steps.index("classifier") + 1 if "classifier" in steps else 0,
                     "classifier-default")  # fmt: skip
    for size in args.sizes.split(","):
        if size not in SIZES:
            raise SystemExit(f"unknown size {size!r}; expected some of {SIZES}")
        logs = root / "logs" / size
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "WIKIART_CACHE": str(root / "cache" / size)}  # one cache per size
        paintings = sum(1 for _ in (root / "pools" / size / "train").glob("*/*"))
        for step in steps:
            key = f"{size}/{step}"
            if key in results and results[key]["rc"] == 0 and not args.redo:
                continue
            if step == "split" and (root / "splits" / size).exists():
                shutil.rmtree(root / "splits" / size)
            argv = step_command(step, size, root, args)
            print(f"[{key}] {' '.join(argv[2:])}", flush=True)
            res = measured(argv, logs / f"{step}.out", env)
            res["figures"] = key_figures(step, size, root, logs / f"{step}.out")
            res["paintings"] = paintings
            results[key] = res
            results["machine"] = machine(args.device)
            results_path.write_text(json.dumps(results, indent=2))
            print(f"[{key}] {res['seconds']:.0f} s, peak {res['peak_mb']} MB, rc {res['rc']}: "
                  f"{json.dumps(res['figures'])}", flush=True)  # fmt: skip


def machine(device: str) -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "device": device,
        "date": time.strftime("%Y-%m-%d"),
    }


# -- the report -------------------------------------------------------------------------------
def _growth(results: dict[str, Any], step: str, what: str) -> str:
    """Cost ratio from jalpv1 to both over their size ratio (1.0: linear)."""
    a, b = results.get(f"jalpv1/{step}"), results.get(f"both/{step}")
    if not a or not b or not a.get(what) or not b.get(what) or not a["paintings"]:
        return "-"
    return f"{(b[what] / a[what]) / (b['paintings'] / a['paintings']):.2f}"


def table(results: dict[str, Any], steps: list[str]) -> str:
    sizes = [s for s in SIZES if any(f"{s}/{st}" in results for st in steps)]
    n = {s: next(results[f"{s}/{st}"]["paintings"] for st in steps if f"{s}/{st}" in results)
         for s in sizes}  # fmt: skip
    head = ["step"] + [f"{s} ({n[s]:,}) s / MB (anonymous)" for s in sizes]
    head += ["time growth / linear", "memory growth / linear", "anonymous growth / linear"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for step in steps:
        cells = [step]
        for s in sizes:
            r = results.get(f"{s}/{step}")
            ok = r and r["rc"] == 0
            anon = f" ({r['peak_anon_mb']:,})" if ok and "peak_anon_mb" in r else ""
            cells.append(
                f"{r['seconds']:.0f} / {r['peak_mb']:,}{anon}" if ok else "failed" if r else "-"
            )
        cells += [_growth(results, step, key) for key in ("seconds", "peak_mb", "peak_anon_mb")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, Any], steps: list[str], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    drawn = 0
    for step in steps:
        runs = [results[f"{s}/{step}"] for s in SIZES if f"{s}/{step}" in results]
        runs = [r for r in runs if r["rc"] == 0]
        if len(runs) < 2:
            continue
        xs = [r["paintings"] for r in runs]
        drawn += 1
        for ax, what in zip(axes, ("seconds", "peak_mb"), strict=True):
            ax.loglog(xs, [max(r[what], 0.1) for r in runs], "o-", label=step)
    if not drawn:
        plt.close(fig)
        return False
    for ax, what in zip(axes, ("wall seconds", "peak memory (MB, PSS of the process tree)"),
                        strict=True):  # fmt: skip
        lo, hi = ax.get_xlim()
        y0 = ax.get_ylim()[0] * 2
        ax.loglog([lo * 1.1, hi / 1.1], [y0, y0 * (hi / lo) / 1.21], "k:", label="linear")
        ax.set_xlabel("paintings")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Cost of each step against the collection's size (log-log; 2 CPU cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def report(args: argparse.Namespace) -> None:
    root = Path(args.root).expanduser()
    results = _json_file(root / "results.json")
    steps = [st for st in (*STEPS, "classifier-default")
             if any(f"{s}/{st}" in results for s in SIZES)]  # fmt: skip
    print(table(results, steps))
    for key, r in results.items():
        if key != "machine":
            print(f"{key}: {json.dumps(r['figures'])}")
    wrote = plot(results, steps, Path(args.plot))
    print(f"wrote {args.plot}" if wrote else "fewer than two sizes measured: no plot")
    print(f"machine {json.dumps(results.get('machine'))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="extract the paintings and link the three collections")
    p.add_argument("--root", required=True)
    p.add_argument("--jalpv1", required=True,
                   help="git directory of jalpv1/wiki-art-selected-resized")  # fmt: skip
    p.add_argument("--eliogrande", required=True,
                   help="git directory of eliogrande/TheEndlessTuning_WikiArt224")  # fmt: skip
    p.add_argument("--sample", default=str(SAMPLE))
    r = sub.add_parser("run", help="run (or carry on) the steps, measured")
    r.add_argument("--root", required=True)
    r.add_argument("--sizes", default=",".join(SIZES))
    r.add_argument("--steps", default=",".join(STEPS))
    r.add_argument("--default", action="store_true", help="also the default classifier preset")
    r.add_argument("--device", default="cpu")
    r.add_argument("--redo", action="store_true", help="run steps again that already succeeded")
    t = sub.add_parser("report", help="the table and the log-log plot")
    t.add_argument("--root", required=True)
    t.add_argument("--plot", default=str(HERE.parent / "docs" / "scale.png"))
    args = ap.parse_args()
    {"prepare": prepare, "run": run, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
