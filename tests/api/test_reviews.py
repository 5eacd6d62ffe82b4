"""Reviews: storing (JSON only), the admin list, one review and the CSV export."""

from __future__ import annotations

import csv
import io
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Review
from brandpulse.model.checkpoint import load_checkpoint
from brandpulse.model.paths import BUNDLED_CHECKPOINT
from brandpulse.model.scoring import suggested_rating
from brandpulse.training.data import label_scheme, load_dataset
from tests.api.conftest import ADMIN, counts, post_review

TEXT = "Good shoes, comfortable and well made."
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"


def stored(app, review_id: int) -> Review:
    with app.app_context(), get_database().connection_context():
        return Review.get_by_id(review_id)


def test_create_review_computes_score_and_suggestion(app, client):
    response = client.post(
        "/api/review",
        json={"text": f"  {TEXT}  ", "rating": 4, "brand": "Nike"},
        headers={"User-Agent": BROWSER},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"].endswith(f"/api/reviews/{body['id']}")
    assert body["text"] == TEXT  # surrounding blanks removed
    assert body["brand"] == "Nike"
    assert body["rating"] == 4
    assert 0.0 <= body["score"] <= 1.0
    assert body["suggested_rating"] == suggested_rating(body["score"])
    assert body["model_version"].startswith("tiny-")
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    # personal data is stored but not shown to the public
    assert "ip_address" not in body and "user_agent" not in body
    review = stored(app, body["id"])
    assert review.ip_address == "203.0.113.7"
    assert review.user_agent == BROWSER


def test_create_review_refuses_a_form_body(app, client):
    response = client.post("/api/review", data={"text": TEXT, "rating": "5", "brand": "Adidas"})
    assert response.status_code == 415
    assert "send the body as application/json" in response.json["error"]["message"]
    assert counts(app)["reviews"] == 0


def test_a_clients_score_suggestion_and_model_version_are_ignored(app, client):
    own = client.post("/api/predict", json={"text": TEXT}).json
    response = post_review(
        client,
        score=0.01,
        suggested_rating=1,
        suggestion_shown=True,
        model_version='<a href="https://evil.example/">Token expired: sign in</a>',
    )
    assert response.status_code == 201
    body = response.json
    assert (body["score"], body["suggested_rating"], body["model_version"]) == (
        pytest.approx(own["score"], rel=1e-6),
        own["suggested_rating"],
        own["model_version"],
    )
    review = stored(app, body["id"])
    assert review.model_version == own["model_version"] and "<a" not in review.model_version
    assert review.suggestion_shown is True
    assert review.suggestion_changed is (4 != own["suggested_rating"])  # against the stored suggestion


def test_a_suggestion_not_shown_is_the_served_models_whatever_the_client_sent(client):
    own = client.post("/api/predict", json={"text": TEXT}).json
    for shown in (None, False):
        fields = {} if shown is None else {"suggestion_shown": shown}
        response = post_review(client, score=0.9, suggested_rating=2, **fields)
        assert response.json["suggested_rating"] == own["suggested_rating"]
        assert response.json["suggestion_changed"] is None


def test_the_stored_suggestion_is_the_served_models_rule_not_the_default_cuts(make_app):
    # The bundled model's cut points are fitted (0.56 between 3 and 4 stars), not the defaults.
    app = make_app(MODEL_PATH=BUNDLED_CHECKPOINT)
    cuts = load_checkpoint(BUNDLED_CHECKPOINT).rating_cuts
    response = post_review(app.test_client(), score=0.58, suggested_rating=3, suggestion_shown=True)
    assert response.status_code == 201
    review = stored(app, response.json["id"])
    assert (
        review.suggested_rating == suggested_rating(review.score, cuts) == response.json["suggested_rating"]
    )


def test_a_shown_suggestion_need_not_be_named_any_more(client):
    response = post_review(client, suggestion_shown=True)
    assert response.status_code == 201
    assert response.json["suggested_rating"] == suggested_rating(response.json["score"])
    assert response.json["model_version"].startswith("tiny-")


def test_a_review_is_stored_even_with_no_model(make_app, tmp_path):
    # Before, a review without a score was a 503 while the model could not be loaded: lost.
    app = make_app(MODEL_PATH=tmp_path / "missing.safetensors")
    client = app.test_client()
    assert client.post("/api/predict", json={"text": TEXT}).status_code == 503
    response = post_review(client, score=0.5, suggested_rating=3, suggestion_shown=True)
    assert response.status_code == 201
    body = response.json
    assert (body["score"], body["suggested_rating"], body["model_version"]) == (None, None, None)
    assert (body["suggestion_shown"], body["suggestion_changed"]) == (True, None)
    assert stored(app, body["id"]).text == TEXT


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(make_app):
    spoof = {"X-Forwarded-For": "198.51.100.1"}
    plain = make_app().test_client()
    response = plain.post("/api/review", json={"text": TEXT, "rating": 3, "brand": "Nike"}, headers=spoof)
    assert stored(plain.application, response.json["id"]).ip_address == "127.0.0.1"

    proxied = make_app(TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8").test_client()
    response = proxied.post(
        "/api/review",
        json={"text": TEXT, "rating": 3, "brand": "Nike"},
        headers={"X-Forwarded-For": "192.0.2.9, 198.51.100.1, 10.1.2.3"},
    )
    # 10.1.2.3 is a trusted hop; 198.51.100.1 is the nearest untrusted address: the client.
    assert stored(proxied.application, response.json["id"]).ip_address == "198.51.100.1"


def _seed_reviews(app, client) -> list[int]:
    """Six reviews over three days and two brands; returns their ids, oldest first."""
    ids = []
    start = datetime(2024, 3, 1, 12, 0)
    for day, (brand, rating) in enumerate(
        [("Nike", 5), ("Nike", 1), ("Adidas", 3), ("Nike", 5), ("Adidas", 2), ("Nike", 4)]
    ):
        response = post_review(client, brand=brand, rating=rating, text=f"{TEXT} number {day}")
        ids.append(response.json["id"])
        with app.app_context(), get_database().connection_context():
            Review.update(created_at=start + timedelta(hours=12 * day)).where(Review.id == ids[-1]).execute()
    return ids


def test_list_reviews_newest_first_with_total_and_personal_data(app, client):
    ids = _seed_reviews(app, client)
    response = client.get("/api/reviews?per_page=4", headers=ADMIN)
    assert response.status_code == 200
    page = response.json
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (6, 1, 4, 2)
    assert [item["id"] for item in page["items"]] == ids[::-1][:4]
    assert {"ip_address", "user_agent"} <= set(page["items"][0])
    second = client.get("/api/reviews?per_page=4&page=2", headers=ADMIN).json
    assert [item["id"] for item in second["items"]] == ids[::-1][4:]
    assert client.get("/api/reviews?per_page=4&page=3", headers=ADMIN).json["items"] == []


def test_list_reviews_default_page_size(make_app):
    app = make_app(PAGE_SIZE_DEFAULT=2)
    client = app.test_client()
    _seed_reviews(app, client)
    page = client.get("/api/reviews", headers=ADMIN).json
    assert (len(page["items"]), page["per_page"], page["pages"]) == (2, 2, 3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("brand=Nike", [5, 3, 1, 0]),
        ("brand=Adidas&rating=2", [4]),
        ("rating=5", [3, 0]),
        ("since=2024-03-02", [5, 4, 3, 2, 1]),
        ("since=2024-03-02T00:00:00%2B00:00&until=2024-03-03T00:00:00Z", [2, 1]),  # until is exclusive
        ("until=2024-03-01T13:30:00%2B01:00", [0]),  # 12:30 UTC
        ("brand=Nobody", []),
    ],
)
def test_list_reviews_filters(app, client, query, expected):
    ids = _seed_reviews(app, client)
    page = client.get(f"/api/reviews?{query}", headers=ADMIN).json
    assert [item["id"] for item in page["items"]] == [ids[i] for i in expected]
    assert page["total"] == len(expected)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created_at", [0, 1, 2, 3, 4, 5]),
        ("-created_at", [5, 4, 3, 2, 1, 0]),
        ("rating", [1, 4, 2, 5, 0, 3]),  # ties broken by id, in the same direction
        ("-rating", [3, 0, 5, 2, 4, 1]),
        ("brand", [2, 4, 0, 1, 3, 5]),
        ("-brand", [5, 3, 1, 0, 4, 2]),
    ],
)
def test_list_reviews_sorted(app, client, sort, expected):
    ids = _seed_reviews(app, client)
    page = client.get(f"/api/reviews?sort={sort}", headers=ADMIN).json
    assert [item["id"] for item in page["items"]] == [ids[i] for i in expected]


