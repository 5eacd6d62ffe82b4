"""The review list by cursor (keyset pagination): every order walked whole, with inserts meanwhile."""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timedelta

import pytest

from brandpulse.api.endpoints.review_schemas import REVIEW_SORTS
from brandpulse.api.storage import review_pages
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Brand, Review
from tests.api.conftest import ADMIN, post_review

ROWS = 53
START = datetime(2024, 5, 1, 8, 0)


def _seed(app) -> list[dict]:
    """ROWS reviews over three brands with many ties, some without a score or suggestion."""
    with app.app_context(), get_database().connection_context():
        brands = [Brand.get(Brand.name == name).id for name in ("Nike", "Adidas", "Uniqlo")]
        rows = [
            {
                "brand": brands[number % 3],
                "text": f"Review number {number}, long enough to keep.",
                "rating": 1 + number % 5,
                "suggested_rating": None if number % 7 == 0 else 1 + number % 4,
                "score": None if number % 7 == 0 else round((number % 6) / 5, 1),
                "created_at": START + timedelta(minutes=number % 17),  # ties on created_at too
            }
            for number in range(ROWS)
        ]
        Review.insert_many(rows).execute()
        return [
            {
                "id": review.id,
                "brand": review.brand.name,
                **{key: getattr(review, key) for key in review_pages.SORT_COLUMNS if key != "brand"},
            }
            for review in Review.select(Review, Brand).join(Brand)
        ]


def _expected(reviews: list[dict], sort: str) -> list[int]:
    """Ids in the documented order: NULL after every value ascending (first descending), ties by id."""
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    present = sorted((row for row in reviews if row[key] is not None), key=lambda row: (row[key], row["id"]))
    missing = sorted((row for row in reviews if row[key] is None), key=lambda row: row["id"])
    ordered = present + missing
    return [row["id"] for row in (ordered[::-1] if descending else ordered)]


def _walk(client, query: str) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        url = f"/api/reviews?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=ADMIN)
        assert response.status_code == 200, response.json
        body = response.json
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert body["page"] is None or len(pages) == 1
        assert len(pages) < 100, "the walk does not end"


@pytest.mark.parametrize("sort_all_max", [0, review_pages.SORT_ALL_MAX], ids=["by index", "sorted"])
@pytest.mark.parametrize("sort", REVIEW_SORTS)
def test_walking_by_cursor_gives_every_review_once_in_order(app, client, sort, sort_all_max, monkeypatch):
    monkeypatch.setattr(review_pages, "SORT_ALL_MAX", sort_all_max)  # both ways to the first page
    reviews = _seed(app)
    pages = _walk(client, f"sort={sort}&per_page=5&since=2024-01-01")  # a time range: sorted or not
    assert [len(page) for page in pages[:-1]] == [5] * (len(pages) - 1)
    assert [review_id for page in pages for review_id in page] == _expected(reviews, sort)
    by_number = [
        [
            item["id"]
            for item in client.get(f"/api/reviews?sort={sort}&per_page=5&page={n}", headers=ADMIN).json[
                "items"
            ]
        ]
        for n in range(1, len(pages) + 1)
    ]
    assert by_number == pages  # page=N and the N-th cursor page agree


@pytest.mark.parametrize("sort", ["-created_at", "score", "-suggested_rating", "brand", "rating", "-rating"])
def test_filters_apply_to_cursor_pages(app, client, sort):
    reviews = _seed(app)
    pages = _walk(client, f"sort={sort}&per_page=4&brand=Adidas&rating=2")
    chosen = [row for row in reviews if row["brand"] == "Adidas" and row["rating"] == 2]
    assert [review_id for page in pages for review_id in page] == _expected(chosen, sort)


