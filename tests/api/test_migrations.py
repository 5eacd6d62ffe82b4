"""Migrations 4 (idempotency keys) and 5 (review list indexes) on a database that already has reviews."""

from __future__ import annotations

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.migrations import LATEST_VERSION, REVIEW_LIST_INDEXES, current_version, upgrade
from brandpulse.api.storage.seeding import seed_brands
from brandpulse.api.storage.tables import Brand, IdempotencyKey, Review
from tests.api.conftest import ADMIN


def test_upgrading_a_database_with_reviews_keeps_them_and_adds_keys_and_indexes(make_app):
    app = make_app(migrate=False)
    with app.app_context(), get_database().connection_context():
        assert upgrade(3) == [1, 2, 3]
        seed_brands()
        nike = Brand.get(Brand.name == "Nike")
        for number in range(12):
            Review.create(
                brand=nike, text=f"Stored before the upgrade, number {number}.", rating=1 + number % 5
            )
        indexes = {index.name for index in get_database().get_indexes("review")}
        assert {"review_created_at", "review_brand_id"} <= indexes
        assert upgrade() == list(range(4, LATEST_VERSION + 1))
        assert current_version() == LATEST_VERSION
        assert Review.select().count() == 12
        indexes = {index.name for index in get_database().get_indexes("review")}
        assert set(REVIEW_LIST_INDEXES) <= indexes
        assert not {"review_created_at", "review_brand_id"} & indexes  # replaced by the wider ones
        assert IdempotencyKey.select().count() == 0
        assert upgrade() == []  # nothing left to apply
    client = app.test_client()
    body = {"text": "Written after the upgrade, with a key.", "rating": 5, "brand": "Nike", "score": 0.9}
    first = client.post("/api/review", json=body, headers={"Idempotency-Key": "after-upgrade"})
    again = client.post("/api/review", json=body, headers={"Idempotency-Key": "after-upgrade"})
    assert first.status_code == again.status_code == 201 and first.json == again.json
    page = client.get("/api/reviews?per_page=5&sort=rating", headers=ADMIN).json
    assert page["total"] == 13 and page["next_cursor"]
