"""The review page (`/`): its registration and layout (a brand, a text box scored live, stars, Submit).

Flow: the browser throttles the text into `score-request` (assets/brandpulse.js); `score_text`
(`review_scoring`) asks the API for a prediction; the browser shows it unless newer text is already
on screen. `submit_review` (`review_submit`) posts the review with the visitor's address and user
agent as proxy headers. The brand to review, and the retries after an outage, are `review_brand`'s.

Each browser session is assigned once, at random, to the "suggested" group or, with probability
`SUGGESTION_CONTROL_SHARE`, to the "control" group, which is never shown a suggestion (no score,
no pre-selected star): its ratings measure how often visitors agree with the model unprompted.

Outages: a callback whose API call gets no answer says so in `api-trouble` (and the browser notices
a callback the web server does not answer); the browser then shows "Connection lost", keeps the
text (also in localStorage, as a draft), and asks `check_connection` again with a growing delay
until the API answers, which also loads the brand if none could be loaded.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import has_app_context

from brandpulse.dash import components
from brandpulse.dash.api_limits import current_limits

# Importing these modules registers their callbacks.
from brandpulse.dash.pages import review_brand, review_scoring, review_submit  # noqa: F401
from brandpulse.dash.pages.privacy import retention
from brandpulse.dash.settings import WebSettings, current_settings

TITLE = "BrandPulse — review a brand"
PICK = "Or pick a brand"
SCORE_LABEL = "Tone of your review — model estimate"
LOOK = {"percent": 0, "label": "", "color": "secondary", "status": ""}  # the bar before any text
NO_ESTIMATE = "no estimate"  # what the bar says to a screen reader while it shows none (brandpulse.js too)


def register() -> None:
    """Register the page with Dash (called by `create_app`, after the app exists)."""
    dash.register_page(__name__, path="/", name="Review", title=TITLE, order=0, layout=layout)


def control_share() -> float:
    """The share of sessions in the control group (the default outside an app, e.g. in a unit test)."""
    return (
        current_settings().suggestion_control_share
        if has_app_context()
        else WebSettings().suggestion_control_share
    )


def layout(brand: str | None = None, **_query: Any) -> Any:
    """The page; `/?brand=<name>` asks for a given brand first."""
    limits = current_limits()
    return html.Div(
        [
            dcc.Store(id="brand-query", data=brand),
            # The brand to load first: the query's, else the saved draft's (set by the browser).
            dcc.Store(id="brand-wanted"),
            # The API's review length limits: the counter, Submit and the "keep typing" line follow them.
            dcc.Store(
                id="review-limits", data={"min": limits.review_min_length, "max": limits.review_max_length}
            ),
            # The browser draws the session's group once with this probability and keeps it in
            # sessionStorage; `suggestion-group` mirrors it for the server callbacks.
            dcc.Store(id="suggestion-share", data=control_share()),
            dcc.Store(id="suggestion-group"),
            dcc.Store(id="brand-store"),
            dcc.Store(id="brand-picked"),  # a brand chosen from the list (not the list following the brand)
            dcc.Store(id="score-request"),
            dcc.Store(id="score-result"),
            dcc.Store(id="score-shown", data={"seq": 0, **LOOK}),
            dcc.Store(id="rating-touched", data=False),
            # The suggested rating on screen when the visitor last chose a rating (null: none was).
            dcc.Store(id="rating-anchor", data=None),
            # The Idempotency-Key of a submit that failed, with what it sent: submitting the same
            # review again reuses the key, so a review stored despite the error is not stored twice.
            dcc.Store(id="submit-attempt", data=None),
            # Outages: a server callback whose API call got no answer writes `api-trouble`; the browser
            # then writes `connection-probe` with a growing delay, answered in `connection-state`.
            dcc.Store(id="api-trouble"),
            dcc.Store(id="connection-probe"),
            dcc.Store(id="connection-state"),
            html.Div(
                id="connection-alert",
                className="alert alert-warning py-2",
                role="status",
                hidden=True,
                **{"aria-live": "polite"},
            ),
            html.H1("Review a brand", id="review-heading", className="h3 mb-3"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.Div(components.brand_card(None, None), id="brand-card"),
                            dbc.Alert(id="brand-notice", color="warning", is_open=False, class_name="mt-3"),
                        ],
                        md=4,
                        class_name="mb-3",
                    ),
                    dbc.Col(html.Div(_form(), id="review-form", **{"data-suggestion-group": ""}), md=8),
                ]
            ),
        ]
    )


def _form() -> Any:
    return html.Div(
        [
            dbc.Label("Your review", html_for="review-text", class_name="fw-semibold"),
            # No maxlength: the box takes a paste of any length, and the counter says how far over
            # the API's REVIEW_MAX_LENGTH it is (Submit waits until it fits) instead of cutting it.
            dbc.Textarea(
                id="review-text",
                value="",
                rows=6,
                placeholder="What did you like or dislike?",
                class_name="mb-1",  # described by the counter (aria-describedby, set by the browser)
            ),
            html.Div(id="review-counter", className="form-text mt-0 mb-3"),
            html.Div(  # hidden for the control group, which is never shown the model's reading
                [
                    html.Div(SCORE_LABEL, id="score-label", className="small fw-semibold mb-1"),
                    score_bar(),
                    # data-scored-length: how many characters the shown score is for (tests wait on it).
                    html.Div(
                        id="score-status",
                        className="small text-body-secondary mb-3",
                        **{"aria-live": "polite", "data-scored-length": "0"},
                    ),
                ],
                id="score-area",
                className="score-area",
            ),
            html.Div("Your rating", id="rating-legend", className="fw-semibold mb-1"),
            html.Div(  # native radio buttons: Tab reaches the checked star, the arrow keys move it
                dbc.RadioItems(
                    id="rating-input",
                    name="rating",
                    options=components.rating_options(),
                    value=None,
                    inline=True,
                    class_name="rating-stars",
                    input_class_name="btn-check",
                    label_class_name="rating-star",
                    label_checked_class_name="checked",
                ),
                role="radiogroup",
                className="mb-1",
                **{"aria-labelledby": "rating-legend"},
            ),
            html.P(
                components.rating_summary(None, None, False),
                id="rating-summary",
                className="small mb-3",
                **{"aria-live": "polite"},
            ),
            html.Fieldset(  # disabled as a whole while a review is being posted
                [
                    dbc.Button("Submit review", id="submit-review", color="primary", disabled=True),
                    dbc.Button("Review another brand", id="another-brand", color="secondary", outline=True),
                    html.Div(
                        [
                            dbc.Label(PICK, html_for="brand-picker", class_name="visually-hidden"),
                            # A native select: the keyboard, type-to-find and phones' pickers for free.
                            dbc.Select(id="brand-picker", options=[], value="", placeholder=PICK + "…"),
                        ],
                        className="brand-picker",
                    ),
                ],
                id="review-actions",
                className="d-flex flex-wrap align-items-center gap-2 mb-3",
            ),
            # A live region present from the start, so that a message put into it is announced.
            html.Div(
                dbc.Alert(id="review-alert", is_open=False, dismissable=True),
                id="review-message",
                role="status",
            ),
            privacy_notice(),
        ]
    )


def score_bar() -> Any:
    """The bar of the model's estimate, named by its label above (an empty bar says "no estimate")."""
    return html.Div(
        html.Div(id="score-fill", className="progress-bar bg-secondary", style={"width": "0%"}),
        id="score-bar",
        className="progress score-bar mb-1",
        role="progressbar",
        style={"height": "1.5rem"},
        **{
            "aria-labelledby": "score-label",
            "aria-valuemin": "0",
            "aria-valuemax": "100",
            "aria-valuetext": NO_ESTIMATE,
        },
    )


def privacy_notice() -> Any:
    """What is stored with a review, why and for how long, in three sentences; the privacy page says more."""
    return html.P(
        [
            "With your review we store its text and your rating, your IP address and your browser's "
            "user agent: the address and the browser to investigate abuse, and the model learns from "
            f"the ratings. The address and the browser are cleared after {retention()}. ",
            dcc.Link("How your data is handled", href="/privacy"),
        ],
        id="privacy-notice",
        className="small text-body-secondary mt-4 mb-0",
    )
