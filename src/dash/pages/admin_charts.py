"""The admin page's headline figures (reviews, mean rating, suggestions kept, mean error) and its
four charts. The suggestion figures are `GET /api/stats`'s, counted as each model version's are
(the API's agreement.py) and worded by `admin_figures`, with the count each rests on."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, html

from brandpulse.dash import charts
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.pages.admin_figures import from_stats, kept_share, mean_error

GRAPHS = ("chart-per-day", "chart-ratings", "chart-suggestions", "chart-brands")


def summary_cards(stats: dict[str, Any]) -> Any:
    """Four headline figures: reviews, mean rating, suggestions kept and the mean |rating -
    suggestion| (each with its count: the visitors shown a suggestion)."""
    overall = stats["overall"]
    suggestions = from_stats(overall)
    figures = (
        ("Reviews", f"{overall['count']:,}"),
        ("Mean rating", f"{overall['mean_rating']:.2f} ★" if overall.get("mean_rating") is not None else "—"),
        ("Suggestion kept", kept_share(suggestions)),
        ("Mean |rating − suggestion|", mean_error(suggestions)),
    )
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody([html.Div(label, className="small"), html.Div(value, className="fs-5")]),
                    id=f"headline-{index}",
                ),
                xs=6,
                lg=3,
            )
            for index, (label, value) in enumerate(figures)
        ],
        class_name="g-2",
        id="admin-headline",
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
