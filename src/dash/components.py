"""Small view helpers shared by the pages: the score bar's look, star texts and the brand card.

They are plain functions of plain values, so the callbacks that use them stay a few lines long
and the rules (colour thresholds, what the rating line says) are unit-tested here.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

STAR = "★"
RATINGS = (1, 2, 3, 4, 5)
RATING_WORDS = ("Bad", "Poor", "Average", "Good", "Excellent")  # what 1 ... 5 stars mean
CHOOSE = "Choose a rating from 1 to 5 stars."
NO_WORDS = "Write a few words: the estimate reads words, not symbols."
HIDDEN = "visually-hidden"  # Bootstrap: read by screen readers, not shown
# The API's `unreliable_reason` values (brandpulse.model.legibility; not imported: it is the
# API's rule, and the web page learns it from each prediction).
TOO_SHORT, OUTSIDE_ALPHABET, NOT_ENGLISH = "too_short", "outside_alphabet", "not_english"
# A text with no letter of any script (emoji, symbols, digits): the API's reason too, but the page
# tells it without asking (`has_letters`, the same test as the API's: tests/dash/test_components.py
# holds them to the same answers), so such typing spends no request.
NO_LETTERS = "no_letters"


def rating_colour(rating: int) -> str:
    """The bar's Bootstrap colour for a suggested rating: danger (red) for 1-2 stars, warning
    (amber) for 3, success (green) for 4-5.

    The colour follows the model's suggestion, not fixed score thresholds: the suggestion cuts
    the score where the model's validation rows said (its rating cut points), so the bar's colour
    and the stars always tell the same story.
    """
    if rating <= 2:
        return "danger"
    if rating == 3:
        return "warning"
    return "success"


def sentiment_word(rating: int) -> str:
    """How a suggested rating reads in words (for the status line and screen readers)."""
    return {"danger": "negative", "warning": "mixed", "success": "positive"}[rating_colour(rating)]


def score_percent(score: float) -> int:
    """A score in [0, 1] as a whole percentage."""
    return max(0, min(100, round(score * 100)))


def stars(rating: int) -> str:
    """A rating as text: 4 -> "4 ★"."""
    return f"{rating} {STAR}"


def is_connection_error(error: Any) -> bool:
    """Whether an `ApiError` means the API could not answer (unreachable, timed out, 5xx), which
    the page retries by itself, rather than a refusal of this request (4xx)."""
    status = getattr(error, "status", None)
    return status is None or status >= 500


def has_letters(text: str) -> bool:
    """Whether `text` holds a letter of any script (emoji, digits and punctuation are none)."""
    return any(character.isalpha() for character in text)


def unreliable_status(reason: str | None, min_length: int) -> str:
    """The status line instead of a score the model cannot stand behind (the API's `unreliable_reason`)."""
    if reason == NO_LETTERS:
        return NO_WORDS
    if reason == TOO_SHORT:
        return f"Keep typing: the estimate starts at {min_length} characters."
    if reason == NOT_ENGLISH:
        return "No estimate: this reads as another language, and the suggestion works for English reviews."
    return "No estimate: the suggestion works for English reviews."


def score_view(
    seq: int,
    text: str,
    prediction: dict[str, Any] | None = None,
    error: str | None = None,
    trouble: bool = False,
    min_length: int = 15,
) -> dict[str, Any]:
    """What the score bar shows for the scoring request `seq` (applied only if no newer one was).

    No prediction and no error (an empty text) resets the bar. A prediction the API calls not
    `reliable` (too short, or mostly outside the model's alphabet), and a text without a letter
    (`NO_LETTERS`, whatever the API said), show no score and suggest no rating; `reason` says
    why. An `error` leaves the bar as it was (`unavailable`): the status line says what
    happened, and `trouble` (no answer from the API) starts the page's retries.
    """
    view: dict[str, Any] = {
        "seq": seq,
        "text": text,
        "score": None,
        "suggested": None,
        "token": None,  # the API's signed token of this prediction, sent back with a review of `text`
        "reason": None,
        "percent": 0,
        "label": "",
        "color": "secondary",
        "status": "",
    }
    if error is not None:
        return {**view, "unavailable": True, "trouble": trouble, "status": error}
    if text.strip() and not has_letters(text):
        return {**view, "reason": NO_LETTERS, "status": NO_WORDS}
    if prediction is None:
        return view
    if not prediction.get("reliable", True):  # an API without the field: every score is usable
        reason = prediction.get("unreliable_reason") or OUTSIDE_ALPHABET
        return {**view, "reason": reason, "status": unreliable_status(reason, min_length)}
    score = float(prediction["score"])
    suggested = int(prediction["suggested_rating"])
    percent = score_percent(score)
    view.update(
        score=score,
        suggested=suggested,
        token=prediction.get("token"),
        percent=percent,
        label=f"{percent}%",
        color=rating_colour(suggested),
        status=f"Sounds {sentiment_word(suggested)}.",
    )
    return view


def rating_summary(
    suggested: int | None, rating: int | None, touched: bool, control: bool = False, reason: str | None = None
) -> str:
    """The line under the stars: "suggested 4 ★", or "suggested 4 ★ — your rating 3 ★" once chosen.

    A control-group visit (`control`) is never told a suggestion: only the visitor's own rating.
    Nor is a visitor whose text has no usable score (`reason`): they are asked to choose.
    """
    if control:
        suggested = None
        if not (touched and rating is not None):
            return CHOOSE
    if touched and rating is not None:
        yours = f"your rating {stars(rating)}"
        return f"suggested {stars(suggested)} — {yours}" if suggested is not None else yours.capitalize()
    if suggested is not None:
        return f"suggested {stars(suggested)}"
    if reason is not None:
        return CHOOSE
    return "Start typing: the model suggests a rating as you write."


def rating_options() -> list[dict[str, Any]]:
    """The five choices of the star rating: a star, its words for screen readers ("4 stars: Good"),
    and the word shown under the stars on hover and once chosen ("Good")."""
    return [
        {
            "label": [
                html.Span(STAR, className="star-glyph", **{"aria-hidden": "true"}),
                html.Span(f"{rating} {'star' if rating == 1 else 'stars'}: {word}", className=HIDDEN),
                html.Span(word, className="rating-word", **{"aria-hidden": "true"}),
            ],
            "value": rating,
        }
        for rating, word in zip(RATINGS, RATING_WORDS, strict=True)
    ]


def brand_card(brand: dict[str, Any] | None, logo_src: str | None, error: str | None = None) -> Any:
    """The brand being reviewed: logo, name and a link to its website."""
    if brand is None:
        message = error or "Loading a brand…"
        return dbc.Card(
            dbc.CardBody(html.P(message, className="mb-0 text-body-secondary")), class_name="h-100"
        )
    website = brand.get("website")
    body = [
        html.Img(src=logo_src, alt=f"{brand['name']} logo", className="brand-logo mb-3", width=96, height=96),
        html.H2(brand["name"], id="brand-name", className="h4 card-title"),
    ]
    if website:
        body.append(
            html.A(
                website.removeprefix("https://").removeprefix("http://").rstrip("/"),
                href=website,
                target="_blank",
                rel="noopener noreferrer",
                className="card-link",
            )
        )
    return dbc.Card(dbc.CardBody(body, className="text-center"), class_name="h-100 brand-card")
