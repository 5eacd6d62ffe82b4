"""`evaluate`: accuracy, macro-F1, per-class precision/recall/F1 and a confusion matrix.

Reads either model kind — the CNN checkpoint or the hashing baseline — so both are measured
by the same code on the same rows. Writes a JSON report and confusion-matrix PNGs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from brandpulse.training.checkpoint import BUNDLED_CHECKPOINT, CheckpointError, load_checkpoint
from brandpulse.training.data import DataError, Dataset, label_scheme, load_dataset, select_rows
from brandpulse.training.metrics import metrics_by_group
from brandpulse.training.runtime import configure_logging, use_threads

logger = logging.getLogger(__name__)


class TextClassifier(Protocol):
    """What evaluation needs of a model."""

    classes: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def load_model(path: str | Path) -> TextClassifier:
    """Load a CNN checkpoint or a hashing baseline, whichever the file holds."""
    from safetensors import safe_open

    from brandpulse.training.ngram import FORMAT as BASELINE_FORMAT
    from brandpulse.training.ngram import HashingBaseline
    from brandpulse.training.predictor import Predictor

    try:
        with safe_open(str(path), framework="np") as handle:
            kind = (handle.metadata() or {}).get("format")
    except Exception as error:  # safetensors raises several types for a bad file
        raise CheckpointError(f"{path}: not a readable model file ({error})") from None
    if kind == BASELINE_FORMAT:
        return HashingBaseline.load(path)
    return Predictor.from_loaded(load_checkpoint(path), batch_size=128)


def evaluate_model(model: TextClassifier, dataset: Dataset) -> dict[str, Any]:
    """Metrics of `model` on `dataset`, overall and per group."""
    if tuple(model.classes) != tuple(dataset.classes):
        raise ValueError(f"model classes {model.classes} differ from the data's {dataset.classes}")
    predictions = model.predict_proba(dataset.texts).argmax(axis=1)
    return metrics_by_group(dataset.labels, predictions, dataset.classes, dataset.groups)


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
    p.add_argument("--data", required=True, type=Path, help="labelled CSV or JSONL file")
    p.add_argument("--text-column", default="text", help="column holding the text")
    p.add_argument("--label-column", default="label", help="column holding the label")
    p.add_argument("--labels", default="binary", choices=["binary", "stars3", "stars2"], help="label scheme")
    p.add_argument("--group-column", help="column to report metrics by (e.g. source)")
    p.add_argument("--split-file", type=Path, help="evaluate only the held-out rows this file lists")
    p.add_argument("--sample", type=int, help="evaluate a seeded random sample of this many rows")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample")
    p.add_argument("--out-dir", type=Path, default=Path("reports"), help="where report and plots go")
    p.add_argument("--threads", type=int, help="torch compute threads (default: every core)")
    p.add_argument("--log-level", default="INFO", help="logging level")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `evaluate` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    use_threads(args.threads)
    try:
        model = load_model(args.model)
        dataset = load_dataset(
            args.data,
            text_column=args.text_column,
            label_column=args.label_column,
            scheme=label_scheme(args.labels),
            group_column=args.group_column,
        )
        if args.split_file:
            split = json.loads(args.split_file.read_text())
            dataset = select_rows(dataset, split["test_row_ids"])
        if args.sample and args.sample < len(dataset):
            rng = np.random.default_rng(args.seed)
            dataset = dataset.subset(np.sort(rng.choice(len(dataset), args.sample, replace=False)))
        report = evaluate_model(model, dataset)
    except (CheckpointError, DataError, ValueError, OSError, KeyError) as error:
        logger.error("%s", error)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report_path = args.out_dir / "report.json"
    report_path.write_text(
        json.dumps({"model": str(args.model), "data": str(args.data), "metrics": report}, indent=2) + "\n"
    )
    for group, values in report.items():
        plot_confusion_matrix(
            values["confusion_matrix"],
            dataset.classes,
            args.out_dir / f"confusion_matrix_{group}.png",
            f"{args.model.name}: {group}",
        )
        logger.info(
            "%s: accuracy %.4f, macro-F1 %.4f (n=%d)",
            group,
            values["accuracy"],
            values["macro_f1"],
            values["n"],
        )
    logger.info("wrote %s and confusion-matrix plots to %s", report_path, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
