"""The API client against the real API (served from a thread), and its messages for people."""

from __future__ import annotations

import csv
import io
import socket

import pytest
import requests
from flask import Flask

from brandpulse.dash import charts
from brandpulse.dash.api_client import (
    TIMED_OUT,
    UNREACHABLE,
    ApiClient,
    ApiError,
    error_from_response,
    visitor_headers,
)
from tests.dash.conftest import ADMIN_TOKEN
from tests.support.servers import free_port


@pytest.fixture
def client(inprocess_api: str) -> ApiClient:
    """A client of the in-process API."""
    return ApiClient(inprocess_api, timeout=10)


def test_predict(client):
    prediction = client.predict("Great shoes, comfortable from day one.")
    assert 0.0 <= prediction["score"] <= 1.0
    assert prediction["suggested_rating"] in range(1, 6)
    assert prediction["model_version"]


def test_brands_and_a_random_other_brand(client):
    names = [brand["name"] for brand in client.brands()]
    assert "Nike" in names and names == sorted(names)
    for _ in range(5):
        assert client.random_brand(exclude="Nike")["name"] != "Nike"


def test_a_review_carries_the_visitors_address_and_browser(client):
    visitor = Flask(__name__)
    headers = {"User-Agent": "Mozilla/5.0 (TestBrowser)"}
    with visitor.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        forwarded = visitor_headers()
    created = client.create_review(
        brand="Adidas", text="Comfortable and light, great for running.", rating=5, headers=forwarded
    )
    assert created["brand"] == "Adidas" and created["score"] is not None  # scored by the API
    items = client.list_reviews(ADMIN_TOKEN, brand="Adidas", per_page=100)["items"]
    stored = next(item for item in items if item["id"] == created["id"])
    assert stored["ip_address"] == "203.0.113.9"  # believed: the API trusts 127.0.0.1 as a proxy
    assert stored["user_agent"] == "Mozilla/5.0 (TestBrowser)"


def test_the_suggestion_seen_is_stored_and_the_models_figures_are_the_apis(client):
    text = "Fine laptop but the charger died."
    prediction = client.predict(text)
    created = client.create_review(
        brand="Apple",
        text=text,
        rating=2,
        suggested_rating=3,
        suggestion_shown=True,
        prediction_token=prediction.get("token"),  # the prediction's own, for exactly this text
    )
    assert (created["rating"], created["suggested_rating"]) == (2, 3)
    assert created["score"] == pytest.approx(prediction["score"])
    assert created["model_version"] == prediction["model_version"]


def test_whether_the_suggestion_was_shown_is_stored(client):
    text = "Good screen, average battery life."
    prediction = client.predict(text)  # what the page showed: the suggestion, and its token
    suggested = prediction["suggested_rating"]
    rating = 1 if suggested != 1 else 2
    shown = client.create_review(
        brand="Apple",
        text=text,
        rating=rating,
        suggested_rating=suggested,
        suggestion_shown=True,
        prediction_token=prediction.get("token"),
    )
    assert (shown["suggestion_shown"], shown["suggested_rating"], shown["suggestion_changed"]) == (
        True,
        suggested,
        True,
    )
    text = "Never again, the order arrived broken."
    control = client.create_review(brand="Apple", text=text, rating=1, suggestion_shown=False)
    expected = client.predict(text)  # the control group's suggestion is the model's own, stored by the API
    assert control["suggestion_shown"] is False and control["suggestion_changed"] is None
    assert control["suggested_rating"] == expected["suggested_rating"]
    assert control["model_version"] == expected["model_version"]


