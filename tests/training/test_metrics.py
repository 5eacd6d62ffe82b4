"""Metric functions against hand-computed values."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from brandpulse.training.metrics import (
    by_group,
    classification_metrics,
    expected_calibration_error,
    log_report,
    metrics_by_group,
    polarity_metrics,
    star_metrics,
)

# Five rows of a five-class model; true stars 1, 2, 3, 4, 5.
STARS = np.array([1, 2, 3, 4, 5])
PROBABILITIES = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],  # score 0.0  -> 1 star  (exact)
        [0.0, 0.0, 1.0, 0.0, 0.0],  # score 0.5  -> 3 stars (one off, wrong band)
        [0.0, 0.0, 0.0, 1.0, 0.0],  # score 0.75 -> 4 stars (one off, wrong band)
        [0.0, 0.0, 0.0, 0.0, 1.0],  # score 1.0  -> 5 stars (one off, right band)
        [0.5, 0.0, 0.0, 0.0, 0.5],  # score 0.5  -> 3 stars (two off, wrong band)
    ]
)


def test_star_metrics_by_hand():
    m = star_metrics(STARS, PROBABILITIES)
    assert m["n"] == 5
    assert m["exact_accuracy"] == pytest.approx(1 / 5)
    assert m["mae"] == pytest.approx((0 + 1 + 1 + 1 + 2) / 5)
    assert m["within_one"] == pytest.approx(4 / 5)
    # Bands: true bad, bad, average, good, good; suggested bad, average, good, good, average.
    assert m["band_accuracy"] == pytest.approx(2 / 5)
    # Recall per band: bad 1/2, average 0/1, good 1/2.
    assert m["band_balanced_accuracy"] == pytest.approx((0.5 + 0.0 + 0.5) / 3)
    # Binary rows (stars 1, 2, 4, 5): positive when the score is above 0.5 -> 0, 0, 1, 0.
    assert m["binary_n"] == 4
    assert m["binary_accuracy"] == pytest.approx(3 / 4)
    assert m["star_distribution"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    assert m["rating_confusion_matrix"][4] == [0, 0, 1, 0, 0]  # the 5-star row was suggested 3
    assert m["band_recall"] == pytest.approx({"bad": 0.5, "average": 0.0, "good": 0.5})
    # Rows true bad / average / good, columns suggested: bad->bad, bad->avg, avg->good, good->good, good->avg.
    assert m["band_confusion_matrix"] == [[1, 1, 0], [0, 0, 1], [0, 1, 1]]
    # Suggested 1, 3, 4, 5, 3 for true 1-5: F1 per star 1, 0, 0, 0, 2/3 (5: precision 1, recall 1/2... ).
    assert m["rating_macro_f1"] == pytest.approx((1.0 + 0 + 0 + 0 + 0) / 5)


def test_star_metrics_weigh_rows_when_given_weights():
    weights = np.array([3.0, 1.0, 1.0, 1.0, 1.0])  # the exact 1-star row counts three times
    m = star_metrics(STARS, PROBABILITIES, weights=weights)
    assert m["n"] == 5
    assert m["exact_accuracy"] == pytest.approx(3 / 7)
    assert m["band_recall"]["bad"] == pytest.approx(3 / 4)
    assert m["band_confusion_matrix"][0] == [3, 1, 0]


def test_star_metrics_use_the_cut_points_given():
    # Cut points that read score 0.5 as 2 stars and 0.75 as 3 stars.
    m = star_metrics(STARS, PROBABILITIES, cuts=(0.1, 0.6, 0.8, 0.9))
    assert m["exact_accuracy"] == pytest.approx(3 / 5)  # rows 1, 2 and 3 now exact


def test_a_model_of_two_classes_is_measured_in_stars_too():
    two = np.array([[0.9, 0.1], [0.2, 0.8]])
    m = star_metrics(np.array([1, 5]), two)
    # Scores 0.1 and 0.8 -> ratings 1 and 4.
    assert m["mae"] == pytest.approx(0.5) and m["band_accuracy"] == 1.0


def test_expected_calibration_error_by_hand():
    labels = np.array([0, 1, 1, 1])
    # Confidences 0.9, 0.9 (bin 13), 0.6, 0.6 (bin 8); correct: yes, no, yes, yes.
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    # Bin 13: accuracy 0.5 vs confidence 0.9; bin 8: accuracy 1.0 vs confidence 0.6.
    expected = (2 * abs(0.5 - 0.9) + 2 * abs(1.0 - 0.6)) / 4
    assert expected_calibration_error(labels, probabilities) == pytest.approx(expected)
    assert expected_calibration_error(np.array([], dtype=int), np.zeros((0, 2))) == 0.0


def test_classification_metrics_include_log_loss_and_calibration():
    labels = np.array([0, 1])
    probabilities = np.array([[0.8, 0.2], [0.5, 0.5]])
    m = classification_metrics(labels, probabilities, ("negative", "positive"))
    assert m["accuracy"] == 0.5  # a tie goes to the first class
    assert m["log_loss"] == pytest.approx(-(np.log(0.8) + np.log(0.5)) / 2)
    assert m["confusion_matrix"] == [[1, 0], [1, 0]]


def test_polarity_metrics_score_above_one_half_is_positive():
    probabilities = np.array(
        [[0.1, 0.0, 0.0, 0.0, 0.9], [0.6, 0.0, 0.4, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]]
    )
    m = polarity_metrics(np.array([1, 0, 1]), probabilities)  # scores 0.9, 0.2, 0.5
    assert m["accuracy"] == pytest.approx(2 / 3) and m["n"] == 3


def test_groups_and_the_in_domain_rows():
    labels = np.array([0, 1, 0, 1])
    probabilities = np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.9, 0.1]])
    report = metrics_by_group(labels, probabilities, ("a", "b"), ["x", "x", "y", "y"], holdout_groups=["y"])
    assert list(report) == ["overall", "in_domain", "x", "y"]
    assert report["in_domain"]["accuracy"] == report["x"]["accuracy"] == 1.0
    assert report["y"]["accuracy"] == 0.0 and report["overall"]["n"] == 4
    assert "in_domain" not in by_group([], lambda mask: {"n": int(mask.sum())}, 3, holdout_groups=["y"])


def test_log_report_names_each_group(caplog):
    caplog.set_level(logging.INFO)
    report = metrics_by_group(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), ("a", "b"), ["x", "x"])
    log_report(logging.getLogger("test"), "test", report)
    assert "test x: accuracy 1.0000, macro-F1 1.0000 (n=2)" in caplog.text
