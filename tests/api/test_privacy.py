"""Personal data with a lifetime (docs/privacy.md): pseudonyms, expiry, deletion and erasure.

Every test runs on SQLite and on PostgreSQL (the `client`/`make_app` fixtures). Clients are told
apart by their TCP peer address (`REMOTE_ADDR`), with no proxy in between.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from brandpulse.api.pseudonyms import client_pseudonym
from brandpulse.api.storage import erasure
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import IdempotencyKey, Review, utcnow
from tests.api.conftest import ADMIN

OLD = timedelta(days=91)  # older than the default PERSONAL_DATA_RETENTION_DAYS (90)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def audit_lines():
    """The `brandpulse.audit` records logged during the test."""
    handler = _Collect()
    logger = logging.getLogger("brandpulse.audit")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def post_from(client: FlaskClient, address: str, text: str, key: str | None = None, **fields: Any) -> int:
    """POST a review as the client at `address` (its TCP peer); the stored review's id."""
    body = {"text": text, "rating": 4, "brand": "Nike", "score": 0.7, **fields}
    headers = {"User-Agent": "Mozilla/5.0 (test)", **({"Idempotency-Key": key} if key else {})}
    response = client.post("/api/review", json=body, headers=headers, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def stored(app: Flask) -> dict[int, tuple[str | None, str | None, str | None]]:
    """Review id -> (ip_address, user_agent, client_pseudonym)."""
    with app.app_context(), get_database().connection_context():
        rows = Review.select(Review.id, Review.ip_address, Review.user_agent, Review.client_pseudonym)
        return {row[0]: row[1:] for row in rows.tuples()}


def pseudonym(app: Flask, address: str) -> str:
    with app.app_context():
        return client_pseudonym(address)


def age(app: Flask, review_ids: list[int], by: timedelta = OLD) -> None:
    """Make the reviews `by` older."""
    with app.app_context(), get_database().connection_context():
        Review.update(created_at=utcnow() - by).where(Review.id.in_(review_ids)).execute()


def key_count(app: Flask) -> int:
    with app.app_context(), get_database().connection_context():
        return IdempotencyKey.select().count()


def test_a_review_stores_the_pseudonym_of_its_client_network(app, client):
    v4 = post_from(client, "198.51.100.7", "An IPv4 visitor writes about running shoes.")
    first = post_from(client, "2001:db8:1:2::10", "An IPv6 visitor writes about running shoes.")
    second = post_from(client, "2001:db8:1:2:aaaa::20", "The same network, another address of it.")
    other = post_from(client, "2001:db8:1:3::10", "Another /64, another client entirely.")
    rows = stored(app)
    assert rows[v4] == ("198.51.100.7", "Mozilla/5.0 (test)", pseudonym(app, "198.51.100.7"))
    assert rows[first][2] == rows[second][2] == pseudonym(app, "2001:db8:1:2::ffff")  # one /64, one client
    assert rows[other][2] != rows[first][2]
    assert len(rows[v4][2]) == 32 and "198.51.100.7" not in rows[v4][2]


def test_expire_clears_old_addresses_and_user_agents_and_keeps_pseudonyms(make_app, audit_lines):
    app = make_app(PERSONAL_DATA_RETENTION_DAYS=30)
    client = app.test_client()
    old = [post_from(client, f"192.0.2.{i}", f"An old review number {i} about shoes.") for i in range(5)]
    new = post_from(client, "192.0.2.99", "A review from yesterday about shoes.")
    age(app, old, timedelta(days=31))
    age(app, [new], timedelta(days=29))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "expire"])
    assert result.exit_code == 0, result.output
    assert "5 reviews older than 30 days" in result.output
    rows = stored(app)
    for i, review_id in enumerate(old):
        assert rows[review_id] == (None, None, pseudonym(app, f"192.0.2.{i}"))
    assert rows[new] == ("192.0.2.99", "Mozilla/5.0 (test)", pseudonym(app, "192.0.2.99"))
    again = runner.invoke(args=["privacy", "expire"])
    assert again.exit_code == 0 and "0 reviews" in again.output  # idempotent
    assert stored(app) == rows
    [first, second] = audit_lines
    assert (first.action, first.actor, first.reviews_cleared, first.retention_days) == (
        "expire",
        "command",
        5,
        30,
    )
    assert second.reviews_cleared == 0


def test_expire_works_in_batches(app, client):
    ids = [post_from(client, f"192.0.2.{i}", f"Batched review number {i} about shoes.") for i in range(7)]
    age(app, ids)
    with app.app_context(), get_database().connection_context():
        assert erasure.expire_personal_data(90, batch=2) == 7
        assert erasure.expire_personal_data(90, batch=2) == 0
    assert all(row[:2] == (None, None) and row[2] for row in stored(app).values())


