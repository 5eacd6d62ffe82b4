"""Migration 6 on a database with reviews and idempotency keys: pseudonyms filled in from the
addresses, keys tied to their reviews (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from brandpulse.api.pseudonyms import client_pseudonym
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.migrations import BACKFILL_BATCH, LATEST_VERSION, PERSONAL_DATA_INDEXES, upgrade
from brandpulse.api.storage.seeding import seed_brands
from brandpulse.api.storage.tables import Brand, IdempotencyKey, Review
from tests.api.conftest import ADMIN

ADDRESSES = ("198.51.100.1", "2001:db8:1:2::10", "2001:db8:1:2::20", "2001:db8:9::1", "", None)


def test_upgrading_fills_in_pseudonyms_and_ties_keys_to_their_reviews(make_app):
    app = make_app(migrate=False)
    rows = BACKFILL_BATCH + 7  # more than one batch
    with app.app_context(), get_database().connection_context():
        assert upgrade(5) == [1, 2, 3, 4, 5]
        seed_brands()
        nike = Brand.get(Brand.name == "Nike").id
        # Written as version 5 knew the tables: no pseudonym column, no review id in the keys.
        Review.insert_many(
            [
                {
                    "brand": nike,
                    "text": f"Stored before version 6, number {i}.",
                    "rating": 3,
                    "ip_address": ADDRESSES[i % len(ADDRESSES)],
                }
                for i in range(rows)
            ]
        ).execute()
        first = Review.select(Review.id).order_by(Review.id).scalar()
        keys = [("k-first", {"id": first}), ("k-gone", {"id": 10**6}), ("k-odd", ["not", "a", "review"])]
        for key, body in keys:
            IdempotencyKey.insert(key=key, fingerprint="f", status=201, response=json.dumps(body)).execute()
        assert upgrade() == list(range(6, LATEST_VERSION + 1))
        expected = {address: client_pseudonym(address) for address in ADDRESSES}
        stored = list(Review.select(Review.ip_address, Review.client_pseudonym).tuples())
        assert len(stored) == rows
        assert all(pseudonym == expected[address] for address, pseudonym in stored)
        assert expected["2001:db8:1:2::10"] == expected["2001:db8:1:2::20"] != expected["2001:db8:9::1"]
        assert expected[""] is None and expected[None] is None
        linked = dict(IdempotencyKey.select(IdempotencyKey.key, IdempotencyKey.review).tuples())
        assert linked == {"k-first": first, "k-gone": None, "k-odd": None}
        indexes = {
            index.name
            for db_table in ("review", "idempotency_key")
            for index in get_database().get_indexes(db_table)
        }
        assert set(PERSONAL_DATA_INDEXES) <= indexes
        assert upgrade() == []
    # The key goes with its review, and the review's client is found by pseudonym.
    client = app.test_client()
    assert client.delete(f"/api/reviews/{first}", headers=ADMIN).status_code == 204
    with app.app_context(), get_database().connection_context():
        assert [row.key for row in IdempotencyKey.select().order_by(IdempotencyKey.key)] == [
            "k-gone",
            "k-odd",
        ]
    erased = client.post("/api/privacy/erase", json={"address": "2001:db8:1:2::ff"}, headers=ADMIN).get_json()
    assert erased["reviews_cleared"] == len([i for i in range(rows) if i % len(ADDRESSES) in (1, 2)])


def test_a_review_deleted_otherwise_takes_its_keys_along(client, app):
    """The database cascades: a review deleted by hand (SQL) leaves no idempotency key behind."""
    body = {"text": "Deleted by hand, with its key.", "rating": 2, "brand": "Nike", "score": 0.2}
    review_id = client.post("/api/review", json=body, headers={"Idempotency-Key": "by-hand"}).get_json()["id"]
    with app.app_context(), get_database().connection_context():
        assert IdempotencyKey.get(IdempotencyKey.key == "by-hand").review_id == review_id
        Review.delete().where(Review.id == review_id).execute()
        assert IdempotencyKey.select().count() == 0
