"""`train-ngram`: the n-gram half of the model, hashed word 1-2-grams with logistic regression.

The model is `ngram.HashedNgramModel`; this module trains it on the same seeded split as the
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

from brandpulse.model.ngram import DEFAULT_ALPHA, DEFAULT_FEATURES, HashedNgramModel
from brandpulse.model.runtime import configure_logging
from brandpulse.training.cli import add_data_arguments, add_runtime_arguments, selection_from_args
from brandpulse.training.data import DataError, data_record, training_data
from brandpulse.training.metrics import classification_metrics, log_report, metrics_by_group

logger = logging.getLogger(__name__)


def fit_ngram(
    texts: Sequence[str],
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    n_features: int = DEFAULT_FEATURES,
    alpha: float = DEFAULT_ALPHA,
    sample_weight: np.ndarray | None = None,
) -> HashedNgramModel:
    """Train a baseline with `partial_fit` over shuffled mini-batches, `epochs` passes
    (rows weighted by `sample_weight` when given)."""
    model = HashedNgramModel(classes, n_features=n_features, alpha=alpha, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            weights = None if sample_weight is None else sample_weight[batch]
            model.partial_fit([texts[i] for i in batch], labels[batch], weights)
    return model


def build_parser() -> argparse.ArgumentParser:
    """The `train-ngram` command line."""
    p = argparse.ArgumentParser(prog="train-ngram", description=__doc__.splitlines()[0])
    add_data_arguments(p)
    model = p.add_argument_group("model")
    model.add_argument("--epochs", type=int, default=5, help="passes over the training rows")
    model.add_argument("--batch-size", type=int, default=1000, help="rows per partial_fit call")
    model.add_argument(
        "--n-features", type=int, default=DEFAULT_FEATURES, help="hashed feature columns (a power of 2)"
    )
    model.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="L2 regularisation strength")
    p.add_argument("--out", type=Path, required=True, help="file to write (.safetensors)")
    add_runtime_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `train-ngram` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    selection = selection_from_args(args)
    try:
        dataset, train, val, test = training_data(args.data, selection)
    except (DataError, ValueError) as error:
        logger.error("%s", error)
        return 2
    model = fit_ngram(
        train.texts,
        train.labels,
        dataset.classes,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        n_features=args.n_features,
        alpha=args.alpha,
    )
    metrics: dict[str, Any] = {
        "validation": classification_metrics(val.labels, model.predict_proba(val.texts), val.classes)
    }
    if len(test):
        probabilities = model.predict_proba(test.texts)
        metrics["test"] = metrics_by_group(
            test.labels, probabilities, test.classes, test.groups, test.stars, args.holdout_groups
        )
        log_report(logger, "test", metrics["test"])
    data = data_record(args.data, selection).to_dict()
    info = {"data": data, "epochs": args.epochs, "batch_size": args.batch_size}
    model.save(args.out, metrics=metrics, info=info)
    logger.info("saved %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
