"""`retrain` at scale: read and filter a million stored reviews on PostgreSQL, time and peak memory.

    python bench/retrain_scale.py [--sizes 100000,1000000] [--legacy] [--src DIR] [--round]
                                  [--json FILE]

For each size N:

1. a throw-away database on the PostgreSQL server of BENCH_POSTGRES_URL (default this
   machine's), dropped afterwards, also when the run fails; its schema made as `make run` makes
   it (`migrations.upgrade`, the brands seeded);
2. N reviews written with COPY (`fill`): texts of the review corpus (`make corpus`, its
   stars the ratings), varied once each text has been used, so that honest visitors rarely
   repeat one another; times spread over a year; IPv4 and IPv6 clients (an IPv6 visitor picks a
   new address of its /64 for each review), the client pseudonyms computed as the API computes
   them, addresses cleared after 90 days as `privacy expire` clears them; suggestions shown,
   kept and changed as visitors do (10 % control group, 5 % shown no estimate, a fifth of those
   shown keep whatever is suggested); and abuse: addresses posting hundreds of inverted reviews
   on one day, IPv6 networks doing the same from many addresses, a campaign text posted from
   many addresses, scripts posting one text again and again, short texts, reviews flagged;
3. the stage measured in a fresh Python process (`measure`), as `retrain` runs it: the reviews
   streamed as columns (`feedback.read_review_columns`), filtered (`feedback.select_columns`),
   split by time and sampled, and the sample's texts read (`Selection.fetch`). Its wall time
   by step and its peak RSS (ru_maxrss of that process, from wait4) are reported, with the
   counts of what was dropped why.

`--legacy` measures the list-of-everything path beside it: `read_reviews()` (every review
whole in one list) and `select_feedback`; with `--src`, another checkout's `src` (e.g. a `git
archive` of the commit before streaming: the old code as it ran). `--round` also runs one whole
`retrain --no-promote` round (the bundled model, data/reviews.csv) on the largest size: its
seconds by step and peak RSS. The figures are logged, with the CPU (model name, whether it has
native bfloat16: `avx512_bf16`) and the load on it, and kept with `--json`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/retrain_scale.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("bench.retrain_scale")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "reviews.csv"
START = datetime(2025, 12, 1)
DAYS = 365
RETENTION_DAYS = 90  # PERSONAL_DATA_RETENTION_DAYS: older reviews have no address any more
COPY_BATCH = 50_000  # rows per COPY
SHORT_TEXTS = ("Great app!", "ok thanks", "Love it!!", "Terrible.", "Good", "Not bad at all", "meh")
CAMPAIGN = " Download it now, best app ever, five stars!!!"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
COLUMNS = (
    "brand_id, text, rating, suggested_rating, score, model_version, user_agent, ip_address, "
    "client_pseudonym, created_at, suggestion_shown, suggestion_changed, flagged"
)
STAGE_STEPS = ("read", "filter", "sample")
REASONS = ("flagged", "too_short", "repeated_by_client", "mass_posted", "duplicate", "client_day_cap")


# ---------------------------------------------------------------- the reviews


@dataclass
class Posting:
    """One review as posted: when, what, which rating, from where, and whether it is abuse."""

    at: datetime
    text: str
    rating: int
    address: str | None
    abuse: str = ""


class Visitors:
    """Texts, ratings and addresses drawn as the app's visitors (and abusers) send them."""

    def __init__(self, texts: Sequence[str], stars: Sequence[int], seed: int) -> None:
        self.texts, self.stars = texts, stars
        self.draw = random.Random(seed)
        self.order = list(range(len(texts)))
        self.draw.shuffle(self.order)
        self.used = 0

    def honest_text(self) -> tuple[str, int]:
        """A corpus text and its stars; after the corpus's first pass, with a sentence of another
        text added (a visitor's own words, so honest reviews rarely repeat one another)."""
        index = self.order[self.used % len(self.order)]
        text = self.texts[index]
        if self.used >= len(self.order):
            other = self.texts[self.draw.randrange(len(self.texts))]
            text = f"{text} {other.split('. ')[0][:120]}"
        self.used += 1
        return text, self.stars[index]

    def when(self, day: float | None = None) -> datetime:
        """A time in the year, or on `day` (days after START)."""
        day = self.draw.uniform(0, DAYS) if day is None else day + self.draw.random()
        return START + timedelta(days=day)

    def ipv4(self) -> str:
        first = self.draw.choice([n for n in range(11, 224) if n not in (100, 127, 169, 172, 192)])
        return f"{first}.{self.draw.randrange(256)}.{self.draw.randrange(256)}.{self.draw.randrange(1, 255)}"

    def ipv6_network(self) -> str:
        groups = ":".join(f"{self.draw.getrandbits(16):x}" for _ in range(3))
        return f"2a0{self.draw.randrange(10)}:{groups}"

    def in_network(self, network: str) -> str:
        """A new address of the /64 `network` (privacy extensions: a new one every time)."""
        return f"{network}:{':'.join(f'{self.draw.getrandbits(16):x}' for _ in range(4))}"


