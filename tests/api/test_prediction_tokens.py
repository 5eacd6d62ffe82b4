"""The server decides what the model said: `/api/predict`'s signed tokens, and the figures a
stored review gets from one (or from the server's own reading of its text)."""

from __future__ import annotations

import logging
import time

import pytest

from brandpulse.api import prediction_tokens
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Review
from brandpulse.model.paths import BUNDLED_CHECKPOINT
from tests.api.conftest import post_review

TEXT = "Good shoes, comfortable and well made."
OTHER = "Terrible shoes, they fell apart in a week."
MARKUP = '<a href="https://evil.example/">Token expired: sign in</a>'


def stored(app, review_id: int) -> Review:
    with app.app_context(), get_database().connection_context():
        return Review.get_by_id(review_id)


def figures(body: dict) -> tuple:
    return body["score"], body["suggested_rating"], body["model_version"]


@pytest.fixture
def bundled(make_app):
    """An app serving the bundled model (the real one), with a fixed secret."""
    return make_app(MODEL_PATH=BUNDLED_CHECKPOINT, SECRET_KEY="a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6")


def test_every_prediction_carries_a_token_of_its_figures_and_text(bundled):
    client = bundled.test_client()
    single = client.post("/api/predict", json={"text": TEXT}).json
    batch = client.post("/api/predict/batch", json={"texts": [TEXT, OTHER]}).json["predictions"]
    with bundled.app_context():
        for text, prediction in ((TEXT, single), (TEXT, batch[0]), (OTHER, batch[1])):
            read = prediction_tokens.read(prediction["token"], f"  {text}\n")  # blanks aside: the text
            assert (read.score, read.suggested_rating, read.model_version) == figures(prediction)
            with pytest.raises(prediction_tokens.InvalidToken, match="another text"):
                prediction_tokens.read(prediction["token"], text + "!")
    assert len(single["token"]) < 400
    assert single["model_version"].startswith("small-bn+ngram-")


def test_a_review_with_its_token_is_stored_with_the_figures_the_visitor_saw(bundled):
    client = bundled.test_client()
    prediction = client.post("/api/predict", json={"text": TEXT}).json
    response = post_review(
        client,
        text=f" {TEXT} ",
        rating=1,
        prediction_token=prediction["token"],
        suggestion_shown=True,
        score=0.0,  # ignored, as is everything else a client says about the model
        suggested_rating=1,
        model_version=MARKUP,
    )
    assert response.status_code == 201
    body = response.json
    assert figures(body) == (pytest.approx(prediction["score"], rel=1e-6), *figures(prediction)[1:])
    review = stored(bundled, body["id"])
    assert (review.suggested_rating, review.model_version) == figures(prediction)[1:]
    assert review.score == pytest.approx(prediction["score"], rel=1e-6)
    assert review.suggestion_shown is True
    assert review.suggestion_changed is (prediction["suggested_rating"] != 1)


def test_the_token_is_what_the_visitor_saw_even_after_the_model_changed(make_app, tiny_checkpoint):
    """A token from the bundled model, sent to a server now serving another model (a promotion in
    between): stored as the bundled model's figures, not re-scored."""
    secret = {"SECRET_KEY": "z9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4"}
    before = make_app(MODEL_PATH=BUNDLED_CHECKPOINT, **secret).test_client()
    prediction = before.post("/api/predict", json={"text": TEXT}).json
    after = make_app(MODEL_PATH=tiny_checkpoint, migrate=False, **secret)
    response = post_review(after.test_client(), prediction_token=prediction["token"])
    assert response.json["model_version"] == prediction["model_version"]
    assert response.json["model_version"].startswith("small-bn+ngram-")


@pytest.mark.parametrize("case", ["other text", "altered", "other key", "expired", "garbage"])
def test_an_unusable_token_is_no_error_the_server_scores_the_text(bundled, make_app, case, caplog):
    client = bundled.test_client()
    own = client.post("/api/predict", json={"text": TEXT}).json
    other = client.post("/api/predict", json={"text": OTHER}).json
    expired = time.time() - prediction_tokens.TOKEN_SECONDS - 1
    with bundled.app_context():
        token = {
            "other text": lambda: other["token"],
            "altered": lambda: _altered(other["token"], TEXT),
            "other key": lambda: _signed_elsewhere(make_app, TEXT),
            "expired": lambda: prediction_tokens.issue(TEXT, own, now=expired),
            "garbage": lambda: "not-a-token",
        }[case]()
    with caplog.at_level(logging.INFO, logger="brandpulse.api.endpoints.reviews"):
        response = post_review(client, prediction_token=token, suggestion_shown=True)
    assert response.status_code == 201
    assert figures(response.json) == (pytest.approx(own["score"], rel=1e-6), *figures(own)[1:])
    assert any("prediction token not used" in record.getMessage() for record in caplog.records)


def _altered(token: str, text: str) -> str:
    """`token`'s payload moved to `text` and a better score, its signature kept."""
    import base64
    import json

    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(s=1.0, r=5, h=prediction_tokens.text_digest(text))
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


def _signed_elsewhere(make_app, text: str) -> str:
    """A token for `text` from a server with another SECRET_KEY."""
    elsewhere = make_app(SECRET_KEY="q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6", migrate=False)
    return elsewhere.test_client().post("/api/predict", json={"text": text}).json["token"]


def test_a_token_is_refused_by_the_schema_only_when_it_cannot_be_one(client):
    assert post_review(client, prediction_token="").status_code == 422
    assert post_review(client, prediction_token="x" * (prediction_tokens.TOKEN_MAX + 1)).status_code == 422
    assert post_review(client, prediction_token="<markup> \ud800 é").status_code == 201  # just not used
    assert post_review(client, prediction_token=12).status_code == 422


def test_with_no_model_a_valid_token_still_gives_the_figures(make_app, tmp_path, tiny_checkpoint):
    secret = {"SECRET_KEY": "m1n2b3v4c5x6z7l8k9j0h1g2f3d4s5a6"}
    prediction = make_app(**secret).test_client().post("/api/predict", json={"text": TEXT}).json
    down = make_app(MODEL_PATH=tmp_path / "missing.safetensors", migrate=False, **secret).test_client()
    with_token = post_review(down, prediction_token=prediction["token"])
    without = post_review(down)
    assert with_token.status_code == without.status_code == 201
    assert figures(with_token.json)[1:] == figures(prediction)[1:]
    assert figures(without.json) == (None, None, None)


def test_a_keyed_retry_with_its_token_stores_one_review(app, client):
    prediction = client.post("/api/predict", json={"text": TEXT}).json
    key = {"Idempotency-Key": "5f0c2a4e-9b1d-4c3e-8f7a-2d6b1e0c9a48"}
    body = {"text": TEXT, "rating": 4, "brand": "Nike", "prediction_token": prediction["token"]}
    first = client.post("/api/review", json=body, headers=key)
    again = client.post("/api/review", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotency-Replayed"] == "true" and again.json == first.json
    other_token = client.post("/api/predict", json={"text": TEXT + " Really."}).json["token"]
    reused = client.post("/api/review", json={**body, "prediction_token": other_token}, headers=key)
    assert reused.status_code == 422  # the same key with other fields
    unkeyed_scored = client.post("/api/review", json={**body, "prediction_token": "x.y"})
    assert figures(unkeyed_scored.json) == figures(first.json)  # the same model, the same text
    with app.app_context(), get_database().connection_context():
        assert Review.select().count() == 2
