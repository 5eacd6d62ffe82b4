"""The view rules: bar colours and labels, star texts, the rating line, the brand card."""

from __future__ import annotations

import pytest

from brandpulse.dash import components


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
    assert view["color"] == "success" and view["status"].startswith("Positive")


def test_score_view_of_a_prediction():
    prediction = {"score": 0.912, "suggested_rating": 5, "label": "5 stars", "model_version": "m-1"}
    view = components.score_view(7, "Great!", prediction)
    assert view == {
        "seq": 7,
        "text": "Great!",
        "score": 0.912,
        "suggested": 5,
        "model_version": "m-1",
        "percent": 91,
        "label": "91%",
        "color": "success",
        "status": "Positive: 91% satisfied",
    }


def test_score_view_without_prediction_resets_the_bar():
    assert components.score_view(3, "")["percent"] == 0
    assert components.score_view(3, "")["color"] == "secondary"
    failed = components.score_view(4, "Nice", error="Live scoring is unavailable.")
    assert failed["suggested"] is None and failed["label"] == ""
    assert failed["status"] == "Live scoring is unavailable."


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


def test_rating_options_are_one_to_five_stars():
    options = components.rating_options()
    assert [option["value"] for option in options] == [1, 2, 3, 4, 5]
    assert options[0]["label"] == "1 ★"


def test_brand_card_shows_logo_name_and_website():
    brand = {"id": 1, "name": "Nike", "website": "https://www.nike.com", "logo_url": None}
    card = components.brand_card(brand, "/logos/nike.svg")
    text = str(card.to_plotly_json())
    assert "Nike logo" in text and "/logos/nike.svg" in text
    assert "https://www.nike.com" in text and "noopener" in text


def test_brand_card_without_a_brand_says_why():
    card = components.brand_card(None, None, error="No brand to review right now.")
    assert "No brand to review right now." in str(card.to_plotly_json())