@pytest.mark.parametrize("sort", ["text", "ip_address", "--rating", "rating desc", ""])
def test_list_reviews_refuses_unknown_sort_keys(client, sort):
    response = client.get(f"/api/reviews?sort={sort}", headers=ADMIN)
    assert response.status_code == 422
    assert "sort" in response.json["error"]["fields"]


def test_get_one_review(app, client):
    created = post_review(client, rating=2).json
    response = client.get(f"/api/reviews/{created['id']}", headers=ADMIN)
    assert response.status_code == 200
    assert response.json["id"] == created["id"]
    assert response.json["ip_address"] == "127.0.0.1"
    assert client.get(f"/api/reviews/{created['id'] + 1}", headers=ADMIN).status_code == 404


def test_export_csv_is_what_train_reads(app, client, tmp_path):
    _seed_reviews(app, client)
    post_review(client, text='Quotes "inside", commas, and\na new line too.', rating=1, brand="Adidas")
    response = client.get("/api/reviews/export.csv", headers=ADMIN)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "text",
        "label",
        "brand",
        "created_at",
        "suggested_rating",
        "score",
        "id",
        "flagged",
    ]
    assert len(rows) == 7
    assert rows[-1]["text"] == 'Quotes "inside", commas, and\na new line too.'
    assert all(datetime.fromisoformat(row["created_at"]).tzinfo == UTC for row in rows)
    path = tmp_path / "reviews.csv"
    path.write_text(text, encoding="utf-8")
    dataset = load_dataset(path, scheme=label_scheme("stars3"))
    assert len(dataset) == 7
    assert dataset.class_counts() == {"bad": 3, "average": 1, "good": 3}


