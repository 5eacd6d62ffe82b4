"""The admin page (`/admin`): sign in with the admin token, browse and flag reviews, export CSV,
charts, and the model registry (versions with how their suggestions fared; promote, roll back),
with each version's suggestions per day and the anchoring table (agreement with the model with
the suggestion shown vs. the control group).

The token lives in the browser's session storage only (a `dcc.Store` with `storage_type="session"`)
and goes to the API as the bearer token with each request this page makes; the Dash server keeps
nothing. Reviews are paged, filtered and sorted by the API, one page at a time.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from brandpulse.dash import charts, components
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.api_limits import ApiLimits, current_limits

logger = logging.getLogger(__name__)

TITLE = "BrandPulse — admin"
# How the API's sort orders read, in the order offered; one the API adds later reads as its key.
# Which orders exist, and the default, are the API's (`GET /api/config`).
SORT_LABELS = {
    "-created_at": "Newest first",
    "created_at": "Oldest first",
    "-rating": "Rating, high to low",
    "rating": "Rating, low to high",
    "-suggested_rating": "Suggestion, high to low",
    "suggested_rating": "Suggestion, low to high",
    "-score": "Score, high to low",
    "score": "Score, low to high",
    "brand": "Brand, A to Z",
    "-brand": "Brand, Z to A",
}
# Round page sizes offered between the API's default and its largest (PAGE_SIZE_MAX).
PAGE_SIZE_STEPS = (10, 20, 50, 100, 200, 500, 1000)
TEXT_PREVIEW = 160
ANY = "*"  # the "no filter" choice (dbc.Select shows an empty value as its blank placeholder)
GRAPHS = ("chart-per-day", "chart-ratings", "chart-suggestions", "chart-brands")
SUGGESTIONS_GRAPH = "chart-model-suggestions"
SUGGESTION_DAYS = 30  # how far back the per-day chart of the suggestions goes
FILTER_IDS = ("filter-brand", "filter-rating", "filter-sort", "filter-per-page")
REJECTED = (401, 403)


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


def sort_options(limits: ApiLimits) -> list[dict[str, str]]:
    """The API's sort orders as select options, the labelled ones first, in `SORT_LABELS`' order."""
    order = list(SORT_LABELS)
    ranked = sorted(limits.review_sorts, key=lambda sort: order.index(sort) if sort in order else len(order))
    return [{"label": SORT_LABELS.get(sort) or _sort_label(sort), "value": sort} for sort in ranked]


def _sort_label(sort: str) -> str:
    direction = "descending" if sort.startswith("-") else "ascending"
    return f"{sort.lstrip('-').replace('_', ' ').capitalize()}, {direction}"


def page_sizes(limits: ApiLimits) -> list[int]:
    """Page sizes offered: the API's default and largest, and the round sizes between them."""
    low, high = limits.page_size_default, limits.page_size_max
    return sorted({low, high, *(size for size in PAGE_SIZE_STEPS if low < size < high)})


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
            html.H2("Models", className="h5 mt-4"),
            html.Div(
                dbc.Button("Roll back", id="model-rollback", color="secondary", outline=True, size="sm"),
                className="mb-2",
            ),
            html.Div(id="model-status", className="small mb-2", **{"aria-live": "polite"}),
            html.Div(id="models-table"),
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


# ---------------------------------------------------------------- reviews table


def _when(created_at: str) -> str:
    return datetime.fromisoformat(created_at).strftime("%Y-%m-%d %H:%M")


