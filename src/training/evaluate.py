"""`evaluate`: a model's figures on labelled rows, overall and per group, with plots.

Reads either model kind — the CNN checkpoint (alone or pooled with its n-gram model) or the
hashing baseline — so all are measured by the same code on the same rows. For rows with star
ratings it adds the star figures (band accuracy, exact stars, MAE, within one star, binary
accuracy; see `metrics.py`), and with `--typo-rate` how far scores move when that share of
characters are typos. A model of other classes than the data's (a star model on the binary
movie reviews) is measured by its score: positive when above 0.5. Writes a JSON report and
confusion-matrix PNGs.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, CheckpointError, load_checkpoint
from brandpulse.model.paths import file_sha256
from brandpulse.model.runtime import configure_logging, use_threads
from brandpulse.model.scoring import DEFAULT_CUTS, sentiment_scores
from brandpulse.training.augment import change_characters
from brandpulse.training.cli import add_data_arguments, add_runtime_arguments
from brandpulse.training.data import (
    BINARY_CLASSES,
    DataError,
    Dataset,
    label_scheme,
    load_dataset,
    select_rows,
)
from brandpulse.training.metrics import (
    by_group,
    log_report,
    metrics_by_group,
    polarity_metrics,
    star_metrics,
)

logger = logging.getLogger(__name__)


class TextClassifier(Protocol):
    """What evaluation needs of a model."""

    classes: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def load_model(path: str | Path) -> TextClassifier:
    """Load a CNN checkpoint or a hashing baseline, whichever the file holds."""
    from safetensors import safe_open

    from brandpulse.model.ngram import FORMAT as BASELINE_FORMAT
    from brandpulse.model.ngram import HashedNgramModel
    from brandpulse.model.predictor import Predictor

    try:
        with safe_open(str(path), framework="np") as handle:
            kind = (handle.metadata() or {}).get("format")
    except Exception as error:  # safetensors raises several types for a bad file
        raise CheckpointError(f"{path}: not a readable model file ({error})") from None
    if kind == BASELINE_FORMAT:
        return HashedNgramModel.load(path)
    return Predictor.from_loaded(load_checkpoint(path), batch_size=128)


def evaluate_model(
    model: TextClassifier, dataset: Dataset, holdout_groups: Sequence[str] = ()
) -> dict[str, Any]:
    """Metrics of `model` on `dataset`, overall and per group.

    A model of the data's classes gets the full report. A model of other classes is measured
    by its suggested rating on star-rated rows (`metrics.star_metrics`), and by its score on
    binary rows (`metrics.polarity_metrics`).
    """
    probabilities = model.predict_proba(dataset.texts)
    cuts = getattr(model, "rating_cuts", DEFAULT_CUTS)
    if tuple(model.classes) == tuple(dataset.classes):
        return metrics_by_group(
            dataset.labels,
            probabilities,
            dataset.classes,
            dataset.groups,
            dataset.stars,
            holdout_groups,
            cuts,
        )
    stars = dataset.stars
    if stars is not None:
        return by_group(
            dataset.groups,
            lambda mask: {
                "n": int(mask.sum()),
                "stars": star_metrics(stars[mask], probabilities[mask], cuts),
            },
            len(dataset),
            holdout_groups,
        )
    if tuple(dataset.classes) == BINARY_CLASSES:
        return by_group(
            dataset.groups,
            lambda mask: polarity_metrics(dataset.labels[mask], probabilities[mask]),
            len(dataset),
            holdout_groups,
        )
    raise ValueError(f"model classes {model.classes} differ from the data's {dataset.classes}")


def typo_sensitivity(
    model: TextClassifier, texts: Sequence[str], rate: float, seed: int = 0
) -> dict[str, float]:
    """How far scores move when each character is changed with probability `rate` (|change| figures)."""
    rng = random.Random(seed)
    noisy = [change_characters(text, rate, rng) for text in texts]
    change = np.abs(
        sentiment_scores(model.predict_proba(noisy)) - sentiment_scores(model.predict_proba(list(texts)))
    )
    return {
        "rate": rate,
        "n": len(texts),
        "mean_abs_score_change": float(change.mean()) if len(change) else 0.0,
        "p90_abs_score_change": float(np.quantile(change, 0.9)) if len(change) else 0.0,
        "max_abs_score_change": float(change.max()) if len(change) else 0.0,
    }


def plot_confusion_matrix(matrix: list[list[int]], classes: Sequence[str], path: Path, title: str) -> Path:
    """Draw a confusion matrix (rows: true class, columns: predicted) to a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    counts = np.asarray(matrix)
    figure, axes = plt.subplots(figsize=(1.4 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(classes)), classes)
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), value in np.ndenumerate(counts):
        axes.text(
            column, row, str(value), ha="center", va="center", color="white" if value > threshold else "black"
        )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def build_parser() -> argparse.ArgumentParser:
    """The `evaluate` command line."""
    p = argparse.ArgumentParser(prog="evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=BUNDLED_CHECKPOINT, help="CNN checkpoint or baseline file")
    add_data_arguments(p, split=False)
    p.add_argument("--split-file", type=Path, help="evaluate only the held-out rows this file lists")
    p.add_argument("--sample", type=int, help="evaluate a seeded random sample of this many rows")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample and of the typos")
    p.add_argument(
        "--typo-rate",
        type=float,
        help="also measure how far scores move with this share of characters changed (e.g. 0.05)",
    )
    p.add_argument("--typo-rows", type=int, default=2000, help="rows the typo measurement uses, at most")
    p.add_argument("--out-dir", type=Path, default=Path("reports"), help="where report and plots go")
    add_runtime_arguments(p)
    return p


def read_rows(args: argparse.Namespace, model: TextClassifier) -> Dataset:
    """The rows to evaluate on, as the options select them."""
    classes = args.classes or (model.classes if args.labels == "names" else None)
    dataset = load_dataset(
        args.data,
        text_column=args.text_column,
        label_column=args.label_column,
        scheme=label_scheme(args.labels, classes),
        group_column=args.group_column,
        company_column=args.company_column,
    )
    if args.split_file:
        split = json.loads(args.split_file.read_text())
        recorded = split.get("data_sha256")
        if recorded and recorded != file_sha256(args.data):
            raise DataError(f"{args.data}: not the file {args.split_file} was split from (SHA-256 differs)")
        dataset = select_rows(dataset, split["test_row_ids"])
    if args.sample and args.sample < len(dataset):
        rng = np.random.default_rng(args.seed)
        dataset = dataset.subset(np.sort(rng.choice(len(dataset), args.sample, replace=False)))
    return dataset


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `evaluate` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    use_threads(args.threads)
    try:
        model = load_model(args.model)
        dataset = read_rows(args, model)
        holdout = args.holdout_groups
        if args.split_file and not holdout:
            holdout = json.loads(args.split_file.read_text()).get("holdout_groups", [])
        report = evaluate_model(model, dataset, holdout)
    except (CheckpointError, DataError, ValueError, OSError, KeyError) as error:
        logger.error("%s", error)
        return 2
    result: dict[str, Any] = {"model": str(args.model), "data": str(args.data), "metrics": report}
    if args.typo_rate:
        rows = np.random.default_rng(args.seed).permutation(len(dataset))[: args.typo_rows]
        result["typos"] = typo_sensitivity(model, [dataset.texts[i] for i in sorted(rows)], args.typo_rate)
        logger.info("typos: %s", result["typos"])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report_path = args.out_dir / "report.json"
    report_path.write_text(json.dumps(result, indent=2) + "\n")
    for group, values in report.items():
        if "confusion_matrix" in values:
            plot_confusion_matrix(
                values["confusion_matrix"],
                dataset.classes,
                args.out_dir / f"confusion_matrix_{group}.png",
                f"{args.model.name}: {group}",
            )
    log_report(logger, "evaluate", report)
    logger.info("wrote %s and confusion-matrix plots to %s", report_path, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
