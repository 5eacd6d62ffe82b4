"""The review page (`/`): a brand, a text box scored live as the visitor types, stars, Submit.

Flow: the browser throttles the text into `score-request` (assets/brandpulse.js); `score_text`
asks the API for a prediction; the browser shows it unless newer text is already on screen.
`submit_review` posts the review with the visitor's address and user agent as proxy headers.

Each browser session is assigned once, at random, to the "suggested" group or, with probability
`SUGGESTION_CONTROL_SHARE`, to the "control" group, which is never shown a suggestion (no score,
no pre-selected star): its ratings measure how often visitors agree with the model unprompted.
"""

from __future__ import annotations

import uuid
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from flask import has_app_context

from brandpulse.dash import components
from brandpulse.dash.api_client import ApiError, get_client, visitor_headers
from brandpulse.dash.api_limits import current_limits
from brandpulse.dash.logos import logo_src
from brandpulse.dash.settings import WebSettings, current_settings

TITLE = "BrandPulse — review a brand"
NOT_SAVED = "Your review was not saved, and your text is still here. "
LOOK = {"percent": 0, "label": "", "color": "secondary", "status": ""}  # the bar before any text
CONTROL, SUGGESTED = "control", "suggested"  # the session's group (assets/brandpulse.js assigns it)


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
    return html.Div(
        [
            dcc.Store(id="brand-query", data=brand),
            # The browser draws the session's group once with this probability and keeps it in
            # sessionStorage; `suggestion-group` mirrors it for the server callbacks.
            dcc.Store(id="suggestion-share", data=control_share()),
            dcc.Store(id="suggestion-group"),
            dcc.Store(id="brand-store"),
            dcc.Store(id="score-request"),
            dcc.Store(id="score-result"),
            dcc.Store(id="score-shown", data={"seq": 0, **LOOK}),
            dcc.Store(id="rating-touched", data=False),
            # The suggested rating on screen when the visitor last chose a rating (null: none was).
            dcc.Store(id="rating-anchor", data=None),
            # The Idempotency-Key of a submit that failed, with what it sent: submitting the same
            # review again reuses the key, so a review stored despite the error is not stored twice.
            dcc.Store(id="submit-attempt", data=None),
            html.H1("Review a brand", className="visually-hidden"),
            dbc.Row(
                [
                    dbc.Col(
                        html.Div(components.brand_card(None, None), id="brand-card"), md=4, class_name="mb-3"
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
            dbc.Textarea(
                id="review-text",
                value="",
                rows=6,
                placeholder="What did you like or dislike?",
                class_name="mb-2",
                maxlength=current_limits().review_max_length,  # the API's REVIEW_MAX_LENGTH
            ),
            html.Div(  # hidden for the control group, which is never shown the model's reading
                [
                    dbc.Progress(
                        id="score-bar",
                        value=0,
                        label="",
                        color="secondary",
                        class_name="score-bar mb-1",
                        style={"height": "1.5rem"},
                    ),
                    # data-scored-length: how many characters the shown score is for (tests wait on it).
                    html.Div(
                        id="score-status",
                        className="small text-body-secondary mb-3",
                        **{"aria-live": "polite", "data-scored-length": "0"},
                    ),
                ],
                id="score-area",
            ),
            html.Fieldset(
                [
                    html.Legend("Your rating", className="fs-6 fw-semibold mb-1"),
                    dbc.RadioItems(
                        id="rating-input",
                        name="rating",  # one radio group: Tab reaches the checked star, arrows move
                        options=components.rating_options(),
                        value=None,
                        inline=True,
                        class_name="btn-group rating-group",
                        input_class_name="btn-check",
                        label_class_name="btn btn-outline-secondary",
                        label_checked_class_name="active",
                    ),
                ],
                className="mb-1",
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
                ],
                id="review-actions",
                className="d-flex flex-wrap gap-2 mb-3",
            ),
            html.Div(
                dbc.Alert(id="review-alert", is_open=False, dismissable=True), **{"aria-live": "polite"}
            ),
        ]
    )


def next_brand(exclude: str | None = None, wanted: str | None = None) -> dict[str, Any] | None:
    """The brand to review: `wanted` if the API knows it, else one at random other than `exclude`."""
    client = get_client()
    if wanted:
        for brand in client.brands():
            if brand["name"].casefold() == wanted.casefold():
                return brand
    return client.random_brand(exclude=exclude, headers=visitor_headers())


# ---------------------------------------------------------------- brand


@callback(
    Output("brand-store", "data"),
    Output("review-alert", "children"),
    Output("review-alert", "color"),
    Output("review-alert", "is_open"),
    Input("brand-query", "data"),
)
def first_brand(wanted: str | None) -> tuple[Any, ...]:
    """Load the first brand when the page opens."""
    try:
        return next_brand(wanted=wanted), dash.no_update, dash.no_update, False
    except ApiError as error:
        return None, f"No brand could be loaded. {error}", "danger", True


@callback(
    Output("brand-store", "data", allow_duplicate=True),
    Output("review-alert", "children", allow_duplicate=True),
    Output("review-alert", "color", allow_duplicate=True),
    Output("review-alert", "is_open", allow_duplicate=True),
    Input("another-brand", "n_clicks"),
    State("brand-store", "data"),
    prevent_initial_call=True,
)
def another_brand(_clicks: int, brand: dict[str, Any] | None) -> tuple[Any, ...]:
    """Switch to another brand without saving anything (the text stays in the box)."""
    try:
        return next_brand(exclude=brand["name"] if brand else None), dash.no_update, dash.no_update, False
    except ApiError as error:
        return dash.no_update, f"No other brand could be loaded. {error}", "danger", True


@callback(Output("brand-card", "children"), Input("brand-store", "data"))
def show_brand(brand: dict[str, Any] | None) -> Any:
    """Draw the brand card."""
    if brand is None:
        return components.brand_card(None, None, error="No brand to review right now.")
    return components.brand_card(brand, logo_src(brand["name"], current_settings().logo_dir))


# ---------------------------------------------------------------- live scoring

clientside_callback(
    ClientsideFunction(namespace="brandpulse", function_name="assignGroup"),
    Output("suggestion-group", "data"),
    Output("score-area", "hidden"),
    Output("review-form", "data-suggestion-group"),
    Input("suggestion-share", "data"),
)

clientside_callback(  # the control group's text is never scored while they write
    ClientsideFunction(namespace="brandpulse", function_name="throttleScore"),
    Output("score-request", "data"),
    Input("review-text", "value"),
    State("suggestion-share", "data"),
)


@callback(Output("score-result", "data"), Input("score-request", "data"), prevent_initial_call=True)
def score_text(request: dict[str, Any] | None) -> dict[str, Any]:
    """Score the requested text through the API (an empty text resets the bar)."""
    seq, text = int(request["seq"]), str(request.get("text") or "")
    if not text.strip():
        return components.score_view(seq, text)
    try:
        prediction = get_client().predict(text, headers=visitor_headers())
    except ApiError as error:
        return components.score_view(seq, text, error=f"Live scoring is unavailable. {error}")
    return components.score_view(seq, text, prediction)


clientside_callback(
    ClientsideFunction(namespace="brandpulse", function_name="applyScore"),
    Output("score-bar", "value"),
    Output("score-bar", "label"),
    Output("score-bar", "color"),
    Output("score-status", "children"),
    Output("score-status", "data-scored-length"),
    Output("score-shown", "data"),
    Output("rating-input", "value"),
    Input("score-result", "data"),
    State("score-shown", "data"),
    State("rating-touched", "data"),
    State("suggestion-share", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("rating-summary", "children"),
    Input("score-shown", "data"),
    Input("rating-input", "value"),
    Input("rating-touched", "data"),
    Input("suggestion-group", "data"),
)
def summarize_rating(
    shown: dict[str, Any] | None, rating: int | None, touched: bool, group: str | None = None
) -> str:
    """The suggestion (never for the control group), and the visitor's own rating once they chose one."""
    return components.rating_summary(
        (shown or {}).get("suggested"), rating, bool(touched), control=group == CONTROL
    )


clientside_callback(
    ClientsideFunction(namespace="brandpulse", function_name="submitDisabled"),
    Output("submit-review", "disabled"),
    Input("review-text", "value"),
    Input("brand-store", "data"),
)


# ---------------------------------------------------------------- submit


def review_body(
    text: str,
    rating: int,
    shown: dict[str, Any] | None,
    group: str | None = SUGGESTED,
    touched: bool = False,
    anchor: int | None = None,
) -> dict[str, Any]:
    """The model fields sent with a review: whether the visitor saw a suggestion before rating,
    the suggestion they saw, and the score if current.

    The visitor saw one if their session is not in the control group and a suggestion was on
    screen when they chose their rating (`anchor`), or they kept the pre-selected one (not
    `touched`). The suggestion sent is the one on screen at submission (else `anchor`). Without
    one (`suggestion_shown` false) no suggestion and no score are sent: the API stores the model's
    own, so agreement without a suggestion can be measured. The score is sent only if it belongs
    to exactly this text; otherwise the API scores the text itself.
    """
    shown = shown or {}
    seen = shown.get("suggested") if shown.get("suggested") is not None else anchor
    saw = group != CONTROL and seen is not None and (not touched or anchor is not None)
    body: dict[str, Any] = {"text": text, "rating": rating, "suggestion_shown": saw}
    if not saw:
        return body
    body["suggested_rating"] = seen
    if shown.get("score") is not None and shown.get("text") == text:
        body["score"] = shown["score"]
        body["model_version"] = shown.get("model_version")
    return body


@callback(
    Output("review-alert", "children", allow_duplicate=True),
    Output("review-alert", "color", allow_duplicate=True),
    Output("review-alert", "is_open", allow_duplicate=True),
    Output("brand-store", "data", allow_duplicate=True),
    Output("review-text", "value"),
    Output("rating-input", "value", allow_duplicate=True),
    Output("rating-touched", "data"),
    Output("rating-anchor", "data"),
    Output("submit-attempt", "data"),
    Input("submit-review", "n_clicks"),
    State("review-text", "value"),
    State("rating-input", "value"),
    State("brand-store", "data"),
    State("score-shown", "data"),
    State("suggestion-group", "data"),
    State("rating-touched", "data"),
    State("rating-anchor", "data"),
    State("submit-attempt", "data"),
    running=[(Output("review-actions", "disabled"), True, False)],  # no second click while posting
    prevent_initial_call=True,
)
def submit_review(
    _clicks: int,
    text: str | None,
    rating: int | None,
    brand: dict[str, Any] | None,
    shown: dict[str, Any] | None,
    group: str | None = SUGGESTED,
    touched: bool = False,
    anchor: int | None = None,
    attempt: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    """Post the review; on success thank the visitor and move on to the next brand.

    Each submit sends a new Idempotency-Key; after a failure the key is kept with the review, and
    submitting the same review again sends it again (the API answers a stored one's first answer).
    """
    keep = (dash.no_update,) * 6
    if not brand or not (text or "").strip():
        return ("Write a review first.", "warning", True, *keep)
    if rating is None:
        return ("Choose a rating from 1 to 5 stars.", "warning", True, *keep)
    body = {"brand": brand["name"], **review_body(text, rating, shown, group, bool(touched), anchor)}
    key = submit_key(attempt, body)
    try:
        get_client().create_review(**body, idempotency_key=key, headers=visitor_headers())
    except ApiError as error:
        return (NOT_SAVED + str(error), "danger", True, *keep[:5], {"key": key, "body": body})
    message = f"Thank you! Your {components.stars(rating)} review of {brand['name']} was saved."
    try:
        following = next_brand(exclude=brand["name"]) or brand
    except ApiError:
        following = brand
    return message, "success", True, following, "", None, False, None, None


def submit_key(attempt: dict[str, Any] | None, body: dict[str, Any]) -> str:
    """The Idempotency-Key of this submit: the failed attempt's if it sent the same review, else new."""
    if attempt and attempt.get("body") == body and attempt.get("key"):
        return attempt["key"]
    return str(uuid.uuid4())
