"""`model-card`: write the JSON model card of a checkpoint, beside a baseline's figures.

The card gathers what the checkpoint already records (architecture, encoding, classes, data
fingerprint, training settings and time, hardware, held-out metrics; for a CNN pooled with an
n-gram model, the combination and each part's own held-out metrics) and, when given, the
metrics of the hashing baseline trained on the same split, so all can be read side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, read_metadata
from brandpulse.model.paths import file_sha256

SUMMARY_KEYS = ("n", "accuracy", "macro_f1", "ece")
STAR_SUMMARY_KEYS = (
    "band_accuracy",
    "band_balanced_accuracy",
    "band_recall",
    "band_macro_f1",
    "band_confusion_matrix",
    "exact_accuracy",
    "rating_macro_f1",
    "mae",
    "within_one",
    "binary_accuracy",
)


def summarise(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The headline figures per group of a `metrics_by_group` report (star figures when present)."""
    summary = {}
    for group, values in metrics.items():
        row = {key: values[key] for key in SUMMARY_KEYS if key in values}
        stars = values.get("stars") or {}
        row.update({key: stars[key] for key in STAR_SUMMARY_KEYS if key in stars})
        summary[group] = row
    return summary


def evaluation_summary(path: Path) -> dict[str, Any]:
    """The headline figures of an `evaluate` report (and its typo sensitivity, when measured)."""
    report = json.loads(path.read_text())
    summary = {"data": Path(report["data"]).name, "held_out": summarise(report["metrics"])}
    if "typos" in report:
        summary["typos"] = report["typos"]
    return summary


def build_card(
    checkpoint: Path, baseline: Path | None = None, reports: dict[str, Path] | None = None
) -> dict[str, Any]:
    """The model card of `checkpoint` (with `baseline`'s figures and `evaluate` reports, when given)."""
    meta = read_metadata(checkpoint)
    info = meta["info"]
    train = dict(info.train or {})
    card: dict[str, Any] = {
        "model": {
            "file": checkpoint.name,
            "sha256": file_sha256(checkpoint),
            "size_bytes": checkpoint.stat().st_size,
            "architecture": info.architecture,
            "model_config": meta["model_config"],
            "encoder": meta["encoder"],
            "classes": meta["classes"],
        },
        "data": info.data.to_dict() if info.data else {},
        "training": {k: v for k, v in train.items() if k != "history"},
        "history": train.get("history", []),
        "hardware": dict(info.hardware or {}),
        "held_out": {"charcnn": summarise(meta["metrics"].get("test", {}))},
        "held_out_detail": meta["metrics"].get("test", {}),
    }
    components = meta["metrics"].get("components")
    if components:
        card["model"]["combination"] = meta["combination"]
        card["model"]["ngram"] = meta["ngram"]
        card["combination"] = dict(info.combination or {})
        card["held_out"] = {
            "combined": summarise(meta["metrics"].get("test", {})),
            **{name: summarise(part.get("test", {})) for name, part in components.items()},
        }
    if meta.get("rating_cuts") is not None:
        card["model"]["rating_cuts"] = meta["rating_cuts"]
    if meta.get("rating_prior") is not None:  # the rating mix the suggestion assumes
        card["model"]["rating_prior"] = meta["rating_prior"]
    if reports:
        card["evaluations"] = {name: evaluation_summary(path) for name, path in reports.items()}
    if baseline is not None:
        from brandpulse.model.ngram import HashedNgramModel

        baseline_metrics = HashedNgramModel.read(baseline)[1]["metrics"]
        card["held_out"]["hashing_baseline"] = summarise(baseline_metrics.get("test", {}))
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `model-card` command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="model-card", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_CHECKPOINT, help="CNN checkpoint")
    parser.add_argument("--baseline", type=Path, help="hashing baseline trained on the same split")
    parser.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an `evaluate` report.json to summarise under NAME (repeatable)",
    )
    parser.add_argument("--out", type=Path, help="card file (default: beside the checkpoint)")
    args = parser.parse_args(argv)
    reports = {}
    for item in args.report:
        name, separator, path = item.partition("=")
        if not separator or not name:
            parser.error(f"--report takes NAME=PATH, got {item!r}")
        reports[name] = Path(path)
    out = args.out or args.checkpoint.with_suffix(".card.json")
    out.write_text(json.dumps(build_card(args.checkpoint, args.baseline, reports), indent=2) + "\n")
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
