"""The stored reviews as training labels: read, filtered against abuse, weighted against echo.

Every review is a text with a star rating a person gave, from this app's own domain. Before any
of them trains a model, `select_feedback` drops, in this order (each count is reported):

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
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from brandpulse.api.storage.tables import Review
from brandpulse.model.scoring import bands_of

logger = logging.getLogger(__name__)

READ_CHUNK = 5000
DEFAULT_KEPT_WEIGHT = 0.5  # until the control group is large enough to estimate it
MIN_GROUP = 30  # reviews each of the shown and control groups needs for an estimate
MIN_KEPT_WEIGHT = 0.1
_SPACES = re.compile(r"\s+")
MAX_COPIES = 3  # more copies of one text than this, from any addresses, and none is kept
MIN_MIX_REVIEWS = 100  # usable reviews before their rating mix replaces the one the champion assumes
MIX_PSEUDO_REVIEWS = 3.0  # pseudo-reviews of each band added to the estimate (a Dirichlet prior)
REASONS = ("flagged", "too_short", "repeated_by_client", "mass_posted", "duplicate", "client_day_cap")


def normalise(text: str) -> str:
    """The form two texts are compared in: case-folded, blanks collapsed."""
    return _SPACES.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class StoredReview:
    """What `retrain` needs of a stored review."""

    id: int
    text: str
    rating: int
    created_at: datetime
    client: str | None  # the client pseudonym (module docstring)
    suggested_rating: int | None
    suggestion_shown: bool | None
    flagged: bool = False

    @property
    def kept_suggestion(self) -> bool:
        """The visitor saw the suggestion and rated exactly that."""
        return bool(self.suggestion_shown) and self.rating == self.suggested_rating


@dataclass
class Feedback:
    """The reviews fit to learn from (oldest first), their weights, and what was dropped why."""

    reviews: list[StoredReview]
    weights: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)
    kept_weight: float = 1.0
    kept_weight_source: str = ""

    def counts(self) -> dict[str, object]:
        """Figures for the registry and the log."""
        kept = sum(review.kept_suggestion for review in self.reviews)
        return {
            "usable": len(self.reviews),
            "dropped": dict(self.dropped),
            "kept_suggestion": kept,
            "kept_weight": round(self.kept_weight, 4),
            "kept_weight_source": self.kept_weight_source,
        }


def read_reviews(since_id: int = 0) -> list[StoredReview]:
    """Every stored review with an id above `since_id`, oldest first, read in chunks by id.

    Read afresh by every round and kept nowhere between rounds: a review deleted or erased
    (`api.storage.erasure`) is not in the next round's data.
    """
    reviews: list[StoredReview] = []
    last = since_id
    while True:
        chunk = list(
            Review.select(
                Review.id,
                Review.text,
                Review.rating,
                Review.created_at,
                Review.client_pseudonym,
                Review.suggested_rating,
                Review.suggestion_shown,
                Review.flagged,
            )
            .where(Review.id > last)
            .order_by(Review.id)
            .limit(READ_CHUNK)
            .tuples()
        )
        reviews += [StoredReview(*row) for row in chunk]
        if len(chunk) < READ_CHUNK:
            break
        last = chunk[-1][0]
    reviews.sort(key=lambda review: (review.created_at, review.id))
    return reviews


def kept_weight_from(reviews: Iterable[StoredReview]) -> tuple[float, str]:
    """The weight of a kept suggestion: the probability it is the visitor's own opinion (module docstring).

    Returns (weight, how it was found). With fewer than MIN_GROUP reviews in either group the
    default (0.5) is used.
    """
    shown, control = [], []
    for review in reviews:
        if review.suggested_rating is None or review.suggestion_shown is None:
            continue
        (shown if review.suggestion_shown else control).append(review.rating == review.suggested_rating)
    if len(shown) < MIN_GROUP or len(control) < MIN_GROUP or not any(shown):
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


def select_feedback(
    reviews: list[StoredReview],
    *,
    min_chars: int,
    max_per_client_day: int,
    kept_weight: float | None = None,
) -> Feedback:
    """The reviews fit to learn from, with their weights (see the module's docstring).

    `reviews` are oldest first; `kept_weight` None estimates it from the control group.
    """
    dropped: Counter[str] = Counter({reason: 0 for reason in REASONS})
    rows = []
    for review in reviews:
        if review.flagged:
            dropped["flagged"] += 1
        elif len(normalise(review.text)) < min_chars:
            dropped["too_short"] += 1
        else:
            rows.append(review)

    per_client_text = Counter((review.client, normalise(review.text)) for review in rows)
    copies = Counter(normalise(review.text) for review in rows)
    kept, seen = [], set()
    for review in rows:
        text = normalise(review.text)
        if review.client is not None and per_client_text[(review.client, text)] > 1:
            dropped["repeated_by_client"] += 1
        elif copies[text] > MAX_COPIES:
            dropped["mass_posted"] += 1
        elif text in seen:
            dropped["duplicate"] += 1
        else:
            seen.add(text)
            kept.append(review)

    def client_day(review: StoredReview) -> tuple[str | None, object]:
        return review.client, review.created_at.date()

    per_client_day = Counter(client_day(review) for review in kept if review.client is not None)
    selected = []
    for review in kept:
        if review.client is not None and per_client_day[client_day(review)] > max_per_client_day:
            dropped["client_day_cap"] += 1
        else:
            selected.append(review)

    if kept_weight is None:
        kept_weight, source = kept_weight_from(selected)
    else:
        source = "configured (RETRAIN_KEPT_WEIGHT)"
    weights = np.asarray([kept_weight if r.kept_suggestion else 1.0 for r in selected], dtype=np.float64)
    feedback = Feedback(selected, weights, dict(dropped), kept_weight, source)
    logger.info("stored reviews: %d read, %s", len(reviews), feedback.counts())
    return feedback


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


def visitor_mix(feedback: Feedback) -> VisitorMix:
    """The visitors' rating mix from the usable reviews and their weights (module docstring)."""
    stars = np.asarray([review.rating for review in feedback.reviews], dtype=np.int64)
    totals = np.bincount(bands_of(stars), weights=feedback.weights, minlength=3) + MIX_PSEUDO_REVIEWS
    control = sum(review.suggestion_shown is False for review in feedback.reviews)
    shares = totals / totals.sum()
    return VisitorMix(
        shares=(float(shares[0]), float(shares[1]), float(shares[2])),
        reviews=len(feedback.reviews),
        control=control,
        weight=float(np.sum(feedback.weights)),
    )


def split_by_time(feedback: Feedback, recent_share: float) -> tuple[Feedback, Feedback]:
    """(older, recent): the newest `recent_share` of the reviews is held out to judge a challenger."""
    n_recent = max(1, round(len(feedback.reviews) * recent_share))
    cut = len(feedback.reviews) - n_recent

    def part(start: int, stop: int) -> Feedback:
        return Feedback(
            feedback.reviews[start:stop],
            feedback.weights[start:stop],
            feedback.dropped,
            feedback.kept_weight,
            feedback.kept_weight_source,
        )

    return part(0, cut), part(cut, len(feedback.reviews))
