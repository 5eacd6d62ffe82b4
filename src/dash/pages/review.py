"""The review page (`/`): a brand, a text box scored live as the visitor types, stars, Submit.

Flow: the browser throttles the text into `score-request` (assets/brandpulse.js); `score_text`
asks the API for a prediction; the browser shows it unless newer text is already on screen.
`submit_review` posts the review with the visitor's address and user agent as proxy headers.

Each browser session is assigned once, at random, to the "suggested" group or, with probability
`SUGGESTION_CONTROL_SHARE`, to the "control" group, which is never shown a suggestion (no score,
no pre-selected star): its ratings measure how often visitors agree with the model unprompted.

Outages: a callback whose API call gets no answer says so in `api-trouble` (and the browser notices
a callback the web server does not answer); the browser then shows "Connection lost", keeps the
text (also in localStorage, as a draft), and asks `check_connection` again with a growing delay
until the API answers, which also loads the brand if none could be loaded.
"""

from __future__ import annotations

import time
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
PICK = "Or pick a brand"
SCORE_LABEL = "Tone of your review — model estimate"
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
                    html.Div(
                        dbc.Progress(
                            id="score-bar",
                            value=0,
                            label="",
                            color="secondary",
                            class_name="score-bar mb-1",
                            style={"height": "1.5rem"},
                        ),
                        role="group",
                        **{"aria-labelledby": "score-label"},
                    ),
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
            html.Div(
                dbc.Alert(id="review-alert", is_open=False, dismissable=True), **{"aria-live": "polite"}
            ),
        ]
    )


