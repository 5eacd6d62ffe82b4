"""One page of the admin review list, as fast at a million reviews as at a hundred.

What costs at that size (measured in docs/performance.md) is OFFSET, which reads and drops every
review before the page, COUNT(*), which reads them all, and an order no index gives. So:

- every sort key has an index on (key, id) and the brand filter one on (brand, created_at, id)
  (migration 5); the brand filter is applied as the brand's id, so the planner sees how many
  reviews that brand has;
- every page carries `next_cursor`, the sort and the last row's (value, id) in base64: the next
  page is the rows after that one, `WHERE (value, id) > (last value, last id)`, which the index
  finds at once at any depth (keyset pagination). `page=N` still works and reads N x per_page rows;
- `total` is PostgreSQL's planner estimate when that is above EXACT_TOTAL_MAX, else counted;
- the brand order on PostgreSQL walks the brands by name and takes each one's reviews from the
  (brand, id) index (a LATERAL join), instead of sorting every review by its brand's name.

Reviews without a score (or suggested rating) sort as if theirs were larger than any: that is
PostgreSQL's own order, which its indexes give in both directions; SQLite is asked for it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import JOIN, SQL, Case, Cast, Expression, Field, FloatField, PostgresqlDatabase, Tuple, fn

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.review_store import brand_ids
from brandpulse.api.storage.tables import MAX_ID, NAME_MAX, Brand, Review

EXACT_TOTAL_MAX = 5_000  # matching reviews counted exactly; above it, estimated (PostgreSQL)
SORT_COLUMNS: dict[str, Field] = {
    "created_at": Review.created_at,
    "rating": Review.rating,
    "suggested_rating": Review.suggested_rating,
    "score": Review.score,
    "brand": Brand.name,
}


NUMBER_KEYS = ("rating", "suggested_rating", "score")
# A time range matching at most this many reviews is sorted, not found by walking the sort key's
# index: PostgreSQL's planner takes filters and order as independent, but reviews are written in
# time order, so "a week, by rating" would walk the rating index through every other week first.
# (A time range's reviews lie together in the table, so reading them all is quick; a brand's or a
# rating's lie everywhere, and for those the planner's walk is right.)
SORT_ALL_MAX = 25_000


class InvalidCursor(ValueError):
    """A cursor this list did not make, or made for another order."""


@dataclass(frozen=True)
class Order:
    """A sort key, its direction, and the id that breaks ties in the same direction."""

    key: str
    descending: bool

    @classmethod
    def parse(cls, sort: str) -> Order:
        """The order of a validated `sort` value ("-" prefix: descending)."""
        return cls(sort.lstrip("-"), sort.startswith("-"))

    @property
    def sort(self) -> str:
        """The `sort` value naming this order."""
        return f"-{self.key}" if self.descending else self.key

    @property
    def column(self) -> Field:
        """The column sorted on."""
        return SORT_COLUMNS[self.key]

    @property
    def nullable(self) -> bool:
        """Whether the column may be NULL (NULL sorts after every value, ascending)."""
        return self.column.null

    def terms(self, by_index: bool = True) -> tuple[Any, ...]:
        """ORDER BY terms: the column, then the id. Not `by_index`: a number column as an expression
        (`column + 0`), the same order, but one no index gives, so the matching rows are sorted."""
        column = self.column
        if not by_index and self.key in NUMBER_KEYS:
            column = column + 0
        if self.descending:
            return column.desc(nulls="FIRST" if self.nullable else None), Review.id.desc()
        return column.asc(nulls="LAST" if self.nullable else None), Review.id.asc()


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last row's sort value and id."""

    value: Any
    id: int


@dataclass(frozen=True)
class Page:
    """The reviews of one page and the cursor of the next (None after the last page)."""

    items: list[Review]
    next_cursor: str | None


