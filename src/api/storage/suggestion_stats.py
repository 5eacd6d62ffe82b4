"""How visitors took the model's suggestions, from the stored reviews, aggregated in the database.

- `daily_figures`: per model version and day, the share of visitors who kept the suggested
  rating and the mean |rating - suggestion| (reviews whose visitor saw a suggestion: agreement.py).
- `anchoring`: agreement with the model for visitors who saw its suggestion and for the control
  group who did not (`suggestion_shown` false). The difference is the anchoring effect: how much
  of the "agreement" is visitors keeping what the page pre-selected, not their own opinion.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from peewee import fn

from brandpulse.api.storage import agreement
from brandpulse.api.storage.tables import Review, as_date, utcnow


def daily_figures(days: int = 30, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per (model version, day) of the last `days` days, oldest first: reviews, share kept, mean error.

    Only reviews whose visitor saw the suggestion count (agreement.py).
    """
    since = (now or utcnow()) - timedelta(days=days)
    day = fn.DATE(Review.created_at)
    query = (
        Review.select(Review.model_version, day, *agreement.columns())
        .where(agreement.shown() & (Review.created_at >= since))
        .group_by(Review.model_version, day)
        .order_by(day, Review.model_version)
        .tuples()
    )
    return [
        {"version": version, "day": as_date(value), **agreement.figures(count, agreeing, error)}
        for version, value, count, agreeing, error in query
    ]


def anchoring() -> list[dict[str, Any]]:
    """Agreement with the model with and without its suggestion shown, per version and for all.

    Rows: `version` (null: every version), `suggestion_shown` (true or false), reviews, the share
    whose rating equals the model's suggested rating, and the mean |rating - suggestion|.
    """
    shown = Review.suggestion_shown
    columns = agreement.columns()
    where = agreement.has_suggestion() & shown.is_null(False)
    per_version = (
        Review.select(Review.model_version, shown, *columns)
        .where(where)
        .group_by(Review.model_version, shown)
        .order_by(Review.model_version, shown)
        .tuples()
    )
    overall = Review.select(shown, *columns).where(where).group_by(shown).order_by(shown).tuples()
    rows = [
        {"version": None, "suggestion_shown": bool(flag), **agreement.figures(count, agreeing, error)}
        for flag, count, agreeing, error in overall
    ]
    rows += [
        {"version": version, "suggestion_shown": bool(flag), **agreement.figures(count, agreeing, error)}
        for version, flag, count, agreeing, error in per_version
    ]
    return rows
