"""The stored reviews as training labels: read, filtered against abuse, weighted against echo.

Every review is a text with a star rating a person gave, from this app's own domain. Before any
of them trains a model, `select_columns` drops, in this order (each count is reported):

1. `flagged`: reviews an admin flagged (`PUT /api/reviews/<id>/flag`);
2. `too_short`: fewer than `min_chars` characters, too little to learn from;
3. `repeated_by_client`: every copy of a text one client posted more than once (a person
   reviews a brand once; a script posts the same text again and again);
4. `mass_posted`: every copy of a text posted more than `MAX_COPIES` times in all, from any
   addresses (a campaign: people do not write the same 20 characters independently);
5. `duplicate`: later copies of a text already kept (case and spacing ignored);
6. `client_day_cap`: every review of a client on a day it posted more than
   `max_per_client_day`: no person writes that many, so none of that day's is trusted, and no
   single address can outvote the crowd (500 inverted ratings from one address keep none).

A **client** is the review's `client_pseudonym`: the keyed hash of its IPv4 address or of its
IPv6 /64 (one home or phone network picks IPv6 addresses in its /64 at will), stored with the
review and kept after PERSONAL_DATA_RETENTION_DAYS has cleared the address, so the filters judge
old reviews as they judged them new (docs/privacy.md). A review with none (erased, or sent with
no address) counts for no client.

The filters work on columns (`stored_reviews.ReviewColumns`: a hash of each normalised text and
of each client, no text), so a round filters a million reviews in bounded memory; the texts of
the reviews a round uses are read afterwards (`Selection.sample`, `Selection.fetch`).
`select_feedback` applies the same filters to reviews already in memory.

**Echo** (`kept_weight_from`): the page pre-selects the model's suggested rating, so a kept
suggestion may be the model's own answer handed back; the control group, shown no suggestion,
measures how often people agree on their own, and a kept suggestion weighs the probability that
it is genuine. **The visitors' rating mix** (`visitor_mix`): the same weights estimate the
shares of bad, average and good ratings, for which each round fits the suggestion's rule.
docs/learning_loop.md ("No learning from its own echo") derives both. A review whose page showed
no estimate is stored with `suggestion_shown` null: neither shown nor control.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from brandpulse.learning.stored_reviews import (
    NO_SUGGESTION,
    ReviewColumns,
    StoredReview,
    fetch_reviews,
    normalise,
    read_review_columns,
    read_reviews,
    text_hashes,
)
from brandpulse.model.scoring import bands_of

__all__ = [
    "Feedback",
    "Selection",
    "StoredReview",
    "VisitorMix",
    "kept_weight_from",
    "normalise",
    "read_review_columns",
    "read_reviews",
    "sample_sizes",
    "select_columns",
    "select_feedback",
    "split_by_time",
    "visitor_mix",
]

logger = logging.getLogger(__name__)

DEFAULT_KEPT_WEIGHT = 0.5  # until the control group is large enough to estimate it
MIN_GROUP = 30  # reviews each of the shown and control groups needs for an estimate
MIN_KEPT_WEIGHT = 0.1
MAX_COPIES = 3  # more copies of one text than this, from any addresses, and none is kept
MIN_MIX_REVIEWS = 100  # usable reviews before their rating mix replaces the one the champion assumes
MIX_PSEUDO_REVIEWS = 3.0  # pseudo-reviews of each band added to the estimate (a Dirichlet prior)
REASONS = ("flagged", "too_short", "repeated_by_client", "mass_posted", "duplicate", "client_day_cap")
SAMPLE_SEED = 2027  # the seed of the sample a round learns from and is judged on


@dataclass
class Feedback:
    """Reviews fit to learn from, whole (oldest first), their weights, and what was dropped why."""

    reviews: list[StoredReview]
    weights: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)
    kept_weight: float = 1.0
    kept_weight_source: str = ""

    @property
    def ratings(self) -> np.ndarray:
        return np.asarray([review.rating for review in self.reviews], dtype=np.int64)

    @property
    def control(self) -> int:
        """How many are of the control group (shown no suggestion)."""
        return sum(review.suggestion_shown is False for review in self.reviews)

    def counts(self) -> dict[str, object]:
        """Figures for the registry and the log."""
        return _counts(
            len(self.reviews),
            sum(review.kept_suggestion for review in self.reviews),
            self.dropped,
            self.kept_weight,
            self.kept_weight_source,
        )


@dataclass
class Selection:
    """The usable reviews as columns (oldest first), their weights, and what was dropped why.

    `positions`: where each is in the columns it was selected from.
    """

    columns: ReviewColumns
    weights: np.ndarray
    positions: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)
    kept_weight: float = 1.0
    kept_weight_source: str = ""

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def ratings(self) -> np.ndarray:
        return self.columns.rating.astype(np.int64)

    @property
    def control(self) -> int:
        """How many are of the control group (shown no suggestion)."""
        return int(np.count_nonzero(self.columns.shown == 0))

    def counts(self) -> dict[str, object]:
        """Figures for the registry and the log."""
        kept = int(np.count_nonzero(self.columns.kept_suggestion))
        return _counts(len(self), kept, self.dropped, self.kept_weight, self.kept_weight_source)

    def subset(self, index: np.ndarray) -> Selection:
        """The reviews at `index` (positions or a mask), in that order."""
        return Selection(
            self.columns.subset(index),
            self.weights[index],
            self.positions[index],
            self.dropped,
            self.kept_weight,
            self.kept_weight_source,
        )

    def split_by_time(self, recent_share: float) -> tuple[Selection, Selection]:
        """(older, recent): the newest `recent_share` held out to judge a challenger."""
        cut = len(self) - _recent_count(len(self), recent_share)
        return self.subset(np.arange(cut)), self.subset(np.arange(cut, len(self)))

    def texts_in(self, normalised: set[str] | frozenset[str]) -> np.ndarray:
        """Whether each review's text is one of these `normalise`d texts (by hash)."""
        return np.isin(self.columns.text, text_hashes(normalised))

    def sample(self, max_rows: int, seed: int = SAMPLE_SEED) -> Selection:
        """At most `max_rows` of them, drawn uniformly at random (seeded: the same reviews give
        the same sample), oldest first; all of them when there are no more."""
        if len(self) <= max_rows:
            return self
        drawn = np.random.default_rng(seed).choice(len(self), max_rows, replace=False)
        return self.subset(np.sort(drawn))

    def fetch(self) -> Feedback:
        """These reviews whole, texts read by id, with their weights; a review deleted since it
        was read is left out (its text is gone)."""
        found = fetch_reviews(self.columns.id)
        present = np.fromiter((int(i) in found for i in self.columns.id), bool, len(self))
        if not present.all():
            logger.info("%d selected reviews were deleted while the round ran", len(self) - present.sum())
        reviews = [found[int(i)] for i in self.columns.id[present]]
        return Feedback(
            reviews, self.weights[present], self.dropped, self.kept_weight, self.kept_weight_source
        )