def test_export_filters_and_streams_in_chunks(app, client, monkeypatch):
    from brandpulse.api.endpoints import reviews

    monkeypatch.setattr(reviews, "EXPORT_CHUNK", 2)
    _seed_reviews(app, client)
    everything = client.get("/api/reviews/export.csv", headers=ADMIN).get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(everything)))) == 6
    nike = client.get("/api/reviews/export.csv?brand=Nike", headers=ADMIN).get_data(as_text=True)
    assert {row["brand"] for row in csv.DictReader(io.StringIO(nike))} == {"Nike"}
    # the stream's own connections are closed again
    assert get_database(app).is_closed()


def test_summary_counts_what_the_list_holds(app, client):
    _seed_reviews(app, client)
    post_review(client, brand="Adidas", rating=2)
    listed = client.get("/api/reviews?per_page=100", headers=ADMIN).json["items"]
    summary = client.get("/api/reviews/summary", headers=ADMIN).json
    assert summary["total"] == len(listed) == 7
    days = [item["created_at"][:10] for item in listed]
    assert [(row["day"], row["count"]) for row in summary["per_day"]] == sorted(Counter(days).items())
    assert summary["per_day"][:4] == [
        {"day": "2024-03-01", "count": 1},
        {"day": "2024-03-02", "count": 2},
        {"day": "2024-03-03", "count": 2},
        {"day": "2024-03-04", "count": 1},
    ]
    assert summary["ratings"] == [
        {"rating": r, "count": c} for r, c in [(1, 1), (2, 2), (3, 1), (4, 1), (5, 2)]
    ]
    pairs = Counter((item["rating"], item["suggested_rating"]) for item in listed)
    assert {(row["rating"], row["suggested_rating"]): row["count"] for row in summary["suggestions"]} == pairs


def test_summary_filters_like_the_list(app, client):
    _seed_reviews(app, client)
    summary = client.get("/api/reviews/summary?brand=Nike&until=2024-03-03T00:00:00", headers=ADMIN).json
    assert summary["total"] == 2
    assert summary["per_day"] == [{"day": "2024-03-01", "count": 1}, {"day": "2024-03-02", "count": 1}]
    assert [row["count"] for row in summary["ratings"]] == [1, 0, 0, 0, 1]
    empty = client.get("/api/reviews/summary?brand=Nobody", headers=ADMIN).json
    assert empty == {
        "total": 0,
        "per_day": [],
        "ratings": [{"rating": r, "count": 0} for r in range(1, 6)],
        "suggestions": [],
    }
    assert client.get("/api/reviews/summary?rating=9", headers=ADMIN).status_code == 422


ADMIN_PATHS = ["/api/reviews", "/api/reviews/1", "/api/reviews/export.csv", "/api/reviews/summary"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_endpoints_are_disabled_without_a_token(make_app, path):
    client = make_app(ADMIN_TOKEN="").test_client()
    response = client.get(path, headers=ADMIN)
    assert response.status_code == 403
    assert "disabled" in response.json["error"]["message"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_endpoints_challenge_without_credentials(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_public_responses_never_carry_personal_data(client):
    post_review(client)
    for path in ("/api/brands", "/api/stats", "/api/brands/random"):
        assert "127.0.0.1" not in client.get(path).get_data(as_text=True)


def test_a_brand_removed_after_its_id_was_cached_is_unknown_again(app, client):
    from brandpulse.api.storage.review_store import brand_ids
    from brandpulse.api.storage.tables import Brand

    assert post_review(client, brand="Uniqlo", score=0.5).status_code == 201  # Uniqlo's id is cached
    with app.app_context(), get_database().connection_context():
        Review.delete().execute()
        Brand.delete().where(Brand.name == "Uniqlo").execute()
    response = post_review(client, brand="Uniqlo", score=0.5)
    assert response.status_code == 422 and response.json["error"]["fields"]["brand"] == ["Unknown brand."]
    assert brand_ids(app)._ids.get("Uniqlo") is None  # forgotten, asked again next time


def test_400_reviews_from_16_threads_are_stored_exactly_once(app):
    texts = [f"Concurrent review number {index:03d}, still perfectly fine." for index in range(400)]
    barrier = threading.Barrier(16)

    def post(chunk: list[str]) -> list[tuple[int, int | None]]:
        client = app.test_client()
        barrier.wait()
        results = []
        for text in chunk:
            response = client.post(
                "/api/review", json={"text": text, "rating": 1 + len(text) % 5, "brand": "Nike"}
            )
            results.append((response.status_code, response.json.get("id")))
        return results

    with ThreadPoolExecutor(16) as pool:
        results = [item for chunk in pool.map(post, [texts[i::16] for i in range(16)]) for item in chunk]
    assert [status for status, _ in results] == [201] * 400
    assert len({review_id for _, review_id in results}) == 400
    with app.app_context(), get_database().connection_context():
        stored = [review.text for review in Review.select(Review.text)]
    assert sorted(stored) == sorted(texts)
