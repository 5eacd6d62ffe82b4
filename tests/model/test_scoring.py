"""Score and suggested rating, as the README defines them."""

from __future__ import annotations

import numpy as np
import pytest

from brandpulse.model.scoring import (
    RatingPrior,
    band_mix,
    check_cuts,
    cuts_at_band_counts,
    fit_rating_cuts,
    fit_rating_rule,
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


def test_a_rating_prior_moves_each_band_by_the_ratio_of_its_shares():
    prior = RatingPrior(assumed=(1, 1, 1), calibrated=(0.25, 0.125, 0.625))
    assert prior.assumed == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # Factors bad 4/3, average 8/3, good 8/15, each star class by its band's.
    factors = np.array([4 / 3, 4 / 3, 8 / 3, 8 / 15, 8 / 15])
    np.testing.assert_allclose(prior.class_factors(5), factors)
    p = np.array([[0.1, 0.1, 0.2, 0.3, 0.3]])
    expected = p * factors / (p * factors).sum()
    np.testing.assert_allclose(prior.adjust(p), expected)
    assert prior.adjust(p)[0, 2] > p[0, 2]  # the average band, rare in the calibration rows, gains
    # The same mix assumed as calibrated moves nothing.
    np.testing.assert_allclose(RatingPrior((0.2, 0.1, 0.7), (0.2, 0.1, 0.7)).adjust(p), p)
    assert RatingPrior.from_dict(prior.to_dict()).assumed == pytest.approx(prior.assumed)


@pytest.mark.parametrize("mix", [(1, 1), (0, 1, 1), (-1, 1, 1), (1, float("nan"), 1)])
def test_a_rating_mix_is_three_positive_shares(mix):
    with pytest.raises(ValueError, match="three positive shares"):
        RatingPrior(assumed=mix, calibrated=(1, 1, 1))


def test_a_prior_needs_the_five_star_classes():
    with pytest.raises(ValueError, match="five star classes"):
        RatingPrior((1, 1, 1), (1, 1, 1)).class_factors(3)


def test_band_mix_counts_weighted_shares():
    assert band_mix(np.array([1, 2, 3, 5])) == pytest.approx((0.5, 0.25, 0.25))
    assert band_mix(np.array([1, 3, 5]), np.array([2.0, 1.0, 1.0])) == pytest.approx((0.5, 0.25, 0.25))


def test_a_rule_for_a_balanced_mix_suggests_3_stars_more_often():
    # Validation rows like the corpus (3 stars one in nine), read as noisily as the bundled model
    # reads them: the cut points fitted as they are suggest 3 stars for one average review in five.
    rng = np.random.default_rng(3)
    stars = rng.choice([1, 2, 3, 4, 5], size=6000, p=[0.18, 0.05, 0.11, 0.16, 0.5])
    logits = -0.2 * (np.arange(1, 6)[None, :] - stars[:, None]) ** 2 + rng.normal(0, 1.0, (len(stars), 5))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    base_rate = np.log([0.18, 0.05, 0.11, 0.16, 0.5])  # the probabilities carry the rows' mix
    probabilities = probabilities * np.exp(base_rate)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    scores = sentiment_scores(probabilities)
    as_is = suggested_ratings(scores, fit_rating_cuts(scores, stars))
    prior, cuts = fit_rating_rule(probabilities, stars, (1, 1, 1))
    balanced = suggested_ratings(sentiment_scores(prior.adjust(probabilities)), cuts)
    assert prior.calibrated == pytest.approx(band_mix(stars))

    def recall(ratings, band):
        rows = np.digitize(stars, (2.5, 3.5)) == band
        return np.mean(np.digitize(ratings[rows], (2.5, 3.5)) == band)

    assert recall(as_is, 1) < 0.3 and recall(balanced, 1) > recall(as_is, 1) + 0.3
    balanced_accuracy = np.mean([recall(balanced, b) for b in range(3)])
    assert balanced_accuracy > np.mean([recall(as_is, b) for b in range(3)])


def test_cut_points_at_band_counts_suggest_each_band_that_often():
    rng = np.random.default_rng(8)
    scores = rng.uniform(0, 1, 1000)
    cuts = cuts_at_band_counts(scores, (0.2, 0.4, 0.6, 0.8), (250, 100, 650))
    bands = np.digitize(suggested_ratings(scores, cuts), (2.5, 3.5))
    assert np.bincount(bands, minlength=3).tolist() == [250, 100, 650]
    assert cuts[0] == 0.2  # still below the bad band's upper boundary: kept
    # No average band at all, and every score bad.
    assert np.bincount(
        np.digitize(suggested_ratings(scores, cuts_at_band_counts(scores, cuts, (400, 0, 600))), (2.5, 3.5)),
        minlength=3,
    ).tolist() == [400, 0, 600]
    assert np.bincount(
        np.digitize(suggested_ratings(scores, cuts_at_band_counts(scores, cuts, (1000, 0, 0))), (2.5, 3.5)),
        minlength=3,
    ).tolist() == [1000, 0, 0]
    with pytest.raises(ValueError, match="do not fit"):
        cuts_at_band_counts(scores, cuts, (600, 0, 600))
