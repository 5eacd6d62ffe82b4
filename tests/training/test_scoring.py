"""Score and suggested rating, as the README defines them."""

from __future__ import annotations

import numpy as np
import pytest

from brandpulse.training.scoring import (
    check_cuts,
    fit_rating_cuts,
    rating_loss,
    sentiment_score,
    sentiment_scores,
    suggested_rating,
    suggested_ratings,
)


@pytest.mark.parametrize(
    ("probabilities", "score"),
    [
        ([0.3, 0.7], 0.7),  # two classes: P(positive)
        ([1.0, 0.0, 0.0], 0.0),
        ([0.0, 0.0, 1.0], 1.0),
        ([0.0, 1.0, 0.0], 0.5),
        ([0.2, 0.2, 0.6], 0.7),
        ([0.2, 0.2, 0.2, 0.2, 0.2], 0.5),
    ],
)
def test_score_is_the_expected_class_position(probabilities, score):
    assert sentiment_score(probabilities) == pytest.approx(score)


@pytest.mark.parametrize(
    ("score", "stars"),
    [(0.0, 1), (0.124, 1), (0.125, 2), (0.5, 3), (0.624, 3), (0.625, 4), (0.874, 4), (0.875, 5), (1.0, 5)],
)
def test_suggested_rating_rounds_halves_up(score, stars):
    assert suggested_rating(score) == stars


@pytest.mark.parametrize("score", [-0.01, 1.01, float("nan")])
def test_suggested_rating_refuses_scores_outside_0_1(score):
    with pytest.raises(ValueError):
        suggested_rating(score)


def test_score_needs_a_vector():
    with pytest.raises(ValueError):
        sentiment_score([1.0])


def test_arrays_score_and_rate_as_the_single_values_do():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(5), size=200)
    scores = sentiment_scores(probabilities)
    assert scores == pytest.approx([sentiment_score(p) for p in probabilities])
    cuts = (0.2, 0.45, 0.56, 0.815)
    assert suggested_ratings(scores, cuts).tolist() == [suggested_rating(s, cuts) for s in scores]
    assert suggested_ratings(np.array([0.0, 0.2, 0.449, 0.45, 1.0]), cuts).tolist() == [1, 2, 2, 3, 5]


@pytest.mark.parametrize(
    "cuts", [(0.1, 0.2, 0.3), (0.1, 0.3, 0.2, 0.4), (0.0, 0.2, 0.3, 0.4), (0.1, 0.2, 0.3, 1.0)]
)
def test_cut_points_must_be_four_increasing_values_inside_0_1(cuts):
    with pytest.raises(ValueError):
        check_cuts(cuts)


def test_rating_loss_by_hand():
    # Errors 0, 1, 2 -> MAE 1; bands right, wrong (3 vs 4), right (2 vs 1... both bad) -> 2/3.
    assert rating_loss(np.array([1, 3, 2]), np.array([1, 4, 4])) == pytest.approx((0 + 1 + 2) / 3 - 1 / 3)


def test_fitted_cut_points_recover_a_shifted_scale():
    # A model whose scores run low: true stars s sit at scores (s - 1) / 4 - 0.1, clipped.
    rng = np.random.default_rng(1)
    stars = rng.integers(1, 6, size=2000)
    scores = np.clip((stars - 1) / 4 - 0.1 + rng.normal(0, 0.03, size=len(stars)), 0, 1)
    default_loss = rating_loss(suggested_ratings(scores), stars)
    cuts = fit_rating_cuts(scores, stars)
    assert rating_loss(suggested_ratings(scores, cuts), stars) < default_loss - 0.2
    assert np.mean(suggested_ratings(scores, cuts) == stars) > 0.95
    assert cuts == fit_rating_cuts(scores, stars)  # deterministic
