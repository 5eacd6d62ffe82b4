"""The view rules: bar colours and labels, star texts, the rating line, the brand card."""

from __future__ import annotations

import pytest

from brandpulse.dash import components
from brandpulse.model import legibility


@pytest.mark.parametrize(
    ("rating", "colour"), [(1, "danger"), (2, "danger"), (3, "warning"), (4, "success"), (5, "success")]
)
def test_the_bar_colour_follows_the_suggested_rating(rating, colour):
    assert components.rating_colour(rating) == colour


@pytest.mark.parametrize(("score", "percent"), [(0.0, 0), (0.334, 33), (0.666, 67), (1.0, 100)])
def test_score_percent(score, percent):
    assert components.score_percent(score) == percent


def test_a_mid_score_with_four_stars_shows_green():
    # The model's cut points may put 4 stars at a score of 0.6: the bar follows the stars.
    view = components.score_view(1, "Good service.", {"score": 0.6, "suggested_rating": 4})
    assert view["color"] == "success" and view["status"] == "Sounds positive."


def test_score_view_of_a_prediction():
    prediction = {
        "score": 0.912,
        "suggested_rating": 5,
        "label": "5 stars",
        "model_version": "m-1",
        "token": "signed-token",
    }
    view = components.score_view(7, "Great!", prediction)
    assert view == {  # the token goes back with a review of this text; the model version is not kept
        "seq": 7,
        "text": "Great!",
        "score": 0.912,
        "suggested": 5,
        "token": "signed-token",
        "reason": None,
        "percent": 91,
        "label": "91%",
        "color": "success",
        "status": "Sounds positive.",  # the percentage is on the bar: said once
    }


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("too_short", "Keep typing: the estimate starts at 20 characters."),
        ("outside_alphabet", "No estimate: the suggestion works for English reviews."),
        (
            "not_english",
            "No estimate: this reads as another language, and the suggestion works for English reviews.",
        ),
    ],
)
def test_a_score_that_is_no_usable_suggestion_is_not_shown(reason, status):
    prediction = {"score": 0.8, "suggested_rating": 4, "reliable": False, "unreliable_reason": reason}
    view = components.score_view(2, "Good.", prediction, min_length=20)
    assert (view["score"], view["suggested"], view["percent"], view["label"]) == (None, None, 0, "")
    assert (view["reason"], view["status"], view["color"]) == (reason, status, "secondary")


def test_score_view_without_prediction_resets_the_bar():
    assert components.score_view(3, "")["percent"] == 0
    assert components.score_view(3, "")["color"] == "secondary"
    failed = components.score_view(4, "Nice", error="Not scored: no answer.", trouble=True)
    assert failed["unavailable"] and failed["trouble"]  # the browser keeps the bar as it was
    assert failed["status"] == "Not scored: no answer."


@pytest.mark.parametrize(
    ("status", "connection"), [(None, True), (500, True), (503, True), (429, False), (422, False)]
)
def test_which_errors_the_page_retries(status, connection):
    from brandpulse.dash.api_client import ApiError

    assert components.is_connection_error(ApiError("x", status=status)) is connection


@pytest.mark.parametrize(
    ("suggested", "rating", "touched", "line"),
    [
        (None, None, False, "Start typing: the model suggests a rating as you write."),
        (4, 4, False, "suggested 4 ★"),
        (4, 3, True, "suggested 4 ★ — your rating 3 ★"),
        (4, 4, True, "suggested 4 ★ — your rating 4 ★"),
        (None, 2, True, "Your rating 2 ★"),
    ],
)
def test_rating_line(suggested, rating, touched, line):
    assert components.rating_summary(suggested, rating, touched) == line


def test_rating_line_without_a_usable_score():
    assert components.rating_summary(None, None, False, reason="too_short") == components.CHOOSE
    assert components.rating_summary(None, 3, True, reason="outside_alphabet") == "Your rating 3 ★"


@pytest.mark.parametrize(
    ("suggested", "rating", "touched", "line"),
    [
        (None, None, False, "Choose a rating from 1 to 5 stars."),
        (4, None, False, "Choose a rating from 1 to 5 stars."),  # a suggestion is never told
        (4, 2, True, "Your rating 2 ★"),
    ],
)
def test_rating_line_of_the_control_group(suggested, rating, touched, line):
    assert components.rating_summary(suggested, rating, touched, control=True) == line


def test_rating_options_are_five_stars_with_words():
    options = components.rating_options()
    assert [option["value"] for option in options] == [1, 2, 3, 4, 5]
    star, spoken, word = options[0]["label"]
    assert star.children == "★" and spoken.children == "1 star: Bad" and word.children == "Bad"
    assert [option["label"][2].children for option in options] == [
        "Bad",
        "Poor",
        "Average",
        "Good",
        "Excellent",
    ]
    assert options[3]["label"][1].children == "4 stars: Good"


def test_brand_card_shows_logo_name_and_website():
    brand = {"id": 1, "name": "Nike", "website": "https://www.nike.com", "logo_url": None}
    card = components.brand_card(brand, "/logos/nike.svg")
    text = str(card.to_plotly_json())
    assert "Nike logo" in text and "/logos/nike.svg" in text
    assert "https://www.nike.com" in text and "noopener" in text


def test_brand_card_without_a_brand_says_why():
    card = components.brand_card(None, None, error="No brand to review right now.")
    assert "No brand to review right now." in str(card.to_plotly_json())


@pytest.mark.parametrize(
    "text", ["😀😀😀 👍👍👍 🎉🎉🎉 😀😀😀", "!!!! ???? ++++ ---- ####", "12345 67890 12345"]
)
def test_a_text_without_letters_is_asked_for_words(text):
    readable = {"score": 0.5, "suggested_rating": 3, "reliable": True, "token": "t"}  # the API may read it
    for prediction in (readable, None):
        view = components.score_view(4, text, prediction)
        assert (view["reason"], view["status"]) == (components.NO_LETTERS, components.NO_WORDS)
        assert (view["suggested"], view["score"], view["token"], view["label"]) == (None, None, None, "")
    assert components.rating_summary(None, None, False, reason=components.NO_LETTERS) == components.CHOOSE


def test_letters_of_any_script_are_words():
    assert (
        components.has_letters("Отлично 👍")
        and components.has_letters("とても良い")
        and components.has_letters("ok")
    )
    assert not components.has_letters("😀 12 !?")


@pytest.mark.parametrize(
    "text",
    ["Отлично 👍", "とても良い", "ok", "😀 12 !?", "!!!!", "10/10 ★★★★★", "ǅ", "ⅷ", "ª", "٣٤", "\u0301"],
)
def test_the_pages_letter_test_is_the_apis(text):
    """The page tells a text without letters without asking the API: by the API's own rule."""
    assert components.has_letters(text) == legibility.has_letters(text)
    view = components.score_view(5, "Great 👍👍👍👍👍👍👍👍👍👍", {"score": 0.9, "suggested_rating": 5})
    assert view["status"] == "Sounds positive."
