"""`LabelledRows`: texts with their stars, a training weight each and their origin, as a round uses them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class LabelledRows:
    """Texts with their 1-5 stars, a training weight each, and where each came from."""

    texts: list[str]
    stars: np.ndarray
    weights: np.ndarray
    origins: list[str]  # "base" (the corpus) or "feedback" (stored reviews)

    def __post_init__(self) -> None:
        self.stars = np.asarray(self.stars, dtype=np.int64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        if not len(self.texts) == len(self.stars) == len(self.weights) == len(self.origins):
            raise ValueError("texts, stars, weights and origins differ in length")
        if len(self.stars) and not ((self.stars >= 1) & (self.stars <= 5)).all():
            raise ValueError("stars must be 1 to 5")

    def __len__(self) -> int:
        return len(self.texts)

    def __add__(self, other: LabelledRows) -> LabelledRows:
        return LabelledRows(
            self.texts + other.texts,
            np.concatenate([self.stars, other.stars]),
            np.concatenate([self.weights, other.weights]),
            self.origins + other.origins,
        )

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledRows:
        """The rows at `indices`, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return LabelledRows(
            [self.texts[i] for i in indices],
            self.stars[indices],
            self.weights[indices],
            [self.origins[i] for i in indices],
        )

    def counts(self) -> dict[str, int]:
        """Rows by origin."""
        return {origin: self.origins.count(origin) for origin in sorted(set(self.origins))}