def reviews_table(items: list[dict[str, Any]]) -> Any:
    """The reviews of one page as a table."""
    if not items:
        return html.P("No reviews match.", className="text-body-secondary")
    header = html.Thead(
        html.Tr(
            [
                html.Th(name, scope="col")
                for name in ("Date (UTC)", "Brand", "Rating", "Suggested", "Score", "Review", "IP", "Flag")
            ]
        )
    )
    rows = []
    for item in items:
        text = item["text"]
        preview = text if len(text) <= TEXT_PREVIEW else text[: TEXT_PREVIEW - 1] + "…"
        score = item.get("score")
        flagged = bool(item.get("flagged"))
        rows.append(
            html.Tr(
                [
                    html.Td(_when(item["created_at"]), className="text-nowrap"),
                    html.Td(item["brand"]),
                    html.Td(components.stars(item["rating"]), className="text-nowrap"),
                    _suggestion_cell(item),
                    html.Td(f"{components.score_percent(score)}%" if score is not None else "—"),
                    html.Td(preview, title=text, className="review-text"),
                    html.Td(item.get("ip_address") or "—", className="small"),
                    html.Td(_flag_control(item["id"], flagged), className="text-nowrap"),
                ],
                className="table-warning" if flagged else None,
            )
        )
    return dbc.Table([header, html.Tbody(rows)], striped=True, hover=True, responsive=True, size="sm")


def _suggestion_cell(item: dict[str, Any]) -> Any:
    """The suggested rating; marked when the visitor was not shown it (the control group; a review
    whose page showed no estimate has `suggestion_shown` null and is not marked)."""
    suggested = item.get("suggested_rating")
    if not suggested:
        return html.Td("—")
    if item.get("suggestion_shown") is False:
        return html.Td(
            [components.stars(suggested), html.Span(" not shown", className="small text-body-secondary")],
            title="The visitor rated without seeing it (control group).",
            className="text-nowrap",
        )
    return html.Td(components.stars(suggested), className="text-nowrap")


def _flag_control(review_id: int, flagged: bool) -> Any:
    """The flag state and the button that changes it."""
    button = dbc.Button(
        "Unflag" if flagged else "Flag",
        id={"type": "review-flag", "review": review_id, "action": "unflag" if flagged else "flag"},
        size="sm",
        color="secondary",
        outline=True,
        title="Let the model learn from this review again"
        if flagged
        else "Never use this review to retrain the model",
    )
    if not flagged:
        return button
    return [dbc.Badge("flagged", color="warning", text_color="dark", class_name="me-1"), button]


def flag(token: str, review_id: int, flagged: bool) -> str:
    """Flag a review (or clear its flag) through the API; what happened, in words."""
    try:
        row = get_client().flag_review(token, review_id, flagged)
    except ApiError as error:
        return f"Review {review_id} was not changed. {error}"
    if row["flagged"]:
        return f"Review {row['id']} flagged: it will never be used to retrain the model."
    return f"Review {row['id']} unflagged: it may be used to retrain the model again."


def filters(brand: str | None, rating: str | None) -> dict[str, Any]:
    """The API's brand and rating filters from the form's choices ("Any" is no filter)."""
    return {
        "brand": brand if brand and brand != ANY else None,
        "rating": int(rating) if rating and rating != ANY else None,
    }


def fetch_page(
    token: str, page: int, per_page: int | None, brand: str, rating: str, sort: str | None
) -> dict[str, Any]:
    """A page of reviews, filtered and sorted by the API (its page size and order where not given)."""
    query = {"page": page, "per_page": per_page, "sort": sort, **filters(brand, rating)}
    return get_client().list_reviews(token, **query)


