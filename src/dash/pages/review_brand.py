"""The review page's brand: which one to review, its card and heading, and the retries after an outage.

The first brand is the one `?brand=` or a saved draft asks for, else one at random; "Review another
brand" and the brand list switch to another. A callback whose API call got no answer writes
`api-trouble`; the browser then asks `check_connection` again until the API answers.
"""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback

from brandpulse.dash import components
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.logos import logo_src
from brandpulse.dash.settings import current_settings


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
    return client.random_brand(exclude=exclude)


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
        brand = known or get_client().random_brand()
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


clientside_callback(  # a pick from the brand list, not the list following the brand on screen
    ClientsideFunction(namespace="brandpulse", function_name="pickedBrand"),
    Output("brand-picked", "data"),
    Input("brand-picker", "value"),
    State("brand-store", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("brand-store", "data", allow_duplicate=True),
    Output("review-alert", "children", allow_duplicate=True),
    Output("review-alert", "color", allow_duplicate=True),
    Output("review-alert", "is_open", allow_duplicate=True),
    Output("brand-notice", "is_open", allow_duplicate=True),
    Output("api-trouble", "data", allow_duplicate=True),
    Input("brand-picked", "data"),
    prevent_initial_call=True,
)
def pick_brand(name: str | None) -> tuple[Any, ...]:
    """Switch to the brand picked from the list (the text stays in the box).

    The list keeps the pick, and follows the brand on screen when another one comes
    (`followBrand`, assets/brandpulse.js), so the arrow keys move on from the brand on screen.
    """
    skip = dash.no_update
    if not name:
        raise dash.exceptions.PreventUpdate
    try:
        brand = find_brand(get_client().brands(), name)
    except ApiError as error:
        return skip, f"{name} could not be loaded. {error}", "danger", True, skip, trouble(error)
    if brand is None:
        return skip, f"There is no brand called “{name}” any more.", "warning", True, skip, skip
    return brand, skip, skip, False, False, skip


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
        found = found or get_client().random_brand()
    except ApiError as error:
        return {"n": n, "ok": False, "message": str(error)}, skip, skip
    return {"n": n, "ok": True}, found, brand_options(brands)


clientside_callback(  # the brand picker shows the brand on screen (unless the visitor is in it, choosing)
    ClientsideFunction(namespace="brandpulse", function_name="followBrand"),
    Input("brand-store", "data"),
    prevent_initial_call=True,
)

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