def encode_cursor(order: Order, position: Position) -> str:
    """An opaque cursor for the page after `position` in `order`."""
    value = position.value.isoformat() if isinstance(position.value, datetime) else position.value
    payload = json.dumps([order.sort, value, position.id], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, order: Order) -> Position:
    """The position a cursor names; `InvalidCursor` if it is garbled or belongs to another order."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("Not a cursor of this list.") from None
    if not (isinstance(payload, list) and len(payload) == 3):
        raise InvalidCursor("Not a cursor of this list.")
    sort, value, review_id = payload
    if sort != order.sort:
        raise InvalidCursor(f"This cursor belongs to sort={sort}: ask with that sort, or start again.")
    if type(review_id) is not int or not 0 < review_id <= MAX_ID:
        raise InvalidCursor("Not a cursor of this list.")
    return Position(_cursor_value(order, value), review_id)


def _cursor_value(order: Order, value: Any) -> Any:
    """The sort value a cursor carries, if it is one the column can hold (a cursor is client input)."""
    if value is None and order.nullable:
        return None
    if order.key == "created_at" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:  # stored times are naive UTC
            return moment
    elif order.key in ("rating", "suggested_rating") and type(value) is int and 1 <= value <= 5:
        return value
    elif order.key == "score" and type(value) in (int, float) and math.isfinite(value):
        return float(value)
    elif order.key == "brand" and isinstance(value, str) and len(value) <= NAME_MAX and "\x00" not in value:
        return value
    raise InvalidCursor("Not a cursor of this list.")


def _position(order: Order, review: Review) -> Position:
    value = review.brand.name if order.key == "brand" else getattr(review, order.key)
    return Position(value, review.id)


@dataclass(frozen=True)
class Filters:
    """The review filters of the admin's list, summary and export, as WHERE conditions on `review`
    alone (a brand given by its name is looked up once, as its id): the one way to build them."""

    conditions: list[Expression]
    rating: bool = False  # `rating=N`: the rating is fixed
    time_range: bool = False  # `since` or `until`
    matches_nothing: bool = False  # an unknown brand

    @classmethod
    def of(cls, args: dict[str, Any]) -> Filters:
        """The filters of validated arguments (`brand`, `rating`, `since`, `until`)."""
        conditions = []
        unknown_brand = False
        if "brand" in args:
            brand_id = brand_ids().get(args["brand"])
            unknown_brand = brand_id is None
            conditions.append(SQL("1 = 0") if unknown_brand else Review.brand == brand_id)
        if "rating" in args:
            conditions.append(Review.rating == args["rating"])
        if "since" in args:
            conditions.append(Review.created_at >= args["since"])
        if "until" in args:
            conditions.append(Review.created_at < args["until"])
        return cls(conditions, "rating" in args, "since" in args or "until" in args, unknown_brand)

    def apply(self, query: Any) -> Any:
        """`query` (over `review`) restricted to the matching reviews."""
        return query.where(*self.conditions) if self.conditions else query


def fetch(
    filters: Filters, order: Order, per_page: int, after: Position | None, offset: int, matching: int
) -> Page:
    """The `per_page` reviews (with their brands) after `after`, or after skipping `offset` rows;
    `matching`: how many reviews the filters match (`count`)."""
    want = per_page + 1  # one more than the page: whether a next page exists
    conditions = filters.conditions
    # A time range with few reviews: sort them (SORT_ALL_MAX), rather than walk the key's index.
    terms = order.terms(by_index=not filters.time_range or matching > SORT_ALL_MAX)
    if order.key == "brand":
        rows = _by_brand(conditions, order, want, after, offset)
    elif after is None:
        rows = list(_reviews(conditions).order_by(*terms).offset(offset or None).limit(want))
    elif filters.rating and order.key == "rating":
        # The rating is fixed, so the rows after `after` are those past its id: said so, the
        # planner bounds its scan by the id (it misjudges a (rating, id) row comparison).
        later = Review.id < after.id if order.descending else Review.id > after.id
        rows = list(_reviews([*conditions, later]).order_by(*terms).limit(want))
    else:
        rows = []
        for condition, segment_terms in _segments(order, after):
            query = _reviews([*conditions, condition]).order_by(*segment_terms)
            rows.extend(query.limit(want - len(rows)))
            if len(rows) == want:
                break
    items = rows[:per_page]
    more = len(rows) > per_page
    return Page(items, encode_cursor(order, _position(order, items[-1])) if more else None)


def _where(query: Any, conditions: list[Expression]) -> Any:
    return query.where(*conditions) if conditions else query


def _reviews(conditions: list[Expression]) -> Any:
    return _where(Review.select(Review, Brand).join(Brand), conditions)


def _segments(order: Order, after: Position) -> list[tuple[Expression, tuple[Any, ...]]]:
    """The conditions and ORDER BY terms of the rows after `after`, in order, as parts an index
    serves (NULLs last ascending, first descending, each part ordered by its own index)."""
    column, ids = order.column, Review.id
    keyed = (column.desc(), ids.desc()) if order.descending else (column.asc(), ids.asc())
    nulls = (ids.desc(),) if order.descending else (ids.asc(),)
    if after.value is not None:
        # A score is a REAL: PostgreSQL sends 0.2 for the float4 nearest 0.2, which is not the
        # float8 0.2; compared as a REAL again, the value is the stored one.
        value = Cast(after.value, "REAL") if isinstance(column, FloatField) else after.value
        if order.descending:  # NULLs came first: only smaller values are left
            return [(Tuple(column, ids) < Tuple(value, after.id), keyed)]
        tail = [(column.is_null(), nulls)] if order.nullable else []
        return [(Tuple(column, ids) > Tuple(value, after.id), keyed), *tail]
    if order.descending:
        return [(column.is_null() & (ids < after.id), nulls), (column.is_null(False), keyed)]
    return [(column.is_null() & (ids > after.id), nulls)]


def _by_brand(
    conditions: list[Expression], order: Order, want: int, after: Position | None, offset: int
) -> list[Review]:
    """Reviews ordered by brand name, then id."""
    if not isinstance(get_database(), PostgresqlDatabase):
        query = _reviews(conditions).order_by(*order.terms())
        if after is not None:
            keyset = Tuple(Brand.name, Review.id)
            before_or_after = (
                keyset < Tuple(after.value, after.id)
                if order.descending
                else keyset > Tuple(after.value, after.id)
            )
            query = query.where(before_or_after)
        return list(query.offset(offset or None).limit(want))
    # PostgreSQL: per brand, in name order, its first rows from the (brand_id, id) index.
    # Ordered by (brand, id), which within one brand is by id: only the (brand_id, id) index gives
    # that order, so the planner takes it (by id alone it may walk another filter's index and skip
    # all other brands' rows, ruinous for a rare brand).
    ids_in_brand = (
        (Review.brand.desc(), Review.id.desc()) if order.descending else (Review.brand.asc(), Review.id.asc())
    )
    inner = Review.select(Review.id).where(Review.brand == Brand.id, *conditions)
    brands = Brand.select(Brand.name)
    if after is not None:
        if order.descending:
            inner = inner.where(Review.id < Case(None, [(Brand.name == after.value, after.id)], MAX_ID + 1))
            brands = brands.where(Brand.name <= after.value)
        else:
            inner = inner.where(Review.id > Case(None, [(Brand.name == after.value, after.id)], 0))
            brands = brands.where(Brand.name >= after.value)
    inner = inner.order_by(*ids_in_brand).limit(offset + want).alias("page")
    by_name = Brand.name.desc() if order.descending else Brand.name.asc()
    in_page = inner.c.id.desc() if order.descending else inner.c.id.asc()
    ids = [
        row[1]
        for row in brands.select_extend(inner.c.id)
        .join(inner, JOIN.LATERAL)
        .order_by(by_name, in_page)
        .offset(offset or None)
        .limit(want)
        .tuples()
    ]
    found = {review.id: review for review in _reviews([Review.id.in_(ids)])} if ids else {}
    return [found[review_id] for review_id in ids if review_id in found]


def count(conditions: list[Expression]) -> tuple[int, bool]:
    """How many reviews match, and whether that is a count (else PostgreSQL's estimate).

    PostgreSQL is asked for its estimate first (a plan, no rows read): above EXACT_TOTAL_MAX it is
    the answer; below, the rows are counted, at most EXACT_TOTAL_MAX + 1 of them. SQLite counts.
    """
    matching = _where(Review.select(SQL("1")), conditions)
    db = get_database()
    if not isinstance(db, PostgresqlDatabase):
        return matching.count(), True  # SQLite has no estimate to ask for; a small installation
    sql, params = matching.sql()
    plan = db.execute_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()[0]
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    if estimate > EXACT_TOTAL_MAX:
        return estimate, False
    capped = matching.limit(EXACT_TOTAL_MAX + 1).alias("capped")
    counted = Review.select(fn.COUNT(SQL("*"))).from_(capped).scalar()
    if counted > EXACT_TOTAL_MAX:  # the planner guessed low
        return max(estimate, counted), False
    return counted, True