@callback(
    Output("reviews-table", "children"),
    Output("reviews-pagination", "max_value"),
    Output("reviews-pagination", "active_page"),
    Input("admin-token", "data"),
    Input("reviews-pagination", "active_page"),
    *(Input(filter_id, "value") for filter_id in FILTER_IDS),
    Input("admin-refresh", "n_clicks"),
    Input("reviews-reload", "data"),
)
def load_reviews(
    token: str | None,
    page: int | None,
    brand: str,
    rating: str,
    sort: str,
    per_page: str,
    _refresh: int | None,
    _reload: int | None = None,
) -> tuple[Any, ...]:
    """Fetch and draw the requested page of reviews (back to page 1 when a filter changes)."""
    if not token:
        return None, 1, 1
    if ctx.triggered_id in FILTER_IDS or not page:
        page = 1
    try:
        result = fetch_page(token, page, int(per_page) if per_page else None, brand, rating, sort)
    except ApiError as error:
        hint = " Sign out and in again with the current token." if error.status in REJECTED else ""
        alert = dbc.Alert(f"The reviews could not be loaded. {error}{hint}", color="danger")
        return alert, dash.no_update, dash.no_update
    total, pages = result["total"], max(result["pages"], 1)
    about = "" if result.get("total_exact", True) else "About "  # the API estimates large totals
    summary = html.P(
        f"{about}{total:,} review{'s' if total != 1 else ''}, page {result['page']} of {pages:,}.",
        className="small text-body-secondary mb-1",
        id="reviews-count",
    )
    return [summary, reviews_table(result["items"])], pages, page


@callback(
    Output("review-flag-status", "children"),
    Output("reviews-reload", "data"),
    Input({"type": "review-flag", "review": ALL, "action": ALL}, "n_clicks"),
    State("admin-token", "data"),
    State("reviews-reload", "data"),
    prevent_initial_call=True,
)
def flag_clicked(_clicks: list[int | None], token: str | None, reloads: int | None) -> tuple[Any, Any]:
    """A Flag or Unflag click: change the review's flag, then redraw the page of reviews."""
    trigger = ctx.triggered_id
    clicked = bool(ctx.triggered and ctx.triggered[0]["value"])  # not a button just drawn
    if not token or not isinstance(trigger, dict) or not clicked:
        return dash.no_update, dash.no_update
    return flag(token, int(trigger["review"]), trigger["action"] == "flag"), (reloads or 0) + 1


# ---------------------------------------------------------------- charts, summary and export


def summary_cards(stats: dict[str, Any]) -> Any:
    """Three headline figures: reviews, mean rating, suggestions kept."""
    overall = stats["overall"]
    figures = (
        ("Reviews", str(overall["count"])),
        ("Mean rating", f"{overall['mean_rating']:.2f} ★" if overall.get("mean_rating") is not None else "—"),
        ("Suggestion kept", f"{overall['agreement']:.0%}" if overall.get("agreement") is not None else "—"),
    )
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody([html.Div(label, className="small"), html.Div(value, className="fs-4")])
                )
            )
            for label, value in figures
        ],
        class_name="g-2",
    )


@callback(
    Output("admin-summary", "children"),
    *(Output(graph_id, "figure") for graph_id in GRAPHS),
    Input("admin-token", "data"),
    Input("admin-refresh", "n_clicks"),
)
def load_charts(token: str | None, _refresh: int | None) -> tuple[Any, ...]:
    """The headline figures and the four charts, over every review."""
    if not token:
        return (None, *(charts.empty_figure("") for _ in GRAPHS))
    client = get_client()
    try:
        summary = client.review_summary(token)
        stats = client.stats()
    except ApiError as error:
        message = f"The charts could not be loaded. {error}"
        return (dbc.Alert(message, color="danger"), *(charts.empty_figure("", "—") for _ in GRAPHS))
    return (
        summary_cards(stats),
        charts.reviews_per_day(summary),
        charts.rating_distribution(summary),
        charts.suggestion_heatmap(summary),
        charts.mean_score_by_brand(stats),
    )


@callback(
    Output("export-download", "data"),
    Output("export-status", "children"),
    Input("export-button", "n_clicks"),
    State("admin-token", "data"),
    State("filter-brand", "value"),
    State("filter-rating", "value"),
    prevent_initial_call=True,
)
def export_csv(_clicks: int, token: str | None, brand: str, rating: str) -> tuple[Any, str]:
    """Download the reviews matching the brand and rating filters as CSV."""
    if not token:
        return dash.no_update, "Sign in first."
    try:
        text = get_client().export_csv(token, **filters(brand, rating))
    except ApiError as error:
        return dash.no_update, f"The export failed. {error}"
    return dcc.send_string(text, "reviews.csv", type="text/csv"), ""


