"""What the benchmarks share: their command line and logging, the review they send, the API
served as `make run` serves it on a database of their own, wrk, and figures of the machine.

Every script in bench/ starts with the same two lines, so that `python bench/NAME.py` (bench/
on sys.path) and `from bench.NAME import …` (the tests, the repository on sys.path) both find
`bench.*` and the tests' helpers (`tests.support`):

    if __package__ in (None, ""):  # run as `python bench/NAME.py`: import from the repository root
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

- `command_line(__doc__, *options)`: the argument parser, described by the docstring's first line,
  with the options the benchmarks share (`--checkpoint`, `--workers`, `--src`, `--label`, `--json`);
  `setup_logging()` and `write_json()` for the scripts that log their figures and keep them.
- `database(kind)`: a new, empty SQLite or PostgreSQL database, dropped afterwards.
- `serve_api(…)`: the API under gunicorn (tests/support's `ApiServer`) on a free loopback port,
  its schema upgraded and brands seeded by `flask db …` as `make run` does, rate limits off, in
  a temporary data folder; `--src` serves another checkout's `src/` (a `git worktree` or `git
  archive` of an older commit) for before/after figures.
- `served_model()`: the model in this process as each API worker runs it (MODEL_PATH, MODEL_BF16).
- `run_wrk()`: wrk (Debian's `wrk` package) on loopback, its statuses and latency percentiles.
- `percentile()`, `load_text()`, `cpu()`: nearest-rank percentiles; the machine's load and CPUs;
  the CPU's model, cores and whether it has native bfloat16.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from brandpulse.api.settings import Settings
from brandpulse.model.predictor import Predictor
from brandpulse.model.runtime import use_threads
from tests.support.postgres import throwaway_database
from tests.support.servers import NO_RATE_LIMITS, ApiServer, PrivatePostgres

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtual environment's scripts: flask, retrain, …
# The text every serving benchmark sends: 1,000 characters, a long review (the corpus's 90th
# percentile is 623).
REVIEW = (
    (
        "I ordered a pair of running shoes and they arrived two days late, but the customer service "
        "team apologised quickly and offered a discount on my next purchase. The shoes themselves are "
        "comfortable, well made and look exactly like the pictures. "
    )
    * 5
)[:1000]
# The PostgreSQL server of `database("shared-postgres")`.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# ---------------------------------------------------------------- command line, logging, figures

OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "checkpoint": ("--checkpoint", {"type": Path, "help": "the model (default: the bundled one)"}),
    "workers": (
        "--workers",
        {"type": int, "help": "gunicorn workers (default: WEB_CONCURRENCY, else one per CPU)"},
    ),
    "src": ("--src", {"type": Path, "help": "serve this checkout's src/ instead (before/after figures)"}),
    "label": ("--label", {"default": "", "help": "a name for this run in --json"}),
    "json": ("--json", {"type": Path, "help": "write the figures here"}),
}


def command_line(doc: str | None, *options: str) -> argparse.ArgumentParser:
    """The benchmark's argument parser: described by the first line of `doc` (its module's
    docstring), with the shared `options` named (keys of OPTIONS) added first."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    for name in options:
        flag, settings = OPTIONS[name]
        parser.add_argument(flag, **settings)
    return parser


