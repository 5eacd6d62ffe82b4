"""The API under load and faults, through gunicorn on loopback, on a private PostgreSQL cluster.

- `load_with_pg_restart`: `clients` clients (80 % predictions, 20 % reviews, back to back) for
  `seconds`, with one PostgreSQL restart (`pg_ctl stop -m fast`, `down_seconds` down, start) in
  the middle. Figures: statuses per kind, 503s and when they came, recovery after the database is
  back (no restart of the API), and every acknowledged review against the stored rows.
- `soak`: `minutes` of the same mix paced at `rate` requests/s (default: half the maximum,
  measured first): each worker's resident memory and open descriptors after a warm-up and at the
  end (both read on a quiet server, once idle keep-alive connections are closed), latency,
  statuses, rows.

Both start their own throw-away PostgreSQL cluster (initdb + pg_ctl, as the `postgres` OS user:
run as root or postgres) and never touch another server. The server (bench/common.py's
`serve_api`), cluster and traffic helpers are the tests' own (tests/support), so the benchmark
and tests/api/test_faults.py measure the same thing.

    python bench/faults.py [--seconds 60] [--clients 32] [--soak-minutes 10] [--rate R]

The model is the bundled one (--checkpoint for another), as served.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/faults.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import command_line, percentile, serve_api  # noqa: E402
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT  # noqa: E402
from tests.support.servers import (  # noqa: E402
    ApiServer,
    PrivatePostgres,
    is_alive,
    open_descriptors,
    resident_bytes,
)
from tests.support.traffic import Outcome, Traffic, review_rows, status_counts  # noqa: E402

RECOVERY_LIMIT_S = 5.0
KEEPALIVE_S = 5  # gunicorn_conf.keepalive: idle client connections are closed after it
_pause = threading.Event()  # never set: its wait() is a sleep that reads as one


def _sleep_until(moment: float) -> None:
    _pause.wait(max(0.0, moment - time.monotonic()))


@contextmanager
def _stack(
    checkpoint: Path | None, workers: int | None, logs: Path | None, **settings: str
) -> Iterator[tuple[PrivatePostgres, str, ApiServer]]:
    """A private PostgreSQL with a prepared database, and the API on it under gunicorn."""
    if workers:
        settings["WEB_CONCURRENCY"] = str(workers)
    with PrivatePostgres() as postgres:
        url = postgres.create_database("brandpulse")
        with serve_api(url, model=Path(checkpoint or BUNDLED_CHECKPOINT), logs=logs, **settings) as api:
            yield postgres, url, api


def _latency_ms(outcomes: list[Outcome], kind: str) -> dict[str, float | None]:
    times = [(o.ended - o.started) * 1000 for o in outcomes if o.kind == kind and o.status in (200, 201)]
    return {name: round(value, 1) if value is not None else None for name, value in
            (("p50", percentile(times, 0.5)), ("p99", percentile(times, 0.99)))}  # fmt: skip


def outage_figures(outcomes: list[Outcome], stopping: float, up: float) -> dict[str, Any]:
    """What the clients saw around an outage from `stopping` (stop asked) to `up` (server back)."""
    unavailable = [o for o in outcomes if o.status == 503]
    reviews_after = [o for o in outcomes if o.kind == "review" and o.ended >= up]
    first_201 = min((o.ended for o in reviews_after if o.status == 201), default=None)
    late_503 = [o.started - up for o in unavailable if o.started >= up]
    return {
        "503": len(unavailable),
        "503_by_kind": {kind: sum(o.kind == kind for o in unavailable) for kind in ("predict", "review")},
        "503_outside_outage": sum(1 for o in unavailable if o.ended < stopping or o.started > up + 5.0),
        "503_not_json": sum(1 for o in unavailable if o.error != "service_unavailable"),
        "other_errors": sum(1 for o in outcomes if (o.status or 0) >= 300 and o.status != 503),
        "500": sum(1 for o in outcomes if (o.status or 0) >= 500 and o.status != 503),
        "no_answer": sum(1 for o in outcomes if o.status is None),
        "first_201_after_up_s": None if first_201 is None else round(first_201 - up, 3),
        "last_503_started_after_up_s": round(max(late_503), 3) if late_503 else None,
    }


def load_with_pg_restart(
    clients: int = 32,
    seconds: float = 60.0,
    review_share: float = 0.2,
    down_seconds: float = 2.0,
    checkpoint: Path | None = None,
    workers: int | None = None,
    logs: Path | None = None,
) -> dict[str, Any]:
    """Mixed traffic for `seconds` with one PostgreSQL restart in the middle; the figures."""
    with _stack(checkpoint, workers, logs) as (postgres, url, api):
        workers_before = api.worker_pids()
        traffic = Traffic(api.url, clients=clients, review_share=review_share).start()
        began = time.monotonic()
        try:
            _sleep_until(began + (seconds - down_seconds) / 2)
            stopping = time.monotonic()
            postgres.stop("fast")
            down = time.monotonic()
            _sleep_until(down + down_seconds)
            postgres.start()
            up = time.monotonic()
            _sleep_until(began + seconds)
        finally:
            outcomes = traffic.stop()
        ended = time.monotonic()
        rows = review_rows(outcomes, url)
        figures = {
            "clients": clients,
            "seconds": round(ended - began, 1),
            "workers": len(workers_before),
            "requests": len(outcomes),
            "requests_per_s": round(len(outcomes) / (ended - began), 1),
            "statuses": status_counts(outcomes),
            "outage": {
                "stop_s": round(down - stopping, 3),
                "down_s": round(up - down, 3),
                "at_s": round(stopping - began, 1),
                **outage_figures(outcomes, stopping, up),
            },
            "latency_ms": {kind: _latency_ms(outcomes, kind) for kind in ("predict", "review")},
            "rows": rows,
            "api_restarted": api.worker_pids() != workers_before or not is_alive(api.pid),
        }
    return figures


def max_rate(
    base_url: str, clients: int = 32, seconds: float = 15.0, review_share: float = 0.2
) -> tuple[float, list[Outcome]]:
    """Requests per second the API serves back to back from `clients` clients (the same mix),
    and the outcomes of those requests."""
    traffic = Traffic(base_url, clients=clients, review_share=review_share, seed=7).start()
    began = time.monotonic()
    _sleep_until(began + seconds)
    outcomes = traffic.stop()
    return sum(o.status in (200, 201) for o in outcomes) / (time.monotonic() - began), outcomes


def _process_figures(api: ApiServer) -> dict[int, dict[str, Any]]:
    """Resident bytes and open descriptors (by kind) of the master and each worker, read on a
    quiet server."""
    _pause.wait(KEEPALIVE_S + 1.5)  # idle keep-alive connections closed
    pids = [api.pid, *api.worker_pids()]
    return {pid: {"rss": resident_bytes(pid), "fds": open_descriptors(pid)} for pid in pids}


def soak(
    minutes: float = 10.0,
    rate: float | None = None,
    clients: int = 32,
    review_share: float = 0.2,
    warmup_minutes: float = 1.0,
    checkpoint: Path | None = None,
    workers: int | None = None,
    logs: Path | None = None,
) -> dict[str, Any]:
    """`minutes` of paced mixed traffic (the first `warmup_minutes` a warm-up); the figures."""
    with _stack(checkpoint, workers, logs) as (_postgres, url, api):
        maximum, outcomes = None, []
        if rate is None:
            maximum, outcomes = max_rate(api.url)
            rate = maximum / 2
        warmup = Traffic(api.url, clients=clients, review_share=review_share, rate=rate, seed=1).start()
        _pause.wait(warmup_minutes * 60)
        outcomes += warmup.stop()
        master = api.pid
        workers_before = api.worker_pids()
        baseline = _process_figures(api)
        samples: list[dict[int, int]] = []
        traffic = Traffic(api.url, clients=clients, review_share=review_share, rate=rate, seed=2).start()
        began = time.monotonic()
        end = began + (minutes - warmup_minutes) * 60
        while time.monotonic() < end:
            _sleep_until(min(end, time.monotonic() + 30))
            samples.append({pid: resident_bytes(pid) for pid in api.worker_pids()})
        measured = traffic.stop()
        elapsed = time.monotonic() - began
        outcomes += measured
        final = _process_figures(api)
        workers_after = api.worker_pids()
        per_worker = {}
        for pid in workers_before:
            if pid not in final:
                per_worker[pid] = {"replaced": True}
                continue
            before, after = baseline[pid], final[pid]
            peak = max((sample.get(pid, 0) for sample in samples), default=after["rss"])
            per_worker[pid] = {
                "rss_mib_after_warmup": round(before["rss"] / 2**20, 1),
                "rss_mib_end": round(after["rss"] / 2**20, 1),
                "rss_mib_peak": round(peak / 2**20, 1),
                "rss_growth_pct": round(100 * (after["rss"] - before["rss"]) / before["rss"], 2),
                "fds_after_warmup": before["fds"],  # sockets: clients, the database pool
                "fds_end": after["fds"],
            }
        rows = review_rows(outcomes, url)
    answered = [o for o in measured if o.status is not None]
    return {
        "minutes": minutes,
        "warmup_minutes": warmup_minutes,
        "max_rate_per_s": None if maximum is None else round(maximum, 1),
        "target_rate_per_s": round(rate, 1),
        "achieved_rate_per_s": round(len(measured) / elapsed, 1),
        "clients": clients,
        "requests": len(outcomes),
        "statuses": status_counts(outcomes),
        "errors_after_warmup": sum(1 for o in measured if o.status is None or o.status >= 300),
        "latency_ms": {kind: _latency_ms(answered, kind) for kind in ("predict", "review")},
        "workers": per_worker,
        "workers_replaced": sorted(set(workers_before) ^ set(workers_after)),
        "master": {
            "fds_after_warmup": baseline[master]["fds"],
            "fds_end": final[master]["fds"],
            "rss_mib_end": round(final[master]["rss"] / 2**20, 1),
        },
        "max_rss_growth_pct": max(
            (worker["rss_growth_pct"] for worker in per_worker.values() if "rss_growth_pct" in worker),
            default=None,
        ),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the load + fault test and the soak; print their figures as JSON."""
    parser = command_line(__doc__, "checkpoint", "workers")
    parser.add_argument("--clients", type=int, default=32, help="clients of the load + fault test")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load + fault test")
    parser.add_argument("--down-seconds", type=float, default=2.0, help="how long PostgreSQL stays down")
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="length of the soak; 0: none")
    parser.add_argument("--soak-clients", type=int, default=32, help="clients of the soak")
    parser.add_argument("--rate", type=float, help="soak rate, requests/s (default: half the maximum)")
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.seconds > 0:
        figures = load_with_pg_restart(
            args.clients, args.seconds, down_seconds=args.down_seconds, checkpoint=args.checkpoint,
            workers=args.workers,
        )  # fmt: skip
        out.write("load + PostgreSQL restart:\n" + json.dumps(figures, indent=2) + "\n")
        outage, rows = figures["outage"], figures["rows"]
        out.write(
            f"  {outage['503']} x 503 ({outage['503_by_kind']}), recovery (first 201 after the database "
            f"is back) {outage['first_201_after_up_s']} s, {rows['acknowledged']} reviews acknowledged, "
            f"{rows['missing']} missing, {rows['duplicated']} doubled\n"
        )
    if args.soak_minutes > 0:
        figures = soak(
            args.soak_minutes, args.rate, clients=args.soak_clients, checkpoint=args.checkpoint,
            warmup_minutes=min(1.0, args.soak_minutes / 5), workers=args.workers,
        )  # fmt: skip
        out.write("soak:\n" + json.dumps(figures, indent=2) + "\n")
        out.write(
            f"  resident memory growth after warm-up, worst worker: {figures['max_rss_growth_pct']} %; "
            f"errors after warm-up: {figures['errors_after_warmup']}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