# ---------------------------------------------------------------- the model registry


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def _mix(shares: dict[str, Any] | None) -> str:
    """A rating mix as "bad · average · good" percentages."""
    if not shares:
        return "—"
    return " · ".join(f"{round(float(shares[band]) * 100)}" for band in ("bad", "average", "good")) + " %"


def rating_mix_cell(metrics: dict[str, Any] | None) -> Any:
    """The rating mix a version's suggestion assumes, the visitors' estimate it came from (a
    retrained version) and the corpus's mix, one line each."""
    mix = (metrics or {}).get("rating_mix")
    if not mix:
        return "—"
    lines = [html.Div(f"assumes {_mix(mix.get('assumed'))}", className="fw-semibold")]
    visitors = mix.get("visitors")
    if visitors:
        lines.append(
            html.Div(
                f"visitors {_mix(visitors)} ({visitors['reviews']} reviews, {visitors['control']} control)",
                className="small",
            )
        )
    if mix.get("corpus"):
        lines.append(html.Div(f"corpus {_mix(mix['corpus'])}", className="small text-body-secondary"))
    return html.Div(lines, className="rating-mix")


def models_table(listing: dict[str, Any]) -> Any:
    """One row per registered version: status, how visitors took its suggestions, the rating mix
    its suggestion assumes (bad · average · good), promote button."""
    names = ("Version", "Status", "Promoted", "Reviews", "Kept", "Mean |error|", "Rating mix", "")
    header = html.Thead(html.Tr([html.Th(name) for name in names]))
    rows = []
    for item in listing["items"]:
        live = item.get("live") or {}
        served = item["version"] == listing.get("served")
        promoted = (
            f"{_when(item['promoted_at'])} by {item['promoted_by']}" if item.get("promoted_at") else "—"
        )
        action = (
            dbc.Button(
                "Promote",
                id={"type": "model-promote", "version": item["version"]},
                size="sm",
                color="primary",
                outline=True,
            )
            if item["status"] != "champion"
            else None
        )
        error = live.get("mean_abs_error")
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(item["version"]), title=item.get("reason") or ""),
                    html.Td(item["status"] + (" (served)" if served else "")),
                    html.Td(promoted),
                    html.Td(live.get("reviews", 0)),
                    html.Td(_percent(live.get("kept_suggestion"))),
                    html.Td("—" if error is None else f"{error:.2f} ★"),
                    html.Td(rating_mix_cell(item.get("metrics"))),
                    html.Td(action),
                ],
                className="table-success" if item["status"] == "champion" else None,
            )
        )
    return dbc.Table([header, html.Tbody(rows)], size="sm", hover=True, responsive=True, id="models-list")


@callback(
    Output("models-table", "children"),
    Output("model-status", "children"),
    Input("admin-token", "data"),
    Input("admin-refresh", "n_clicks"),
    Input({"type": "model-promote", "version": ALL}, "n_clicks"),
    Input("model-rollback", "n_clicks"),
)
def models(
    token: str | None, _refresh: int | None, _promotes: list[int | None], _rollback: int | None
) -> tuple[Any, str]:
    """The registry; a Promote or Roll back click changes the champion first."""
    if not token:
        return None, ""
    client = get_client()
    status = ""
    trigger = ctx.triggered_id
    try:
        clicked = bool(ctx.triggered and ctx.triggered[0]["value"])  # not a button just drawn
        if isinstance(trigger, dict) and trigger.get("type") == "model-promote" and clicked:
            row = client.promote_model(token, trigger["version"])
            status = f"{row['version']} is the champion; the API serves it within seconds."
        elif trigger == "model-rollback" and clicked:
            row = client.rollback_model(token)
            status = f"Rolled back: {row['version']} is the champion."
    except ApiError as error:
        status = f"Not done. {error}"
    try:
        listing = client.model_versions(token)
    except ApiError as error:
        return dbc.Alert(f"The models could not be loaded. {error}", color="danger"), status
    return models_table(listing), status


