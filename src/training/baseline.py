"""`train-baseline`: the classic linear baseline, hashed word 1-2-grams with logistic regression.

This is the out-of-core IMDB classifier of Raschka's *Python Machine Learning* (chapter 8):
a stateless `HashingVectorizer` and an `SGDClassifier` with the logistic loss, fitted with
`partial_fit` one mini-batch at a time, so it can also keep learning online from new reviews.
It is saved like the CNN — arrays in a safetensors file, settings in its metadata, no pickle —
and `evaluate` reads either.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brandpulse.training.data import DataError, label_scheme, load_dataset, split_for_training
from brandpulse.training.metrics import classification_metrics, metrics_by_group
from brandpulse.training.runtime import configure_logging

logger = logging.getLogger(__name__)

FORMAT = "brandpulse-hashing-baseline"
_MARKUP = re.compile(r"<[^>]*>")


def strip_markup(text: str) -> str:
    """Lower-case and drop HTML tags such as IMDB's ``<br />``."""
    return _MARKUP.sub(" ", text.lower())


class HashingBaseline:
    """Hashed word 1-2-grams and a linear model with the logistic loss, trained online."""

    def __init__(self, classes: Sequence[str], n_features: int = 2**20, seed: int = 1) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.linear_model import SGDClassifier

        self.classes = tuple(classes)
        self.n_features = n_features
        self.vectorizer = HashingVectorizer(
            n_features=n_features,
            ngram_range=(1, 2),
            preprocessor=strip_markup,
            alternate_sign=False,
            norm="l2",
        )
        self.classifier = SGDClassifier(loss="log_loss", alpha=1e-6, random_state=seed)
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def partial_fit(self, texts: Sequence[str], labels: np.ndarray) -> None:
        """Learn from one mini-batch."""
        features = self.vectorizer.transform(texts)
        self.classifier.partial_fit(features, labels, classes=np.arange(len(self.classes)))
        self.coef = self.classifier.coef_.astype(np.float32)
        self.intercept = self.classifier.intercept_.astype(np.float32)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities `(len(texts), n_classes)` (one-vs-rest, normalised, as sklearn)."""
        if self.coef is None:
            raise RuntimeError("the baseline has not been trained")
        scores = self.vectorizer.transform(texts) @ self.coef.T + self.intercept  # (B, 1 or C)
        sigmoid = 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))
        if sigmoid.shape[1] == 1:
            return np.hstack([1.0 - sigmoid, sigmoid])
        return sigmoid / sigmoid.sum(axis=1, keepdims=True)

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the weights and settings to a safetensors file."""
        from safetensors.numpy import save_file

        if self.coef is None:
            raise RuntimeError("the baseline has not been trained")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {
            "format": FORMAT,
            "classes": json.dumps(list(self.classes)),
            "n_features": str(self.n_features),
            "metrics": json.dumps(metrics or {}),
        }
        save_file({"coef": self.coef, "intercept": self.intercept}, str(path), metadata=metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> HashingBaseline:
        """Read a baseline written by `save`."""
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ValueError(f"{path}: not a {FORMAT} file")
            model = cls(json.loads(metadata["classes"]), n_features=int(metadata["n_features"]))
            model.coef = handle.get_tensor("coef")
            model.intercept = handle.get_tensor("intercept")
        return model


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
    try:
        dataset = load_dataset(
            args.data,
            text_column=args.text_column,
            label_column=args.label_column,
            scheme=label_scheme(args.labels),
            group_column=args.group_column,
        )
        train, val, test = split_for_training(
            dataset,
            test_fraction=args.test_fraction,
            split_seed=args.split_seed,
            val_fraction=args.val_fraction,
            seed=args.seed,
        )
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
    model.save(args.out, metrics=metrics)
    logger.info("saved %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