def postings(n: int, texts: Sequence[str], stars: Sequence[int], seed: int = 2027) -> list[Posting]:
    """`n` reviews as posted over a year, honest and abusive (the module's docstring), by time."""
    visitors = Visitors(texts, stars, seed)
    draw = visitors.draw
    out: list[Posting] = []
    for _ in range(max(1, n // 100_000)):  # one address, hundreds of inverted reviews on one day
        address, day = visitors.ipv4(), draw.uniform(0, DAYS - 1)
        for _ in range(min(300, max(40, n // 50))):
            text, rating = visitors.honest_text()
            out.append(Posting(visitors.when(day), text, 6 - rating, address, "flood"))
    for _ in range(max(1, n // 200_000)):  # one IPv6 /64 doing the same from many addresses
        network, day = visitors.ipv6_network(), draw.uniform(0, DAYS - 3)
        for offset in range(3):
            for _ in range(min(60, max(25, n // 100))):
                text, rating = visitors.honest_text()
                address = visitors.in_network(network)
                out.append(Posting(visitors.when(day + offset), text, 6 - rating, address, "rotate"))
    for _ in range(max(1, n // 100_000)):  # a campaign: one text from many addresses in a week
        text, rating = visitors.honest_text()
        day = draw.uniform(0, DAYS - 7)
        for _ in range(min(200, max(10, n // 100))):
            out.append(
                Posting(
                    visitors.when(day + draw.uniform(0, 6)), text + CAMPAIGN, 5, visitors.ipv4(), "campaign"
                )
            )
    for _ in range(max(5, n // 5_000)):  # a script: one text posted 2 to 5 times by one address
        text, rating = visitors.honest_text()
        address, day = visitors.ipv4(), draw.uniform(0, DAYS - 5)
        for _ in range(draw.randint(2, 5)):
            out.append(Posting(visitors.when(day + draw.uniform(0, 4)), text, 6 - rating, address, "repeat"))
    honest: list[Posting] = []
    while len(out) + len(honest) < n:  # visitors: 1 to 3 reviews each, 30 % on IPv6, 1 % no address
        kind = draw.random()
        network = None if kind < 0.01 else visitors.ipv6_network() if kind < 0.31 else visitors.ipv4()
        for _ in range(min(1 + int(draw.expovariate(1.5)), 3)):
            if len(out) + len(honest) >= n:
                break
            address = network if network is None or "." in network else visitors.in_network(network)
            draw_kind = draw.random()
            if draw_kind < 0.01:  # too short to learn from
                text, rating = draw.choice(SHORT_TEXTS), draw.randint(1, 5)
            elif draw_kind < 0.02 and honest:  # the same words as someone else
                copied = draw.choice(honest)
                text, rating = copied.text, copied.rating
            else:
                text, rating = visitors.honest_text()
            honest.append(Posting(visitors.when(), text, rating, address))
    out += honest
    out.sort(key=lambda posting: posting.at)
    return out


def table_rows(
    stream: Sequence[Posting], brands: Sequence[int], pseudonym: Any, seed: int = 2027
) -> Iterator[tuple]:
    """The review table's rows (COLUMNS) for these postings: suggestions shown, kept and changed
    as visitors do, addresses cleared after RETENTION_DAYS (the pseudonym stays), some flagged."""
    draw = random.Random(seed + 1)
    expired_before = START + timedelta(days=DAYS - RETENTION_DAYS)
    pseudonyms: dict[str, str | None] = {}
    for posting in stream:
        rating = posting.rating
        # The model suggests the rating people give about half the time, a neighbour mostly otherwise.
        luck = draw.random()
        suggested = (
            rating
            if luck < 0.55
            else min(5, max(1, rating + draw.choice((-1, 1))))
            if luck < 0.9
            else draw.randint(1, 5)
        )
        page = draw.random()
        shown = True if page < 0.85 else False if page < 0.95 else None  # control group; no estimate
        if shown and draw.random() < 0.2 and not posting.abuse:
            rating = suggested  # keeps whatever is pre-selected
        if draw.random() < 0.01:
            suggested = None
        score = (
            None if suggested is None else min(1.0, max(0.0, (suggested - 1) / 4 + draw.uniform(-0.1, 0.1)))
        )
        network = posting.address
        if network is not None and network not in pseudonyms:
            pseudonyms[network] = pseudonym(network)
        kept_address = network is not None and posting.at >= expired_before
        yield (
            draw.choice(brands),
            posting.text,
            rating,
            suggested,
            score,
            "bench",
            draw.choice(USER_AGENTS) if kept_address else None,
            network if kept_address else None,
            None if network is None else pseudonyms[network],
            posting.at,
            shown,
            None if not shown or suggested is None else rating != suggested,
            draw.random() < 0.002,  # an admin flagged it
        )


def corpus() -> tuple[list[str], list[int]]:
    """The review corpus's texts and stars (`make corpus`)."""
    if not CORPUS.is_file():
        raise SystemExit(f"{CORPUS} is missing: run `make corpus`")
    with CORPUS.open(newline="", encoding="utf-8") as handle:
        read = [(row["text"], int(row["stars"])) for row in csv.DictReader(handle)]
    return [text for text, _ in read], [stars for _, stars in read]


def fill(url: str, n: int, seed: int = 2027) -> dict[str, Any]:
    """Make the schema as `make run` does and COPY `n` reviews into the database at `url`."""
    import psycopg2

    from brandpulse.api import create_app
    from brandpulse.api.pseudonyms import client_pseudonym
    from brandpulse.api.settings import current_settings
    from brandpulse.api.storage.db import dispose, get_database
    from brandpulse.api.storage.migrations import upgrade
    from brandpulse.api.storage.seeding import seed_brands
    from brandpulse.api.storage.tables import Brand

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="brandpulse-bench-") as folder:
        app = create_app(
            {
                "DATABASE_URL": url,
                "DATA_DIR": folder,
                "SECRET_KEY": secrets.token_hex(32),
                "LOG_LEVEL": "WARNING",
            }
        )
        settings = current_settings(app)
        with app.app_context(), get_database().connection_context():
            upgrade()
            seed_brands()
            brands = [brand.id for brand in Brand.select(Brand.id)]
        dispose(app)
    texts, stars = corpus()
    stream = postings(n, texts, stars, seed)
    abuse = {kind: sum(p.abuse == kind for p in stream) for kind in ("flood", "rotate", "campaign", "repeat")}
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            buffer, writer, written = io.StringIO(), None, 0
            for row in table_rows(stream, brands, lambda address: client_pseudonym(address, settings), seed):
                if writer is None:
                    buffer, written = io.StringIO(), 0
                    writer = csv.writer(buffer)
                writer.writerow(row)
                written += 1
                if written == COPY_BATCH:
                    _copy(cursor, buffer)
                    writer = None
            if writer is not None:
                _copy(cursor, buffer)
        connection.commit()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE review")  # what autovacuum does to a table filled in bulk
    finally:
        connection.close()
    return {"reviews": len(stream), "abuse": abuse, "seconds": round(time.perf_counter() - started, 1)}


def _copy(cursor: Any, buffer: io.StringIO) -> None:
    buffer.seek(0)
    cursor.copy_expert(f"COPY review ({COLUMNS}) FROM STDIN WITH (FORMAT csv)", buffer)


def postgres_facts(url: str) -> dict[str, Any]:
    """What the read costs the server: the plan of a keyset page and of a fetch by id, the
    table's and its indexes' sizes."""
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:

            def plan(query: str) -> str:
                cursor.execute(f"EXPLAIN {query}")
                return " / ".join(line.strip() for (line,) in cursor.fetchall()[:2])

            cursor.execute("SELECT max(id) / 2 FROM review")
            (middle,) = cursor.fetchone()
            facts = {
                "page_plan": plan(f"SELECT * FROM review WHERE id > {middle or 0} ORDER BY id LIMIT 5000"),
                "fetch_plan": plan(f"SELECT * FROM review WHERE id IN ({middle or 0}, {(middle or 0) + 7})"),
            }
            cursor.execute(
                "SELECT pg_table_size('review'), pg_indexes_size('review'), pg_relation_size('review_pkey')"
            )
            table, indexes, pkey = cursor.fetchone()
    finally:
        connection.close()
    return {
        **facts,
        "table_mb": round(table / 2**20),
        "indexes_mb": round(indexes / 2**20),
        "pkey_mb": round(pkey / 2**20),
    }


# ---------------------------------------------------------------- the stage, in a process of its own


def measure(url: str, mode: str, out: Path) -> None:
    """Run the read-and-filter stage as `retrain` runs it (`stream`), or the list-of-everything
    path (`legacy`), on the database at `url`; write its figures to `out` as JSON."""
    import hashlib
    import resource

    import brandpulse
    from brandpulse.api.settings import Settings
    from brandpulse.api.storage.db import database, make_database
    from brandpulse.learning import feedback

    def peak_mb() -> float:
        """This process's peak RSS so far (VmHWM: of its own memory map, since exec)."""
        status = Path("/proc/self/status")
        if status.is_file():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with tempfile.TemporaryDirectory(prefix="brandpulse-bench-") as folder:
        # The database bound as `create_app` binds it (db.init_app), without the served model
        # the app loads beside it: the stage's own memory is what is measured.
        settings = Settings.from_env(overrides={"DATABASE_URL": url, "DATA_DIR": folder})
        db = make_database(settings)
        database.initialize(db)
        rules = {
            "min_chars": settings.retrain_min_chars,
            "max_per_client_day": settings.retrain_max_per_client_day,
        }
        seconds: dict[str, float] = {}
        baseline = peak_mb()
        with db.connection_context():
            started = time.perf_counter()
            if mode == "stream":
                columns = feedback.read_review_columns()
                seconds["read"] = time.perf_counter() - started
                selected = feedback.select_columns(columns, **rules)
                seconds["filter"] = time.perf_counter() - started - seconds["read"]
                ids = selected.columns.id.tolist()
                older, recent = selected.split_by_time(settings.retrain_recent_share)
                most_older, most_recent = feedback.sample_sizes(
                    settings.retrain_max_feedback_rows, settings.retrain_recent_share
                )
                trained, judged = older.sample(most_older).fetch(), recent.sample(most_recent).fetch()
                seconds["sample"] = time.perf_counter() - started - seconds["read"] - seconds["filter"]
                read, used = len(columns), len(trained.reviews) + len(judged.reviews)
                held = {"columns_mb": round(columns.nbytes / 2**20, 1)}
            else:
                reviews = feedback.read_reviews()
                seconds["read"] = time.perf_counter() - started
                selected = feedback.select_feedback(reviews, **rules)
                seconds["filter"] = time.perf_counter() - started - seconds["read"]
                ids = [review.id for review in selected.reviews]
                older, recent = feedback.split_by_time(selected, settings.retrain_recent_share)
                seconds["sample"] = 0.0
                read, used, held = len(reviews), len(older.reviews) + len(recent.reviews), {}
            total = time.perf_counter() - started
    figures = {
        "mode": mode,
        "code": str(Path(brandpulse.__file__).parent),
        "seconds": {step: round(value, 2) for step, value in seconds.items()},
        "total_s": round(total, 2),
        "peak_rss_mb": round(peak_mb()),
        "baseline_rss_mb": round(baseline),
        "read": read,
        "usable": len(ids),
        "texts_used": used,
        "dropped": selected.dropped,
        "selection_sha256": hashlib.sha256(json.dumps(ids).encode()).hexdigest(),
        **held,
    }
    out.write_text(json.dumps(figures))


# Runs the command given and writes its exit code and ru_maxrss (wait4) to the file given. Linux
# counts the peak RSS of the process a child is forked from in the child's ru_maxrss (the memory
# map is copied, its high-water mark with it), so the benchmark, holding a store's reviews, does
# not start the measured process itself: this small launcher does, and its own peak is ~10 MB.
LAUNCHER = """
import json, os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, out)
"""


def run_measured(command: Sequence[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run `command`; its exit code, wall seconds, peak RSS in MB (ru_maxrss from wait4: that
    process alone, started by LAUNCHER) and output."""
    with tempfile.TemporaryDirectory(prefix="brandpulse-bench-") as folder:
        usage, log = Path(folder) / "usage.json", Path(folder) / "output.log"
        with log.open("wb") as output:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(usage), *command],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
            )
            seconds = time.perf_counter() - started
        figures = json.loads(usage.read_text())
        text = log.read_text("utf-8", "replace")
    return figures["code"], seconds, figures["maxrss_kb"] / 1024, text


def stage(url: str, mode: str, src: Path | None = None) -> dict[str, Any]:
    """`measure` in a fresh Python process (another checkout's `src` with `src`)."""
    from bench.common import source_environment

    with tempfile.TemporaryDirectory(prefix="brandpulse-bench-") as folder:
        out = Path(folder) / "figures.json"
        env = {**os.environ, **source_environment(src, Path(folder))}
        command = [sys.executable, str(Path(__file__).resolve()), "--measure", mode, "--database-url", url]
        code, seconds, peak, output = run_measured([*command, "--out", str(out)], env)
        if code != 0:
            raise RuntimeError(f"the {mode} stage failed ({code}):\n{output[-3000:]}")
        figures = json.loads(out.read_text())
    return {**figures, "process_s": round(seconds, 1), "process_peak_rss_mb": round(peak)}


def whole_round(url: str) -> dict[str, Any]:
    """One `retrain --no-promote` round on the database at `url`: seconds by step, peak RSS."""
    with tempfile.TemporaryDirectory(prefix="brandpulse-bench-") as folder:
        report = Path(folder) / "round.json"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_DIR": folder,
            "RETRAIN_BASE_CORPUS": str(CORPUS),
            "SECRET_KEY": secrets.token_hex(32),
        }
        retrain = Path(sys.executable).parent / "retrain"
        code, seconds, peak, output = run_measured(
            [str(retrain), "--no-promote", "--report", str(report)], env
        )
        if code != 0 or not report.is_file():
            raise RuntimeError(f"retrain failed ({code}):\n{output[-3000:]}")
        result = json.loads(report.read_text())
    return {
        "status": result["status"],
        "reason": result["reason"],
        "seconds": result["seconds"],
        "wall_s": round(seconds, 1),
        "peak_rss_mb": round(peak),
        "sample": result["counts"].get("sample"),
        "train": result["counts"].get("train"),
        "validation": result["counts"].get("validation"),
    }


# ---------------------------------------------------------------- the machine, the report


def log_table(results: list[dict[str, Any]]) -> None:
    """The figures as a table, one line per size and path."""
    logger.info(
        "%9s  %-6s  %7s  %8s  %8s  %8s  %9s  %9s  %8s  %s",
        "reviews",
        "path",
        "read s",
        "filter s",
        "sample s",
        "total s",
        "peak MB",
        "base MB",
        "usable",
        "dropped",
    )
    for result in results:
        for figures in result["stages"]:
            seconds = figures["seconds"]
            dropped = " ".join(f"{reason} {figures['dropped'].get(reason, 0)}" for reason in REASONS)
            logger.info(
                "%9d  %-6s  %7.1f  %8.1f  %8.1f  %8.1f  %9d  %9d  %8d  %s",
                result["reviews"],
                figures["mode"],
                seconds["read"],
                seconds["filter"],
                seconds["sample"],
                figures["total_s"],
                figures["process_peak_rss_mb"],
                figures["baseline_rss_mb"],
                figures["usable"],
                dropped,
            )


def run(
    sizes: Sequence[int], legacy: bool = False, src: Path | None = None, whole: bool = False
) -> dict[str, Any]:
    """Fill, measure and drop a database per size (the module's docstring); the figures."""
    from bench.common import cpu, database, load_text

    figures: dict[str, Any] = {"cpu": cpu(), "load_before": load_text(), "results": []}
    logger.info("CPU: %s, avx512_bf16 %s, %d CPUs; %s", *figures["cpu"].values(), figures["load_before"])
    for n in sizes:
        with database("shared-postgres") as url:
            filled = fill(url, n)
            logger.info("%d reviews filled in %.0f s (abuse: %s)", n, filled["seconds"], filled["abuse"])
            result: dict[str, Any] = {"reviews": n, "fill": filled, "stages": [stage(url, "stream")]}
            if legacy:
                result["stages"].append(stage(url, "legacy", src))
            result["postgres"] = postgres_facts(url)
            if whole and n == max(sizes):
                result["round"] = whole_round(url)
                logger.info("retrain round at %d reviews: %s", n, result["round"])
            figures["results"].append(result)
            logger.info("%d reviews: %s", n, result["stages"])
    figures["load_after"] = load_text()
    log_table(figures["results"])
    for result in figures["results"]:
        logger.info("%d reviews, PostgreSQL: %s", result["reviews"], result["postgres"])
    logger.info("after: %s", figures["load_after"])
    return figures


def measure_main(argv: Sequence[str]) -> int:
    """The stage's own process (`stage`): imports only what `retrain` imports to read and filter."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", choices=("stream", "legacy"), required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    measure(args.database_url, args.measure, args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and log its figures."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--measure" in argv:
        return measure_main(argv)
    from bench.common import command_line, setup_logging, write_json

    parser = command_line(__doc__, "src", "json")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated numbers of reviews")
    parser.add_argument("--legacy", action="store_true", help="also measure the list-of-everything path")
    parser.add_argument(
        "--round", action="store_true", help="also run a whole retrain round at the largest size"
    )
    args = parser.parse_args(argv)
    setup_logging()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    write_json(args.json, run(sizes, args.legacy, args.src, args.round))
    return 0


if __name__ == "__main__":
    sys.exit(main())
