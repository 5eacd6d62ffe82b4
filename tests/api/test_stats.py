"""`GET /api/stats`: counts, means and agreement, per brand and overall."""

from __future__ import annotations

import pytest

from tests.api.conftest import post_review


def test_stats_of_an_empty_database(client):
    body = client.get("/api/stats").json
    assert body["overall"] == {
        "count": 0,
        "mean_rating": None,
        "mean_score": None,
        "agreement": None,
        "rated_with_suggestion": 0,
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
        "rated_with_suggestion": 0,
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
