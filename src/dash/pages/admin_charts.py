"""The admin page's headline figures (reviews, mean rating, suggestions kept) and its four charts."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, html

from brandpulse.dash import charts
from brandpulse.dash.api_client import ApiError, get_client

GRAPHS = ("chart-per-day", "chart-ratings", "chart-suggestions", "chart-brands")


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
