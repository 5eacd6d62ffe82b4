"""`retrain`: learn from the stored reviews (the one command that runs a round).

The one command of the learning loop: both names parse the same options (`build_parser`) and
run the same code (`run`). A round (docs/learning_loop.md, `retrain_round.py`) reads and
filters the stored reviews, trains a challenger from the champion, lets the gate judge it and
records it in the registry: promoted, a candidate (`--no-promote`) or rejected with the gate's
reason.

Two rounds never overlap: a lock file in MODEL_DIR, and on PostgreSQL an advisory lock (several
hosts, a Kubernetes CronJob; `lock.py`). `retrain --schedule CRON` runs rounds on a cron
schedule with APScheduler. Exit codes: 0 a round ran or was skipped (too few reviews), 2 bad
settings or files, 75 another round holds the lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from flask import Flask

from brandpulse.api.scheduling import run_on_schedule
from brandpulse.api.settings import current_settings
from brandpulse.learning.errors import RetrainBusy, RetrainError, fitting_unavailable
from brandpulse.learning.retrain_round import RoundOptions, RoundResult, run_once

logger = logging.getLogger(__name__)

EX_TEMPFAIL = 75  # sysexits.h: try again later (another round holds the lock)


def share(value: str) -> float:
    """An argparse type: a number from 0 to 1."""
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return number


def build_parser(prog: str = "retrain") -> argparse.ArgumentParser:
    """The `retrain` command line (the flask subcommand's too, under its own `prog`)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    p.add_argument(
        "--schedule",
        nargs="?",
        const="",
        metavar="CRON",
        help="run rounds on this cron schedule (UTC) instead of once; no value: RETRAIN_SCHEDULE",
    )
    p.add_argument(
        "--no-promote", action="store_true", help="a challenger that passes the gate stays a candidate"
    )
    p.add_argument("--max-steps", type=int, help="network fine-tuning step budget (smoke runs)")
    p.add_argument(
        "--kept-weight", type=share, help="weight of a kept suggestion, 0 to 1 (default RETRAIN_KEPT_WEIGHT)"
    )
    p.add_argument("--report", type=Path, help="write what the round did to this JSON file")
    return p


def round_options(args: argparse.Namespace) -> RoundOptions:
    """The round's options as the command line gives them."""
    return RoundOptions(promote=not args.no_promote, max_steps=args.max_steps, kept_weight=args.kept_weight)


def write_report(result: RoundResult, path: Path | None) -> None:
    """Write what a round did to `path` as JSON (nothing without a path)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")


def run(app: Flask, args: argparse.Namespace) -> tuple[int, RoundResult | None]:
    """Run what parsed `retrain` options ask for in `app`: one round, or rounds on a schedule.

    Returns the exit code and, for one round, what it did.
    """
    options = round_options(args)
    if args.schedule is not None:
        cron = args.schedule or current_settings(app).retrain_schedule
        return run_scheduled(app, cron, options, args.report), None
    try:
        result = run_once(app, options)
    except RetrainBusy as error:
        logger.warning("%s", error)
        return EX_TEMPFAIL, None
    except RetrainError as error:
        logger.error("%s", error)
        return 2, None
    write_report(result, args.report)
    return 0, result


def run_scheduled(app: Flask, cron: str, options: RoundOptions, report: Path | None) -> int:
    """Run a round at every time of the cron expression until SIGTERM or SIGINT (the API's
    `scheduling.run_on_schedule`, which `flask privacy expire --schedule` shares)."""

    def job() -> None:
        try:
            write_report(run_once(app, options), report)
        except RetrainBusy as error:
            logger.warning("retrain round skipped: %s", error)

    return run_on_schedule("retrain", cron, job, setting="RETRAIN_SCHEDULE")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `retrain` command line; returns the process exit code."""
    from brandpulse.api import create_app
    from brandpulse.api.settings import SettingsError

    args = build_parser().parse_args(argv)
    if reason := fitting_unavailable():
        logging.basicConfig()
        logger.error("%s", reason)
        return 2
    try:
        app = create_app()
    except SettingsError as error:
        logging.basicConfig()
        logger.error("%s", error)
        return 2
    code, result = run(app, args)
    if result is not None:
        logger.info("retrain: %s (%s)", result.status, result.reason)
    return code


if __name__ == "__main__":
    sys.exit(main())
