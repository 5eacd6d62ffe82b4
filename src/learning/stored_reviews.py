"""The stored reviews as `retrain` reads them: streamed in pages, kept as compact columns.

A round filters and weighs every stored review, but learns from and is judged on the texts of a
bounded sample of them (docs/learning_loop.md, "The learning loop at scale"). So
`read_review_columns` streams the review table in keyset pages of READ_PAGE reviews by id
(`WHERE id > last ORDER BY id LIMIT n`, served by the primary key's index on SQLite and
PostgreSQL alike; no page is held once it is read) and keeps of each review only what the
filters need, in NumPy arrays (`ReviewColumns`, 41 bytes a review): its id, time, rating, the
suggestion and whether it was shown, the flag, the length of its normalised text and a 64-bit
hash of it, and a 64-bit hash of its client pseudonym. `fetch_reviews` then reads whole, by id,
only the reviews the round uses.

Two texts (or clients) are taken for the same when their hashes are: among a million distinct
texts two share a hash with probability about 3e-8 (n² / 2^65).

`read_reviews` reads every review whole into one list: for tests and small tools, not a round.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np

from brandpulse.api.storage.tables import Review

READ_PAGE = 5000  # reviews per keyset page
FETCH_BATCH = 500  # ids per `WHERE id IN (...)`: below SQLite's oldest limit of 999 parameters
MICROSECONDS_PER_DAY = 86_400_000_000
NO_SUGGESTION = 0  # `ReviewColumns.suggested` of a review stored without one
NOT_SAID = -1  # `ReviewColumns.shown` of a review whose page showed no estimate (stored null)
_SPACES = re.compile(r"\s+")
# The columns read, in the order of StoredReview's fields.
FIELDS = (
    Review.id,
    Review.text,
    Review.rating,
    Review.created_at,
    Review.client_pseudonym,
    Review.suggested_rating,
    Review.suggestion_shown,
    Review.flagged,
)


def normalise(text: str) -> str:
    """The form two texts are compared in: case-folded, blanks collapsed."""
    return _SPACES.sub(" ", text).strip().casefold()


def hash64(value: str) -> int:
    """A 64-bit hash of `value` (BLAKE2b): what texts and clients are compared by."""
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def text_hashes(normalised: Iterable[str]) -> np.ndarray:
    """The 64-bit hashes of texts already `normalise`d (e.g. the gate's fixed test)."""
    return np.fromiter((hash64(text) for text in normalised), dtype=np.uint64)


@dataclass(frozen=True)
class StoredReview:
    """What `retrain` needs of a stored review."""

    id: int
    text: str
    rating: int
    created_at: datetime
    client: str | None  # the client pseudonym (feedback.py's docstring)
    suggested_rating: int | None
    suggestion_shown: bool | None
    flagged: bool = False

    @property
    def kept_suggestion(self) -> bool:
        """The visitor saw the suggestion and rated exactly that."""
        return bool(self.suggestion_shown) and self.rating == self.suggested_rating


@dataclass
class ReviewColumns:
    """Per review, what the filters and weights need, one NumPy array each (all the same length)."""

    id: np.ndarray  # int64
    created: np.ndarray  # int64: microseconds since 1970-01-01 (naive UTC, as stored)
    text: np.ndarray  # uint64: hash64 of the normalised text
    length: np.ndarray  # int32: characters of the normalised text
    client: np.ndarray  # uint64: hash64 of the client pseudonym (0 where there is none)
    has_client: np.ndarray  # bool
    rating: np.ndarray  # int8: 1-5
    suggested: np.ndarray  # int8: the suggested rating, NO_SUGGESTION where none
    shown: np.ndarray  # int8: 1 shown, 0 the control group, NOT_SAID
    flagged: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.id)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[object]]) -> ReviewColumns:
        """Columns of rows given as StoredReview's fields in order (tuples of FIELDS)."""
        n = len(rows)
        ids, texts, ratings, created, clients, suggested, shown, flagged = (
            zip(*rows, strict=True) if n else ((),) * 8
        )
        normalised = [normalise(text) for text in texts]
        return cls(
            id=np.fromiter(ids, np.int64, n),
            created=np.array(created, dtype="datetime64[us]").astype(np.int64).reshape(n),
            text=np.fromiter(map(hash64, normalised), np.uint64, n),
            length=np.fromiter(map(len, normalised), np.int32, n),
            client=np.fromiter((0 if c is None else hash64(c) for c in clients), np.uint64, n),
            has_client=np.fromiter((c is not None for c in clients), bool, n),
            rating=np.fromiter(ratings, np.int8, n),
            suggested=np.fromiter((NO_SUGGESTION if s is None else s for s in suggested), np.int8, n),
            shown=np.fromiter((NOT_SAID if s is None else int(s) for s in shown), np.int8, n),
            flagged=np.fromiter(map(bool, flagged), bool, n),
        )

    @classmethod
    def from_reviews(cls, reviews: Sequence[StoredReview]) -> ReviewColumns:
        """Columns of reviews already in memory, in their order."""
        return cls.from_rows([tuple(getattr(r, f.name) for f in fields(StoredReview)) for r in reviews])

    @classmethod
    def concatenate(cls, parts: Sequence[ReviewColumns]) -> ReviewColumns:
        """The parts one after another."""
        if not parts:
            return cls.from_rows([])
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def subset(self, index: np.ndarray) -> ReviewColumns:
        """The reviews at `index` (positions or a mask), in that order."""
        return ReviewColumns(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def day(self) -> np.ndarray:
        """The day (UTC) each was posted on, as days since 1970-01-01."""
        return self.created // MICROSECONDS_PER_DAY

    @property
    def kept_suggestion(self) -> np.ndarray:
        """Whether the visitor saw the suggestion and rated exactly that."""
        return (self.shown == 1) & (self.rating == self.suggested)

    @property
    def nbytes(self) -> int:
        """Bytes the arrays hold."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def read_review_columns(since_id: int = 0, page: int = READ_PAGE) -> ReviewColumns:
    """Every stored review with an id above `since_id` as columns, oldest first (by time, then id).

    Read in keyset pages of `page` reviews, each page reduced to its columns before the next is
    read; afresh by every round and kept nowhere between rounds, so a review deleted or erased
    (`api.storage.erasure`) is not in the next round's data.
    """
    parts, last = [], since_id
    while True:
        rows = list(Review.select(*FIELDS).where(Review.id > last).order_by(Review.id).limit(page).tuples())
        if rows:
            parts.append(ReviewColumns.from_rows(rows))
            last = rows[-1][0]
        if len(rows) < page:
            break
    columns = ReviewColumns.concatenate(parts)
    parts.clear()  # the pages' arrays: at most two copies of the columns are held at once
    return columns.subset(np.lexsort((columns.id, columns.created)))


def fetch_reviews(ids: Iterable[int]) -> dict[int, StoredReview]:
    """The stored reviews with these ids, whole (texts included), by id; a review deleted since
    its id was read is not there."""
    wanted = [int(i) for i in ids]
    found: dict[int, StoredReview] = {}
    for start in range(0, len(wanted), FETCH_BATCH):
        batch = wanted[start : start + FETCH_BATCH]
        for row in Review.select(*FIELDS).where(Review.id.in_(batch)).tuples():
            found[row[0]] = StoredReview(*row)
    return found


def read_reviews(since_id: int = 0) -> list[StoredReview]:
    """Every stored review with an id above `since_id`, whole, oldest first, read in pages by id.

    All of them at once in memory: for tests and small tools (a round streams them:
    `read_review_columns`).
    """
    reviews: list[StoredReview] = []
    last = since_id
    while True:
        rows = list(
            Review.select(*FIELDS).where(Review.id > last).order_by(Review.id).limit(READ_PAGE).tuples()
        )
        reviews += [StoredReview(*row) for row in rows]
        if len(rows) < READ_PAGE:
            break
        last = rows[-1][0]
    reviews.sort(key=lambda review: (review.created_at, review.id))
    return reviews