def test_admins_delete_a_review_and_its_idempotency_key(app, client, audit_lines):
    keep = post_from(client, "192.0.2.1", "This review stays where it is.", key="keep-key")
    gone = post_from(client, "192.0.2.2", "This review is to be deleted.", key="delete-key")
    assert key_count(app) == 2
    assert client.delete(f"/api/reviews/{gone}").status_code == 401
    response = client.delete(f"/api/reviews/{gone}", headers=ADMIN, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/reviews/{gone}", headers=ADMIN).status_code == 404
    assert set(stored(app)) == {keep} and key_count(app) == 1
    missing = client.delete(f"/api/reviews/{gone}", headers=ADMIN)
    assert missing.status_code == 404 and missing.get_json()["error"]["message"] == f"no review {gone}"
    ids = [row["id"] for row in client.get("/api/reviews", headers=ADMIN).get_json()["items"]]
    assert ids == [keep]
    [line] = audit_lines
    assert line.actor == "admin token from 10.9.8.7" and line.action == f"delete review {gone}"
    assert (line.reviews_deleted, line.idempotency_keys_deleted) == (1, 1)
    # The key went with its review: sent again, the request is a new review, not a replay.
    again = client.post(
        "/api/review",
        json={"text": "This review is to be deleted.", "rating": 4, "brand": "Nike", "score": 0.7},
        headers={"Idempotency-Key": "delete-key"},
    )
    assert again.status_code == 201 and "Idempotency-Replayed" not in again.headers


def test_erase_by_address_clears_every_review_of_the_client_network(app, client, audit_lines):
    mine = [
        post_from(client, "2001:db8:1:2::10", "My first review, written at home.", key="k1"),
        post_from(client, "2001:db8:1:2::20", "My second review, from my phone at home."),
        post_from(client, "2001:db8:1:2::30", "My oldest review, its address already expired."),
    ]
    others = [
        post_from(client, "2001:db8:1:3::10", "A neighbour's review, another network."),
        post_from(client, "198.51.100.7", "Somebody else entirely writes here.", key="k2"),
    ]
    age(app, mine[2:])
    with app.app_context(), get_database().connection_context():
        erasure.expire_personal_data(90)
    before = stored(app)
    assert before[mine[2]][0] is None  # expired: found by pseudonym only
    response = client.post(
        "/api/privacy/erase",
        json={"address": "2001:db8:1:2::ffff"},
        headers=ADMIN,
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"reviews_deleted": 0, "reviews_cleared": 3, "idempotency_keys_deleted": 1}
    after = stored(app)
    assert all(after[review_id] == (None, None, None) for review_id in mine)
    assert all(after[review_id] == before[review_id] for review_id in others)
    assert key_count(app) == 1
    # Kept reviews keep their text and rating for the charts and retraining.
    body = client.get(f"/api/reviews/{mine[0]}", headers=ADMIN).get_json()
    assert body["text"] == "My first review, written at home." and body["ip_address"] is None
    again = client.post("/api/privacy/erase", json={"address": "2001:db8:1:2::10"}, headers=ADMIN)
    assert again.get_json() == {"reviews_deleted": 0, "reviews_cleared": 0, "idempotency_keys_deleted": 0}
    line = audit_lines[-2]  # [expire, erase, erase again]
    assert line.actor == "admin token from 10.0.0.5" and line.reviews_cleared == 3
    assert not any("2001:db8" in record.getMessage() for record in audit_lines)  # the address is not kept


def test_erase_by_address_can_delete_the_reviews(app, client):
    mine = [
        post_from(client, "203.0.113.9", f"Review {i} of the one who asks to be forgotten.") for i in range(3)
    ]
    other = post_from(client, "203.0.113.10", "The next address over is someone else.", key="k")
    post_from(client, "203.0.113.9", "Sent with a key, deleted with its key.", key="mine")
    response = client.post(
        "/api/privacy/erase", json={"address": "203.0.113.9", "delete_reviews": True}, headers=ADMIN
    )
    assert response.get_json() == {"reviews_deleted": 4, "reviews_cleared": 0, "idempotency_keys_deleted": 1}
    assert set(stored(app)) == {other} and key_count(app) == 1
    assert not set(mine) & set(stored(app))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "not-an-address"}, "address"),
        ({"address": "203.0.113.0/24"}, "address"),
        ({"address": ""}, "address"),
        ({"address": "203.0.113.9", "delete_reviews": "yes"}, "delete_reviews"),
        ({"address": "203.0.113.9", "everything": True}, "everything"),
        ({}, "address"),
    ],
)
def test_erase_refuses_what_is_no_address(client, body, field):
    response = client.post("/api/privacy/erase", json=body, headers=ADMIN)
    assert response.status_code == 422, response.get_json()
    assert field in json.dumps(response.get_json()["error"])


