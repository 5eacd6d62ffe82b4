"""The real bundled model through the API: clear reviews land on the right side of 0.5, in stars."""

from __future__ import annotations

import pytest

from tests.api.conftest import post_measured, post_review

POSITIVE = [
    "An absolutely wonderful experience, friendly staff and great quality. Highly recommended!",
    "One of the best purchases I have made in years. Beautiful, comfortable and worth every penny.",
]
NEGATIVE = [
    "Terrible service and awful quality. The product broke after two days, a complete waste of money.",
    "Awful quality, a complete waste of money. I regret buying it and will never come back.",
]


@pytest.fixture
def bundled(make_app, bundled_checkpoint):
    return make_app(MODEL_PATH=bundled_checkpoint).test_client()


@pytest.mark.parametrize(("text", "positive"), [(t, True) for t in POSITIVE] + [(t, False) for t in NEGATIVE])
def test_predict_with_the_bundled_model(bundled, text, positive):
    body = bundled.post("/api/predict", json={"review": text}).json
    assert (body["score"] > 0.5) is positive, body
    assert set(body["probabilities"]) == {"1 star", "2 stars", "3 stars", "4 stars", "5 stars"}
    assert body["label"] in (("4 stars", "5 stars") if positive else ("1 star", "2 stars"))
    assert body["suggested_rating"] >= 4 if positive else body["suggested_rating"] <= 2
    assert body["model_version"].startswith("small-bn+ngram-")


def test_stored_reviews_are_scored_by_the_bundled_model(bundled):
    good = post_review(bundled, text=POSITIVE[0], rating=5).json
    bad = post_review(bundled, text=NEGATIVE[0], rating=1).json
    assert good["score"] > 0.5 > bad["score"]
    assert good["suggested_rating"] > bad["suggested_rating"]


def test_batch_with_the_bundled_model(bundled):
    body = bundled.post("/api/predict/batch", json={"reviews": POSITIVE + NEGATIVE}).json
    assert [p["score"] > 0.5 for p in body["predictions"]] == [True, True, False, False]


def test_a_5_mb_review_costs_no_more_than_a_long_one(make_app, bundled_checkpoint):
    # Both parts of the bundled model read a bounded window (the CNN 1,014 characters, the
    # n-gram model 16,384), so a huge text is scored like its head and tail.
    client = make_app(MODEL_PATH=bundled_checkpoint, MAX_CONTENT_LENGTH=8 * 1024 * 1024).test_client()
    unit = "Great product, friendly staff. "
    long = client.post("/api/predict", json={"review": unit * 2000}).json  # 62,000 characters
    body = ('{"review": "' + unit * (5 * 1024 * 1024 // len(unit)) + '"}').encode()
    response, elapsed, peak = post_measured(client, body)
    assert response.status_code == 200
    assert response.json["score"] == pytest.approx(long["score"], abs=1e-6)
    assert elapsed < 5.0
    assert peak < 8 * len(body)
