"""Score and suggested rating, as the README defines them."""

from __future__ import annotations

import pytest

from brandpulse.training.scoring import sentiment_score, suggested_rating


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