def test_erase_needs_the_admin_token(client):
    assert client.post("/api/privacy/erase", json={"address": "203.0.113.9"}).status_code == 401
    bad = {"Authorization": "Bearer not-the-token-at-all-0000"}
    assert client.post("/api/privacy/erase", json={"address": "203.0.113.9"}, headers=bad).status_code == 403


def test_the_erase_command(app, client, audit_lines):
    ids = [post_from(client, "192.0.2.50", f"Review {i} erased from the command line.") for i in range(2)]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "erase-address", "192.0.2.50"])
    assert result.exit_code == 0, result.output
    assert "0 reviews deleted, 2 reviews cleared, 0 idempotency keys deleted" in result.output
    assert all(stored(app)[review_id] == (None, None, None) for review_id in ids)
    ids.append(post_from(client, "192.0.2.50", "Written again after the erasure, then deleted."))
    result = runner.invoke(args=["privacy", "erase-address", "--delete-reviews", "::ffff:192.0.2.50"])
    assert "1 reviews deleted, 0 reviews cleared" in result.output  # the IPv4-mapped form is the same client
    assert set(stored(app)) == set(ids[:2])
    bad = runner.invoke(args=["privacy", "erase-address", "192.0.2.500"])
    assert bad.exit_code == 2 and "not an IPv4 or IPv6 address" in bad.output
    assert [line.actor for line in audit_lines] == ["command", "command"]


def test_an_address_stored_without_a_pseudonym_is_still_found(app, client):
    """A review stored by an API process older than schema 6 (a rolling upgrade) has an address
    and no pseudonym: expiry and erasure give it its pseudonym first."""
    first = post_from(client, "192.0.2.77", "Stored the old way, without a pseudonym.")
    second = post_from(client, "192.0.2.78", "Also stored the old way, then expired.")
    with app.app_context(), get_database().connection_context():
        Review.update(client_pseudonym=None).execute()
    age(app, [second])
    with app.app_context(), get_database().connection_context():
        assert erasure.expire_personal_data(90) == 1
    assert stored(app)[second] == (None, None, pseudonym(app, "192.0.2.78"))
    response = client.post("/api/privacy/erase", json={"address": "192.0.2.77"}, headers=ADMIN)
    assert response.get_json()["reviews_cleared"] == 1
    assert stored(app)[first] == (None, None, None)


class _FakeScheduler:
    """Stands in for APScheduler's BlockingScheduler: runs the job once, at once."""

    jobs: list[tuple[Any, Any]] = []

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone

    def add_job(self, job, trigger, **_options) -> None:
        _FakeScheduler.jobs.append((job, trigger))

    def start(self) -> None:
        for job, _ in _FakeScheduler.jobs:
            job()

    def shutdown(self, wait: bool = True) -> None:
        pass


def test_expire_runs_on_the_schedule(make_app, monkeypatch, audit_lines):
    from apscheduler.schedulers import blocking

    monkeypatch.setattr(blocking, "BlockingScheduler", _FakeScheduler)
    monkeypatch.setattr(_FakeScheduler, "jobs", [])
    app = make_app(PERSONAL_DATA_SCHEDULE="15 3 * * *")
    client = app.test_client()
    old = post_from(client, "192.0.2.60", "An old review cleared by the scheduled job.")
    age(app, [old])
    result = app.test_cli_runner().invoke(args=["privacy", "expire", "--schedule"])
    assert result.exit_code == 0, result.output
    [(_, trigger)] = _FakeScheduler.jobs
    assert str(trigger) == "cron[month='*', day='*', day_of_week='*', hour='3', minute='15']"
    assert stored(app)[old][:2] == (None, None)
    assert [line.reviews_cleared for line in audit_lines] == [1]
    explicit = app.test_cli_runner().invoke(args=["privacy", "expire", "--schedule", "0 4 * * 1"])
    assert explicit.exit_code == 0 and "hour='4'" in str(_FakeScheduler.jobs[-1][1])
    bad = app.test_cli_runner().invoke(args=["privacy", "expire", "--schedule", "every night"])
    assert bad.exit_code == 2


def test_expire_needs_the_schema(make_app):
    result = make_app(migrate=False).test_cli_runner().invoke(args=["privacy", "expire"])
    assert result.exit_code != 0 and "db upgrade" in result.output
