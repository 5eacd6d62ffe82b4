"""The admin page's reviews: the table of one page, the filters and sort, Flag / Unflag, CSV export.

The API pages, filters and sorts the reviews; the export takes the reviews matching the brand and
rating filters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from brandpulse.dash import components
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.api_limits import ApiLimits

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
FILTER_IDS = ("filter-brand", "filter-rating", "filter-sort", "filter-per-page")
REJECTED = (401, 403)
COLUMNS = ("ID", "Date (UTC)", "Brand", "Rating", "Suggested", "Score", "Review", "IP", "Flag")


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


def when(created_at: str) -> str:
    """A stored timestamp (UTC) as the admin tables show it."""
    return datetime.fromisoformat(created_at).strftime("%Y-%m-%d %H:%M")


def reviews_table(items: list[dict[str, Any]]) -> Any:
    """The reviews of one page as a table."""
    if not items:
        return html.P("No reviews match.", className="text-body-secondary")
    header = html.Thead(
        html.Tr(
            [
                html.Th(name, scope="col")
                for name in (
                    "ID",
                    "Date (UTC)",
                    "Brand",
                    "Rating",
                    "Suggested",
                    "Score",
                    "Review",
                    "IP",
                    "Flag",
                )
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
                    html.Td(item["id"], className="text-body-secondary"),
                    html.Td(when(item["created_at"]), className="text-nowrap"),
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
    """The flag state and the button that changes it (dark on a flagged row's amber: the secondary
    grey is too faint there to read)."""
    button = dbc.Button(
        "Unflag" if flagged else "Flag",
        id={"type": "review-flag", "review": review_id, "action": "unflag" if flagged else "flag"},
        size="sm",
        color="dark" if flagged else "secondary",
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
