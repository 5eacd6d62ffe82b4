"""The privacy page (`/privacy`): docs/privacy.md for visitors, read-only.

What BrandPulse stores with a review, why, for how long, and how to have it erased. No callback
and no API call of its own: the page is text. The retention of the address and the browser is
the API's `PERSONAL_DATA_RETENTION_DAYS`, as `GET /api/config` states it (`api_limits`; its
default while the API cannot be reached).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from brandpulse.dash.api_limits import current_limits

TITLE = "BrandPulse — your data"

STORED = (
    ("The review itself", "its text, your star rating and the brand, and when you wrote it."),
    (
        "What the model said of it",
        "its estimate, the rating it suggested, its version, and whether the page showed you a suggestion.",
    ),
    ("Your IP address", "the address your review came from."),
    ("Your browser's user agent", "the name and version your browser announces to every site."),
    (
        "A pseudonym of your network",
        "a code computed from your address with a key only this site holds; without the key it cannot "
        "be turned back into the address.",
    ),
)
WHY = (
    "The reviews make the figures of each brand, and the site's administrators read them.",
    "The model learns from the ratings: the reviews and their stars are what its next versions are "
    "trained on.",
    "The address and the browser are kept to investigate abuse (a flood of reviews, an attempt to "
    "skew the model) and to tell you what is stored of your address if you ask.",
    "The pseudonym limits how much one writer counts when the model learns, and finds your reviews "
    "if you ask for them to be erased after the address itself is cleared.",
)


def register() -> None:
    """Register the page with Dash (called by `create_app`, after the app exists)."""
    dash.register_page(__name__, path="/privacy", name="Privacy", title=TITLE, order=2, layout=layout)


def retention() -> str:
    """How long the address and the browser are kept, as the API says, as a visitor reads it."""
    days = current_limits().personal_data_retention_days
    return "1 day" if days == 1 else f"{days} days"


def layout(**_query: Any) -> Any:
    """The page: what is stored, why, for how long, and how to have it erased."""
    return html.Article(
        [
            html.H1("Your data on BrandPulse", id="privacy-heading", className="h3 mb-3"),
            html.P(
                "What this site stores when you submit a review, why, for how long, and how to have "
                "it erased. Reading and typing store nothing on the site but a short-lived count of "
                "your requests (below)."
            ),
            _section("What is stored with your review", _stored_list()),
            _section("Why", html.Ul([html.Li(reason) for reason in WHY])),
            _section("For how long", _how_long()),
            _section("Having it erased", _erasure()),
            dcc.Link("Back to the review page", href="/"),
        ],
        id="privacy-page",
        className="privacy-page",
    )


def _section(heading: str, body: Any) -> Any:
    return html.Section([html.H2(heading, className="h5 mt-4"), body])


def _stored_list() -> Any:
    return html.Ul([html.Li([html.Strong(what), ": ", detail]) for what, detail in STORED])


def _how_long() -> Any:
    return html.Ul(
        [
            html.Li(
                f"Your IP address and your browser's user agent: {retention()}, then they are cleared "
                "from the review.",
                id="privacy-retention",
            ),
            html.Li("The review, what the model said of it and the pseudonym: until the review is deleted."),
            html.Li(
                "Counts of your recent requests (they keep one visitor from flooding the site): about "
                "a minute, under your address."
            ),
            html.Li(
                "In your own browser: the review you are writing, until you submit it (so that a reload "
                "or a lost connection does not lose it), and whether this tab is shown the model's "
                "suggestion, until you close it."
            ),
        ]
    )


def _erasure() -> Any:
    return html.P(
        "Ask the operator of this site. They can delete one review (tell them which: the brand, the "
        "text, the day), or everything stored with the address you wrote from: your reviews are then "
        "deleted, or kept with no address, browser or pseudonym, as you prefer. A model trained "
        "before the deletion was trained with your review; the next model replaces it."
    )
