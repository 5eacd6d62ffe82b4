"""The learning loop and personal data: the per-client filters count client pseudonyms (an IPv6
client per /64), keep working once addresses expire, and a deleted review is never learnt from
again (on SQLite and PostgreSQL; the round stops once its data is known, before training)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from brandpulse.api.storage import erasure, registry
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Review, utcnow
from brandpulse.learning import feedback, retrain_round
from brandpulse.learning.retrain_round import RoundOptions, run_once
from tests.api.conftest import ADMIN

RULES = {"min_chars": 20, "max_per_client_day": 20, "kept_weight": 1.0}


def post_from(client: FlaskClient, address: str, text: str, rating: int = 4) -> int:
    body = {"text": text, "rating": rating, "brand": "Nike", "score": 0.6, "suggestion_shown": False}
    response = client.post("/api/review", json=body, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def selected(app: Flask) -> feedback.Feedback:
    with app.app_context(), get_database().connection_context():
        return feedback.select_feedback(feedback.read_reviews(), **RULES)


def test_one_ipv6_network_is_one_client(app, client):
    text = "Five stars, the best shoes I ever had, buy them now!"
    post_from(client, "2001:db8:5:6::1", text)
    post_from(client, "2001:db8:5:6:ffff::2", text)  # another address of the same /64
    post_from(client, "2001:db8:5:7::1", "A different network writes a text of its own here.")
    chosen = selected(app)
    assert chosen.dropped["repeated_by_client"] == 2 and len(chosen.reviews) == 1
    many = [f"Review {i} from a phone that changes its address each time." for i in range(25)]
    for i, line in enumerate(many):
        post_from(client, f"2001:db8:5:8::{i + 1:x}", line)
    assert selected(app).dropped["client_day_cap"] == 25  # 25 addresses of one /64: one client


def test_the_filters_keep_working_once_the_addresses_have_expired(app, client):
    for i in range(25):  # one client, one day, over the daily cap
        post_from(client, "203.0.113.5", f"Inverted review number {i} from one busy address.", rating=1)
    for _ in range(2):
        post_from(client, "203.0.113.6", "The same text twice from one address, a script.")
    for i in range(5):
        post_from(client, f"198.51.100.{i}", f"An honest review number {i} of these shoes.")
    before = selected(app)
    with app.app_context(), get_database().connection_context():
        Review.update(created_at=utcnow() - timedelta(days=100)).execute()
        assert erasure.expire_personal_data(90) == 32
        assert Review.select().where(Review.ip_address.is_null(False)).count() == 0
    after = selected(app)
    assert after.dropped == before.dropped
    assert (after.dropped["client_day_cap"], after.dropped["repeated_by_client"]) == (25, 2)
    assert len(after.reviews) == 5


def test_deleted_and_erased_reviews_are_not_read_as_they_were(app, client):
    kept = post_from(client, "192.0.2.1", "A review that stays and trains the next model.")
    deleted = post_from(client, "192.0.2.2", "A review its author asked to have deleted.")
    erased = post_from(client, "192.0.2.3", "A review kept, its author's data erased.")
    assert client.delete(f"/api/reviews/{deleted}", headers=ADMIN).status_code == 204
    assert client.post("/api/privacy/erase", json={"address": "192.0.2.3"}, headers=ADMIN).status_code == 200
    with app.app_context(), get_database().connection_context():
        stored = {review.id: review for review in feedback.read_reviews()}
    assert set(stored) == {kept, erased}
    assert stored[erased].client is None and stored[kept].client is not None


class _Stop(Exception):
    """Ends a round once its data is known, before any training."""


@pytest.mark.slow
def test_a_deleted_review_is_not_in_the_next_rounds_data(
    make_app, tmp_path: Path, bundled_checkpoint: Path, reviews_csv: Path, monkeypatch
):
    app = make_app(
        MODEL_PATH=bundled_checkpoint,
        MODEL_DIR=tmp_path / "models",
        RETRAIN_BASE_CORPUS=reviews_csv,
        RETRAIN_MIN_REVIEWS=20,
        RETRAIN_FIXED_TEST_ROWS=200,
    )
    with app.app_context(), get_database().connection_context():
        registry.register_first_champion(bundled_checkpoint, tmp_path / "models")
    client = app.test_client()
    ids = [
        post_from(client, f"10.1.0.{i}", f"Stored review {i}: the order came on time and fits well.")
        for i in range(40)
    ]
    texts: list[list[str]] = []

    def capture_recent(reviews, weights):
        texts.append([review.text for review in reviews])
        return feedback_rows(reviews, weights)

    def capture_training(champion, train, validation, *_args):
        texts[-1] += train.texts + validation.texts
        raise _Stop

    feedback_rows = retrain_round.feedback_rows
    monkeypatch.setattr(retrain_round, "feedback_rows", capture_recent)
    monkeypatch.setattr(retrain_round, "train_round_challenger", capture_training)
    for round_number in range(2):
        if round_number == 1:
            for review_id in ids[::4]:  # ten reviews deleted between the rounds
                assert client.delete(f"/api/reviews/{review_id}", headers=ADMIN).status_code == 204
        with pytest.raises(_Stop):
            run_once(app, RoundOptions(max_steps=1))
    first, second = (
        {text for text in round_texts if text.startswith("Stored review")} for round_texts in texts
    )
    deleted = {f"Stored review {i}: the order came on time and fits well." for i in range(0, 40, 4)}
    assert deleted <= first  # the first round learnt from them (trained, validated or judged on)
    assert len(first) == 40 and len(second) == 30 and not deleted & second
