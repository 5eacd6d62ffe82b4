"""Review writes and the admin review list at scale, on PostgreSQL (and the list on SQLite).

    python bench/writes.py [--clients 8] [--seconds 10] [--rows 1000000] [--sqlite-rows 200000]
                           [--skip writes,profile,listing] [--src DIR]

- `bench_writes`: `POST /api/review` from `clients` keep-alive connections for `seconds`, through
  gunicorn started as `make run` starts it (gunicorn_conf, INFO request logs) on a throw-away
  PostgreSQL database, rate limits off. Every body is different and carries its score, as the
  review page sends it (the model is not what is measured); with `idempotency`, every request
  also has its own `Idempotency-Key`. wrk drives it (a Lua script makes the bodies), or Python
  threads where wrk is missing.
- `profile_write_path`: what one write costs, part by part, measured in this process: client
  CPU (this thread), the PostgreSQL backend's CPU (from /proc) and wall time of each step, for
  the steps as they were (a liveness `SELECT 1` per pool checkout, the brand looked up, BEGIN /
  INSERT built by peewee / COMMIT) and as they are.
- `bench_listing`: fills a database with `rows` reviews (INSERT ... SELECT generate_series on
  PostgreSQL, no API), then times `GET /api/reviews` in this process for every sort key and
  filter: the first page, the pages after it by `next_cursor`, a cursor in the middle of the
  list, and the same depth by `page=N` (OFFSET).

The PostgreSQL server is BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
each run creates its own database and drops it. `--src` serves another checkout's `src` (e.g. a
`git archive` of an older commit) for before/after figures; the profile and the listing always
run this checkout.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import secrets
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stderr
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

if __package__ in (None, ""):  # run as `python bench/writes.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    command_line,
    database,
    percentile,
    run_wrk,
    serve_api,
    setup_logging,
    write_json,
)
from tests.support.servers import NO_RATE_LIMITS  # noqa: E402

logger = logging.getLogger("bench.writes")

ADMIN_TOKEN = secrets.token_hex(16)
# The server as `make run` runs it: INFO, one JSON line per request, written to its log file (its
# cost is measured, not shown).
SERVER_SETTINGS = {"LOG_LEVEL": "INFO", "ADMIN_TOKEN": ADMIN_TOKEN}
REVIEW = {
    "text": "Good shoes, comfortable and well made; they arrived quickly.",
    "rating": 4,
    "brand": "Nike",
    "score": 0.8,
    "suggested_rating": 4,
    "model_version": "bench",
    "suggestion_shown": True,
}
SORTS = (
    "-created_at",
    "created_at",
    "rating",
    "-rating",
    "suggested_rating",
    "-score",
    "score",
    "brand",
    "-brand",
)
FILTERS = {
    "none": "",
    "brand": "&brand=Nike",
    "rare brand": "&brand=Uniqlo",  # 0.1 % of the reviews
    "rating": "&rating=1",
    "one week": "&since=2025-03-01T00:00:00&until=2025-03-08T00:00:00",
    "brand+rating": "&brand=Nike&rating=5",
}
# The requests of a wrk run (common.py's WRK_REPORT counts the answers): every body different, and
# with `keyed` its own Idempotency-Key. `tid` is the thread's number, set by WRK_REPORT's setup.
WRK_WRITES = r"""
local counter = 0
local prefix = ""
local keyed = {keyed}
function init(args)
  prefix = tid .. "-" .. os.time()
end
function request()
  counter = counter + 1
  local id = prefix .. "-" .. counter
  local body = string.format({body}, id)
  local headers = {{["Content-Type"] = "application/json"}}
  if keyed then headers["Idempotency-Key"] = "bench-" .. id end
  return wrk.format("POST", "/api/review", headers, body)
