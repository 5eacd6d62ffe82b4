"""The admin page (`/admin`): its registration, layout, sign-in and sign-out.

Signed in, it shows the reviews (browse, flag, export CSV: `admin_reviews`), the summary cards and
charts (`admin_charts`), and the model registry: each version explaining itself (status, parent,
promotions, training data, the gate's figures and reason, live figures: `admin_model_cards`), the
version served (followed without a reload), promote and roll back after a confirmation, each
version's suggestions per day and the anchoring table (agreement with the model with the suggestion
shown vs. the control group: `admin_models`). Every figure of the suggestions is worded once
(`admin_figures`).

The token lives in the browser's session storage only (a `dcc.Store` with `storage_type="session"`)
and goes to the API as the bearer token with each request this page makes; the Dash server keeps
nothing. Reviews are paged, filtered and sorted by the API, one page at a time.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from brandpulse.dash import components
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.api_limits import current_limits

# The page's sections (importing them registers their callbacks).
from brandpulse.dash.pages.admin_charts import GRAPHS
from brandpulse.dash.pages.admin_models import SUGGESTIONS_GRAPH, models_section
from brandpulse.dash.pages.admin_reviews import ANY, page_sizes, sort_options

logger = logging.getLogger(__name__)

TITLE = "BrandPulse — admin"


def register() -> None:
    """Register the page with Dash (called by `create_app`, after the app exists)."""
    dash.register_page(__name__, path="/admin", name="Admin", title=TITLE, order=1, layout=layout)


def layout(**_query: Any) -> Any:
    """The page: the sign-in form, and the reviews and charts once signed in."""
    return html.Div(
        [
            dcc.Store(id="admin-token", storage_type="session"),
            dcc.Store(id="reviews-reload", data=0),  # bumped after a flag changes: redraw the page
            dcc.Download(id="export-download"),
            html.H1("Admin", className="h3 mb-3"),
            html.Div(_sign_in_form(), id="signin-section"),
            html.Div(_admin_area(), id="admin-section", hidden=True),
        ]
    )


def _sign_in_form() -> Any:
    return dbc.Form(
        [
            # Browsers and password managers expect a user name beside a password.
            dbc.Input(
                type="text", name="username", value="admin", autocomplete="username", class_name="d-none"
            ),
            dbc.Label("Admin token", html_for="admin-token-input"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Input(id="admin-token-input", type="password", autocomplete="current-password"),
                        xs=12,
                        md=6,
                        class_name="mb-2",
                    ),
                    dbc.Col(
                        dbc.Button("Sign in", id="signin-button", type="submit", color="primary"), xs="auto"
                    ),
                ]
            ),
            html.Div(
                dbc.Alert(id="signin-alert", is_open=False, color="danger", class_name="mt-2"),
                **{"aria-live": "assertive"},
            ),
        ],
        id="signin-form",
        class_name="signin-form",
    )


def _select(component_id: str, label: str, options: list[dict[str, str]], value: str) -> Any:
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, class_name="small mb-0"),
            dbc.Select(id=component_id, options=options, value=value, size="sm"),
        ],
        xs=6,
        md=3,
        lg=2,
        class_name="mb-2",
    )


def _admin_area() -> Any:
    limits = current_limits()
    ratings = [{"label": "Any", "value": ANY}] + [
        {"label": components.stars(rating), "value": str(rating)} for rating in components.RATINGS
    ]
    return html.Div(
        [
            html.Div(
                [
                    dbc.Button("Refresh", id="admin-refresh", color="secondary", outline=True, size="sm"),
                    dbc.Button("Export CSV", id="export-button", color="secondary", outline=True, size="sm"),
                    dbc.Button("Sign out", id="signout-button", color="secondary", size="sm"),
                ],
                className="d-flex flex-wrap gap-2 mb-3",
            ),
            html.Div(id="export-status", className="small mb-2", **{"aria-live": "polite"}),
            html.Div(id="admin-summary", className="mb-3"),
            html.H2("Reviews", className="h5"),
            dbc.Row(
                [
                    _select("filter-brand", "Brand", [{"label": "Any", "value": ANY}], ANY),
                    _select("filter-rating", "Rating", ratings, ANY),
                    _select("filter-sort", "Sort", sort_options(limits), limits.review_sort_default),
                    _select(
                        "filter-per-page",
                        "Per page",
                        [{"label": str(size), "value": str(size)} for size in page_sizes(limits)],
                        str(limits.page_size_default),
                    ),
                ],
                class_name="g-2 align-items-end",
            ),
            html.Div(id="review-flag-status", className="small mt-2", **{"aria-live": "polite"}),
            html.Div(id="reviews-table", className="mt-2"),
            dbc.Pagination(
                id="reviews-pagination",
                max_value=1,
                active_page=1,
                first_last=True,
                previous_next=True,
                fully_expanded=False,
                size="sm",
            ),
            models_section(),
            html.H3("How visitors take the suggestions", className="h6 mt-3"),
            html.P(
                "Agreement: the share of reviews whose rating equals the model's suggested rating. "
                "The control group is shown no suggestion while rating; the difference (shown − "
                "control) is the anchoring effect: agreement that comes from the pre-selected stars, "
                "not from the visitor's own opinion.",
                className="small text-body-secondary mb-2",
            ),
            html.Div(id="anchoring-table"),
            dcc.Graph(id=SUGGESTIONS_GRAPH, config={"displaylogo": False, "displayModeBar": "hover"}),
            html.H2("Charts", className="h5 mt-4"),
            dbc.Row(
                [
                    dbc.Col(
                        dcc.Graph(id=graph_id, config={"displaylogo": False, "displayModeBar": "hover"}), lg=6
                    )
                    for graph_id in GRAPHS
                ]
            ),
        ]
    )


# ---------------------------------------------------------------- sign in and out


@callback(
    Output("admin-token", "data"),
    Output("signin-alert", "children"),
    Output("signin-alert", "is_open"),
    Output("admin-token-input", "value"),
    Input("signin-form", "n_submit"),
    State("admin-token-input", "value"),
    prevent_initial_call=True,
)
def sign_in(_submits: int, token: str | None) -> tuple[Any, ...]:
    """Keep the token (in the browser session) if the API accepts it; say why not otherwise."""
    token = (token or "").strip()
    if not token:
        return dash.no_update, "Enter the admin token.", True, dash.no_update
    try:
        get_client().check_token(token)
    except ApiError as error:
        return None, f"Sign-in failed. {error}", True, dash.no_update
    return token, "", False, ""


@callback(
    Output("admin-token", "data", allow_duplicate=True),
    Input("signout-button", "n_clicks"),
    prevent_initial_call=True,
)
def sign_out(_clicks: int) -> None:
    """Forget the token."""
    return None


@callback(
    Output("signin-section", "hidden"),
    Output("admin-section", "hidden"),
    Output("filter-brand", "options"),
    Input("admin-token", "data"),
)
def show_sections(token: str | None) -> tuple[Any, ...]:
    """The sign-in form without a token; the reviews and charts with one."""
    if not token:
        return False, True, dash.no_update
    options = [{"label": "Any", "value": ANY}]
    try:
        options += [{"label": brand["name"], "value": brand["name"]} for brand in get_client().brands()]
    except ApiError as error:  # the filter offers "Any" only; the table says what failed
        logger.warning("brand list unavailable for the admin filter: %s", error)
    return True, False, options
