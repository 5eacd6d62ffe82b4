"""Serving under load: throughput and latency of the API against concurrency, beside the model alone.

Starts the API under gunicorn as `make run` does (gunicorn_conf, preload, rate limits off,
SQLite in a temporary directory unless DATABASE_URL is set) and drives it with wrk (Debian's
`wrk` package) on loopback, every request a 1,000-character review (bench/model_speed.py's).

    python bench/load.py predict [--clients 1,8,32] [--layout 1x2,2x1] [--seconds 10]
    python bench/load.py overload [--clients 256]
    python bench/load.py writes | listing | fuzz | faults | soak
    python bench/load.py plot RESULTS.json [RESULTS.json ...] --out docs/performance.png
    python bench/load.py all --json results.json

`predict` first times the served model in this process on batches of 32 with every core (the
rate micro-batching aims at), then serves it in each worker layout ("WORKERSxTORCH_THREADS") and
prints, per number of clients, requests/s, its share of the in-process rate, p50/p99 latency
and non-2xx answers. `overload` sends 256 clients at /api/predict while one more client probes
/healthz, and prints the probe's latency and every status the load got. `writes`, `listing`,
`fuzz`, `faults` and `soak` run the benchmarks of bench/writes.py, bench/fuzz.py and
bench/faults.py. `--src DIR` serves another checkout's `src` (e.g. a `git worktree` of an
older commit) for before/after figures; `--json` keeps the figures for `plot`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api_latency import free_port, percentile, stop_api, wait_ready  # bench/ is on sys.path
from model_speed import REVIEW

logger = logging.getLogger("bench.load")

BIN = Path(sys.executable).parent
TEXT = REVIEW[:1000]
# wrk's side of every run (bench/writes.py's too): each thread counts the statuses it gets, and
# `done` prints them with the latency percentiles and the summary, parsed by `run_wrk`. `setup`
# numbers the threads (`tid`, for request scripts that make unique bodies).
WRK_REPORT = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function response(status, headers, body)
  statuses = statuses or {}
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do io.write(string.format("STATUS %d %d\n", status, count)) end
  io.write(string.format("LATENCY %f %f %f %f\n", latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
  io.write(string.format("SUMMARY %d %f %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""
# The same JSON body every time.
WRK_POST = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""


def in_process_rate(batch: int = 32, seconds: float = 10.0) -> float:
    """Texts/s of the served model in this process on batches of `batch`, with every core."""
    from brandpulse.api.settings import Settings
    from brandpulse.model.predictor import Predictor
    from brandpulse.model.runtime import available_cpus, use_threads

    settings = Settings.from_env()
    use_threads(available_cpus())
    predictor = Predictor.from_checkpoint(settings.model_path, bf16=settings.inference_bf16)
    texts = [TEXT] * batch
    for _ in range(3):
        predictor.predict(texts)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predictor.predict(texts)
        done += batch
    return done / (time.perf_counter() - start)


@contextmanager
def serving(layout: str = "", src: Path | None = None, **environment: str) -> Iterator[int]:
    """gunicorn serving the API on a free port, in `layout` ("WORKERSxTORCH_THREADS"); yields the port."""
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="brandpulse-load-"))
    off = "" if src is not None else "off"  # before the one settings loader, empty switched limits off
    environ = {
        **os.environ,
        "API_PORT": str(port),
        "DATA_DIR": str(directory),
        "RATE_LIMIT_PREDICT": off,
        "RATE_LIMIT_PREDICT_BATCH": off,
        "RATE_LIMIT_REVIEW": off,
        "RATE_LIMIT_DEFAULT": off,
        "LOG_LEVEL": "WARNING",
        **environment,
    }
    if layout:
        workers, threads = layout.split("x")
        environ.update(WEB_CONCURRENCY=workers, TORCH_THREADS=threads)
    if src is not None:  # serve another checkout: its package first on the path
        (directory / "path").mkdir()
        (directory / "path" / "brandpulse").symlink_to(src.resolve())
        environ["PYTHONPATH"] = str(directory / "path")
    subprocess.run(
        [str(BIN / "flask"), "--app", "brandpulse.api", "db", "upgrade"],
        env=environ,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "python:brandpulse.api.gunicorn_conf", "brandpulse.api.wsgi:app"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, server)
        yield port
    finally:
        stop_api(server)
        shutil.rmtree(directory, ignore_errors=True)


def run_wrk(port: int, path: str, script: str, clients: int, seconds: float) -> dict[str, Any]:
    """Run wrk on `path` with `clients` keep-alive connections for `seconds` (whole seconds, at
    least 1), the requests made by the Lua `script` (WRK_REPORT is added to it).

    Returns seconds, requests, statuses (status -> count), p50/p90/p99/max latency in ms and the
    socket errors (connect, read, write, timeout).
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script + WRK_REPORT)
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{min(2, clients)}",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                file.name,
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    statuses = {int(code): int(count) for code, count in re.findall(r"^STATUS (\d+) (\d+)$", output, re.M)}
    latency = re.search(r"^LATENCY (.+)$", output, re.M)[1].split()
    p50, p90, p99, worst = (float(microseconds) / 1000 for microseconds in latency)
    requests, duration, *errors = re.search(r"^SUMMARY (.+)$", output, re.M)[1].split()
    return {
        "seconds": float(duration) / 1e6,
        "requests": int(requests),
        "statuses": statuses,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "max_ms": worst,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, errors), strict=True)),
    }


