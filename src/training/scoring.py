"""The sentiment score and the suggested star rating, defined once for the whole project.

`score` is the expected position of the predicted distribution over the classes, which are
ordered from most negative (position 0) to most positive (position 1):

    score = sum_i p_i * i / (n_classes - 1)          (in [0, 1]; P(positive) for two classes)

and the suggested rating maps it onto 1-5 stars, rounding halves up:

    suggested_rating = 1 + round(4 * score)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def sentiment_score(probabilities: Sequence[float] | np.ndarray) -> float:
    """Expected class position in [0, 1] of a probability vector ordered negative -> positive."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or len(p) < 2:
        raise ValueError("need a probability vector over at least two classes")
    positions = np.linspace(0.0, 1.0, len(p))
    return float(np.clip(p @ positions / p.sum(), 0.0, 1.0))


def suggested_rating(score: float) -> int:
    """1-5 stars for a score in [0, 1]: 1 + round(4 * score), halves rounded up."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    return 1 + int(math.floor(4.0 * score + 0.5))
