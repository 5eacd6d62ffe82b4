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

**The rating mix a suggestion assumes.** A model's probabilities carry the mix of ratings of
the rows it was trained and calibrated on (the corpus: 23 % bad, 12 % average, 65 % good), so
left alone it rarely says 3 stars. A `RatingPrior` states the mix of bad (1-2), average (3) and
good (4-5) ratings the suggestion is for, beside the mix of the rows it was calibrated on, and
moves the probabilities from one to the other (Bayes' rule: each class is multiplied by the
ratio of its band's shares, then renormalised). The bundled model assumes a third of each band:
it does not presume what a visitor thinks of a brand. The learning loop replaces the assumed
mix by its visitors' own (docs/learning_loop.md). The score, the stars and the bar all come from
the moved probabilities, and the cut points are fitted on validation rows weighted to the
assumed mix (`fit_rating_rule`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_CUTS = (0.125, 0.375, 0.625, 0.875)
BANDS = ("bad", "average", "good")
STAR_CLASSES = 5  # a rating prior moves the probabilities of a model of the five star classes


def bands_of(stars: np.ndarray | int) -> np.ndarray:
    """The band of star ratings: 0 (bad) for 1-2 stars, 1 (average) for 3, 2 (good) for 4-5."""
    return np.digitize(stars, (2.5, 3.5))


def band_mix(stars: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float, float]:
    """The (weighted) shares of bad, average and good ratings among these stars."""
    bands = bands_of(np.asarray(stars, dtype=np.int64))
    weights = np.ones(len(bands)) if weights is None else np.asarray(weights, dtype=np.float64)
    totals = np.bincount(bands, weights=weights, minlength=3)
    if totals.sum() <= 0:
        raise ValueError("cannot take the rating mix of zero rows")
    return tuple(float(share) for share in totals / totals.sum())  # type: ignore[return-value]


def check_mix(mix: Sequence[float], name: str = "rating mix") -> tuple[float, float, float]:
    """Three shares of bad, average, good, each above 0, normalised to sum to 1; ValueError otherwise."""
    values = np.asarray([float(share) for share in mix], dtype=np.float64)
    if values.shape != (3,) or not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError(f"a {name} is three positive shares of bad, average and good ratings, got {mix}")
    return tuple(float(share) for share in values / values.sum())  # type: ignore[return-value]


@dataclass(frozen=True)
class RatingPrior:
    """The mix of bad / average / good ratings a suggestion assumes (`assumed`), and the mix of the
    rows the model's probabilities were calibrated on (`calibrated`); see the module docstring."""

    assumed: tuple[float, float, float]
    calibrated: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "assumed", check_mix(self.assumed, "assumed rating mix"))
        object.__setattr__(self, "calibrated", check_mix(self.calibrated, "calibrated rating mix"))

    def class_factors(self, n_classes: int) -> np.ndarray:
        """The factor each star class's probability is multiplied by: its band's assumed/calibrated share."""
        if n_classes != STAR_CLASSES:
            raise ValueError(f"a rating prior needs the five star classes, not {n_classes}")
        ratio = np.asarray(self.assumed) / np.asarray(self.calibrated)
        return ratio[bands_of(np.arange(1, STAR_CLASSES + 1))]

    def adjust(self, probabilities: np.ndarray) -> np.ndarray:
        """`(rows, 5)` star probabilities moved from the calibrated mix to the assumed one."""
        p = np.asarray(probabilities, dtype=np.float64)
        moved = p * self.class_factors(p.shape[1])
        return moved / moved.sum(axis=1, keepdims=True)

    def row_weights(self, stars: np.ndarray) -> np.ndarray:
        """Weights that give rows of the calibrated mix the assumed mix (for fitting the cut points)."""
        ratio = np.asarray(self.assumed) / np.asarray(self.calibrated)
        return ratio[bands_of(np.asarray(stars, dtype=np.int64))]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in a checkpoint: shares by band name."""
        return {
            "assumed": dict(zip(BANDS, (round(v, 6) for v in self.assumed), strict=True)),
            "calibrated": dict(zip(BANDS, (round(v, 6) for v in self.calibrated), strict=True)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RatingPrior:
        """Inverse of `to_dict`; ValueError for missing or invalid shares."""
        try:
            return cls(
                assumed=tuple(data["assumed"][band] for band in BANDS),  # type: ignore[arg-type]
                calibrated=tuple(data["calibrated"][band] for band in BANDS),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"incomplete rating prior {data!r} ({error})") from None


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


def cuts_at_band_counts(
    scores: np.ndarray, cuts: Sequence[float], counts: Sequence[int]
) -> tuple[float, ...]:
    """Cut points that suggest the bad band (1-2 stars) for the `counts[0]` lowest of these scores
    and the good band (4-5) for the `counts[2]` highest, the average band for the rest.

    Two models compared at the same suggestion rates on the same texts differ only in how well
    they rank them, not in where their rules put the bands. The cut points inside the bad and
    good bands are kept where they still fit.
    """
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    n_bad, n_good = int(counts[0]), int(counts[2])
    if len(ordered) == 0 or n_bad + n_good > len(ordered) or min(n_bad, n_good) < 0:
        raise ValueError(f"band counts {tuple(counts)} do not fit {len(ordered)} scores")

    def boundary(below: int) -> float:  # between the `below` lowest scores and the rest
        if below <= 0:
            return float(ordered[0]) - 1e-9
        if below >= len(ordered):
            return float(ordered[-1]) + 1e-9
        return float(ordered[below - 1] + ordered[below]) / 2.0 + 1e-12

    gap = 1e-6
    low = min(max(boundary(n_bad), 2 * gap), 1.0 - 3 * gap)
    high = min(max(boundary(len(ordered) - n_good), low + gap), 1.0 - 2 * gap)
    first = min(float(cuts[0]), low - gap / 2)
    last = max(float(cuts[3]), high + gap / 2)
    return check_cuts((max(first, gap / 2), low, high, min(last, 1.0 - gap / 2)))


def rating_loss(ratings: np.ndarray, stars: np.ndarray, weights: np.ndarray | None = None) -> float:
    """What `fit_rating_cuts` minimises: mean absolute error in stars minus band accuracy.

    Both count: the error says how far a suggestion is, the band (1-2 / 3 / 4-5) whether it reads
    as bad, average or good, as a visitor sees it. `weights` weigh the rows (default: equally).
    """
    miss = np.abs(ratings - stars) - (bands_of(ratings) == bands_of(stars))
    return float(np.average(miss, weights=weights))


def fit_rating_cuts(
    scores: np.ndarray,
    stars: np.ndarray,
    steps: int = 197,
    rounds: int = 4,
    weights: np.ndarray | None = None,
) -> tuple[float, ...]:
    """The cut points that minimise `rating_loss` on these rows (validation rows, never test rows).

    Coordinate search from the default cut points over a grid of `steps` values in (0, 1): each
    round moves every cut point in turn to its best place between its neighbours. Ties keep the
    lower value, so the result is deterministic. `weights` weigh the rows, e.g. to another mix.
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
                losses.append(rating_loss(suggested_ratings(scores, trial), stars, weights))
            if candidates.size:
                cuts[k] = candidates[int(np.argmin(losses))]
    return check_cuts(np.round(cuts, 4))


def fit_rating_rule(
    probabilities: np.ndarray, stars: np.ndarray, assumed: Sequence[float], weights: np.ndarray | None = None
) -> tuple[RatingPrior, tuple[float, ...]]:
    """The prior and cut points of a suggestion for visitors whose ratings have the `assumed` mix.

    `probabilities` and `stars` are validation rows (never test rows), with optional weights;
    their own mix is the calibrated one. The cut points are fitted on the moved probabilities'
    scores, the rows weighted to the assumed mix.
    """
    stars = np.asarray(stars, dtype=np.int64)
    prior = RatingPrior(assumed=check_mix(assumed), calibrated=band_mix(stars, weights))
    row_weights = prior.row_weights(stars) * (1.0 if weights is None else np.asarray(weights))
    scores = sentiment_scores(prior.adjust(probabilities))
    return prior, fit_rating_cuts(scores, stars, weights=row_weights)