def wrk(port: int, path: str, body: dict[str, Any], clients: int, seconds: float) -> dict[str, Any]:
    """Run wrk with `clients` keep-alive connections posting `body`; its figures as a dict."""
    result = run_wrk(port, path, WRK_POST.format(body=json.dumps(json.dumps(body))), clients, seconds)
    elapsed = result.pop("seconds")
    return {
        "clients": clients,
        "requests_per_s": result.pop("requests") / elapsed,
        "ok_per_s": result["statuses"].get(200, 0) / elapsed,
        **result,
    }


def bench_predict(
    layouts: list[str], clients: list[int], seconds: float, src: Path | None, reference: float | None
) -> dict[str, Any]:
    """Predictions per layout and number of clients, with the in-process batch-32 rate."""
    if reference is None:
        reference = in_process_rate()
    logger.info("model in-process, batches of 32, every core: %.0f texts/s", reference)
    results: dict[str, Any] = {"in_process_batch32_texts_per_s": reference, "layouts": {}}
    for layout in layouts:
        rows = []
        with serving(layout, src) as port:
            wrk(port, "/api/predict", {"text": TEXT}, max(clients), 3)  # warm-up
            for count in clients:
                row = wrk(port, "/api/predict", {"text": TEXT}, count, seconds)
                row["share_of_in_process"] = row["ok_per_s"] / reference
                rows.append(row)
                logger.info("%s %s", layout, _row_text(row))
        results["layouts"][layout] = rows
    return results


def _row_text(row: dict[str, Any]) -> str:
    others = {status: count for status, count in row["statuses"].items() if status != 200}
    return (
        f"{row['clients']:>4} clients {row['ok_per_s']:7.1f} req/s ({row['share_of_in_process']:.0%}) "
        f"p50 {row['p50_ms']:6.1f} ms p99 {row['p99_ms']:6.1f} ms non-200 {others or 0} "
        f"socket errors {sum(row['socket_errors'].values())}"
    )


def probe(port: int, path: str, stop: threading.Event, pause: float = 0.02) -> list[float]:
    """Latencies (ms) of GET `path` on a fresh connection every `pause` s until `stop` is set."""
    latencies = []
    while not stop.is_set():
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status == 200:
            latencies.append((time.perf_counter() - start) * 1000)
        stop.wait(pause)
    return latencies