# ---------------------------------------------------------------- suggestions and anchoring


def _signed_points(difference: float | None) -> str:
    return "—" if difference is None else f"{difference * 100:+.1f} pts"


def _stars_off(error: float | None, signed: bool = False) -> str:
    if error is None:
        return "—"
    return f"{error:+.2f} ★" if signed else f"{error:.2f} ★"


def _difference(entry: dict[str, Any], key: str) -> float | None:
    """Shown minus control for one figure; None unless both groups have it."""
    shown, control = entry["shown"] or {}, entry["control"] or {}
    if shown.get(key) is None or control.get(key) is None:
        return None
    return shown[key] - control[key]


def anchoring_rows(anchoring: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's anchoring rows paired up: per version (None: all versions, first) the figures with
    the suggestion shown and without it (the control group), and the anchoring effect, shown minus
    control, for the share agreeing and the mean |rating - suggestion| (None without both)."""
    paired: dict[str | None, dict[str, Any]] = {}
    for row in sorted(anchoring, key=lambda row: row["version"] is not None):  # all versions first
        entry = paired.setdefault(row["version"], {"version": row["version"], "shown": None, "control": None})
        entry["shown" if row["suggestion_shown"] else "control"] = row
    return [
        {
            **entry,
            "kept_effect": _difference(entry, "kept_suggestion"),
            "error_effect": _difference(entry, "mean_abs_error"),
        }
        for entry in paired.values()
    ]


def anchoring_table(anchoring: list[dict[str, Any]]) -> Any:
    """Agreement with the model with the suggestion shown and in the control group, and the difference,
    overall and per version."""
    rows = anchoring_rows(anchoring)
    if not rows:
        return html.P("No reviews say yet whether a suggestion was shown.", className="text-body-secondary")
    groups = html.Tr(
        [
            html.Th(""),
            html.Th("Suggestion shown", colSpan=3, scope="colgroup", className="text-center"),
            html.Th("Control group (not shown)", colSpan=3, scope="colgroup", className="text-center"),
            html.Th("Anchoring effect", colSpan=2, scope="colgroup", className="text-center"),
        ]
    )
    names = ["Version"] + ["Reviews", "Agree", "Mean |error|"] * 2 + ["Agree", "Mean |error|"]
    header = html.Thead([groups, html.Tr([html.Th(name, scope="col") for name in names])])
    body = []
    for row in rows:
        cells = [html.Td("All versions" if row["version"] is None else html.Code(row["version"]))]
        for side in (row["shown"] or {}, row["control"] or {}):
            cells += [
                html.Td(side.get("reviews", 0)),
                html.Td(_percent(side.get("kept_suggestion"))),
                html.Td(_stars_off(side.get("mean_abs_error"))),
            ]
        cells += [
            html.Td(_signed_points(row["kept_effect"]), className="fw-semibold"),
            html.Td(_stars_off(row["error_effect"], signed=True)),
        ]
        body.append(html.Tr(cells, className="table-light fw-semibold" if row["version"] is None else None))
    return dbc.Table([header, html.Tbody(body)], size="sm", hover=True, responsive=True, id="anchoring-list")


@callback(
    Output("anchoring-table", "children"),
    Output(SUGGESTIONS_GRAPH, "figure"),
    Input("admin-token", "data"),
    Input("admin-refresh", "n_clicks"),
)
def load_suggestions(token: str | None, _refresh: int | None) -> tuple[Any, Any]:
    """The anchoring table and the per-day chart of each version's suggestions."""
    if not token:
        return None, charts.empty_figure("")
    try:
        figures = get_client().suggestion_figures(token, days=SUGGESTION_DAYS)
    except ApiError as error:
        alert = dbc.Alert(f"The suggestion figures could not be loaded. {error}", color="danger")
        return alert, charts.empty_figure("", "—")
    return anchoring_table(figures["anchoring"]), charts.suggestions_per_day(figures)
