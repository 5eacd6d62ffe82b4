"""Serving under load: throughput and latency of the API against concurrency, beside the model alone.

Starts the API under gunicorn as `make run` does (gunicorn_conf, preload, rate limits off,
SQLite in a temporary directory unless DATABASE_URL is set) and drives it with wrk (Debian's
`wrk` package) on loopback, every request the benchmarks' 1,000-character review (bench/common.py).

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

import http.client
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/load.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    REVIEW,
    command_line,
    percentile,
    run_wrk,
    serve_api,
    served_model,
    setup_logging,
    write_json,
)
from bench.faults import load_with_pg_restart, soak  # noqa: E402
from bench.fuzz import run_fuzz  # noqa: E402
from bench.writes import bench_listing, bench_writes  # noqa: E402

logger = logging.getLogger("bench.load")

# The same JSON body every time.
WRK_POST = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""


def in_process_rate(batch: int = 32, seconds: float = 10.0) -> float:
    """Texts/s of the served model in this process on batches of `batch`, with every core."""
    from brandpulse.model.runtime import available_cpus

    predictor = served_model(threads=available_cpus())
    texts = [REVIEW] * batch
    for _ in range(3):
        predictor.predict(texts)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predictor.predict(texts)
        done += batch
    return done / (time.perf_counter() - start)


def _layout(layout: str) -> dict[str, str]:
    """The settings of a worker layout "WORKERSxTORCH_THREADS" ("": the defaults)."""
    if not layout:
        return {}
    workers, threads = layout.split("x")
    return {"WEB_CONCURRENCY": workers, "TORCH_THREADS": threads}


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
        with serve_api(src=src, **_layout(layout)) as api:
            wrk(api.port, "/api/predict", {"text": REVIEW}, max(clients), 3)  # warm-up
            for count in clients:
                row = wrk(api.port, "/api/predict", {"text": REVIEW}, count, seconds)
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
    with serve_api(src=src, **_layout(layout)) as api:
        stop = threading.Event()
        latencies: list[float] = []
        prober = threading.Thread(target=lambda: latencies.extend(probe(api.port, "/healthz", stop)))
        prober.start()
        try:
            load = wrk(api.port, "/api/predict", {"text": REVIEW}, clients, seconds)
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
    parser = command_line(__doc__, "src", "label", "json")
    parser.add_argument(
        "what", choices=("predict", "overload", "writes", "listing", "fuzz", "faults", "soak", "plot", "all")
    )
    parser.add_argument("results", nargs="*", type=Path, help="plot: result files of --json")
    parser.add_argument("--clients", default="1,2,4,8,16,32,64", help="predict: comma-separated counts")
    parser.add_argument("--layout", default="", help="WORKERSxTORCH_THREADS, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--reference", type=float, help="predict: skip timing the model, use this rate")
    parser.add_argument("--out", type=Path, default=Path("docs/performance.png"), help="plot: image file")
    args = parser.parse_args(argv)
    setup_logging()
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
        figures["writes"] = bench_writes()
    if args.what in ("listing", "all"):
        figures["listing"] = bench_listing()
    if args.what in ("fuzz", "all"):
        figures["fuzz"] = run_fuzz()
    if args.what in ("faults", "all"):
        figures["faults"] = load_with_pg_restart()
    if args.what == "soak":  # ten minutes: never part of "all"
        figures["soak"] = soak()
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