def bench_overload(layout: str, clients: int, seconds: float, src: Path | None) -> dict[str, Any]:
    """`clients` posting predictions beyond capacity, one probe on /healthz: latency and statuses."""
    with serving(layout, src) as port:
        stop = threading.Event()
        latencies: list[float] = []
        prober = threading.Thread(target=lambda: latencies.extend(probe(port, "/healthz", stop)))
        prober.start()
        try:
            load = wrk(port, "/api/predict", {"text": TEXT}, clients, seconds)
        finally:
            stop.set()
            prober.join()
    result = {
        "layout": layout,
        "load": load,
        "healthz_probes": len(latencies),
        "healthz_p50_ms": percentile(latencies, 0.5),
        "healthz_p99_ms": percentile(latencies, 0.99),
    }
    logger.info(
        "%d clients: %s; /healthz p50 %.1f ms p99 %.1f ms over %d probes",
        clients,
        _row_text({**load, "share_of_in_process": 0}),
        result["healthz_p50_ms"],
        result["healthz_p99_ms"],
        len(latencies),
    )
    return result


def plot(paths: list[Path], out: Path) -> None:
    """Throughput and p99 against clients, one line per result file and layout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rate_axis, p99_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    reference = None
    for path in paths:
        data = json.loads(path.read_text())
        label = data.get("label", path.stem)
        predict = data["predict"]
        reference = predict["in_process_batch32_texts_per_s"]
        for layout, rows in predict["layouts"].items():
            clients = [row["clients"] for row in rows]
            name = f"{label}, {layout.replace('x', ' worker(s) x ')} thread(s)"
            rate_axis.plot(clients, [row["ok_per_s"] for row in rows], marker="o", label=name)
            p99_axis.plot(clients, [row["p99_ms"] for row in rows], marker="o", label=name)
    if reference:
        rate_axis.axhline(reference, color="grey", linestyle="--", label="model in-process, batch 32")
    for axis, title in ((rate_axis, "predictions/s"), (p99_axis, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent clients")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    rate_axis.legend(fontsize=7)
    figure.suptitle("POST /api/predict, 1,000-character reviews, 2 CPU cores, wrk on loopback")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    logger.info("wrote %s", out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", choices=("predict", "overload", "writes", "listing", "fuzz", "faults", "soak", "plot", "all")
    )
    parser.add_argument("results", nargs="*", type=Path, help="plot: result files of --json")
    parser.add_argument("--clients", default="1,2,4,8,16,32,64", help="predict: comma-separated counts")
    parser.add_argument("--layout", default="", help="WORKERSxTORCH_THREADS, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--reference", type=float, help="predict: skip timing the model, use this rate")
    parser.add_argument("--src", type=Path, help="serve this checkout's src/ instead")
    parser.add_argument("--label", default="", help="name of this run in the plot")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--out", type=Path, default=Path("docs/performance.png"), help="plot: image file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.what == "plot":
        plot(args.results, args.out)
        return 0
    layouts = [layout for layout in args.layout.split(",") if layout] or [""]
    figures: dict[str, Any] = {"label": args.label or (str(args.src) if args.src else "this checkout")}
    if args.what in ("predict", "all"):
        clients = [int(count) for count in args.clients.split(",")]
        figures["predict"] = bench_predict(layouts, clients, args.seconds, args.src, args.reference)
    if args.what in ("overload", "all"):
        figures["overload"] = bench_overload(layouts[0], 256, args.seconds, args.src)
    if args.what in ("writes", "all"):
        from writes import bench_writes

        figures["writes"] = bench_writes()
    if args.what in ("listing", "all"):
        from writes import bench_listing

        figures["listing"] = bench_listing()
    if args.what in ("fuzz", "all"):
        from fuzz import run_fuzz

        figures["fuzz"] = run_fuzz()
    if args.what in ("faults", "all"):
        from faults import load_with_pg_restart

        figures["faults"] = load_with_pg_restart()
    if args.what == "soak":  # ten minutes: never part of "all"
        from faults import soak

        figures["soak"] = soak()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
