"""`GET /api/stats`: counts, means and agreement, per brand and overall."""

from __future__ import annotations

import pytest

from brandpulse.api.storage import registry
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Review
from tests.api.conftest import ADMIN, post_review


def test_stats_of_an_empty_database(client):
    body = client.get("/api/stats").json
    assert body["overall"] == {
        "count": 0,
        "mean_rating": None,
        "mean_score": None,
        "agreement": None,
        "mean_abs_error": None,
        "rated_with_suggestion": 0,
        "kept": 0,
    }
    assert all(row["count"] == 0 for row in body["brands"])


def test_stats_per_brand_and_overall(client):
    # The score and the suggestion are the server's own (a client's are ignored), so each review
    # is scored first; Nike's visitors keep two suggestions out of three, Adidas's moves off it.
    stored = []
    for brand, text, keeps in [
        ("Nike", "Love these shoes, fantastic quality and very fast delivery.", True),
        ("Nike", "Decent running shoes, comfortable enough for the price.", True),
        ("Nike", "Terrible shoes, they fell apart after a week. Never again.", False),
        ("Adidas", "The order was fine, nothing special about it either way.", False),
    ]:
        predicted = client.post("/api/predict", json={"text": text}).json
        suggested = predicted["suggested_rating"]
        rating = suggested if keeps else suggested % 5 + 1
        response = post_review(
            client,
            brand=brand,
            text=text,
            rating=rating,
            prediction_token=predicted["token"],
            suggestion_shown=True,
        )
        assert response.status_code == 201, response.json
        assert response.json["score"] == pytest.approx(predicted["score"], abs=1e-6)
        stored.append((brand, rating, response.json["score"]))
    response = client.get("/api/stats")
    assert response.status_code == 200
    body = response.json
    nike = [row for row in stored if row[0] == "Nike"]
    assert body["overall"]["count"] == 4
    assert body["overall"]["mean_rating"] == pytest.approx(sum(r for _, r, _ in stored) / 4, abs=1e-4)
    assert body["overall"]["mean_score"] == pytest.approx(sum(s for _, _, s in stored) / 4, abs=1e-4)
    assert body["overall"]["agreement"] == pytest.approx(0.5)
    brands = {row["brand"]: row for row in body["brands"]}
    assert brands["Nike"]["count"] == 3
    assert brands["Nike"]["mean_rating"] == pytest.approx(sum(r for _, r, _ in nike) / 3, abs=1e-4)
    assert brands["Nike"]["mean_score"] == pytest.approx(sum(s for _, _, s in nike) / 3, abs=1e-4)
    assert brands["Nike"]["agreement"] == pytest.approx(2 / 3, abs=1e-4)
    assert brands["Adidas"]["agreement"] == 0.0
    assert brands["Apple"] == {
        "brand": "Apple",
        "count": 0,
        "mean_rating": None,
        "mean_score": None,
        "agreement": None,
        "mean_abs_error": None,
        "rated_with_suggestion": 0,
        "kept": 0,
    }
    assert [row["brand"] for row in body["brands"]] == sorted(brands)


def test_stats_with_model_scored_reviews(client):
    post_review(client, rating=3, suggested_rating=3, suggestion_shown=True)
    overall = client.get("/api/stats").json["overall"]
    assert overall["rated_with_suggestion"] == 1
    assert 0 <= overall["mean_score"] <= 1


def test_agreement_counts_only_the_visitors_who_saw_a_suggestion(client):
    # The control group and a client that did not say were shown nothing: they keep nothing.
    post_review(client, rating=5, score=0.9, suggestion_shown=False)
    post_review(client, rating=5, score=0.9)
    overall = client.get("/api/stats").json["overall"]
    assert (overall["count"], overall["rated_with_suggestion"], overall["agreement"]) == (2, 0, None)
    post_review(client, rating=4, score=0.9, suggested_rating=5, suggestion_shown=True)
    overall = client.get("/api/stats").json["overall"]
    assert (overall["rated_with_suggestion"], overall["agreement"]) == (1, 0.0)


def test_the_headline_and_each_models_figures_share_one_definition(make_app, tiny_checkpoint, tmp_path):
    app = make_app(MODEL_DIR=tmp_path)
    with app.app_context(), get_database().connection_context():
        registry.register_first_champion(tiny_checkpoint, tmp_path)
    client = app.test_client()
    # Kept, changed by one and by three stars (shown); the control group and a client that did
    # not say are shown nothing; a suggestion without the version that made it (an old row) is
    # counted by neither the headline nor any version.
    text = "The delivery was quick and the shoes fit well."
    predicted = client.post("/api/predict", json={"text": text}).json
    suggested, version = predicted["suggested_rating"], predicted["model_version"]
    for rating in (suggested, suggested % 5 + 1, 1 if suggested >= 4 else 5):
        body = {"prediction_token": predicted["token"], "suggestion_shown": True}
        assert post_review(client, text=text, rating=rating, **body).status_code == 201
    assert post_review(client, text=text, rating=suggested, suggestion_shown=False).status_code == 201
    assert post_review(client, text=text, rating=suggested).status_code == 201
    orphan = post_review(client, text=text, rating=suggested, suggestion_shown=True).json["id"]
    with app.app_context(), get_database().connection_context():
        Review.update(model_version=None).where(Review.id == orphan).execute()

    overall = client.get("/api/stats").json["overall"]
    errors = [0, 1, abs((1 if suggested >= 4 else 5) - suggested)]
    assert overall["count"] == 6
    assert (overall["rated_with_suggestion"], overall["kept"]) == (3, 1)
    assert overall["agreement"] == pytest.approx(1 / 3, abs=1e-4)
    assert overall["mean_abs_error"] == pytest.approx(sum(errors) / 3, abs=1e-4)
    live = {
        item["version"]: item["live"]
        for item in client.get("/api/models", headers=ADMIN).json["items"]
        if item["live"]
    }
    assert live == {
        version: {
            "reviews": overall["rated_with_suggestion"],
            "kept": overall["kept"],
            "kept_suggestion": overall["agreement"],
            "mean_abs_error": overall["mean_abs_error"],
        }
    }
    anchoring = client.get("/api/models/suggestions", headers=ADMIN).json["anchoring"]
    (all_shown,) = [row for row in anchoring if row["version"] is None and row["suggestion_shown"]]
    assert (all_shown["reviews"], all_shown["kept_suggestion"]) == (3, overall["agreement"])
