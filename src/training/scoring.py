"""The sentiment score and the suggested star rating, defined once for the whole project.

`score` is the expected position of the predicted distribution over the classes, which are
ordered from most negative (position 0) to most positive (position 1):

    score = sum_i p_i * i / (n_classes - 1)          (in [0, 1]; P(positive) for two classes)

The suggested rating cuts the score at four increasing points c1 < c2 < c3 < c4:

    suggested_rating = 1 + (number of cut points at or below the score)

so it rises with the score, and the bar a visitor sees and the stars suggested never disagree.
The default cut points 0.125, 0.375, 0.625, 0.875 give 1 + round(4 * score), halves rounded up;
a checkpoint may carry cut points fitted on its validation rows (`fit_rating_cuts`), which is
how the bundled model decodes its five star classes (docs/model_card.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

DEFAULT_CUTS = (0.125, 0.375, 0.625, 0.875)


def bands_of(stars: np.ndarray | int) -> np.ndarray:
    """The band of star ratings: 0 (bad) for 1-2 stars, 1 (average) for 3, 2 (good) for 4-5."""
    return np.digitize(stars, (2.5, 3.5))


def check_cuts(cuts: Sequence[float]) -> tuple[float, ...]:
    """The cut points as a tuple; ValueError unless four strictly increasing values inside (0, 1)."""
    values = tuple(float(c) for c in cuts)
    if len(values) != 4 or not all(0.0 < c < 1.0 for c in values):
        raise ValueError(f"need four rating cut points inside (0, 1), got {values}")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"rating cut points must increase, got {values}")
    return values


def sentiment_score(probabilities: Sequence[float] | np.ndarray) -> float:
    """Expected class position in [0, 1] of a probability vector ordered negative -> positive."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or len(p) < 2:
        raise ValueError("need a probability vector over at least two classes")
    positions = np.linspace(0.0, 1.0, len(p))
    return float(np.clip(p @ positions / p.sum(), 0.0, 1.0))


def suggested_rating(score: float, cuts: Sequence[float] = DEFAULT_CUTS) -> int:
    """1-5 stars for a score in [0, 1]: 1 + the number of cut points at or below it."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    return 1 + bisect.bisect_right(cuts, score)


def sentiment_scores(probabilities: np.ndarray) -> np.ndarray:
    """`sentiment_score` of every row of a `(rows, classes)` probability array."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError("need a (rows, classes) probability array over at least two classes")
    positions = np.linspace(0.0, 1.0, p.shape[1])
    return np.clip(p @ positions / p.sum(axis=1), 0.0, 1.0)


def suggested_ratings(scores: np.ndarray, cuts: Sequence[float] = DEFAULT_CUTS) -> np.ndarray:
    """`suggested_rating` of every score, as an int64 array."""
    scores = np.asarray(scores, dtype=np.float64)
    if ((scores < 0.0) | (scores > 1.0)).any():
        raise ValueError("scores must be in [0, 1]")
    return 1 + np.searchsorted(np.asarray(cuts, dtype=np.float64), scores, side="right").astype(np.int64)


def rating_loss(ratings: np.ndarray, stars: np.ndarray) -> float:
    """What `fit_rating_cuts` minimises: mean absolute error in stars minus band accuracy.

    Both count: the error says how far a suggestion is, the band (1-2 / 3 / 4-5) whether it reads
    as bad, average or good, as a visitor sees it.
    """
    return float(np.mean(np.abs(ratings - stars)) - np.mean(bands_of(ratings) == bands_of(stars)))


def fit_rating_cuts(
    scores: np.ndarray, stars: np.ndarray, steps: int = 197, rounds: int = 4
) -> tuple[float, ...]:
    """The cut points that minimise `rating_loss` on these rows (validation rows, never test rows).

    Coordinate search from the default cut points over a grid of `steps` values in (0, 1): each
    round moves every cut point in turn to its best place between its neighbours. Ties keep the
    lower value, so the result is deterministic.
    """
    scores, stars = np.asarray(scores, dtype=np.float64), np.asarray(stars, dtype=np.int64)
    if not len(scores):
        raise ValueError("cannot fit rating cut points on zero rows")
    grid = np.linspace(0.01, 0.99, steps)
    cuts = np.asarray(DEFAULT_CUTS)
    for _ in range(rounds):
        for k in range(len(cuts)):
            low = cuts[k - 1] if k else 0.0
            high = cuts[k + 1] if k + 1 < len(cuts) else 1.0
            candidates = grid[(grid > low) & (grid < high)]
            losses = []
            for value in candidates:
                trial = cuts.copy()
                trial[k] = value
                losses.append(rating_loss(suggested_ratings(scores, trial), stars))
            if candidates.size:
                cuts[k] = candidates[int(np.argmin(losses))]
    return check_cuts(np.round(cuts, 4))