end
"""


# ---------------------------------------------------------------- writes through gunicorn


def bench_writes(
    base_url: str | None = None,
    clients: int = 8,
    seconds: float = 10.0,
    idempotency: bool = False,
    src: Path | None = None,
) -> dict[str, Any]:
    """Writes/s and latency of `POST /api/review` from `clients` connections for `seconds`.

    Without `base_url`, serves the API on a throw-away PostgreSQL database for the run.
    """
    if base_url is None:
        with database("shared-postgres") as url, serve_api(url, src=src, **SERVER_SETTINGS) as api:
            return bench_writes(api.url, clients, seconds, idempotency)
    port = urlparse(base_url).port
    drive = _wrk_writes if shutil.which("wrk") else _python_writes
    drive(port, clients, min(3.0, seconds), idempotency)  # warm-up: pool, caches, the OS
    result = drive(port, clients, seconds, idempotency)
    result.update(clients=clients, idempotency=idempotency, driver=drive.__name__.strip("_").split("_")[0])
    return result


def _wrk_writes(port: int, clients: int, seconds: float, keyed: bool) -> dict[str, Any]:
    body = json.dumps({**REVIEW, "text": REVIEW["text"] + " %s"})
    script = WRK_WRITES.format(keyed="true" if keyed else "false", body=json.dumps(body))
    result = run_wrk(port, "/", script, clients, seconds)
    keep = ("seconds", "requests", "p50_ms", "p99_ms", "max_ms", "statuses")
    return {
        **{key: result[key] for key in keep},
        "writes_per_s": result["statuses"].get(201, 0) / result["seconds"],
    }


def _python_writes(port: int, clients: int, seconds: float, keyed: bool) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, counts, count = [], {}, 0
        while time.perf_counter() < deadline:
            count += 1
            body = json.dumps({**REVIEW, "text": f"{REVIEW['text']} {number}-{count}"})
            headers = {"Content-Type": "application/json"}
            if keyed:
                headers["Idempotency-Key"] = f"bench-{number}-{count}-{secrets.token_hex(4)}"
            start = time.perf_counter()
            connection.request("POST", "/api/review", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            counts[response.status] = counts.get(response.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, n in counts.items():
                statuses[status] = statuses.get(status, 0) + n

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "requests": len(latencies),
        "writes_per_s": statuses.get(201, 0) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "statuses": statuses,
    }


# ---------------------------------------------------------------- the write path, part by part


def _backend_cpu(pid: int) -> float:
    """CPU seconds a local PostgreSQL backend has used, to the nanosecond (0 where /proc cannot tell)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _measure(step: Callable[[], Any], backend: int, repeats: int, rounds: int = 3) -> dict[str, float]:
    """Per call: this thread's CPU, the backend's CPU and wall time, in microseconds (best round)."""
    for _ in range(max(3, repeats // 20)):
        step()
    best: dict[str, float] | None = None
    for _ in range(rounds):
        cpu, server, wall = time.thread_time(), _backend_cpu(backend), time.perf_counter()
        for _ in range(repeats):
            step()
        figures = {
            "client_cpu_us": (time.thread_time() - cpu) / repeats * 1e6,
            "server_cpu_us": (_backend_cpu(backend) - server) / repeats * 1e6,
            "wall_us": (time.perf_counter() - wall) / repeats * 1e6,
        }
        if best is None or figures["wall_us"] < best["wall_us"]:
            best = figures
    return best


def profile_write_path(database_url: str | None = None, repeats: int = 300) -> list[dict[str, Any]]:
    """What one review write costs, step by step, as it was and as it is (see the module doc)."""
    if database_url is None:
        with database("shared-postgres") as url:
            return profile_write_path(url, repeats)
    from flask import Response

    from brandpulse.api import create_app, logging_setup, metrics
    from brandpulse.api.endpoints.parsing import BODY
    from brandpulse.api.endpoints.review_schemas import ReviewCreateSchema
    from brandpulse.api.endpoints.reviews import REVIEW_OUT, _answer, bp
    from brandpulse.api.storage import idempotency, review_store
    from brandpulse.api.storage.db import get_database
    from brandpulse.api.storage.migrations import upgrade
    from brandpulse.api.storage.seeding import seed_brands
    from brandpulse.api.storage.tables import Brand, Review

    app = create_app({"DATABASE_URL": database_url, "ADMIN_TOKEN": ADMIN_TOKEN, **NO_RATE_LIMITS})
    db = get_database(app)
    pool = type(db)
    rows: list[dict[str, Any]] = []
    body = json.dumps(REVIEW)
    with app.app_context(), db.connection_context():
        upgrade()
        seed_brands()
    with (
        open(os.devnull, "w") as devnull,
        redirect_stderr(devnull),  # the request log line is formatted and written, to nowhere
        app.test_request_context("/api/review", method="POST", data=body, content_type="application/json"),
    ):
        db.connect()
        backend = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        brand = Brand.get(Brand.name == REVIEW["brand"])
        fields = {key: value for key, value in REVIEW.items() if key != "brand"} | {"brand": brand}
        schema = ReviewCreateSchema()

        def row(part: str, way: str, step: Callable[[], Any], n: int = repeats) -> None:
            rows.append({"part": part, "way": way, **_measure(step, backend, n)})
            logger.info("%-34s %-40s %s", part, way, _figures_text(rows[-1]))

        def checkout(window: float) -> Callable[[], None]:
            def step() -> None:
                db.close()  # back to the pool ...
                pool.LIVENESS_WINDOW = window
                db.connect()  # ... and out again

            return step

        window = pool.LIVENESS_WINDOW
        try:
            row("pool checkout + return", "liveness SELECT 1 each time (before)", checkout(0.0))
            row("pool checkout + return", "unchecked if returned < 1 s ago (now)", checkout(window))
        finally:
            pool.LIVENESS_WINDOW = window
        row(
            "brand lookup",
            "SELECT by name (before)",
            lambda: Brand.get_or_none(Brand.name == REVIEW["brand"]),
        )
        ids = review_store.BrandIds()
        row("brand lookup", "cached id (now)", lambda: ids.get(REVIEW["brand"]))
        parser = bp.ARGUMENTS_PARSER
        row(
            "validation (webargs + marshmallow)",
            "schema class, built per request (before)",
            lambda: parser.parse(ReviewCreateSchema, location=BODY),
        )
        row(
            "validation (webargs + marshmallow)",
            "schema instance (now)",
            lambda: parser.parse(schema, location=BODY),
        )
        row(
            "INSERT + transaction",
            "atomic(): BEGIN, peewee INSERT, COMMIT (before)",
            lambda: _atomic_create(db, fields),
        )
        row(
            "INSERT + transaction",
            "one INSERT statement, autocommit (now)",
            lambda: _insert_now(db, brand, fields),
        )
        row(
            "INSERT + key (Idempotency-Key)",
            "BEGIN, INSERT, INSERT key, COMMIT",
            lambda: _insert_keyed(db, brand, fields, idempotency),
        )
        row(
            "Idempotency-Key lookup",
            "SELECT the key (a miss)",
            lambda: idempotency.stored_answer(secrets.token_hex(8), "0" * 64, 24),
        )
        review = Review(id=1, brand=brand, text=REVIEW["text"], rating=4, score=0.8, suggested_rating=4)
        row(
            "response body",
            "flask-smorest: schema dump + jsonify (before)",
            lambda: app.json.response(REVIEW_OUT.dump(review)),
        )
        row("response body", "schema dump + JSON text, kept (now)", lambda: Response(_answer(review).body))
        response = Response("{}", status=201)
        logging_setup._begin()
        row("request log line (INFO, JSON)", "format + write", lambda: logging_setup._finish(response))
        metrics._start_timer()
        row("metrics (counter + histogram)", "per request", lambda: metrics._record(response))
        db.close()
    client = app.test_client()
    with app.app_context(), db.connection_context():
        backend = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]  # the pool's one connection
    for keyed in (False, True):
        posted = 0

        def post(keyed: bool = keyed) -> None:
            nonlocal posted
            posted += 1
            headers = {"Idempotency-Key": f"profile-{secrets.token_hex(8)}"} if keyed else {}
            review_body = {**REVIEW, "text": f"{REVIEW['text']} {posted}"}
            assert client.post("/api/review", json=review_body, headers=headers).status_code == 201

        way = "with Idempotency-Key" if keyed else "no key"
        with open(os.devnull, "w") as devnull, redirect_stderr(devnull):
            figures = _measure(post, backend, repeats)
        rows.append({"part": "whole request, in-process test client", "way": way, **figures})
        logger.info("%-34s %-40s %s", rows[-1]["part"], way, _figures_text(rows[-1]))
    from brandpulse.api.storage.db import dispose

    dispose(app)
    return rows


def _atomic_create(db: Any, fields: dict[str, Any]) -> None:
    from brandpulse.api.storage.tables import Review

    with db.atomic():
        Review.create(**fields)


def _insert_now(db: Any, brand: Any, fields: dict[str, Any]) -> None:
    from brandpulse.api.storage.review_store import insert_review
    from brandpulse.api.storage.tables import Review

    insert_review(Review(**fields), db)


def _insert_keyed(db: Any, brand: Any, fields: dict[str, Any], idempotency: Any) -> None:
    from brandpulse.api.storage.review_store import insert_review
    from brandpulse.api.storage.tables import Review

    with db.atomic():
        insert_review(Review(**fields), db)
        idempotency.remember(db, secrets.token_hex(8), "0" * 64, idempotency.Answer(201, "{}"), 24)


def _figures_text(row: dict[str, Any]) -> str:
    return (
        f"client CPU {row['client_cpu_us']:7.1f} us  server CPU {row['server_cpu_us']:6.1f} us  "
        f"wall {row['wall_us']:7.1f} us"
    )


# ---------------------------------------------------------------- the review list at scale


FILL_POSTGRES = """
SELECT setseed(0.13);
WITH draws AS (
    SELECT i, random() AS a, random() AS b, random() AS c, random() AS d, random() AS e
    FROM generate_series(1, %(rows)s) AS i
), brands AS (SELECT array_agg(id ORDER BY name) AS ids FROM brand WHERE name <> %(rare)s),
rare AS (SELECT id FROM brand WHERE name = %(rare)s),
rated AS (
    SELECT draws.*, 1 + floor(b * 5)::int AS rating,
           CASE WHEN a < 0.01 THEN NULL WHEN c < 0.6 THEN 1 + floor(b * 5)::int
                ELSE 1 + floor(c * 12.5)::int %% 5 END AS suggested
    FROM draws
)
INSERT INTO review (brand_id, text, rating, suggested_rating, score, model_version, user_agent,
                    ip_address, created_at, suggestion_shown, suggestion_changed, flagged)
SELECT CASE WHEN e < 0.001 THEN (SELECT id FROM rare)
            ELSE ids[1 + floor((e - 0.001) / 0.999 * array_length(ids, 1))::int] END,
       'Review ' || i || ': ' || repeat(md5(i::text), 3),
       rating, suggested,
       CASE WHEN suggested IS NULL THEN NULL
            ELSE least(1, greatest(0, (suggested - 1) / 4.0 + (d - 0.5) / 4)) END,
       'bench', 'bench', '127.0.0.1',
       timestamp '2025-01-01' + i * interval '30 seconds', suggested IS NOT NULL,
       CASE WHEN suggested IS NULL THEN NULL ELSE rating <> suggested END, false
FROM rated, brands
"""
RARE_BRAND = "Uniqlo"


def _fill(app: Any, rows: int) -> float:
    """Insert `rows` reviews (schema at version 4), then upgrade to the latest; the upgrade's seconds."""
    from peewee import PostgresqlDatabase

    from brandpulse.api.storage.db import get_database
    from brandpulse.api.storage.migrations import upgrade
    from brandpulse.api.storage.seeding import seed_brands
    from brandpulse.api.storage.tables import Review

    db = get_database(app)
    with app.app_context(), db.connection_context():
        upgrade(4)  # the schema before the list's indexes: they are built on the filled table
        seed_brands()
        present = Review.select().count()
        if present < rows:
            logger.info("inserting %d reviews", rows - present)
            if isinstance(db, PostgresqlDatabase):
                db.execute_sql(FILL_POSTGRES, {"rows": rows - present, "rare": RARE_BRAND})
            else:
                _fill_sqlite(db, rows - present)
        start = time.perf_counter()
        upgrade()
        seconds = time.perf_counter() - start
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql("VACUUM ANALYZE review")
        else:
            db.execute_sql("ANALYZE")
    return seconds


def _fill_sqlite(db: Any, rows: int) -> None:
    from brandpulse.api.storage.tables import Brand

    draw = random.Random(13)
    brands = {brand.name: brand.id for brand in Brand.select()}
    rare = brands.pop(RARE_BRAND)
    common = [brands[name] for name in sorted(brands)]
    batch = []
    for i in range(1, rows + 1):
        rating = draw.randint(1, 5)
        suggested = None if draw.random() < 0.01 else (rating if draw.random() < 0.6 else draw.randint(1, 5))
        score = (
            None if suggested is None else min(1.0, max(0.0, (suggested - 1) / 4 + (draw.random() - 0.5) / 4))
        )
        created = datetime(2025, 1, 1) + timedelta(seconds=30 * i)  # stored as peewee stores it
        batch.append(
            (
                rare if draw.random() < 0.001 else draw.choice(common),
                f"Review {i}: " + f"{draw.getrandbits(128):032x}" * 3,
                rating,
                suggested,
                score,
                created,
                None if suggested is None else rating != suggested,
            )
        )
        if len(batch) == 20_000 or i == rows:
            with db.atomic():
                db.cursor().executemany(
                    "INSERT INTO review (brand_id, text, rating, suggested_rating, score, model_version, "
                    "user_agent, ip_address, created_at, suggestion_shown, suggestion_changed, flagged) "
                    "VALUES (?, ?, ?, ?, ?, 'bench', 'bench', '127.0.0.1', ?, 1, ?, 0)",
                    batch,
                )
            batch = []


def bench_listing(
    database_url: str | None = None, rows: int = 1_000_000, per_page: int = 50, walk: int = 5
) -> dict[str, Any]:
    """ms per `GET /api/reviews` page at `rows` reviews, per sort key and filter (see the module doc).

    Without `database_url`, uses a throw-away PostgreSQL database. A database that already holds
    `rows` reviews is used as it is (quicker reruns).
    """
    if database_url is None:
        with database("shared-postgres") as url:
            return bench_listing(url, rows, per_page, walk)
    from brandpulse.api import create_app
    from brandpulse.api.storage.db import dispose

    app = create_app(
        {"DATABASE_URL": database_url, "ADMIN_TOKEN": ADMIN_TOKEN, "LOG_LEVEL": "WARNING", **NO_RATE_LIMITS}
    )
    upgrade_seconds = _fill(app, rows)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def get(query: str) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        response = client.get(f"/api/reviews?per_page={per_page}&{query}", headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(
                f"{query}: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}"
            )
        return elapsed, response.json

    def best(query: str, times: int = 3) -> tuple[float, dict[str, Any]]:
        results = [get(query) for _ in range(times)]
        return min(ms for ms, _ in results), results[-1][1]

    cases = []
    for sort in SORTS:
        for name, filters in FILTERS.items():
            query = f"sort={sort}{filters}"
            first_ms, first = best(query)
            cursor, next_ms = first["next_cursor"], []
            for _ in range(walk):
                if not cursor:
                    break
                ms, page = get(f"{query}&cursor={cursor}")
                next_ms.append(ms)
                cursor = page["next_cursor"]
            deep = max(1, first["pages"] // 2)
            offset_ms, middle = best(f"{query}&page={deep}", times=1)
            deep_cursor_ms = (
                best(f"{query}&cursor={middle['next_cursor']}")[0] if middle["next_cursor"] else None
            )
            cases.append(
                {
                    "sort": sort,
                    "filter": name,
                    "total": first["total"],
                    "total_exact": first["total_exact"],
                    "first_page_ms": first_ms,
                    "next_pages_ms": statistics.median(next_ms) if next_ms else None,
                    "next_pages_max_ms": max(next_ms) if next_ms else None,
                    "deep_page": deep,
                    "deep_cursor_ms": deep_cursor_ms,
                    "deep_offset_ms": offset_ms,
                }
            )
            logger.info("%s", _case_text(cases[-1]))
    dispose(app)
    cursor_cases = [case["first_page_ms"] for case in cases] + [
        case["deep_cursor_ms"] for case in cases if case["deep_cursor_ms"] is not None
    ]
    return {
        "database": urlparse(database_url).scheme,
        "rows": rows,
        "per_page": per_page,
        "index_migration_s": upgrade_seconds,
        "cases": cases,
        "first_and_cursor_pages_max_ms": max(cursor_cases),
        "first_and_cursor_pages_median_ms": statistics.median(cursor_cases),
    }


def _case_text(case: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "     -" if value is None else f"{value:6.1f}"

    total = f"{case['total']}{'' if case['total_exact'] else '~'}"
    return (
        f"{case['sort']:<17} {case['filter']:<12} total {total:>9}  page 1 {ms(case['first_page_ms'])} ms  "
        f"next {ms(case['next_pages_ms'])} (max {ms(case['next_pages_max_ms'])}) ms  "
        f"page {case['deep_page']:>6}: cursor {ms(case['deep_cursor_ms'])} ms, "
        f"offset {ms(case['deep_offset_ms'])} ms"
    )


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print their figures."""
    parser = command_line(__doc__, "src", "json")
    parser.add_argument("--clients", type=int, default=8, help="concurrent writers")
    parser.add_argument("--seconds", type=float, default=10.0, help="per write measurement")
    parser.add_argument("--rows", type=int, default=1_000_000, help="reviews for the list (PostgreSQL)")
    parser.add_argument(
        "--sqlite-rows", type=int, default=200_000, help="reviews for the list on SQLite; 0: skip"
    )
    parser.add_argument("--skip", default="", help="comma-separated: writes, profile, listing")
    args = parser.parse_args(argv)
    setup_logging()
    skip = set(filter(None, args.skip.split(",")))
    figures: dict[str, Any] = {}
    if "writes" not in skip:
        with database("shared-postgres") as url, serve_api(url, src=args.src, **SERVER_SETTINGS) as api:
            figures["writes"] = [
                bench_writes(api.url, args.clients, args.seconds, idempotency=keyed)
                for keyed in (False, True)
            ]
        for row in figures["writes"]:
            logger.info(
                "writes, %d clients%s: %.0f writes/s, p50 %.1f ms, p99 %.1f ms, statuses %s",
                row["clients"],
                " with Idempotency-Key" if row["idempotency"] else "",
                row["writes_per_s"],
                row["p50_ms"],
                row["p99_ms"],
                row["statuses"],
            )
    if "profile" not in skip:
        figures["profile"] = profile_write_path()
    if "listing" not in skip:
        figures["listing"] = bench_listing(rows=args.rows)
        if args.sqlite_rows:
            with database("sqlite") as url:
                figures["listing_sqlite"] = bench_listing(url, args.sqlite_rows)
        for key in ("listing", "listing_sqlite"):
            if key in figures:
                result = figures[key]
                logger.info(
                    "list, %s, %d reviews: first and cursor pages max %.1f ms (median %.1f); "
                    "index migration %.1f s",
                    result["database"],
                    result["rows"],
                    result["first_and_cursor_pages_max_ms"],
                    result["first_and_cursor_pages_median_ms"],
                    result["index_migration_s"],
                )
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