def _counts(usable: int, kept: int, dropped: dict[str, int], weight: float, source: str) -> dict[str, object]:
    return {
        "usable": usable,
        "dropped": dict(dropped),
        "kept_suggestion": kept,
        "kept_weight": round(weight, 4),
        "kept_weight_source": source,
    }


def _recent_count(n: int, recent_share: float) -> int:
    return max(1, round(n * recent_share))


def sample_sizes(max_rows: int, recent_share: float) -> tuple[int, int]:
    """(older, recent): how many of the older and of the recent reviews a round reads the texts
    of, at most; `max_rows` (RETRAIN_MAX_FEEDBACK_ROWS) shared as the reviews are."""
    recent = _recent_count(max_rows, recent_share)
    return max(1, max_rows - recent), recent


def kept_weight_from(columns: ReviewColumns) -> tuple[float, str]:
    """The weight of a kept suggestion: the probability it is the visitor's own opinion (module docstring).

    Returns (weight, how it was found). With fewer than MIN_GROUP reviews in either group the
    default (0.5) is used.
    """
    said = (columns.suggested != NO_SUGGESTION) & (columns.shown >= 0)
    agree = columns.rating == columns.suggested
    shown, control = agree[said & (columns.shown == 1)], agree[said & (columns.shown == 0)]
    if len(shown) < MIN_GROUP or len(control) < MIN_GROUP or not shown.any():
        return DEFAULT_KEPT_WEIGHT, (
            f"default: {len(control)} control and {len(shown)} shown reviews, {MIN_GROUP} of each needed"
        )
    agree_alone, agree_shown = float(np.mean(control)), float(np.mean(shown))
    if agree_shown <= agree_alone or agree_alone >= 1.0:  # no anchoring to correct
        return 1.0, f"control group: agreement {agree_alone:.3f} alone, {agree_shown:.3f} shown: no anchoring"
    own_opinion = (1.0 - agree_shown) / (1.0 - agree_alone)  # h: share rating for themselves
    weight = float(np.clip(own_opinion * agree_alone / agree_shown, MIN_KEPT_WEIGHT, 1.0))
    return weight, (
        f"control group: agreement {agree_alone:.3f} without the suggestion ({len(control)} reviews), "
        f"{agree_shown:.3f} with it ({len(shown)})"
    )