def test_the_last_page_has_no_cursor_and_an_empty_list_one_page(app, client):
    _seed(app)
    body = client.get(f"/api/reviews?per_page={ROWS}", headers=ADMIN).json
    assert len(body["items"]) == ROWS and body["next_cursor"] is None
    assert (body["total"], body["total_exact"], body["pages"], body["page"]) == (ROWS, True, 1, 1)
    empty = client.get("/api/reviews?brand=Nobody", headers=ADMIN).json
    assert (empty["items"], empty["total"], empty["next_cursor"]) == ([], 0, None)


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "-rating", "score"])
def test_a_walk_meanwhile_inserts_sees_each_earlier_review_once(app, sort):
    reviews = _seed(app)
    stop = threading.Event()
    inserted = []

    def insert() -> None:
        writer = app.test_client()
        while not stop.is_set():
            response = post_review(writer, text=f"Written during the walk, number {len(inserted)}.")
            inserted.append(response.json["id"])

    thread = threading.Thread(target=insert)
    thread.start()
    try:
        pages = _walk(app.test_client(), f"sort={sort}&per_page=3")
    finally:
        stop.set()
        thread.join()
    seen = [review_id for page in pages for review_id in page]
    assert len(seen) == len(set(seen))  # no duplicates
    assert {row["id"] for row in reviews} <= set(seen)  # no gaps among the reviews already there
    assert set(seen) <= {row["id"] for row in reviews} | set(inserted)
    earlier = [review_id for review_id in seen if review_id not in set(inserted)]
    assert earlier == _expected(reviews, sort)  # and still in order
    assert inserted  # something was written meanwhile


def _cursor(payload: str) -> str:
    """A cursor holding `payload` (JSON text), as a client could forge it."""
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "payload", "message"),
    [
        ("", None, "Not a cursor"),  # not base64 JSON at all
        ("", '["rating",1,1]', "sort=rating"),  # asked with the default sort
        ("sort=rating", '["rating","1",1]', "Not a cursor"),  # "1" is no rating
        ("sort=rating", '["rating",1,0]', "Not a cursor"),  # id 0
        ("sort=rating", '["rating",1]', "Not a cursor"),  # two items
        ("sort=rating", '["rating",10000000000000000000000,1]', "Not a cursor"),
        ("sort=score", '["score",NaN,1]', "Not a cursor"),
        ("sort=created_at", '["created_at","2024-01-01T00:00:00+05:00",1]', "Not a cursor"),  # not UTC
        ("page=2", '["-created_at","2024-01-01T00:00:00",5]', "either"),
    ],
)
def test_bad_cursors_are_refused(client, query, payload, message):
    cursor = (
        "garbage!" if payload is None else base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    )
    response = client.get(f"/api/reviews?{query}&cursor={cursor}", headers=ADMIN)
    assert response.status_code == 422
    assert message in response.json["error"]["fields"]["cursor"][0]


def test_large_totals_are_estimated_on_postgres_and_counted_on_sqlite(app, client, database_url, monkeypatch):
    _seed(app)
    monkeypatch.setattr(review_pages, "EXACT_TOTAL_MAX", 10)
    with app.app_context(), get_database().connection_context():
        get_database().execute_sql("ANALYZE" + (" review" if database_url.startswith("postgres") else ""))
    body = client.get("/api/reviews?per_page=10", headers=ADMIN).json
    if database_url.startswith("postgres"):
        assert body["total_exact"] is False and body["total"] > 10
        assert body["pages"] == -(-body["total"] // 10)
    else:
        assert (body["total"], body["total_exact"]) == (ROWS, True)
    small = client.get("/api/reviews?brand=Adidas&rating=2", headers=ADMIN).json
    assert small["total_exact"] is True and small["total"] == len(small["items"])


def test_cursor_round_trip_keeps_exact_values():
    order = review_pages.Order.parse("-score")
    position = review_pages.Position(0.30000001192092896, 12)
    cursor = review_pages.encode_cursor(order, position)
    assert "=" not in cursor and cursor.isascii()
    assert review_pages.decode_cursor(cursor, order) == position
    when = review_pages.Position(datetime(2024, 5, 1, 8, 0, 0, 123456), 3)
    by_time = review_pages.Order.parse("created_at")
    assert review_pages.decode_cursor(review_pages.encode_cursor(by_time, when), by_time) == when