def setup_logging() -> None:
    """Figures logged at INFO, the message alone, to stderr."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def write_json(path: Path | None, figures: Any) -> None:
    """Keep the figures as indented JSON in `path` (nothing when it is None)."""
    if path is not None:
        path.write_text(json.dumps(figures, indent=2, default=str))


def percentile(values: list[float], fraction: float) -> float | None:
    """The `fraction` quantile of `values` (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load_text() -> str:
    """The machine's 1-, 5- and 15-minute load averages and its number of CPUs."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


# ---------------------------------------------------------------- databases and the API


@contextmanager
def database(kind: str = "sqlite") -> Iterator[str]:
    """A new, empty database, removed afterwards; its DATABASE_URL.

    `sqlite`: a file in a temporary folder. `postgres`: a private PostgreSQL cluster of its own
    (initdb + pg_ctl as the `postgres` OS user: run as root or postgres). `shared-postgres`: a
    throw-away database on the server at BENCH_POSTGRES_URL (default: this machine's, as
    postgresql://postgres@127.0.0.1:5432/postgres).
    """
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="brandpulse-bench-db-") as directory:
            yield f"sqlite:///{(Path(directory) / 'bench.sqlite3').as_posix()}"
    elif kind == "postgres":
        with PrivatePostgres() as postgres:
            yield postgres.create_database("brandpulse")
    elif kind == "shared-postgres":
        with throwaway_database(POSTGRES_URL, prefix="brandpulse_bench") as name:
            yield urlunparse(urlparse(POSTGRES_URL)._replace(path=f"/{name}"))
    else:
        raise ValueError(f"unknown database kind {kind!r}: sqlite, postgres or shared-postgres")


def source_environment(src: Path | None, directory: Path) -> dict[str, str]:
    """The environment that makes `brandpulse` another checkout's `src` (a link to it in
    `directory`, first on PYTHONPATH); nothing for this checkout."""
    if src is None:
        return {}
    (directory / "path").mkdir(exist_ok=True)
    link = directory / "path" / "brandpulse"
    if not link.exists():
        link.symlink_to(src.resolve())
    return {"PYTHONPATH": str(directory / "path")}


def _rate_limits_off(src: Path | None) -> dict[str, str]:
    """Every rate limit off: `off`, or an empty value for a checkout from before the settings
    loader (where empty switched a limit off and `off` was not known)."""
    if src is not None and "RATE_LIMIT_OFF" not in (src / "api" / "settings.py").read_text():
        return dict.fromkeys(NO_RATE_LIMITS, "")
    return dict(NO_RATE_LIMITS)


@contextmanager
def serve_api(
    database_url: str | None = None,
    *,
    model: Path | None = None,
    src: Path | None = None,
    logs: Path | None = None,
    name: str = "api",
    **settings: str,
) -> Iterator[ApiServer]:
    """The API under gunicorn as `make run` runs it, on a free loopback port, until the block ends.

    Its data folder (DATA_DIR: the registry's checkpoints, SQLite's default file) is a new
    temporary folder; `flask db upgrade` and `flask db seed-brands` prepare the database first
    (the upgrade records the model as the registry's first champion). `database_url`: None keeps
    this process's DATABASE_URL (else the default), "" the default SQLite file in the data folder.
    `model`: MODEL_PATH (None: this process's, else the bundled model). `src`: serve another
    checkout's `src/`. Every rate limit is off and LOG_LEVEL is WARNING unless `settings` say
    otherwise; the server's output goes to `<logs>/<name>.log` (default: the data folder).
    """
    with tempfile.TemporaryDirectory(prefix="brandpulse-bench-") as folder:
        directory = Path(folder)
        environment = {
            **source_environment(src, directory),
            **_rate_limits_off(src),
            "DATA_DIR": str(directory),
            **({} if database_url is None else {"DATABASE_URL": database_url}),
            **({} if model is None else {"MODEL_PATH": str(model)}),
            **settings,
        }
        api = ApiServer(environment, logs or directory, name=name)
        for command in ("upgrade", "seed-brands"):
            subprocess.run(
                [str(BIN / "flask"), "--app", "brandpulse.api", "db", command],
                env=api.env,
                check=True,
                capture_output=True,
            )
        with api:
            yield api


def served_model(checkpoint: Path | None = None, threads: int | None = None) -> Predictor:
    """A model as the API serves it (under bfloat16 autocast as MODEL_BF16 says), loaded in this
    process with `threads` torch threads (default: as many as each API worker uses).
    `checkpoint`: default MODEL_PATH, else the bundled model."""
    settings = Settings.from_env()
    use_threads(threads or settings.inference_threads)
    return Predictor.from_checkpoint(checkpoint or settings.model_path, bf16=settings.inference_bf16)


# ---------------------------------------------------------------- wrk

# wrk's side of every run: each thread counts the statuses it gets, and `done` prints them with
# the latency percentiles and the summary, parsed by `run_wrk`. `setup` numbers the threads
# (`tid`, for request scripts that make unique bodies).
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


def cpu() -> dict[str, Any]:
    """The CPU's model name, whether it has native bfloat16 (`avx512_bf16`), its cores."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?"
    )
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []
    )
    return {"model": model, "avx512_bf16": "avx512_bf16" in flags, "cpus": os.cpu_count()}
