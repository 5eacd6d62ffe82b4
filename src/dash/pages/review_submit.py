"""The review page's Submit: the review posted to the API, then the next brand.

The review goes with the suggestion the visitor saw (if any), the signed token of the prediction
on screen when it is for exactly the text sent, and with an Idempotency-Key that a retry of the
same review sends again. The model's figures (score, model version) are never sent: the API takes
them from the token or its own prediction, so no browser can choose what the model said.
"""

from __future__ import annotations

import uuid
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback

from brandpulse.dash import components
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.pages.review_brand import next_brand, trouble
from brandpulse.dash.pages.review_scoring import CONTROL, SUGGESTED

NOT_SAVED = "Your review was not saved, and your text is still here. "


def review_body(
    text: str,
    rating: int,
    shown: dict[str, Any] | None,
    group: str | None = SUGGESTED,
    touched: bool = False,
    anchor: int | None = None,
) -> dict[str, Any]:
    """The model fields sent with a review: whether the visitor saw a suggestion before rating,
    the suggestion they saw, and the prediction's token if current.

    The visitor saw one if their session is not in the control group and a suggestion was on
    screen when they chose their rating (`anchor`), or they kept the pre-selected one (not
    `touched`). The suggestion sent is the one on screen at submission (else `anchor`). Without
    one no suggestion and no score are sent: the API stores the model's own, so agreement without
    a suggestion can be measured. `suggestion_shown` is false for the control group only; a
    visitor of the other group whose page showed no estimate (text too short or unreadable, or
    a rating chosen before one appeared) sends none, so they count neither as shown nor as
    control. The token of the prediction on screen (`/api/predict`'s `token`) is sent only if it
    belongs to exactly this text; otherwise the API scores the text itself.
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
    if shown.get("token") and shown.get("text") == text:
        body["prediction_token"] = str(shown["token"])
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
        get_client().create_review(**body, idempotency_key=key)  # with the visitor's headers
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


# Each submit's answer writes `submit-attempt` (the failed attempt, or None once saved): then the
# keyboard goes back to the review box, and the message is read out from its live region.
clientside_callback(
    ClientsideFunction(namespace="brandpulse", function_name="focusReviewText"),
    Input("submit-attempt", "data"),
    prevent_initial_call=True,
)


def submit_key(attempt: dict[str, Any] | None, body: dict[str, Any]) -> str:
    """The Idempotency-Key of this submit: the failed attempt's if it sent the same review, else new."""
    if attempt and attempt.get("body") == body and attempt.get("key"):
        return attempt["key"]
    return str(uuid.uuid4())
