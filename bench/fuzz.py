"""The contract, fuzzed at length: schemathesis on every operation, thousands of cases.

The test suite (tests/api/test_contract.py) runs the same fuzzer with a few cases per operation;
this runs it long. By default it starts the API under gunicorn as `make run` does (preload, rate
limits off, the bundled model) twice, on SQLite and on a private PostgreSQL cluster (the REAL
column's underflow was PostgreSQL's alone), and fuzzes each: schemathesis' engine with valid and
invalid data, every check, `--max-examples` per operation and phase. It prints the cases sent per
operation and every distinct failure with a curl command that reproduces it.

    python bench/fuzz.py [--max-examples 300] [--databases sqlite,postgres] [--seed N] [--json out.json]
    python bench/fuzz.py --url http://127.0.0.1:5000 --admin-token TOKEN   # a running server

Exit status 1 when anything failed. `run_fuzz(target, max_examples)` is the same from Python
(bench/load.py's `fuzz`): `target` is None (the servers above), a base URL or a Flask app.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/fuzz.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import command_line, database, serve_api, setup_logging, write_json  # noqa: E402
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT  # noqa: E402
from tests.support.contract import fuzz, serve  # noqa: E402
from tests.support.servers import private_postgres_unavailable  # noqa: E402

logger = logging.getLogger("bench.fuzz")

DEFAULT_MAX_EXAMPLES = 300  # per operation and phase: about 5,000 cases per database
DATABASES = ("sqlite", "postgres")


@contextmanager
def _api_server(kind: str, admin_token: str) -> Iterator[str]:
    """The API under gunicorn on a new database of this kind; its base URL."""
    with (
        database(kind) as url,
        serve_api(url, model=BUNDLED_CHECKPOINT, name=f"fuzz-{kind}", ADMIN_TOKEN=admin_token) as api,
    ):
        yield api.url


def _print_report(name: str, figures: dict[str, Any]) -> None:
    logger.info(
        "\n%s: %d cases in %s s, %d failures", name, figures["cases"], figures["seconds"], figures["failures"]
    )
    for label, counts in figures["operations"].items():
        logger.info("  %7d cases  %3d failures  %s", counts["cases"], counts["failures"], label)
    for failure in figures["failure_details"]:
        logger.info("FAILURE %s: %s: %s", failure["operation"], failure["check"], failure["title"])
        logger.info("    %s\n    %s", failure["message"], failure["curl"])
    for error in figures["error_details"]:
        logger.info("ERROR %s", error)


def _fuzz_url(base_url: str, admin_token: str, max_examples: int, seed: int | None) -> dict[str, Any]:
    return fuzz(base_url, admin_token=admin_token, max_examples=max_examples, seed=seed).as_dict()


def run_fuzz(
    target: Any = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    *,
    admin_token: str | None = None,
    databases: tuple[str, ...] = DATABASES,
    seed: int | None = None,
) -> dict[str, Any]:
    """Fuzz the API's contract; per target, the cases per operation and the failures.

    `target`: None (gunicorn on each of `databases`), a base URL (admin operations with
    `admin_token`, else $ADMIN_TOKEN) or a Flask app (served from a thread; its ADMIN_TOKEN).
    """
    runs: dict[str, Any] = {}
    if target is None:
        token = admin_token or secrets.token_hex(16)
        for kind in databases:
            if kind == "postgres" and private_postgres_unavailable():
                logger.warning("postgres skipped: %s", private_postgres_unavailable())
                runs[kind] = {"skipped": private_postgres_unavailable()}
                continue
            with _api_server(kind, token) as base_url:
                runs[kind] = _fuzz_url(base_url, token, max_examples, seed)
    elif isinstance(target, str):
        token = admin_token or os.environ.get("ADMIN_TOKEN", "")
        runs[target] = _fuzz_url(target.rstrip("/"), token, max_examples, seed)
    else:
        token = admin_token or target.extensions["brandpulse.settings"].admin_token
        with serve(target) as base_url:
            runs[target.name] = _fuzz_url(base_url, token, max_examples, seed)
    done = [figures for figures in runs.values() if "cases" in figures]
    return {
        "max_examples": max_examples,
        "cases": sum(figures["cases"] for figures in done),
        "failures": sum(figures["failures"] + figures["errors"] for figures in done),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer, print its figures; 1 when anything failed."""
    parser = command_line(__doc__, "json")
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--databases", default=",".join(DATABASES), help="comma-separated: sqlite,postgres")
    parser.add_argument("--url", help="fuzz this running server instead")
    parser.add_argument("--admin-token", help="its ADMIN_TOKEN (default: $ADMIN_TOKEN)")
    parser.add_argument("--seed", type=int, help="replay a run")
    args = parser.parse_args(argv)
    setup_logging()
    databases = tuple(kind for kind in args.databases.split(",") if kind)
    unknown = set(databases) - set(DATABASES)
    if unknown:
        parser.error(f"unknown databases: {sorted(unknown)}")
    figures = run_fuzz(
        args.url, args.max_examples, admin_token=args.admin_token, databases=databases, seed=args.seed
    )
    for name, run in figures["runs"].items():
        if "skipped" in run:
            logger.info("\n%s: skipped: %s", name, run["skipped"])
        else:
            _print_report(name, run)
    logger.info("\ntotal: %d cases, %d failures", figures["cases"], figures["failures"])
    write_json(args.json, figures)
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
