"""`Idempotency-Key` on `POST /api/review`: a retry gets the first answer, and nothing new is stored.

A client that may send a review twice (a timeout, a retried submit) names the attempt with a key
of its own (a UUID). The answer to the first request with that key (status and JSON body) is
stored in the same transaction as its review, under a unique key, so:

- a later request with the key and the same fields gets the stored answer back (header
  `Idempotency-Replayed: true`) and stores nothing;
- two requests with the key at once store one review: the second one's insert of the key waits
  for the first transaction (PostgreSQL's unique index; SQLite's single writer), finds the key
  taken, rolls its own review back and answers the first one's answer;
- the key with different fields is a 422 (the key is the client's bug, not a retry);
- a key older than IDEMPOTENCY_TTL_HOURS is expired: ignored (the request is new and replaces
  it), and deleted by `prune_expired`, which a worker runs on its own every PRUNE_EVERY_SECONDS
  and `flask db prune-idempotency-keys` runs on demand;
- a key goes with its review: it records the review's id, and deleting or erasing the review
  deletes it (`erasure.py`; the database cascades any other deletion of the review).

Only created reviews are stored: an invalid request stores no key (its retry is answered the
same way again, by validation).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from peewee import Database

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
EXTENSION = "brandpulse.idempotency"
PRUNE_EVERY_SECONDS = 300.0  # per worker process
PRUNE_BATCH = 1000  # keys deleted per statement, so a prune never holds locks for long


@dataclass(frozen=True)
class Answer:
    """A stored first answer: the status and the JSON body sent."""

    status: int
    body: str


class KeyReused(Exception):
    """The key was stored for a request with other fields."""


def fingerprint(fields: Mapping[str, Any]) -> str:
    """SHA-256 of a request's parsed fields, in a canonical JSON form (key order and spacing ignored)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _cutoff(ttl_hours: int) -> datetime:
    return utcnow() - timedelta(hours=ttl_hours)


# The two statements every keyed write runs, written once: peewee would build them on every request
# (a tenth of a millisecond each, the profile in docs/performance.md).
_LOOKUP = 'SELECT fingerprint, status, response FROM idempotency_key WHERE "key" = {p} AND created_at >= {p}'
_CLAIM = (
    'INSERT INTO idempotency_key ("key", fingerprint, status, response, created_at, review_id) '
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}) "
    'ON CONFLICT ("key") DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status, '
    "response = excluded.response, created_at = excluded.created_at, review_id = excluded.review_id "
    'WHERE idempotency_key.created_at < {p} RETURNING "key"'
)


def stored_answer(key: str, request_fingerprint: str, ttl_hours: int) -> Answer | None:
    """The stored answer of an unexpired `key`, or None; `KeyReused` if it answered other fields."""
    db = get_database()
    row = db.execute_sql(_LOOKUP.format(p=db.param), (key, _cutoff(ttl_hours))).fetchone()
    if row is None:
        return None
    stored_fingerprint, status, body = row
    if stored_fingerprint != request_fingerprint:
        raise KeyReused(key)
    return Answer(status, body)


def remember(db: Database, key: str, request_fingerprint: str, answer: Answer, ttl_hours: int) -> bool:
    """Store `answer` under `key`, inside the caller's transaction (the one storing the review).

    Returns False, storing nothing, when an unexpired answer already holds the key: the caller
    must roll its transaction back and answer `stored_answer`. On PostgreSQL this waits for a
    transaction that inserted the same key and has not finished yet. An expired key is replaced.

    The key records the review it stored (the `id` of the answer, the review's JSON), so that
    deleting or erasing the review deletes the key and the copy of the review its answer holds.
    """
    now = utcnow()
    review_id = _review_id(answer)
    params = (
        key,
        request_fingerprint,
        answer.status,
        answer.body,
        now,
        review_id,
        now - timedelta(hours=ttl_hours),
    )
    return db.execute_sql(_CLAIM.format(p=db.param), params).fetchone() is not None


def _review_id(answer: Answer) -> int | None:
    """The id of the review an answer stored (None for a body without one)."""
    try:
        review_id = json.loads(answer.body).get("id")
    except (ValueError, AttributeError):
        return None
    return review_id if isinstance(review_id, int) else None


def prune_expired(ttl_hours: int, batch: int = PRUNE_BATCH, batches: int | None = None) -> int:
    """Delete expired keys, `batch` per statement, at most `batches` statements (None: all); the count."""
    cutoff = _cutoff(ttl_hours)
    deleted = done = 0
    while batches is None or done < batches:
        expired = IdempotencyKey.select(IdempotencyKey.key).where(IdempotencyKey.created_at < cutoff)
        count = IdempotencyKey.delete().where(IdempotencyKey.key.in_(expired.limit(batch))).execute()
        deleted += count
        done += 1
        if count < batch:
            break
    return deleted


class Pruner:
    """Runs one batch of `prune_expired` at most every PRUNE_EVERY_SECONDS in this process."""

    def __init__(self) -> None:
        self._last = time.monotonic()  # the first prune comes one period after start
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether this call should prune (True for one caller per period)."""
        now = time.monotonic()
        if now - self._last < PRUNE_EVERY_SECONDS:
            return False
        with self._lock:
            if now - self._last < PRUNE_EVERY_SECONDS:
                return False
            self._last = now
            return True


def init_app(app: Flask) -> None:
    """Give the app its pruning clock."""
    app.extensions[EXTENSION] = Pruner()


def prune_if_due(ttl_hours: int) -> int:
    """Delete one batch of expired keys if this process has not for PRUNE_EVERY_SECONDS."""
    if not current_app.extensions[EXTENSION].due():
        return 0
    return prune_expired(ttl_hours, batches=1)
