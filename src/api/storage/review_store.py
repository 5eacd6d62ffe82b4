"""Storing one review cheaply: the brand's id from a per-process cache, then one INSERT statement.

A review write is the API's most frequent database work, so its path is kept short (the profile
is in docs/performance.md): no brand query while the brand is cached, and the INSERT's SQL is
written once per database from the `Review` model's own fields (so it cannot drift from the
table) instead of being built by peewee's query builder on every request.
"""

from __future__ import annotations

import threading
import time
from functools import cache

from flask import Flask, current_app
from peewee import Database

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Brand, Review

EXTENSION = "brandpulse.brand_ids"
BRAND_CACHE_SECONDS = 300.0  # how long a brand's id is trusted before it is asked again
_INSERTED = tuple(field for field in Review._meta.sorted_fields if field is not Review._meta.primary_key)


class BrandIds:
    """Brand name -> id, asked from the database once per BRAND_CACHE_SECONDS per process.

    Brands are only added or updated (never renamed or deleted while reviews refer to them), so
    a cached id stays right; an unknown name is asked every time (it may be added any moment).
    """

    def __init__(self) -> None:
        self._ids: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> int | None:
        """The id of the brand called `name`, or None when there is none."""
        cached = self._ids.get(name)
        now = time.monotonic()
        if cached is not None and now - cached[1] < BRAND_CACHE_SECONDS:
            return cached[0]
        row = Brand.select(Brand.id).where(Brand.name == name).tuples().first()
        if row is None:
            self.forget(name)
            return None
        with self._lock:
            self._ids[name] = (row[0], now)
        return row[0]

    def forget(self, name: str) -> None:
        """Drop a name (its brand turned out to be gone)."""
        with self._lock:
            self._ids.pop(name, None)


def init_app(app: Flask) -> None:
    """Give the app its brand id cache."""
    app.extensions[EXTENSION] = BrandIds()


def brand_ids(app: Flask | None = None) -> BrandIds:
    """The brand id cache of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


@cache
def _insert_sql(param: str, quote: str) -> str:
    columns = ", ".join(f"{quote[0]}{field.column_name}{quote[1]}" for field in _INSERTED)
    values = ", ".join([param] * len(_INSERTED))
    return f'INSERT INTO "review" ({columns}) VALUES ({values}) RETURNING "id"'


def insert_review(review: Review, db: Database | None = None) -> int:
    """INSERT an unsaved `review` (its brand given by id) in one statement; set and return its id.

    Raises `IntegrityError` as `Review.create` would (a CHECK constraint, an unknown brand id).
    """
    db = db or get_database()
    data = review.__data__
    params = [field.db_value(data.get(field.name)) for field in _INSERTED]
    cursor = db.execute_sql(_insert_sql(db.param, db.quote), params)
    review.id = cursor.fetchone()[0]
    return review.id
