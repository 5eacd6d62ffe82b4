"""`combine-models`: pool a char-CNN checkpoint and a hashed n-gram model into one checkpoint.

The combination's weights are fitted on the validation rows the CNN was trained with (the
split is rebuilt from the settings its checkpoint records, and both files must come from the
same data), then the CNN, the n-gram model and their combination are measured on the
held-out test rows. The result is a CNN checkpoint that also carries the n-gram model; the
API, `predict` and `evaluate` use it like any other checkpoint.

`--assume-mix BAD AVERAGE GOOD` states the rating mix the suggestion is for (`scoring.RatingPrior`):
the pooled probabilities are moved from the validation rows' mix to it, and the cut points are
fitted on the validation rows weighted to it. Without it the suggestion is for the validation
rows' own mix, as before format 4.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brandpulse.model.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from brandpulse.model.checkpoint_info import DataRecord
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.ngram import HashedNgramModel
from brandpulse.model.pooling import fit_combination
from brandpulse.model.predictor import Predictor
from brandpulse.model.runtime import configure_logging, use_threads
from brandpulse.model.scoring import (
    DEFAULT_CUTS,
    RatingPrior,
    check_mix,
    fit_rating_cuts,
    fit_rating_rule,
    sentiment_scores,
)
from brandpulse.training.cli import add_runtime_arguments
from brandpulse.training.data import DataError, Dataset, fingerprint, selection_of, training_data
from brandpulse.training.metrics import classification_metrics, log_report, metrics_by_group

logger = logging.getLogger(__name__)


def read_ngram_file(path: Path) -> tuple[HashedNgramModel, dict[str, Any]]:
    """The n-gram model of a `train-ngram` file and the info it records (data selection)."""
    try:
        model, saved = HashedNgramModel.read(path)
    except Exception as error:  # safetensors raises several types for a bad file
        raise CheckpointError(f"{path}: not a readable n-gram model ({error})") from None
    return model, saved["info"]


def training_splits(checkpoint: Checkpoint, data: Path) -> tuple[Dataset, Dataset]:
    """(validation, test) rows exactly as the CNN's training run split `data`."""
    recorded = checkpoint.info.data
    if recorded is None or recorded.fingerprint is None:
        raise DataError("the CNN checkpoint does not record how its data was split (no fingerprint)")
    try:
        selection = selection_of(recorded.selection)
    except DataError as error:
        raise DataError(f"the CNN checkpoint does not record how its data was split ({error})") from None
    if fingerprint(data, **selection) != recorded.fingerprint:
        raise DataError(f"{data}: not the data the CNN was trained on (fingerprint differs)")
    _, _, validation, test = training_data(data, selection)
    return validation, test


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `combine-models` command line; returns the process exit code."""
    p = argparse.ArgumentParser(prog="combine-models", description=__doc__.splitlines()[0])
    p.add_argument("--cnn", type=Path, required=True, help="char-CNN checkpoint written by `train`")
    p.add_argument("--ngram", type=Path, required=True, help="n-gram model written by `train-ngram`")
    p.add_argument("--data", type=Path, required=True, help="the data both were trained on")
    p.add_argument("--out", type=Path, required=True, help="combined checkpoint to write (.safetensors)")
    p.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    p.add_argument(
        "--assume-mix",
        type=float,
        nargs=3,
        metavar=("BAD", "AVERAGE", "GOOD"),
        help="the shares of 1-2, 3 and 4-5 star ratings the suggestion assumes (e.g. 1 1 1: a third each)",
    )
    add_runtime_arguments(p)
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    use_threads(args.threads)
    started = time.perf_counter()
    try:
        assumed = check_mix(args.assume_mix, "--assume-mix") if args.assume_mix else None
        checkpoint = load_checkpoint(args.cnn)
        ngram, ngram_info = read_ngram_file(args.ngram)
        if tuple(ngram.classes) != checkpoint.classes:
            raise DataError(f"n-gram classes {ngram.classes} differ from the CNN's {checkpoint.classes}")
        ngram_data = DataRecord.from_dict(ngram_info.get("data") or {}).fingerprint
        if ngram_data is not None and ngram_data != checkpoint.info.data_fingerprint:
            raise DataError(f"{args.ngram}: trained on other rows than the CNN (data fingerprint differs)")
        validation, test = training_splits(checkpoint, args.data)
    except (CheckpointError, DataError, ValueError, OSError) as error:
        logger.error("%s", error)
        return 2
    if checkpoint.ngram is not None:
        logger.warning("%s already holds an n-gram model: only its CNN is used", args.cnn)
    cnn = Predictor(
        checkpoint.model, CharEncoder(checkpoint.encoder_config), checkpoint.classes, batch_size=128
    )

    if args.fp16:  # measure and fit with the float16 values the file will hold
        ngram.coef = ngram.coef.astype(np.float16).astype(np.float32)
        ngram.intercept = ngram.intercept.astype(np.float16).astype(np.float32)
    cnn_val, ngram_val = cnn.predict_proba(validation.texts), ngram.predict_proba(validation.texts)
    combination = fit_combination(cnn_val, ngram_val, validation.labels)
    logger.info("combination fitted on %d validation rows: %s", len(validation), combination.to_dict())
    holdout = checkpoint.info.data.holdout_groups if checkpoint.info.data else []
    parts = {"combined": (cnn_val, ngram_val), "charcnn": (cnn_val, None), "ngram": (None, ngram_val)}

    def pooled(name: str, cnn_proba, ngram_proba):
        if name == "combined":
            return combination.combine(cnn_proba, ngram_proba)
        return cnn_proba if name == "charcnn" else ngram_proba

    # Each model's own rating rule (prior and cut points), fitted on the validation rows when
    # they have stars.
    priors: dict[str, RatingPrior | None] = dict.fromkeys(parts)
    cuts: dict[str, tuple[float, ...]] = dict.fromkeys(parts, DEFAULT_CUTS)
    for name, pair in parts.items():
        if validation.stars is None:
            continue
        if assumed is not None:
            priors[name], cuts[name] = fit_rating_rule(pooled(name, *pair), validation.stars, assumed)
        else:
            cuts[name] = fit_rating_cuts(sentiment_scores(pooled(name, *pair)), validation.stars)
    logger.info(
        "rating rule fitted on the validation rows: cut points %s, prior %s",
        cuts["combined"],
        priors["combined"].to_dict() if priors["combined"] else None,
    )

    def probabilities(name: str, cnn_proba, ngram_proba):
        proba = pooled(name, cnn_proba, ngram_proba)
        return priors[name].adjust(proba) if priors[name] is not None else proba

    metrics: dict[str, Any] = {"components": {"charcnn": {}, "ngram": {}}}
    for name, pair in parts.items():
        validation_metrics = classification_metrics(
            validation.labels, probabilities(name, *pair), validation.classes
        )
        target = metrics if name == "combined" else metrics["components"][name]
        target["validation"] = validation_metrics
        target["rating_cuts"] = list(cuts[name])
        if priors[name] is not None:
            target["rating_prior"] = priors[name].to_dict()
    if len(test):
        cnn_test, ngram_test = cnn.predict_proba(test.texts), ngram.predict_proba(test.texts)
        for name in parts:
            report = metrics_by_group(
                test.labels,
                probabilities(name, cnn_test, ngram_test),
                test.classes,
                test.groups,
                test.stars,
                holdout,
                cuts[name],
            )
            (metrics if name == "combined" else metrics["components"][name])["test"] = report
            log_report(logger, f"test {name}", report)
    architecture = checkpoint.info.architecture
    info = replace(
        checkpoint.info,
        architecture=f"{architecture}+ngram",
        combination={
            "method": "log-linear pooling fitted on the validation rows (combine-models)",
            "validation_rows": len(validation),
            "seconds": round(time.perf_counter() - started, 1),
            "charcnn": {"file": args.cnn.name, "sha256": checkpoint.sha256, "architecture": architecture},
            "ngram": {"file": args.ngram.name, **ngram.settings(), **ngram_info},
        },
    )
    save_checkpoint(
        args.out,
        checkpoint.model,
        classes=checkpoint.classes,
        metrics=metrics,
        info=info,
        ngram=ngram,
        combination=combination,
        dtype=torch.float16 if args.fp16 else torch.float32,
        rating_cuts=cuts["combined"],
        rating_prior=priors["combined"],
    )
    logger.info("saved %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
