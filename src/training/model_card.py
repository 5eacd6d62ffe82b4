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

from brandpulse.training.checkpoint import BUNDLED_CHECKPOINT, file_sha256, read_metadata

SUMMARY_KEYS = ("accuracy", "macro_f1", "n")


def summarise(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Accuracy, macro-F1 and row count per group of a `metrics_by_group` report."""
    return {group: {key: values[key] for key in SUMMARY_KEYS} for group, values in metrics.items()}


def build_card(checkpoint: Path, baseline: Path | None = None) -> dict[str, Any]:
    """The model card of `checkpoint` (and of `baseline`, when given) as a dict."""
    meta = read_metadata(checkpoint)
    card: dict[str, Any] = {
        "model": {
            "file": checkpoint.name,
            "sha256": file_sha256(checkpoint),
            "size_bytes": checkpoint.stat().st_size,
            "architecture": meta["info"].get("architecture"),
            "model_config": meta["model_config"],
            "encoder": meta["encoder"],
            "classes": meta["classes"],
        },
        "data": meta["info"].get("data", {}),
        "training": {k: v for k, v in meta["info"].get("train", {}).items() if k != "history"},
        "history": meta["info"].get("train", {}).get("history", []),
        "hardware": meta["info"].get("hardware", {}),
        "held_out": {"charcnn": summarise(meta["metrics"].get("test", {}))},
        "held_out_detail": meta["metrics"].get("test", {}),
    }
    components = meta["metrics"].get("components")
    if components:
        card["model"]["combination"] = meta["combination"]
        card["model"]["ngram"] = meta["ngram"]
        card["combination"] = meta["info"].get("combination", {})
        card["held_out"] = {
            "combined": summarise(meta["metrics"].get("test", {})),
            **{name: summarise(part.get("test", {})) for name, part in components.items()},
        }
    if baseline is not None:
        from brandpulse.training.ngram import HashingBaseline

        baseline_metrics = HashingBaseline.read(baseline)[1]["metrics"]
        card["held_out"]["hashing_baseline"] = summarise(baseline_metrics.get("test", {}))
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `model-card` command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="model-card", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_CHECKPOINT, help="CNN checkpoint")
    parser.add_argument("--baseline", type=Path, help="hashing baseline trained on the same split")
    parser.add_argument("--out", type=Path, help="card file (default: beside the checkpoint)")
    args = parser.parse_args(argv)
    out = args.out or args.checkpoint.with_suffix(".card.json")
    out.write_text(json.dumps(build_card(args.checkpoint, args.baseline), indent=2) + "\n")
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
