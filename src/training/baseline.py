"""`train-baseline`: the classic linear baseline, hashed word 1-2-grams with logistic regression.

The model is `ngram.HashingBaseline`; this module trains it on the same seeded split as the
CNN (same arguments, same `split_for_training`) and saves it with its held-out metrics and
its data selection, so `evaluate` and `combine-models` can read it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brandpulse.training.data import DataError, data_record, training_data
from brandpulse.training.metrics import classification_metrics, metrics_by_group
from brandpulse.training.ngram import HashingBaseline
from brandpulse.training.runtime import configure_logging

logger = logging.getLogger(__name__)


def fit_baseline(
    texts: Sequence[str],
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
) -> HashingBaseline:
    """Train a baseline with `partial_fit` over shuffled mini-batches, `epochs` passes."""
    model = HashingBaseline(classes, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            model.partial_fit([texts[i] for i in batch], labels[batch])
    return model


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `train-baseline` command line; returns the process exit code."""
    p = argparse.ArgumentParser(prog="train-baseline", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="labelled CSV or JSONL file")
    p.add_argument("--text-column", default="text", help="column holding the text")
    p.add_argument("--label-column", default="label", help="column holding the label")
    p.add_argument("--labels", default="binary", choices=["binary", "stars3", "stars2"], help="label scheme")
    p.add_argument("--group-column", help="column to report metrics by and stratify on")
    p.add_argument("--test-fraction", type=float, default=0.2, help="stratified held-out test share")
    p.add_argument("--split-seed", type=int, default=2015, help="seed of the test split (as for train)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="validation share of the rest")
    p.add_argument("--seed", type=int, default=13, help="seed of the validation split and shuffling")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training rows")
    p.add_argument("--batch-size", type=int, default=1000, help="rows per partial_fit call")
    p.add_argument("--out", type=Path, required=True, help="file to write (.safetensors)")
    p.add_argument("--log-level", default="INFO", help="logging level")
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    # The keys `train` records (without its --max-rows and --balance), so `combine-models` can
    # check both models saw the same rows.
    selection = {
        "labels": args.labels,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "group_column": args.group_column,
        "max_rows": None,
        "balance": False,
        "test_fraction": args.test_fraction,
        "split_seed": args.split_seed,
        "val_fraction": args.val_fraction,
        "seed": args.seed,
    }
    try:
        dataset, train, val, test = training_data(args.data, selection)
    except (DataError, ValueError) as error:
        logger.error("%s", error)
        return 2
    model = fit_baseline(
        train.texts,
        train.labels,
        dataset.classes,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    metrics: dict[str, Any] = {
        "validation": classification_metrics(
            val.labels, model.predict_proba(val.texts).argmax(1), val.classes
        )
    }
    if len(test):
        predictions = model.predict_proba(test.texts).argmax(1)
        metrics["test"] = metrics_by_group(test.labels, predictions, test.classes, test.groups)
        for group, values in metrics["test"].items():
            logger.info(
                "test %s: accuracy %.4f, macro-F1 %.4f (n=%d)",
                group,
                values["accuracy"],
                values["macro_f1"],
                values["n"],
            )
    data = data_record(args.data, selection)
    model.save(args.out, metrics=metrics, info={"data": data, "epochs": args.epochs})
    logger.info("saved %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
