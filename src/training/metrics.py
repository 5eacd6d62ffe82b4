"""Metrics shared by training (model selection), evaluation (reports) and the model card.

Every function takes class probabilities, so each report can carry calibration beside accuracy:

- `classification_metrics`: accuracy, macro-F1, per-class precision/recall/F1, confusion
  matrix, log-loss and the expected calibration error of the most probable class.
- `star_metrics`: for rows with a true 1-5 star rating, how close the suggested rating (the
  one the API returns, `scoring.suggested_rating`) lands: band accuracy (bad 1-2 / average 3 /
  good 4-5) on the rows' own mix and balanced (the mean of the three bands' recalls: band
  accuracy as visitors who rate a third of each would meet it, unmoved by the rows' mix), each
  band's recall, the 3x3 band table, exact stars, 5-class macro-F1 of the suggested rating, mean
  absolute error, within one star, and binary accuracy (1-2 vs 4-5 stars, positive when the
  score is above 0.5). A model of any classes is measured this way, so a 2-, 3- and 5-class
  model compare on the same footing. With row weights (`weights`), every figure but the counts
  weighs each row that much: the learning loop weighs kept suggestions less.
- `ranked_star_metrics`: `star_metrics` and the Spearman rank correlation of the score with the
  stars, the figures the learning loop's gate compares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from brandpulse.model.scoring import BANDS, DEFAULT_CUTS, bands_of, sentiment_scores, suggested_ratings

CALIBRATION_BINS = 15
_FLOOR = 1e-12


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Top-label ECE: the row-weighted mean |accuracy - confidence| over equal-width confidence bins."""
    if not len(labels):
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidences in (edges[i], edges[i+1]]; a confidence of 0 joins the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(error / len(labels))


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class figures, confusion matrix, log-loss and calibration error."""
    indices = list(range(len(classes)))
    labels = np.asarray(labels, dtype=np.int64)
    predictions = probabilities.argmax(axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
    log_loss = (
        float(-np.mean(np.log(np.clip(probabilities[np.arange(len(labels)), labels], _FLOOR, 1.0))))
        if len(labels)
        else 0.0
    )
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)) if len(labels) else 0.0,
        "macro_f1": float(f1_score(labels, predictions, labels=indices, average="macro", zero_division=0)),
        "log_loss": log_loss,
        "ece": expected_calibration_error(labels, probabilities),
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


def star_metrics(
    stars: np.ndarray,
    probabilities: np.ndarray,
    cuts: Sequence[float] = DEFAULT_CUTS,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """How the suggested rating of each row (with these cut points) compares with its true 1-5 stars."""
    stars = np.asarray(stars, dtype=np.int64)
    if not len(stars):
        return {"n": 0}
    scores = sentiment_scores(probabilities)
    return rating_metrics(stars, scores, suggested_ratings(scores, cuts), weights)


def ranked_star_metrics(
    stars: np.ndarray,
    probabilities: np.ndarray,
    cuts: Sequence[float] = DEFAULT_CUTS,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """`star_metrics`, and `score_correlation`: the Spearman rank correlation of the score with
    the stars (unweighted; 0 unless the stars differ)."""
    from scipy.stats import spearmanr  # scipy comes with scikit-learn; scipy.stats loads slowly

    stars = np.asarray(stars, dtype=np.int64)
    figures = star_metrics(stars, probabilities, cuts, weights)
    scores = sentiment_scores(probabilities)
    correlation = float(spearmanr(scores, stars).statistic) if len(set(stars.tolist())) > 1 else 0.0
    return {**figures, "score_correlation": round(correlation, 4)}


def rating_metrics(
    stars: np.ndarray, scores: np.ndarray, ratings: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """`star_metrics` from the scores and suggested ratings themselves (module docstring)."""
    stars, ratings = np.asarray(stars, dtype=np.int64), np.asarray(ratings, dtype=np.int64)
    if not len(stars):
        return {"n": 0}
    weights = np.ones(len(stars)) if weights is None else np.asarray(weights, dtype=np.float64)
    error = np.abs(ratings - stars)
    true_bands, predicted_bands = bands_of(stars), bands_of(ratings)
    polar = stars != 3

    def mean(values: np.ndarray, where: np.ndarray | None = None) -> float:
        w = weights if where is None else weights * where
        return float(np.sum(values * w) / np.sum(w)) if np.sum(w) > 0 else 0.0

    band_table = confusion_matrix(true_bands, predicted_bands, labels=[0, 1, 2], sample_weight=weights)
    recall = {
        band: mean(predicted_bands == b, true_bands == b)
        for b, band in enumerate(BANDS)
        if (true_bands == b).any()
    }
    f1 = {"labels": [1, 2, 3, 4, 5], "average": "macro", "zero_division": 0, "sample_weight": weights}
    return {
        "n": int(len(stars)),
        "band_accuracy": mean(true_bands == predicted_bands),
        # The mean of the bands' recalls: band accuracy on rows with a third of each band.
        "band_balanced_accuracy": float(np.mean(list(recall.values()))),
        "band_recall": recall,
        "band_macro_f1": float(
            f1_score(
                true_bands,
                predicted_bands,
                labels=[0, 1, 2],
                average="macro",
                zero_division=0,
                sample_weight=weights,
            )
        ),
        "exact_accuracy": mean(ratings == stars),
        "rating_macro_f1": float(f1_score(stars, ratings, **f1)),
        "mae": mean(error),
        "within_one": mean(error <= 1),
        "binary_accuracy": mean((scores > 0.5) == (stars >= 4), polar) if polar.any() else 0.0,
        "binary_n": int(polar.sum()),
        "mean_score_by_stars": {
            str(s): float(scores[stars == s].mean()) for s in range(1, 6) if (stars == s).any()
        },
        "star_distribution": {str(s): int((stars == s).sum()) for s in range(1, 6)},
        # Rows: true band bad / average / good; columns: suggested band (weighted row counts).
        "band_confusion_matrix": np.round(band_table, 3).tolist(),
        # Rows: true stars 1-5; columns: suggested rating 1-5.
        "rating_confusion_matrix": confusion_matrix(stars, ratings, labels=[1, 2, 3, 4, 5]).tolist(),
    }


def evaluation_report(
    labels: np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    stars: np.ndarray | None = None,
    cuts: Sequence[float] = DEFAULT_CUTS,
) -> dict[str, Any]:
    """`classification_metrics`, with `star_metrics` under "stars" when the true stars are known."""
    report = classification_metrics(labels, probabilities, classes)
    if stars is not None:
        report["stars"] = star_metrics(stars, probabilities, cuts)
    return report


def polarity_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy and macro-F1 of "score above 0.5" against binary labels (1 = positive).

    How a model of other classes (star ratings) is measured on binary sentiment data, such as
    the movie reviews.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predictions = (sentiment_scores(probabilities) > 0.5).astype(np.int64) if len(labels) else labels
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)) if len(labels) else 0.0,
        "macro_f1": float(f1_score(labels, predictions, labels=[0, 1], average="macro", zero_division=0)),
    }


IN_DOMAIN = "in_domain"


def by_group(
    groups: Sequence[str],
    measure: Callable[[np.ndarray], dict[str, Any]],
    n_rows: int,
    holdout_groups: Sequence[str] = (),
) -> dict[str, Any]:
    """`measure(row mask)` over all rows ("overall"), over each group's rows and, when groups
    were held out of training (unseen domains), over the rest ("in_domain")."""
    report = {"overall": measure(np.ones(n_rows, dtype=bool))}
    group_array = np.asarray(groups)
    if holdout_groups and len(groups):
        report[IN_DOMAIN] = measure(~np.isin(group_array, list(holdout_groups)))
    for group in sorted(set(groups)):
        report[group] = measure(group_array == group)
    return report


def metrics_by_group(
    labels: np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    groups: Sequence[str],
    stars: np.ndarray | None = None,
    holdout_groups: Sequence[str] = (),
    cuts: Sequence[float] = DEFAULT_CUTS,
) -> dict[str, Any]:
    """`evaluation_report` overall, for each group (e.g. each data source) and in-domain (see `by_group`)."""

    def measure(mask: np.ndarray) -> dict[str, Any]:
        return evaluation_report(
            labels[mask], probabilities[mask], classes, None if stars is None else stars[mask], cuts
        )

    return by_group(groups, measure, len(labels), holdout_groups)


def log_report(logger: logging.Logger, title: str, report: dict[str, Any]) -> None:
    """Log one line per group of a `metrics_by_group` report (star figures when it has them)."""
    for group, values in report.items():
        if not values.get("n"):
            continue
        parts = [
            f"{name} {values[key]:.4f}"
            for key, name in (("accuracy", "accuracy"), ("macro_f1", "macro-F1"))
            if key in values
        ]
        stars = values.get("stars")
        if stars and stars.get("n"):
            recall = stars["band_recall"]
            parts.append(
                f"band accuracy {stars['band_accuracy']:.4f}, balanced {stars['band_balanced_accuracy']:.4f} "
                f"(recall {' / '.join(f'{band} {value:.3f}' for band, value in recall.items())}), "
                f"MAE {stars['mae']:.3f}, within one {stars['within_one']:.4f}, "
                f"binary {stars['binary_accuracy']:.4f}"
            )
        logger.info("%s %s: %s (n=%d)", title, group, ", ".join(parts), values["n"])
