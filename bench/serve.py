"""A bounded load test of `wikiart serve` on this machine: the server started as its own process
over a run folder (default runs/demo, from `make demo`) on a free port of 127.0.0.1, then, with
`gradio_client`:

- --single requests (default 20) to ``/classify`` one at a time: the latency one person sees;
- --classify requests (default 200) to ``/classify``, --concurrency (default 8) at a time, each
  an upload of one of the gallery's test paintings (cycled);
- --repaint requests (default 20) to ``/transfer``, as many at a time (the server runs them one
  by one), each a photo of ../shared/data/style-transfer/content (or a test painting) in a
  style of the model, at its own size.

Reported per phase: requests per second, p50 / p95 / max latency, errors (a failed or refused
request; must be 0); and the server's peak resident memory (VmHWM, Linux) after loading and at
the end. Every request goes to 127.0.0.1 only; the loops are bounded by count and by --timeout.

    python bench/serve.py [--run runs/demo] [--out runs/bench-serve/bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENT = HERE.parent.parent / "shared" / "data" / "style-transfer" / "content"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (Linux's VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(url + "gradio_api/info", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready within {timeout:.0f}s")


def phase(client, api: str, args_for, n: int, concurrency: int, timeout: float) -> dict:
    """``n`` requests to ``api`` (``args_for(i)`` its arguments), ``concurrency`` at a time."""
    latencies: list[float] = []
    errors: list[str] = []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            job = client.submit(*args_for(i), api_name=api)
            job.result(timeout=timeout)
            latencies.append(time.perf_counter() - t0)
        except Exception as exc:  # counted and reported: the benchmark's point
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    q = (lambda p: lat[min(len(lat) - 1, round(p * (len(lat) - 1)))]) if lat else None
    return {
        "requests": n,
        "concurrency": concurrency,
        "ok": len(lat),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "requests_per_s": round(len(lat) / wall, 2) if wall else None,
        "p50_s": round(q(0.5), 3) if lat else None,
        "p95_s": round(q(0.95), 3) if lat else None,
        "max_s": round(lat[-1], 3) if lat else None,
        "mean_s": round(statistics.fmean(lat), 3) if lat else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default="runs/demo", help="the run folder `wikiart serve` serves")
    ap.add_argument("--single", type=int, default=20)
    ap.add_argument("--classify", type=int, default=200)
    ap.add_argument("--repaint", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds, per request")
    ap.add_argument("--out", default="runs/bench-serve/bench.json")
    args = ap.parse_args()

    from gradio_client import Client, handle_file

    run = Path(args.run)
    paintings = sorted((run / "data" / "test").glob("*/*"))
    if not paintings:
        raise SystemExit(f"no test paintings under {run}/data/test: run `make demo` first")
    contents = sorted(CONTENT.glob("*.jpg")) or paintings[:5]

    port = free_port()
    cmd = [
        sys.executable, "-m", "wikiart", "--no-progress", "serve", "--run", str(run),
        "--port", str(port),
    ]  # fmt: skip
    log = Path(args.out).with_suffix(".server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        ready_s = wait_ready(url, proc, 600)
        loaded_mb = peak_rss_mb(proc.pid)
        client = Client(url, verbose=False)
        styles = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        style_names = styles["/transfer"]["parameters"][1]["type"].get("enum") or ["Ukiyo_e"]
        single = phase(
            client, "/classify", lambda i: (handle_file(str(paintings[i % len(paintings)])),),
            args.single, 1, args.timeout,
        )  # fmt: skip
        classify = phase(
            client, "/classify", lambda i: (handle_file(str(paintings[i % len(paintings)])),),
            args.classify, args.concurrency, args.timeout,
        )  # fmt: skip
        after_classify_mb = peak_rss_mb(proc.pid)
        repaint = phase(
            client, "/transfer",
            lambda i: (
                handle_file(str(contents[i % len(contents)])),
                style_names[i % len(style_names)], None, 1.0, False,
            ),
            args.repaint, args.concurrency, args.timeout,
        )  # fmt: skip
        end_mb = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = {
        "run": str(run),
        "server_ready_s": round(ready_s, 1),
        "peak_rss_mb": {
            "loaded": loaded_mb and round(loaded_mb),
            "after_classify": after_classify_mb and round(after_classify_mb),
            "end": end_mb and round(end_mb),
        },
        "single": single,
        "classify": classify,
        "repaint": repaint,
        "repaint_inputs": [p.name for p in contents],
        "total_s": round(time.perf_counter() - t_start, 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    for name in ("single", "classify", "repaint"):
        r = result[name]
        print(
            f"{name:9s} {r['ok']}/{r['requests']} ok, {r['errors']} errors, "
            f"{r['requests_per_s']} req/s, p50 {r['p50_s']} s, p95 {r['p95_s']} s "
            f"({r['concurrency']} at a time)"
        )
    print(f"server peak memory: {result['peak_rss_mb']} MiB; ready in {ready_s:.1f} s")
    if single["errors"] or classify["errors"] or repaint["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
