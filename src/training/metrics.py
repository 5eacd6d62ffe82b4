"""Classification metrics shared by training (model selection) and evaluation (reports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(
    labels: np.ndarray, predictions: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    indices = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)) if len(labels) else 0.0,
        "macro_f1": float(f1_score(labels, predictions, labels=indices, average="macro", zero_division=0)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(labels, predictions, labels=indices).tolist(),
    }


def metrics_by_group(
    labels: np.ndarray, predictions: np.ndarray, classes: Sequence[str], groups: Sequence[str]
) -> dict[str, Any]:
    """`classification_metrics` overall and for each group (e.g. each data source)."""
    report = {"overall": classification_metrics(labels, predictions, classes)}
    if groups:
        group_array = np.asarray(groups)
        for group in sorted(set(groups)):
            mask = group_array == group
            report[group] = classification_metrics(labels[mask], predictions[mask], classes)
    return report