def test_suggestion_figures_count_both_groups(client):
    before = client.suggestion_figures(ADMIN_TOKEN)
    version = client.predict("Anything at all, really.")["model_version"]
    for rating, suggested in ((4, 4), (2, 4)):
        client.create_review(
            brand="Samsung",
            text="Decent headphones for the price paid.",
            rating=rating,
            suggested_rating=suggested,
            suggestion_shown=True,
        )
    client.create_review(
        brand="Samsung", text="Decent headphones for the price paid.", rating=5, suggestion_shown=False
    )
    after = client.suggestion_figures(ADMIN_TOKEN, days=7)

    def reviews(figures, shown):
        rows = [
            row
            for row in figures["anchoring"]
            if row["version"] == version and row["suggestion_shown"] is shown
        ]
        return rows[0]["reviews"] if rows else 0

    assert reviews(after, True) == reviews(before, True) + 2
    assert reviews(after, False) == reviews(before, False) + 1
    overall = [row for row in after["anchoring"] if row["version"] is None]
    assert {row["suggestion_shown"] for row in overall} == {True, False}
    daily = [row for row in after["daily"] if row["version"] == version]
    assert daily and 0.0 <= daily[-1]["kept_suggestion"] <= 1.0 and daily[-1]["mean_abs_error"] >= 0.0
    assert charts.suggestions_per_day(after).data  # the admin chart draws it


def test_flagging_a_review(client):
    created = client.create_review(brand="LEGO", text="Spam spam spam, buy cheap stuff here now.", rating=5)
    flagged = client.flag_review(ADMIN_TOKEN, created["id"])
    assert flagged["id"] == created["id"] and flagged["flagged"] is True
    items = client.list_reviews(ADMIN_TOKEN, brand="LEGO", per_page=100)["items"]
    assert next(item for item in items if item["id"] == created["id"])["flagged"] is True
    assert client.flag_review(ADMIN_TOKEN, created["id"], flagged=False)["flagged"] is False
    with pytest.raises(ApiError) as raised:
        client.flag_review(ADMIN_TOKEN, 987_654_321)
    assert raised.value.status == 404
    with pytest.raises(ApiError) as raised:
        client.flag_review("not-the-admin-token-at-all", created["id"])
    assert raised.value.status == 403


def test_visitor_headers_name_the_peer_never_the_chain_the_visitor_wrote():
    visitor = Flask(__name__)  # no trusted hops: the TCP peer is the visitor
    environ = {"REMOTE_ADDR": "10.0.0.2"}
    with visitor.test_request_context("/", headers={"X-Forwarded-For": "198.51.100.1"}, environ_base=environ):
        headers = visitor_headers()
    assert headers == {"X-Forwarded-For": "10.0.0.2", "User-Agent": None}
    assert visitor_headers() == {}  # outside a request
    with visitor.test_request_context("/", environ_base={"REMOTE_ADDR": ""}):  # e.g. a Unix socket
        assert visitor_headers()["X-Forwarded-For"] == "unknown"  # a visitor's call all the same


@pytest.mark.parametrize(
    ("peer", "chain", "expected"),
    [
        ("10.0.0.9", ["203.0.113.66, 198.51.100.7"], "198.51.100.7"),  # the proxy's hop, not the forgery
        ("10.0.0.9", ["203.0.113.66", "198.51.100.7"], "198.51.100.7"),  # the same, as two headers
        ("10.0.0.9", [], "10.0.0.9"),  # the proxy's own call
        ("10.0.0.9", ["not-an-address"], "10.0.0.9"),  # garbled: the last good hop
        ("198.51.100.3", ["203.0.113.66"], "198.51.100.3"),  # not through the proxy: the peer
    ],
)
def test_visitor_address_behind_a_trusted_proxy(peer, chain, expected):
    from brandpulse.dash.api_client import init_app
    from brandpulse.dash.settings import WebSettings

    server = Flask(__name__)
    init_app(server, WebSettings(web_trusted_proxies="10.0.0.0/24"))
    headers = [("X-Forwarded-For", value) for value in chain]
    with server.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": peer}):
        assert visitor_headers()["X-Forwarded-For"] == expected


def test_calls_in_a_request_carry_the_visitors_headers_but_the_brand_list_does_not(client):
    seen: list[dict[str, str]] = []
    client.session.hooks["response"].append(lambda response, **_: seen.append(dict(response.request.headers)))
    visitor = Flask(__name__)
    environ = {"REMOTE_ADDR": "198.51.100.44"}
    with visitor.test_request_context("/", headers={"User-Agent": "Visitor/1.0"}, environ_base=environ):
        client.predict("Lovely colours and fast shipping.")
        client.list_reviews(ADMIN_TOKEN, per_page=1)
        client.brands_ttl = 0  # ask the API, not the cache
        client.brands()
        client.config()
    predict, admin, brands, config = seen
    for on_behalf in (predict, admin):
        assert on_behalf["X-Forwarded-For"] == "198.51.100.44" and on_behalf["User-Agent"] == "Visitor/1.0"
    for own in (brands, config):
        assert "X-Forwarded-For" not in own and own["User-Agent"] == "brandpulse-web"


