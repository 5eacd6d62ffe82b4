"""The page callbacks as plain functions, against the real API (in-process) or no API at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dash
import pytest

from brandpulse.dash import api_client
from brandpulse.dash.api_limits import current_limits
from brandpulse.dash.pages import (
    admin,
    admin_charts,
    admin_models,
    admin_reviews,
    privacy,
    review,
    review_brand,
    review_scoring,
    review_submit,
)
from tests.dash.conftest import ADMIN_TOKEN
from tests.support.servers import free_port

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
    view = review_scoring.score_text({"seq": 5, "text": "Lovely colours and fast shipping"})
    assert view["seq"] == 5 and view["text"] == "Lovely colours and fast shipping"
    assert view["suggested"] in range(1, 6) and view["label"] == f"{view['percent']}%"
    assert view["reason"] is None and view["status"].startswith("Sounds ")
    assert view["token"]  # the API's signed token of this prediction, sent back with the review
    assert "model_version" not in view  # never sent: the API decides the model's figures


@pytest.mark.parametrize(
    ("text", "reason", "status"),
    [
        ("Good.", "too_short", "Keep typing: the estimate starts at 15 characters."),
        (
            "とても素晴らしい製品でした。また買います！",
            "outside_alphabet",
            "No estimate: the suggestion works for English",
        ),
        (
            "Schrecklicher Kundenservice, das Paket kam nie an.",
            "not_english",
            "No estimate: this reads as another language",
        ),
    ],
)
def test_a_score_the_api_calls_unreliable_is_not_shown(request_context, text, reason, status):
    view = review_scoring.score_text({"seq": 9, "text": text})
    assert view["reason"] == reason and view["status"].startswith(status)
    assert (view["suggested"], view["score"], view["percent"], view["label"]) == (None, None, 0, "")


def test_an_empty_text_resets_without_asking_the_api(request_context, api_down):
    view = review_scoring.score_text({"seq": 6, "text": "   "})
    assert (view["seq"], view["percent"], view["suggested"], view["status"]) == (6, 0, None, "")


def test_scoring_with_the_api_down_says_so(request_context, api_down):
    view = review_scoring.score_text({"seq": 7, "text": "Nice"})
    assert view["unavailable"] and view["trouble"]  # the bar stays, the page retries
    assert view["status"].startswith("Not scored: The review service cannot be reached")


def test_the_first_brand(request_context):
    brand, _, _, notice_open, options, trouble = review_brand.first_brand({"name": "ikea", "from": "query"})
    assert brand["name"] == "IKEA" and notice_open is False and trouble is dash.no_update
    assert {"label": "IKEA", "value": "IKEA"} in options
    assert review_brand.first_brand(None)[0]["name"]


def test_an_unknown_brand_in_the_address_is_named(request_context):
    brand, _, notice, notice_open, options, _ = review_brand.first_brand({"name": "DHL", "from": "query"})
    assert brand["name"] != "DHL" and notice_open
    assert notice.startswith("There is no brand called “DHL” here.") and brand["name"] in notice
    # A draft's brand that went away: another brand, without a word.
    brand, _, _, notice_open, *_ = review_brand.first_brand({"name": "DHL", "from": "draft"})
    assert brand["name"] and notice_open is False


def test_the_first_brand_with_the_api_down(request_context, api_down):
    brand, card, _, notice_open, options, trouble = review_brand.first_brand(None)
    assert brand is dash.no_update and options is dash.no_update  # the page's retry loads it
    assert "cannot be reached" in str(card.to_plotly_json()) and "Trying again" in str(card.to_plotly_json())
    assert trouble["message"] == api_client.UNREACHABLE


def test_the_retry_loads_the_brand_once_the_api_answers(request_context):
    state, brand, options = review_brand.check_connection({"n": 3}, None, {"name": "nike", "from": "draft"})
    assert state == {"n": 3, "ok": True} and brand["name"] == "Nike" and options
    state, brand, options = review_brand.check_connection({"n": 4}, {"name": "Nike"}, None)
    assert state == {"n": 4, "ok": True} and brand is dash.no_update


def test_the_retry_with_the_api_still_down(request_context, api_down):
    state, brand, _ = review_brand.check_connection({"n": 5}, {"name": "Nike"}, None)
    assert state["ok"] is False and state["n"] == 5 and brand is dash.no_update


def test_picking_a_brand(request_context):
    brand, *_, notice_open, trouble = review_brand.pick_brand("adidas")
    assert brand["name"] == "Adidas" and notice_open is False and trouble is dash.no_update
    assert review_brand.pick_brand("No Such Brand")[2] == "warning"
    with pytest.raises(dash.exceptions.PreventUpdate):
        review_brand.pick_brand(None)


def test_picking_a_brand_with_the_api_down(request_context, api_down):
    brand, message, colour, is_open, _, trouble = review_brand.pick_brand("Nike")
    assert brand is dash.no_update and (colour, is_open) == ("danger", True)
    assert message.startswith("Nike could not be loaded.") and trouble["message"] == api_client.UNREACHABLE


def test_a_text_without_letters_is_not_sent_to_the_api(request_context, api_down):
    view = review_scoring.score_text({"seq": 8, "text": "👍👍👍👍👍 !!! 12345"})
    assert view["status"] == "Write a few words: the estimate reads words, not symbols."
    assert not view.get("unavailable")  # no call, so no "cannot be reached"


def test_the_privacy_page_says_what_is_stored_why_and_how_long(web_app):
    pages = {page["path"]: page for page in dash.page_registry.values()}
    assert pages["/privacy"]["title"] == "BrandPulse — your data"
    text = str(privacy.layout().to_plotly_json())
    for said in ("IP address", "user agent", "abuse", "trained", "90 days", "Ask the operator of this site"):
        assert said in text, said
    notice = str(review.privacy_notice().to_plotly_json())
    assert "90 days" in notice and "/privacy" in notice and "abuse" in notice


def test_the_heading_names_the_brand(request_context):
    card, heading = review_brand.show_brand({"name": "Nike", "website": None})
    assert heading == "Review Nike"
    assert review_brand.show_brand(None)[1] == "Review a brand"


def test_submit_saves_and_moves_on(request_context):
    brand = {"name": "Patagonia", "website": "https://www.patagonia.com"}
    text = "Warm jacket, lasts for years."
    shown = review_scoring.score_text({"seq": 3, "text": text})  # what the page showed, with its token
    suggested = shown["suggested"]
    rating = 5 if suggested != 5 else 4
    message, colour, is_open, following, text_after, rating_after, touched, anchor, attempt, trouble = (
        review_submit.submit_review(1, text, rating, brand, shown, review_scoring.SUGGESTED, True, suggested)
    )
    assert colour == "success" and is_open and "review of Patagonia was saved" in message
    assert following["name"] != "Patagonia" and message.endswith(f"Next up: {following['name']}.")
    assert (text_after, rating_after, touched, anchor, attempt) == ("", None, False, None, None)
    stored = _stored("Patagonia", text)
    assert (stored["suggestion_shown"], stored["suggested_rating"], stored["suggestion_changed"]) == (
        True,
        suggested,
        True,
    )
    assert stored["score"] == pytest.approx(shown["score"])  # the prediction's, vouched for by its token


def test_a_control_group_review_is_stored_as_shown_no_suggestion(request_context):
    text = "Cosy hoodie, the sleeves are a bit long."
    shown = {"seq": 0, "percent": 0}  # never scored: the control group's text is not sent while typing
    result = review_submit.submit_review(
        1, text, 3, {"name": "Uniqlo"}, shown, review_scoring.CONTROL, True, None
    )
    assert result[1] == "success", result[0]
    stored = _stored("Uniqlo", text)
    assert stored["suggestion_shown"] is False and stored["suggestion_changed"] is None
    prediction = api_client.get_client().predict(text)
    assert stored["suggested_rating"] == prediction["suggested_rating"]  # the model's own, for agreement
    assert stored["score"] == pytest.approx(prediction["score"])


def test_a_review_whose_page_showed_no_estimate_is_neither_shown_nor_control(request_context):
    # Too short to score when the visitor chose their rating: the page showed no estimate, and the
    # visitor is not in the control group either, so the anchoring figures leave the review out.
    text = "Fine. Quick delivery, nothing else to add."
    shown = {"seq": 2, "percent": 0, "reason": "too_short"}
    before = api_client.get_client().suggestion_figures(ADMIN_TOKEN, days=1)["anchoring"]
    result = review_submit.submit_review(
        1, text, 4, {"name": "Uniqlo"}, shown, review_scoring.SUGGESTED, True, None
    )
    assert result[1] == "success", result[0]
    stored = _stored("Uniqlo", text)
    assert stored["suggestion_shown"] is None and stored["suggestion_changed"] is None
    assert api_client.get_client().suggestion_figures(ADMIN_TOKEN, days=1)["anchoring"] == before


def _stored(brand: str, text: str) -> dict[str, Any]:
    items = api_client.get_client().list_reviews(ADMIN_TOKEN, brand=brand, per_page=100)["items"]
    return next(item for item in items if item["text"] == text)


@pytest.mark.parametrize(
    ("text", "rating", "expected"),
    [
        ("", 4, "Write a review first."),
        ("Good enough for me, really.", None, "Choose a rating from 1 to 5 stars."),
    ],
)
def test_submit_asks_for_what_is_missing(request_context, text, rating, expected):
    message, colour, is_open, *rest = review_submit.submit_review(1, text, rating, {"name": "Nike"}, None)
    assert (message, colour, is_open) == (expected, "warning", True)
    assert rest == [dash.no_update] * 7


def test_submit_with_the_api_down_keeps_everything(request_context, api_down):
    message, colour, is_open, *rest, attempt, trouble = review_submit.submit_review(
        1, "Good enough for me, really.", 4, {"name": "Nike"}, None
    )
    assert colour == "danger" and is_open
    assert message.startswith(review_submit.NOT_SAVED) and "cannot be reached" in message
    assert rest == [dash.no_update] * 5  # brand, text, rating and choice stay as they are
    assert attempt["body"]["text"] == "Good enough for me, really." and attempt["key"]  # kept to retry
    assert trouble["message"] == api_client.UNREACHABLE  # the page says "Connection lost" and retries


def test_a_retried_submit_sends_its_key_again_and_is_stored_once(request_context, monkeypatch):
    client = api_client.get_client()
    sent: list[str] = []
    create = client.create_review

    def lost_answer(**kwargs):  # the review is stored, but its answer never arrives
        sent.append(kwargs["idempotency_key"])
        create(**kwargs)
        raise api_client.ApiError(api_client.TIMED_OUT)

    text = "Sturdy boots, dry feet all winter long."
    monkeypatch.setattr(client, "create_review", lost_answer)
    *_, attempt, _ = review_submit.submit_review(1, text, 5, {"name": "Patagonia"}, None)
    monkeypatch.setattr(
        client, "create_review", lambda **kwargs: (sent.append(kwargs["idempotency_key"]), create(**kwargs))
    )
    result = review_submit.submit_review(1, text, 5, {"name": "Patagonia"}, None, attempt=attempt)
    assert result[1] == "success" and result[-2] is None
    assert sent[0] == sent[1] == attempt["key"]
    items = api_client.get_client().list_reviews(ADMIN_TOKEN, brand="Patagonia", per_page=100)["items"]
    assert [item["text"] for item in items].count(text) == 1
    other = review_submit.submit_key(attempt, {**attempt["body"], "rating": 4})  # an edited review: a new key
    assert other != attempt["key"]


def test_review_body_sends_the_token_only_for_the_same_text_and_never_a_score():
    shown = {"text": "Nice shoes", "score": 0.9, "suggested": 5, "token": "t-1", "model_version": "m-1"}
    assert review_submit.review_body("Nice shoes", 4, shown) == {
        "text": "Nice shoes",
        "rating": 4,
        "suggestion_shown": True,
        "suggested_rating": 5,
        "prediction_token": "t-1",
    }
    assert review_submit.review_body("Nice shoes!", 4, shown) == {
        "text": "Nice shoes!",
        "rating": 4,
        "suggestion_shown": True,
        "suggested_rating": 5,
    }


SHOWN = {"text": "Nice shoes", "score": 0.9, "suggested": 5, "token": "t-1"}
CONTROL = {"text": "Nice shoes", "rating": 4, "suggestion_shown": False}  # no suggestion, no score
NO_ESTIMATE = {"text": "Nice shoes", "rating": 4}  # neither shown nor control: nothing said


@pytest.mark.parametrize(
    ("shown", "group", "touched", "anchor", "expected"),
    [
        # The pre-selected suggestion kept, or a rating chosen with a suggestion on screen.
        (SHOWN, review_scoring.SUGGESTED, False, None, (True, 5)),
        (SHOWN, review_scoring.SUGGESTED, True, 5, (True, 5)),
        (SHOWN, review_scoring.SUGGESTED, True, 3, (True, 5)),  # the suggestion on screen at submission
        ({**SHOWN, "suggested": None}, review_scoring.SUGGESTED, True, 3, (True, 3)),  # scoring failed since
        (SHOWN, None, False, None, (True, 5)),  # the group not known to the server: as suggested
        # Rated before any suggestion appeared, or never scored (too short, unreadable): no
        # estimate on the page, and not the control group either.
        (SHOWN, review_scoring.SUGGESTED, True, None, NO_ESTIMATE),
        ({"seq": 0}, review_scoring.SUGGESTED, True, None, NO_ESTIMATE),
        ({"seq": 4, "reason": "too_short"}, review_scoring.SUGGESTED, False, None, NO_ESTIMATE),
        (None, review_scoring.SUGGESTED, True, None, NO_ESTIMATE),
        # The control group, whatever the page scored.
        (SHOWN, review_scoring.CONTROL, True, None, CONTROL),
        (SHOWN, review_scoring.CONTROL, True, 5, CONTROL),
    ],
)
def test_review_body_says_whether_the_visitor_saw_a_suggestion(shown, group, touched, anchor, expected):
    body = review_submit.review_body("Nice shoes", 4, shown, group, touched, anchor)
    if expected in (CONTROL, NO_ESTIMATE):
        assert body == expected
    else:
        assert (body["suggestion_shown"], body["suggested_rating"]) == expected


def test_summarize_rating():
    assert review_scoring.summarize_rating({"suggested": 4}, 2, True) == "suggested 4 ★ — your rating 2 ★"
    assert review_scoring.summarize_rating(None, None, False).startswith("Start typing")
    assert (
        review_scoring.summarize_rating({"suggested": 4}, None, False, review_scoring.CONTROL)
        == "Choose a rating from 1 to 5 stars."
    )
    assert (
        review_scoring.summarize_rating({"suggested": 4}, 2, True, review_scoring.CONTROL)
        == "Your rating 2 ★"
    )
    no_score = {"suggested": None, "reason": "outside_alphabet"}
    assert review_scoring.summarize_rating(no_score, None, False) == "Choose a rating from 1 to 5 stars."


def test_the_control_share_comes_from_the_settings(web_app):
    with web_app.server.test_request_context("/"):
        assert (
            review.control_share()
            == web_app.server.extensions["brandpulse.web_settings"].suggestion_control_share
        )
    assert review.control_share() == 0.1  # outside an app: the default


def test_sign_in(request_context):
    assert admin.sign_in(1, ADMIN_TOKEN) == (ADMIN_TOKEN, "", False, "")
    token, message, is_open, _ = admin.sign_in(1, "not-the-admin-token-at-all")
    assert token is None and is_open and "The admin token is not valid." in message
    assert admin.sign_in(1, "  ")[1] == "Enter the admin token."


def test_sign_in_with_the_api_down(request_context, api_down):
    token, message, is_open, _ = admin.sign_in(1, ADMIN_TOKEN)
    assert token is None and is_open and "cannot be reached" in message


def test_a_page_of_reviews(request_context):
    page = admin_reviews.fetch_page(
        ADMIN_TOKEN, 1, 20, admin_reviews.ANY, admin_reviews.ANY, None
    )  # the API's order: newest first
    assert set(page) >= {"items", "total", "page", "pages"}
    created = [item["created_at"] for item in page["items"]]
    assert created == sorted(created, reverse=True)
    by_rating = admin_reviews.fetch_page(ADMIN_TOKEN, 1, 20, admin_reviews.ANY, admin_reviews.ANY, "rating")[
        "items"
    ]
    assert [item["rating"] for item in by_rating] == sorted(item["rating"] for item in by_rating)
    only_fours = admin_reviews.fetch_page(ADMIN_TOKEN, 1, 20, admin_reviews.ANY, "4", "-score")["items"]
    assert all(item["rating"] == 4 for item in only_fours)
    scores = [item["score"] for item in only_fours]
    assert scores == sorted(scores, reverse=True)


def test_every_sort_choice_is_one_the_api_accepts(request_context):
    offered = [option["value"] for option in admin_reviews.sort_options(current_limits())]
    assert set(admin_reviews.SORT_LABELS) <= set(offered)  # every order the page names is one the API has
    for sort in offered:
        items = admin_reviews.fetch_page(ADMIN_TOKEN, 1, 100, admin_reviews.ANY, admin_reviews.ANY, sort)[
            "items"
        ]
        key = sort.lstrip("-")
        values = [item["brand"] if key == "brand" else item[key] for item in items]
        assert values == sorted(values, reverse=sort.startswith("-")), sort


def test_filters():
    assert admin_reviews.filters(admin_reviews.ANY, admin_reviews.ANY) == {"brand": None, "rating": None}
    assert admin_reviews.filters("Nike", "5") == {"brand": "Nike", "rating": 5}


def test_export_downloads_csv(request_context):
    download, status = admin_reviews.export_csv(1, ADMIN_TOKEN, admin_reviews.ANY, admin_reviews.ANY)
    assert status == "" and download["filename"] == "reviews.csv"
    assert download["content"].startswith("text,label,brand,created_at,suggested_rating,score")


def test_charts_and_summary(request_context):
    summary, *figures = admin_charts.load_charts(ADMIN_TOKEN, None)
    assert summary is not None and len(figures) == 4
    per_day, ratings, suggestions, _ = figures
    counts = api_client.get_client().review_summary(ADMIN_TOKEN)
    assert sum(per_day.data[0].y) == sum(ratings.data[0].y) == counts["total"] > 0
    assert suggestions.data[0].type == "heatmap"
    summary, *figures = admin_charts.load_charts(None, None)
    assert summary is None


def test_flagging_from_the_admin_page(request_context):
    client = api_client.get_client()
    created = client.create_review(
        brand="Starbucks", text="Buy followers cheap at example dot com!!", rating=5
    )
    assert admin_reviews.flag(ADMIN_TOKEN, created["id"], True) == (
        f"Review {created['id']} flagged: it will never be used to retrain the model."
    )
    assert _stored("Starbucks", created["text"])["flagged"] is True
    page = admin_reviews.fetch_page(ADMIN_TOKEN, 1, 100, "Starbucks", admin_reviews.ANY, "-created_at")
    table = str(admin_reviews.reviews_table(page["items"]).to_plotly_json())
    assert "'action': 'unflag'" in table and "table-warning" in table
    assert "unflagged" in admin_reviews.flag(ADMIN_TOKEN, created["id"], False)
    assert _stored("Starbucks", created["text"])["flagged"] is False
    assert "was not changed" in admin_reviews.flag(ADMIN_TOKEN, 987_654_321, True)


ANCHORING = [
    {
        "version": None,
        "suggestion_shown": False,
        "reviews": 4,
        "kept_suggestion": 0.25,
        "mean_abs_error": 1.25,
    },
    {"version": None, "suggestion_shown": True, "reviews": 10, "kept_suggestion": 0.7, "mean_abs_error": 0.4},
    {
        "version": "m-1",
        "suggestion_shown": False,
        "reviews": 4,
        "kept_suggestion": 0.25,
        "mean_abs_error": 1.25,
    },
    {"version": "m-1", "suggestion_shown": True, "reviews": 6, "kept_suggestion": 0.5, "mean_abs_error": 0.5},
    {"version": "m-2", "suggestion_shown": True, "reviews": 4, "kept_suggestion": 1.0, "mean_abs_error": 0.0},
]


def test_anchoring_rows_pair_the_groups_and_take_the_difference():
    rows = admin_models.anchoring_rows(ANCHORING)
    assert [row["version"] for row in rows] == [None, "m-1", "m-2"]
    overall, first, second = rows
    assert (overall["shown"]["reviews"], overall["control"]["reviews"]) == (10, 4)
    assert overall["kept_effect"] == pytest.approx(0.45)
    assert overall["error_effect"] == pytest.approx(-0.85)
    assert first["kept_effect"] == pytest.approx(0.25)
    assert second["control"] is None and second["kept_effect"] is None  # no control group: no effect
    assert admin_models.anchoring_rows([]) == []


def test_the_anchoring_table():
    table = admin_models.anchoring_table(ANCHORING)
    cells = [
        [
            cell.children if isinstance(cell.children, str | int) else cell.children.children
            for cell in row.children
        ]
        for row in table.children[1].children
    ]
    assert cells[0] == ["All versions", 10, "70%", "0.40 ★", 4, "25%", "1.25 ★", "+45.0 pts", "-0.85 ★"]
    assert cells[2] == ["m-2", 4, "100%", "0.00 ★", 0, "—", "—", "—", "—"]
    assert "No reviews" in str(admin_models.anchoring_table([]).to_plotly_json())


def test_suggestion_figures_on_the_admin_page(request_context):
    client = api_client.get_client()
    client.create_review(
        brand="Decathlon",
        text="Sturdy tent, easy to pitch.",
        rating=4,
        suggested_rating=4,
        suggestion_shown=True,
    )
    client.create_review(
        brand="Decathlon", text="Sturdy tent, easy to pitch.", rating=2, suggestion_shown=False
    )
    table, figure = admin_models.load_suggestions(ADMIN_TOKEN, None)
    assert table.id == "anchoring-list" and "All versions" in str(table.to_plotly_json())
    assert figure.data and figure.data[0].type == "scatter"
    assert admin_models.load_suggestions(None, None)[0] is None


def test_suggestion_figures_with_the_api_down(request_context, api_down):
    table, figure = admin_models.load_suggestions(ADMIN_TOKEN, None)
    assert "could not be loaded" in str(table.children) and not figure.data
    assert "cannot be reached" in admin_reviews.flag(ADMIN_TOKEN, 1, True)