def group_sizes(*keys: np.ndarray) -> np.ndarray:
    """For each row, how many rows share its value of every key (a Counter of key tuples, in NumPy)."""
    n = len(keys[0])
    if not n:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(keys)
    starts = np.zeros(n, dtype=bool)
    starts[0] = True
    for key in keys:
        ordered = key[order]
        starts[1:] |= ordered[1:] != ordered[:-1]
    first = np.flatnonzero(starts)
    lengths = np.diff(np.append(first, n))
    sizes = np.empty(n, dtype=np.int64)
    sizes[order] = np.repeat(lengths, lengths)
    return sizes


def select_columns(
    columns: ReviewColumns,
    *,
    min_chars: int,
    max_per_client_day: int,
    kept_weight: float | None = None,
) -> Selection:
    """The reviews fit to learn from, with their weights (see the module's docstring).

    `columns` are oldest first; `kept_weight` None estimates it from the control group.
    """
    dropped = dict.fromkeys(REASONS, 0)
    dropped["flagged"] = int(np.count_nonzero(columns.flagged))
    too_short = ~columns.flagged & (columns.length < min_chars)
    dropped["too_short"] = int(np.count_nonzero(too_short))
    rows = np.flatnonzero(~columns.flagged & ~too_short)

    text, client, has_client = columns.text[rows], columns.client[rows], columns.has_client[rows]
    repeated = has_client & (group_sizes(text, client, has_client) > 1)
    mass_posted = ~repeated & (group_sizes(text) > MAX_COPIES)
    candidates = np.flatnonzero(~repeated & ~mass_posted)
    _, first = np.unique(text[candidates], return_index=True)  # each text's first candidate
    kept = np.sort(candidates[first])
    dropped["repeated_by_client"] = int(np.count_nonzero(repeated))
    dropped["mass_posted"] = int(np.count_nonzero(mass_posted))
    dropped["duplicate"] = len(candidates) - len(kept)

    kept = rows[kept]
    day, has_client = columns.day[kept], columns.has_client[kept]
    capped = has_client & (group_sizes(columns.client[kept], day, has_client) > max_per_client_day)
    dropped["client_day_cap"] = int(np.count_nonzero(capped))
    positions = kept[~capped]

    usable = columns.subset(positions)
    if kept_weight is None:
        kept_weight, source = kept_weight_from(usable)
    else:
        source = "configured (RETRAIN_KEPT_WEIGHT)"
    weights = np.where(usable.kept_suggestion, kept_weight, 1.0)
    selection = Selection(usable, weights, positions, dropped, kept_weight, source)
    logger.info("stored reviews: %d read, %s", len(columns), selection.counts())
    return selection


def select_feedback(
    reviews: list[StoredReview],
    *,
    min_chars: int,
    max_per_client_day: int,
    kept_weight: float | None = None,
) -> Feedback:
    """`select_columns` for reviews already in memory (oldest first): those fit to learn from."""
    selection = select_columns(
        ReviewColumns.from_reviews(reviews),
        min_chars=min_chars,
        max_per_client_day=max_per_client_day,
        kept_weight=kept_weight,
    )
    return Feedback(
        [reviews[i] for i in selection.positions],
        selection.weights,
        selection.dropped,
        selection.kept_weight,
        selection.kept_weight_source,
    )


@dataclass(frozen=True)
class VisitorMix:
    """The estimated shares of bad, average and good ratings among the visitors, and on what."""

    shares: tuple[float, float, float]
    reviews: int  # usable reviews it rests on
    control: int  # of which in the control group (shown no suggestion)
    weight: float  # their total weight (kept suggestions count less)

    def as_dict(self) -> dict[str, object]:
        return {
            **dict(zip(("bad", "average", "good"), (round(v, 4) for v in self.shares), strict=True)),
            "reviews": self.reviews,
            "control": self.control,
            "weight": round(self.weight, 1),
        }


def visitor_mix(feedback: Feedback | Selection) -> VisitorMix:
    """The visitors' rating mix from the usable reviews and their weights (module docstring)."""
    totals = (
        np.bincount(bands_of(feedback.ratings), weights=feedback.weights, minlength=3) + MIX_PSEUDO_REVIEWS
    )
    shares = totals / totals.sum()
    return VisitorMix(
        shares=(float(shares[0]), float(shares[1]), float(shares[2])),
        reviews=len(feedback.weights),
        control=feedback.control,
        weight=float(np.sum(feedback.weights)),
    )


def split_by_time(feedback: Feedback, recent_share: float) -> tuple[Feedback, Feedback]:
    """(older, recent): the newest `recent_share` of the reviews is held out to judge a challenger."""
    cut = len(feedback.reviews) - _recent_count(len(feedback.reviews), recent_share)

    def part(start: int, stop: int) -> Feedback:
        return Feedback(
            feedback.reviews[start:stop],
            feedback.weights[start:stop],
            feedback.dropped,
            feedback.kept_weight,
            feedback.kept_weight_source,
        )

    return part(0, cut), part(cut, len(feedback.reviews))
