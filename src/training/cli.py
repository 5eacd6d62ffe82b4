"""Command-line pieces shared by `train`, `train-ngram`, `evaluate` and `combine-models`.

The data options are defined once, so every command reads and splits a file the same way and
records its selection under the same keys (`data.SELECTION_KEYS`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from brandpulse.training.data import LABEL_SCHEMES, SELECTION_KEYS

DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 2015
DEFAULT_VAL_FRACTION = 0.1
DEFAULT_SEED = 13


def add_data_arguments(parser: argparse.ArgumentParser, *, split: bool = True) -> None:
    """The options naming a labelled file, its columns and its held-out groups; with `split`, how rows
    are selected and split."""
    data = parser.add_argument_group("data")
    data.add_argument("--data", required=True, type=Path, help="labelled CSV or JSONL file")
    data.add_argument("--text-column", default="text", help="column holding the text")
    data.add_argument("--label-column", default="label", help="column holding the label")
    data.add_argument(
        "--labels",
        default="binary",
        choices=LABEL_SCHEMES,
        help="how labels map to classes: 0/1; 1-5 stars as five classes; stars grouped "
        "bad/average/good; stars made binary (3 stars dropped); or class names given by --classes",
    )
    data.add_argument("--classes", nargs="+", help="class names, most negative first (with --labels names)")
    data.add_argument("--group-column", help="column to report metrics by and stratify on (e.g. source)")
    data.add_argument(
        "--company-column", help="column naming who is reviewed: test and validation rows are held out by it"
    )
    data.add_argument(
        "--holdout-group",
        dest="holdout_groups",
        action="append",
        default=[],
        metavar="GROUP",
        help="a --group-column value held out of training (an unseen domain): training holds all its "
        "rows out for testing, and reports also give the other rows as in_domain; repeatable",
    )
    if not split:
        return
    data.add_argument("--max-rows", type=int, help="read at most this many labelled rows")
    data.add_argument("--balance", action="store_true", help="downsample every class to the smallest")
    data.add_argument(
        "--test-fraction",
        type=float,
        default=DEFAULT_TEST_FRACTION,
        help="held-out test share, by company or stratified by label and group (0: none)",
    )
    data.add_argument("--split-seed", type=int, default=DEFAULT_SPLIT_SEED, help="seed of the test split")
    data.add_argument(
        "--val-fraction", type=float, default=DEFAULT_VAL_FRACTION, help="validation share of the rest"
    )
    data.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the validation split, init and shuffling"
    )


def selection_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The recorded data selection (`data.SELECTION_KEYS`) of parsed `add_data_arguments` options."""
    return {key: getattr(args, key) for key in SELECTION_KEYS}


def add_runtime_arguments(parser: argparse.ArgumentParser, *, log_level: str = "INFO") -> None:
    """--threads and --log-level."""
    parser.add_argument("--threads", type=int, help="torch compute threads (default: every core)")
    parser.add_argument("--log-level", default=log_level, help="logging level")
