"""The real bundled model through the API: clear reviews land on the right side of 0.5."""

from __future__ import annotations

import pytest

from tests.api.conftest import post_review

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
    assert body["label"] == ("positive" if positive else "negative")
    assert body["model_version"].startswith("small-bn-")


def test_stored_reviews_are_scored_by_the_bundled_model(bundled):
    good = post_review(bundled, text=POSITIVE[0], rating=5).json
    bad = post_review(bundled, text=NEGATIVE[0], rating=1).json
    assert good["score"] > 0.5 > bad["score"]
    assert good["suggested_rating"] > bad["suggested_rating"]


def test_batch_with_the_bundled_model(bundled):
    body = bundled.post("/api/predict/batch", json={"reviews": POSITIVE + NEGATIVE}).json
    assert [p["score"] > 0.5 for p in body["predictions"]] == [True, True, False, False]
