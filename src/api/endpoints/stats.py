"""`GET /api/stats`: counts, means and the model's agreement with its users, per brand and overall."""

from __future__ import annotations

from typing import Any

from peewee import JOIN, fn

from brandpulse.api.endpoints.parsing import Blueprint
from brandpulse.api.endpoints.schemas import StatsSchema
from brandpulse.api.storage import agreement
from brandpulse.api.storage.db import open_connection
from brandpulse.api.storage.tables import Brand, Review

bp = Blueprint("stats", __name__, url_prefix="/api", description="Review statistics.")
bp.before_request(open_connection)


def _aggregates() -> list[Any]:
    """count, mean rating, mean score; and of the reviews whose visitor saw a suggestion
    (agreement.py): how many, how many kept it, their mean |rating - suggestion|."""
    return [
        fn.COUNT(Review.id).alias("count"),
        fn.AVG(Review.rating).alias("mean_rating"),
        fn.AVG(Review.score).alias("mean_score"),
        *agreement.shown_columns(),
    ]


def _row(
    count: int, mean_rating: Any, mean_score: Any, with_suggestion: Any, agreeing: Any, error: Any
) -> dict[str, Any]:
    # PostgreSQL's AVG of integers is a Decimal; AVG of nothing is NULL.
    kept = agreement.figures(with_suggestion, agreeing, error)
    return {
        "count": int(count or 0),
        "mean_rating": None if mean_rating is None else round(float(mean_rating), 4),
        "mean_score": None if mean_score is None else round(float(mean_score), 4),
        "agreement": kept["kept_suggestion"],
        "mean_abs_error": kept["mean_abs_error"],
        "rated_with_suggestion": kept["reviews"],
        "kept": kept["kept"],
    }


@bp.route("/stats", methods=["GET"])
@bp.response(200, StatsSchema)
@bp.errors(429, 503)
def stats() -> dict[str, Any]:
    """Review count, mean rating, mean score and how visitors took the suggestions they saw (the
    share kept and the mean |rating - suggestion|, with the count they rest on), overall and per
    brand. The same definition as each model version's figures (`GET /api/models`): the versions'
    counts add up to `overall.rated_with_suggestion`."""
    overall = Review.select(*_aggregates()).tuples().get()
    per_brand = (
        Brand.select(Brand.name, *_aggregates())
        .join(Review, JOIN.LEFT_OUTER)
        .group_by(Brand.id, Brand.name)
        .order_by(Brand.name)
        .tuples()
    )
    return {
        "overall": _row(*overall),
        "brands": [{"brand": name, **_row(*values)} for name, *values in per_brand],
    }
