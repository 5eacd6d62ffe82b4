"""`GET /api/stats`: counts, means and the model's agreement with its users, per brand and overall."""

from __future__ import annotations

from typing import Any

from peewee import JOIN, Case, fn

from brandpulse.api.endpoints.parsing import Blueprint
from brandpulse.api.endpoints.schemas import StatsSchema
from brandpulse.api.storage import agreement
from brandpulse.api.storage.db import open_connection
from brandpulse.api.storage.tables import Brand, Review

bp = Blueprint("stats", __name__, url_prefix="/api", description="Review statistics.")
bp.before_request(open_connection)


def _aggregates() -> list[Any]:
    """count, mean rating, mean score, reviews that kept a suggestion they saw, reviews that saw one."""
    counted = Case(None, [(agreement.shown(), 1)], 0)
    kept = Case(None, [(agreement.shown() & (Review.rating == Review.suggested_rating), 1)], 0)
    return [
        fn.COUNT(Review.id).alias("count"),
        fn.AVG(Review.rating).alias("mean_rating"),
        fn.AVG(Review.score).alias("mean_score"),
        fn.SUM(kept).alias("agreeing"),
        fn.SUM(counted).alias("with_suggestion"),
    ]


def _row(
    count: int, mean_rating: Any, mean_score: Any, agreeing: Any, with_suggestion: int
) -> dict[str, Any]:
    # PostgreSQL's AVG of integers is a Decimal; AVG of nothing is NULL.
    return {
        "count": int(count or 0),
        "mean_rating": None if mean_rating is None else round(float(mean_rating), 4),
        "mean_score": None if mean_score is None else round(float(mean_score), 4),
        "agreement": agreement.figures(with_suggestion, agreeing, None)["kept_suggestion"],
        "rated_with_suggestion": int(with_suggestion or 0),
    }


@bp.route("/stats", methods=["GET"])
@bp.response(200, StatsSchema)
@bp.errors(429, 503)
def stats() -> dict[str, Any]:
    """Review count, mean rating, mean score and rating/suggestion agreement, overall and per brand."""
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
