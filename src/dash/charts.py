"""The admin page's Plotly charts, drawn from the API's `/api/reviews/summary`, `/api/stats` and
`/api/models/suggestions`.

Charts: reviews per day, the rating distribution, suggested vs. given rating (a confusion
heat-map of every review with a suggestion, shown or not: how often the visitor's rating matches
the model's), the mean score per brand (with each brand's count; a brand with fewer than
`MIN_BRAND_REVIEWS` reviews is drawn grey, too few to compare), and per model version and day the
share of suggestions kept and the mean |rating - suggestion|. The API returns counts and means the
database aggregated, so drawing the charts never reads every review.

Plotly reads a subset of HTML in every text it draws (trace names in the legend and hover labels,
tick labels, titles): `<a href>` becomes a link, `<b>`, `<br>`, `<span style>` take effect. So
every string that comes from the API (model versions, brand names) goes through `plain()` first
and is drawn as the text it is; a model version cannot become a link in the admin's legend.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from brandpulse.dash.components import RATINGS, stars

HEIGHT = 320
ONE_DAY = timedelta(days=1)
DAY_MS = 86_400_000  # Plotly's date axes count in milliseconds
MARGIN = {"l": 48, "r": 16, "t": 48, "b": 40}
# One colour per model version, in the order they first appear (Bootstrap's palette).
VERSION_COLOURS = ("#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#dc3545", "#20c997", "#6c757d")
# A brand's mean score over fewer reviews than this says more about those few reviewers than about
# the brand: its bar is drawn grey (docs/web.md, "The admin page").
MIN_BRAND_REVIEWS = 5
BRAND_COLOUR = "#198754"
FEW_REVIEWS_COLOUR = "#adb5bd"


def plain(text: Any) -> str:
    """`text` escaped for Plotly: `<`, `>` and `&` as entities, which Plotly draws as characters
    (it decodes `&lt;` `&gt;` `&amp;` but no `&quot;`, so quotes stay as they are: without a
    `<` they start no tag)."""
    return html.escape(str(text), quote=False)


def _figure(title: str, **layout: Any) -> go.Figure:
    figure = go.Figure()
    layout.setdefault("height", HEIGHT)
    figure.update_layout(title=title, margin=MARGIN, template="plotly_white", **layout)
    return figure


def empty_figure(title: str, message: str = "No reviews yet") -> go.Figure:
    """A chart with nothing to show but `message`."""
    figure = _figure(title)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(
        text=message, showarrow=False, font={"size": 16}, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    return figure


def _day_axis(figure: go.Figure, days: list[date]) -> None:
    """Whole days on the x axes, with room either side even when there is only one day."""
    first, last = min(days) - ONE_DAY, max(days) + ONE_DAY
    figure.update_xaxes(type="date", tickformat="%b %d", range=[first.isoformat(), last.isoformat()])
    if (last - first).days <= 14:
        figure.update_xaxes(dtick=DAY_MS)


def reviews_per_day(summary: dict[str, Any]) -> go.Figure:
    """A bar per day (UTC) with the number of reviews written that day."""
    title = "Reviews per day"
    per_day = [(date.fromisoformat(row["day"]), row["count"]) for row in summary.get("per_day", [])]
    if not per_day:
        return empty_figure(title)
    days = [day for day, _ in per_day]
    figure = _figure(title, xaxis_title="day (UTC)", yaxis_title="reviews")
    figure.add_bar(
        x=[day.isoformat() for day in days],
        y=[count for _, count in per_day],
        width=[0.8 * DAY_MS] * len(days),  # a lone bar would otherwise be a millisecond wide
        marker_color="#0d6efd",
        hovertemplate="%{x|%Y-%m-%d}: %{y} reviews<extra></extra>",
    )
    _day_axis(figure, days)
    return figure


def rating_distribution(summary: dict[str, Any]) -> go.Figure:
    """How many reviews gave each star rating."""
    title = "Rating distribution"
    if not summary.get("total"):
        return empty_figure(title)
    counts = {row["rating"]: row["count"] for row in summary.get("ratings", [])}
    figure = _figure(title, xaxis_title="rating", yaxis_title="reviews")
    figure.add_bar(x=[stars(rating) for rating in RATINGS], y=[counts.get(rating, 0) for rating in RATINGS])
    figure.update_traces(marker_color=["#dc3545", "#fd7e14", "#ffc107", "#20c997", "#198754"])
    return figure


def suggestion_matrix(summary: dict[str, Any]) -> tuple[list[list[int]], float | None]:
    """Counts of (given, suggested) rating pairs, rows given 1..5, columns suggested 1..5; and
    the share of reviews that kept the suggestion (None without any suggestion)."""
    matrix = [[0] * len(RATINGS) for _ in RATINGS]
    for row in summary.get("suggestions", []):
        matrix[row["rating"] - 1][row["suggested_rating"] - 1] += row["count"]
    total = sum(map(sum, matrix))
    kept = sum(matrix[index][index] for index in range(len(RATINGS)))
    return matrix, (kept / total if total else None)


def suggestion_heatmap(summary: dict[str, Any]) -> go.Figure:
    """The confusion heat-map of suggested vs. given rating over every review with a suggestion
    (shown to its visitor or not), titled with the share whose rating matches it and its counts.

    Not "kept": the control group never saw a suggestion to keep. The share kept (the headline,
    the Models section) counts only the visitors shown one.
    """
    matrix, matching = suggestion_matrix(summary)
    if matching is None:
        return empty_figure("Suggested vs. given rating", "No reviews with a suggestion yet")
    labels = [stars(rating) for rating in RATINGS]
    total = sum(map(sum, matrix))
    same = sum(matrix[index][index] for index in range(len(RATINGS)))
    figure = _figure(
        # Our own words only (no text from the API): the line break is Plotly's markup.
        f"Suggested vs. given rating<br><sup>{matching:.0%} match ({same:,} of {total:,})</sup>",
        xaxis_title="suggested by the model",
        yaxis_title="given by the visitor",
    )
    figure.add_heatmap(
        z=matrix,
        x=labels,
        y=labels,
        colorscale="Blues",
        texttemplate="%{z}",
        hovertemplate="suggested %{x}, given %{y}: %{z}<extra></extra>",
        showscale=False,
    )
    figure.update_layout(margin={**MARGIN, "t": 72})  # room for the title's second line
    return figure


def _reviews(count: int) -> str:
    return f"{count:,} review{'' if count == 1 else 's'}"


def mean_score_by_brand(stats: dict[str, Any]) -> go.Figure:
    """A horizontal bar per reviewed brand: its mean score (0 negative, 1 positive) and, written on
    the bar, how many reviews it rests on; grey below `MIN_BRAND_REVIEWS` reviews, as a note says."""
    title = "Mean score per brand"
    brands = [
        row for row in stats.get("brands", []) if row.get("count") and row.get("mean_score") is not None
    ]
    if not brands:
        return empty_figure(title)
    brands.sort(key=lambda row: row["mean_score"])
    counted = [row["count"] >= MIN_BRAND_REVIEWS for row in brands]
    figure = _figure(title, xaxis_title="mean score", height=max(HEIGHT, 28 * len(brands) + 120))
    figure.add_bar(
        x=[row["mean_score"] for row in brands],
        y=[plain(row["brand"]) for row in brands],
        orientation="h",
        marker_color=[BRAND_COLOUR if enough else FEW_REVIEWS_COLOUR for enough in counted],
        text=[f"{row['mean_score']:.2f} · {_reviews(row['count'])}" for row in brands],
        textposition="auto",
        # White reads on the green (4.5:1), not on the grey: dark there (8:1).
        insidetextfont={"color": ["#ffffff" if enough else "#212529" for enough in counted]},
        customdata=[row["count"] for row in brands],
        hovertemplate="%{y}: %{x:.2f} over %{customdata} reviews<extra></extra>",
    )
    figure.update_xaxes(range=[0, 1])
    if not all(counted):
        figure.update_layout(margin={**MARGIN, "t": 72})  # room for the note under the title
        figure.add_annotation(
            text=f"grey: fewer than {MIN_BRAND_REVIEWS} reviews, too few to compare",
            showarrow=False,
            x=0,
            y=1.02,
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="bottom",
            font={"size": 12, "color": "#495057"},
        )
    return figure


def suggestions_per_day(figures: dict[str, Any]) -> go.Figure:
    """Per model version, a line per measure over the days: above, the share of visitors shown its
    suggestion who kept it; below, the mean |rating - suggestion| in stars (from the API's `daily`)."""
    title = "Suggestions kept per model version and day"
    daily = figures.get("daily") or []
    if not daily:
        return empty_figure(title, "No reviews with a suggestion shown yet")
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.14,
        subplot_titles=("share that kept the suggestion", "mean |rating − suggestion| (stars)"),
    )
    figure.update_layout(
        title=title,
        margin={**MARGIN, "b": 8},
        template="plotly_white",
        height=460,
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "title": {"text": "model version"}},
    )
    versions = list(dict.fromkeys(row["version"] for row in daily))  # in order of first appearance
    for index, version in enumerate(versions):
        rows = [row for row in daily if row["version"] == version]
        style = {
            "mode": "lines+markers",
            "line": {"color": VERSION_COLOURS[index % len(VERSION_COLOURS)]},
            "legendgroup": str(version),
            "name": plain(version),  # the legend and the hover label (%{fullData.name})
            "x": [row["day"] for row in rows],
            "customdata": [row["reviews"] for row in rows],
        }
        figure.add_scatter(
            y=[row["kept_suggestion"] for row in rows],
            hovertemplate="%{x|%Y-%m-%d}: %{y:.0%} kept, %{customdata} reviews"
            "<extra>%{fullData.name}</extra>",
            row=1,
            col=1,
            **style,
        )
        figure.add_scatter(
            y=[row["mean_abs_error"] for row in rows],
            hovertemplate="%{x|%Y-%m-%d}: %{y:.2f} stars off, %{customdata} reviews"
            "<extra>%{fullData.name}</extra>",
            showlegend=False,
            row=2,
            col=1,
            **style,
        )
    figure.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=1)
    figure.update_yaxes(rangemode="tozero", row=2, col=1)
    _day_axis(figure, [date.fromisoformat(str(row["day"])) for row in daily])
    return figure