def find_brand(brands: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    """The brand called `name` (any case) in `brands`, if there is one."""
    wanted = (name or "").strip().casefold()
    return next((brand for brand in brands if brand["name"].casefold() == wanted), None) if wanted else None


def next_brand(exclude: str | None = None, wanted: str | None = None) -> dict[str, Any] | None:
    """The brand to review: `wanted` if the API knows it, else one at random other than `exclude`."""
    client = get_client()
    if wanted:
        brand = find_brand(client.brands(), wanted)
        if brand is not None:
            return brand
    return client.random_brand(exclude=exclude, headers=visitor_headers())


def brand_options(brands: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The brand picker's choices, by name."""
    return [{"label": brand["name"], "value": brand["name"]} for brand in brands]


def unknown_brand(name: str, instead: dict[str, Any] | None) -> str:
    """The notice for a `?brand=` the API does not know."""
    shown = f" You are reviewing {instead['name']} instead." if instead else ""
    return f"There is no brand called “{name}” here.{shown} Pick yours from the brand list below."


def trouble(error: ApiError) -> Any:
    """What a failed API call writes to `api-trouble`: something only when the API gave no answer
    (the browser then retries by itself); a refusal (4xx) is the visitor's to act on."""
    if not components.is_connection_error(error):
        return dash.no_update
    return {"at": time.time(), "message": str(error)}


def retrying_card(error: ApiError) -> Any:
    """The brand card while no brand could be loaded: why, and that the page tries again."""
    again = " Trying again…" if components.is_connection_error(error) else ""
    return components.brand_card(None, None, error=f"No brand could be loaded. {error}{again}")


# ---------------------------------------------------------------- brand


@callback(
    Output("brand-store", "data"),
    Output("brand-card", "children", allow_duplicate=True),
    Output("brand-notice", "children"),
    Output("brand-notice", "is_open"),
    Output("brand-picker", "options"),
    Output("api-trouble", "data"),
    Input("brand-wanted", "data"),
    prevent_initial_call="initial_duplicate",
)
def first_brand(wanted: dict[str, Any] | None) -> tuple[Any, ...]:
    """Load the first brand when the page opens: the one `wanted` names (from `?brand=`, or the
    saved draft's), else one at random; say so if the query named a brand the API does not know."""
    name = (wanted or {}).get("name")
    skip = dash.no_update
    try:
        brands = get_client().brands()
        known = find_brand(brands, name)
        brand = known or get_client().random_brand(headers=visitor_headers())
    except ApiError as error:  # the brand store stays empty: the page's retry loads it
        return skip, retrying_card(error), skip, False, skip, trouble(error)
    if name and known is None and (wanted or {}).get("from") == "query":
        return brand, skip, unknown_brand(name, brand), True, brand_options(brands), skip
    return brand, skip, skip, False, brand_options(brands), skip


@callback(
    Output("brand-store", "data", allow_duplicate=True),
    Output("review-alert", "children"),
    Output("review-alert", "color"),
    Output("review-alert", "is_open"),
    Output("brand-notice", "is_open", allow_duplicate=True),
    Output("api-trouble", "data", allow_duplicate=True),
    Input("another-brand", "n_clicks"),
    State("brand-store", "data"),
    prevent_initial_call=True,
)
def another_brand(_clicks: int, brand: dict[str, Any] | None) -> tuple[Any, ...]:
    """Switch to another brand without saving anything (the text stays in the box)."""
    try:
        following = next_brand(exclude=brand["name"] if brand else None)
    except ApiError as error:
        skip = dash.no_update
        return skip, f"No other brand could be loaded. {error}", "danger", True, skip, trouble(error)
    return following, dash.no_update, dash.no_update, False, False, dash.no_update


@callback(
    Output("brand-store", "data", allow_duplicate=True),
    Output("brand-picker", "value"),
    Output("review-alert", "children", allow_duplicate=True),
    Output("review-alert", "color", allow_duplicate=True),
    Output("review-alert", "is_open", allow_duplicate=True),
    Output("brand-notice", "is_open", allow_duplicate=True),
    Output("api-trouble", "data", allow_duplicate=True),
    Input("brand-picker", "value"),
    prevent_initial_call=True,
)
def pick_brand(name: str | None) -> tuple[Any, ...]:
    """Switch to the brand picked from the list (the text stays in the box); the picker empties."""
    skip = dash.no_update
    if not name:
        raise dash.exceptions.PreventUpdate
    try:
        brand = find_brand(get_client().brands(), name)
    except ApiError as error:
        return skip, "", f"{name} could not be loaded. {error}", "danger", True, skip, trouble(error)
    if brand is None:
        return skip, "", f"There is no brand called “{name}” any more.", "warning", True, skip, skip
    return brand, "", skip, skip, False, False, skip


@callback(
    Output("brand-card", "children"),
    Output("review-heading", "children"),
    Input("brand-store", "data"),
    prevent_initial_call=True,
)
def show_brand(brand: dict[str, Any] | None) -> tuple[Any, str]:
    """Draw the brand card and name the brand in the page's heading."""
    if brand is None:
        return components.brand_card(None, None, error="No brand to review right now."), "Review a brand"
    card = components.brand_card(brand, logo_src(brand["name"], current_settings().logo_dir))
    return card, f"Review {brand['name']}"


@callback(
    Output("connection-state", "data"),
    Output("brand-store", "data", allow_duplicate=True),
    Output("brand-picker", "options", allow_duplicate=True),
    Input("connection-probe", "data"),
    State("brand-store", "data"),
    State("brand-wanted", "data"),
    prevent_initial_call=True,
)
def check_connection(
    probe: dict[str, Any] | None, brand: dict[str, Any] | None, wanted: dict[str, Any] | None
) -> tuple[Any, ...]:
    """The browser's retry after an outage: whether the API answers (`GET /readyz`), and the brand
    (with the brand list) if none could be loaded before."""
    n = (probe or {}).get("n", 0)
    skip = dash.no_update
    try:
        if brand is not None:
            get_client().ready()
            return {"n": n, "ok": True}, skip, skip
        brands = get_client().brands()
        found = find_brand(brands, (wanted or {}).get("name"))
        found = found or get_client().random_brand(headers=visitor_headers())
    except ApiError as error:
        return {"n": n, "ok": False, "message": str(error)}, skip, skip
    return {"n": n, "ok": True}, found, brand_options(brands)


clientside_callback(  # a saved draft comes back into the box, and names the brand to load
    ClientsideFunction(namespace="brandpulse", function_name="restoreDraft"),
    Output("review-text", "value", allow_duplicate=True),
    Output("brand-wanted", "data"),
    Input("brand-query", "data"),
    prevent_initial_call="initial_duplicate",
)

clientside_callback(  # an API call got no answer: "Connection lost", and retries
    ClientsideFunction(namespace="brandpulse", function_name="noteTrouble"),
    Output("connection-alert", "hidden"),
    Input("api-trouble", "data"),  # the first brand writes it as the page opens: no prevent_initial_call
)

clientside_callback(  # a retry's outcome: back to normal, or the next retry later
    ClientsideFunction(namespace="brandpulse", function_name="connectionState"),
    Output("connection-alert", "hidden", allow_duplicate=True),
    Input("connection-state", "data"),
    prevent_initial_call=True,
)


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
        connection = components.is_connection_error(error)
        message = f"Not scored: {error}" + (" Your text is kept." if connection else "")
        return components.score_view(seq, text, error=message, trouble=connection)
    return components.score_view(seq, text, prediction, min_length=current_limits().review_min_length)


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
    shown = shown or {}
    return components.rating_summary(
        shown.get("suggested"), rating, bool(touched), control=group == CONTROL, reason=shown.get("reason")
    )


clientside_callback(  # the counter, the draft, the stale bar; a success message goes once they write again
    ClientsideFunction(namespace="brandpulse", function_name="trackText"),
    Output("review-counter", "children"),
    Output("review-counter", "className"),
    Output("review-alert", "is_open", allow_duplicate=True),
    Input("review-text", "value"),
    Input("brand-store", "data"),
    State("review-limits", "data"),
    State("review-alert", "color"),
    State("review-alert", "is_open"),
    prevent_initial_call="initial_duplicate",
)

clientside_callback(  # Submit waits for a text within the limits and a rating (the summary asks for one)
    ClientsideFunction(namespace="brandpulse", function_name="submitDisabled"),
    Output("submit-review", "disabled"),
    Input("review-text", "value"),
    Input("brand-store", "data"),
    Input("rating-input", "value"),
    State("review-limits", "data"),
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
    one no suggestion and no score are sent: the API stores the model's own, so agreement without
    a suggestion can be measured. `suggestion_shown` is false for the control group only; a
    visitor of the other group whose page showed no estimate (text too short or unreadable, or
    a rating chosen before one appeared) sends none, so they count neither as shown nor as
    control. The score is sent only if it belongs to exactly this text; otherwise the API scores
    the text itself.
    """
    shown = shown or {}
    seen = shown.get("suggested") if shown.get("suggested") is not None else anchor
    saw = group != CONTROL and seen is not None and (not touched or anchor is not None)
    body: dict[str, Any] = {"text": text, "rating": rating}
    if not saw:
        if group == CONTROL:
            body["suggestion_shown"] = False
        return body
    body["suggestion_shown"] = True
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
    Output("api-trouble", "data", allow_duplicate=True),
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
    keep = (dash.no_update,) * 7
    if not brand or not (text or "").strip():
        return ("Write a review first.", "warning", True, *keep)
    if rating is None:
        return ("Choose a rating from 1 to 5 stars.", "warning", True, *keep)
    body = {"brand": brand["name"], **review_body(text, rating, shown, group, bool(touched), anchor)}
    key = submit_key(attempt, body)
    try:
        get_client().create_review(**body, idempotency_key=key, headers=visitor_headers())
    except ApiError as error:
        return (NOT_SAVED + str(error), "danger", True, *keep[:5], {"key": key, "body": body}, trouble(error))
    message = f"Thank you! Your {components.stars(rating)} review of {brand['name']} was saved."
    try:
        following = next_brand(exclude=brand["name"]) or brand
    except ApiError:
        following = brand
    if following["name"] != brand["name"]:
        message += f" Next up: {following['name']}."
    return message, "success", True, following, "", None, False, None, None, dash.no_update


def submit_key(attempt: dict[str, Any] | None, body: dict[str, Any]) -> str:
    """The Idempotency-Key of this submit: the failed attempt's if it sent the same review, else new."""
    if attempt and attempt.get("body") == body and attempt.get("key"):
        return attempt["key"]
    return str(uuid.uuid4())
