"""The page callbacks as plain functions, against the real API (in-process) or no API at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dash
import pytest

from brandpulse.dash import api_client
from brandpulse.dash.pages import admin, review
from tests.dash.conftest import ADMIN_TOKEN, free_port

VISITOR = {"environ_base": {"REMOTE_ADDR": "198.51.100.20"}, "headers": {"User-Agent": "PagesTest/1.0"}}


@pytest.fixture
def request_context(web_app: Any) -> Iterator[None]:
    """A request to the web app, as a Dash callback runs in."""
    with web_app.server.test_request_context("/_dash-update-component", **VISITOR):
        yield


@pytest.fixture
def api_down(web_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the web app at a port where nothing listens."""
    dead = api_client.ApiClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    monkeypatch.setitem(web_app.server.extensions, api_client.EXTENSION, dead)


def test_scoring_a_text(request_context):
    view = review.score_text({"seq": 5, "text": "Lovely colours and fast shipping"})
    assert view["seq"] == 5 and view["text"] == "Lovely colours and fast shipping"
    assert view["suggested"] in range(1, 6) and view["label"] == f"{view['percent']}%"


def test_an_empty_text_resets_without_asking_the_api(request_context, api_down):
    view = review.score_text({"seq": 6, "text": "   "})
    assert (view["seq"], view["percent"], view["suggested"], view["status"]) == (6, 0, None, "")


def test_scoring_with_the_api_down_says_so(request_context, api_down):
    view = review.score_text({"seq": 7, "text": "Nice"})
    assert view["suggested"] is None and "unavailable" in view["status"]


def test_the_first_brand(request_context):
    brand, _, _, is_open = review.first_brand("ikea")
    assert brand["name"] == "IKEA" and is_open is False
    assert review.first_brand(None)[0]["name"]


def test_the_first_brand_with_the_api_down(request_context, api_down):
    brand, message, colour, is_open = review.first_brand(None)
    assert brand is None and colour == "danger" and is_open
    assert "cannot be reached" in message


def test_submit_saves_and_moves_on(request_context):
    brand = {"name": "Patagonia", "website": "https://www.patagonia.com"}
    shown = {
        "seq": 3,
        "text": "Warm jacket, lasts for years.",
        "score": 0.8,
        "suggested": 4,
        "model_version": "m",
    }
    message, colour, is_open, following, text, rating, touched = review.submit_review(
        1, "Warm jacket, lasts for years.", 5, brand, shown
    )
    assert colour == "success" and is_open and "review of Patagonia was saved" in message
    assert following["name"] != "Patagonia"
    assert (text, rating, touched) == ("", None, False)


@pytest.mark.parametrize(
    ("text", "rating", "expected"),
    [
        ("", 4, "Write a review first."),
        ("Good enough for me, really.", None, "Choose a rating from 1 to 5 stars."),
    ],
)
def test_submit_asks_for_what_is_missing(request_context, text, rating, expected):
    message, colour, is_open, *rest = review.submit_review(1, text, rating, {"name": "Nike"}, None)
    assert (message, colour, is_open) == (expected, "warning", True)
    assert rest == [dash.no_update] * 4


def test_submit_with_the_api_down_keeps_everything(request_context, api_down):
    message, colour, is_open, *rest = review.submit_review(
        1, "Good enough for me, really.", 4, {"name": "Nike"}, None
    )
    assert colour == "danger" and is_open
    assert message.startswith(review.NOT_SAVED) and "cannot be reached" in message
    assert rest == [dash.no_update] * 4  # brand, text, rating and choice stay as they are


def test_review_body_sends_the_score_only_for_the_same_text():
    shown = {"text": "Nice shoes", "score": 0.9, "suggested": 5, "model_version": "m-1"}
    assert review.review_body("Nice shoes", 4, shown) == {
        "text": "Nice shoes",
        "rating": 4,
        "suggested_rating": 5,
        "score": 0.9,
        "model_version": "m-1",
    }
    assert review.review_body("Nice shoes!", 4, shown) == {
        "text": "Nice shoes!",
        "rating": 4,
        "suggested_rating": 5,
    }


def test_summarize_rating():
    assert review.summarize_rating({"suggested": 4}, 2, True) == "suggested 4 ★ — your rating 2 ★"
    assert review.summarize_rating(None, None, False).startswith("Start typing")


def test_sign_in(request_context):
    assert admin.sign_in(1, ADMIN_TOKEN) == (ADMIN_TOKEN, "", False, "")
    token, message, is_open, _ = admin.sign_in(1, "not-the-admin-token-at-all")
    assert token is None and is_open and "The admin token is not valid." in message
    assert admin.sign_in(1, "  ")[1] == "Enter the admin token."


def test_sign_in_with_the_api_down(request_context, api_down):
    token, message, is_open, _ = admin.sign_in(1, ADMIN_TOKEN)
    assert token is None and is_open and "cannot be reached" in message


def test_a_page_of_reviews(request_context):
    page = admin.fetch_page(ADMIN_TOKEN, 1, 20, admin.ANY, admin.ANY, admin.DEFAULT_SORT)
    assert set(page) >= {"items", "total", "page", "pages"}
    created = [item["created_at"] for item in page["items"]]
    assert created == sorted(created, reverse=True)
    by_rating = admin.fetch_page(ADMIN_TOKEN, 1, 20, admin.ANY, admin.ANY, "rating")["items"]
    assert [item["rating"] for item in by_rating] == sorted(item["rating"] for item in by_rating)
    only_fours = admin.fetch_page(ADMIN_TOKEN, 1, 20, admin.ANY, "4", "-score")["items"]
    assert all(item["rating"] == 4 for item in only_fours)
    scores = [item["score"] for item in only_fours]
    assert scores == sorted(scores, reverse=True)


def test_every_sort_choice_is_one_the_api_accepts(request_context):
    for sort in admin.SORTS:
        items = admin.fetch_page(ADMIN_TOKEN, 1, 100, admin.ANY, admin.ANY, sort)["items"]
        key = sort.lstrip("-")
        values = [item["brand"] if key == "brand" else item[key] for item in items]
        assert values == sorted(values, reverse=sort.startswith("-")), sort


def test_filters():
    assert admin.filters(admin.ANY, admin.ANY) == {"brand": None, "rating": None}
    assert admin.filters("Nike", "5") == {"brand": "Nike", "rating": 5}


def test_export_downloads_csv(request_context):
    download, status = admin.export_csv(1, ADMIN_TOKEN, admin.ANY, admin.ANY)
    assert status == "" and download["filename"] == "reviews.csv"
    assert download["content"].startswith("text,label,brand,created_at,suggested_rating,score")


def test_charts_and_summary(request_context):
    summary, *figures = admin.load_charts(ADMIN_TOKEN, None)
    assert summary is not None and len(figures) == 4
    per_day, ratings, suggestions, _ = figures
    counts = api_client.get_client().review_summary(ADMIN_TOKEN)
    assert sum(per_day.data[0].y) == sum(ratings.data[0].y) == counts["total"] > 0
    assert suggestions.data[0].type == "heatmap"
    summary, *figures = admin.load_charts(None, None)
    assert summary is None
