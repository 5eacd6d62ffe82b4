"""The review page's live scoring: the session's group, the score bar, the rating line, Submit's state.

The session's group is suggested or control (the control group is never shown a score); the text is
scored as the visitor types, and the counter and Submit follow the API's review length limits.
"""

from __future__ import annotations

from typing import Any

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback

from brandpulse.dash import components
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.api_limits import current_limits

CONTROL, SUGGESTED = "control", "suggested"  # the session's group (assets/brandpulse.js assigns it)


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
    """Score the requested text through the API (an empty text resets the bar; one without a letter
    is asked for words)."""
    seq, text = int(request["seq"]), str(request.get("text") or "")
    if not text.strip() or not components.has_letters(text):  # nothing to ask the model about
        return components.score_view(seq, text)
    try:
        prediction = get_client().predict(text)  # as the visitor: their own rate limit
    except ApiError as error:
        connection = components.is_connection_error(error)
        message = f"Not scored: {error}" + (" Your text is kept." if connection else "")
        return components.score_view(seq, text, error=message, trouble=connection)
    return components.score_view(seq, text, prediction, min_length=current_limits().review_min_length)


clientside_callback(  # a result newer than the one on screen becomes `score-shown`
    ClientsideFunction(namespace="brandpulse", function_name="applyScore"),
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

clientside_callback(  # the bar draws `score-shown`: width, label, colour, and its value for screen readers
    ClientsideFunction(namespace="brandpulse", function_name="drawScoreBar"),
    Output("score-fill", "style"),
    Output("score-fill", "children"),
    Output("score-fill", "className"),
    Output("score-bar", "aria-valuenow"),
    Output("score-bar", "aria-valuetext"),
    Input("score-shown", "data"),
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