def test_the_brand_list_is_cached(client):
    asked: list[str] = []
    client.session.hooks["response"].append(lambda response, **_: asked.append(response.request.path_url))
    first = client.brands()
    first[0]["name"] = "changed by a caller"
    assert client.brands()[0]["name"] != "changed by a caller"  # a copy each time
    assert asked.count("/api/brands") == 1
    client.brands_ttl = 0  # expired: asked again
    client.brands()
    assert asked.count("/api/brands") == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"text": "short"},
            "Your review: must be at least 15 characters once surrounding blanks are removed.",
        ),
        ({"brand": "No Such Brand"}, "Brand: unknown brand."),
        ({"rating": 9}, "Rating: must be greater than or equal to 1 and less than or equal to 5."),
    ],
)
def test_invalid_reviews_are_explained(client, fields, message):
    review = {"brand": "Nike", "text": "Long enough to be a review.", "rating": 4, **fields}
    with pytest.raises(ApiError) as raised:
        client.create_review(**review)
    assert raised.value.status == 422
    assert str(raised.value) == message


def test_admin_calls_need_the_token(client):
    with pytest.raises(ApiError) as raised:
        client.check_token("not-the-admin-token-at-all")
    assert raised.value.status == 403 and str(raised.value) == "The admin token is not valid."
    client.check_token(ADMIN_TOKEN)
    client.create_review(brand="Spotify", text="Great sound, playlists for days.", rating=5)
    rows = list(csv.DictReader(io.StringIO(client.export_csv(ADMIN_TOKEN, brand="Spotify"))))
    assert rows and {row["brand"] for row in rows} == {"Spotify"}
    summary = client.review_summary(ADMIN_TOKEN)
    assert summary["total"] == sum(row["count"] for row in summary["ratings"]) >= 1
    assert charts.rating_distribution(summary).data  # the admin chart draws it
    assert client.stats()["overall"]["count"] >= 1


def test_an_unreachable_api_is_a_message():
    client = ApiClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ApiError) as raised:
        client.predict("anything")
    assert str(raised.value) == UNREACHABLE and raised.value.status is None


def test_a_silent_api_times_out():
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = ApiClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        with pytest.raises(ApiError) as raised:
            client.brands()
    assert str(raised.value) == TIMED_OUT


def _response(status: int, body: bytes, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers)
    return response


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        (
            429,
            b'{"error": {"code": "rate_limited", "message": "x"}}',
            {"Retry-After": "7"},
            "Too many requests: please wait 7 s and try again.",
        ),
        (
            503,
            b'{"error": {"code": "service_unavailable", "message": "the model is unavailable"}}',
            {},
            "The review service had a problem (the model is unavailable); try again in a moment.",
        ),
        (502, b"<html>Bad gateway</html>", {}, "The review service had a problem; try again in a moment."),
        (404, b"not json", {}, "The review service answered with an unexpected status (HTTP 404)."),
        (
            403,
            b'{"error": {"code": "forbidden", "message": "admin endpoints are disabled"}}',
            {},
            "Admin endpoints are disabled.",
        ),
        (  # a version id is shown as written, never capitalised
            409,
            b'{"error": {"code": "conflict", "message": "small-bn+ngram-20260101 is already the champion"}}',
            {},
            "small-bn+ngram-20260101 is already the champion.",
        ),
        (
            409,
            b'{"error": {"code": "conflict", "message": "v2: its checkpoint /m/v2.safetensors is missing"}}',
            {},
            "v2: its checkpoint /m/v2.safetensors is missing.",
        ),
        (
            409,
            b'{"error": {"code": "conflict", "message": "there is no champion to roll back"}}',
            {},
            "There is no champion to roll back.",
        ),
    ],
)
def test_error_messages_for_people(status, body, headers, message):
    error = error_from_response(_response(status, body, **headers))
    assert str(error) == message and error.status == status
