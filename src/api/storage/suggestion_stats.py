"""How visitors took the model's suggestions, from the stored reviews, aggregated in the database.

- `daily_figures`: per model version and day, the share of visitors who kept the suggested
  rating and the mean |rating - suggestion| (reviews whose visitor saw a suggestion, or whose
  client did not say).
- `anchoring`: agreement with the model for visitors who saw its suggestion and for the control
  group who did not (`suggestion_shown` false). The difference is the anchoring effect: how much
  of the "agreement" is visitors keeping what the page pre-selected, not their own opinion.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from peewee import Case, fn

from brandpulse.api.storage.tables import Review, as_date, utcnow


def _figures(count: int, agreeing: int | None, error: float | None) -> dict[str, Any]:
    return {
        "reviews": int(count),
        "kept_suggestion": round(int(agreeing or 0) / int(count), 4) if count else None,
        "mean_abs_error": round(float(error), 4) if error is not None else None,
    }


def _kept() -> Case:
    return Case(None, [(Review.rating == Review.suggested_rating, 1)], 0)


def _suggested() -> Any:
    return Review.suggested_rating.is_null(False) & Review.model_version.is_null(False)


def daily_figures(days: int = 30, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per (model version, day) of the last `days` days, oldest first: reviews, share kept, mean error.

    The control group (`suggestion_shown` false) is left out: they never saw the suggestion.
    """
    since = (now or utcnow()) - timedelta(days=days)
    day = fn.DATE(Review.created_at)
    query = (
        Review.select(
            Review.model_version,
            day,
            fn.COUNT(Review.id),
            fn.SUM(_kept()),
            fn.AVG(fn.ABS(Review.rating - Review.suggested_rating)),
        )
        .where(
            _suggested()
            & (Review.created_at >= since)
            & (Review.suggestion_shown.is_null(True) | Review.suggestion_shown)
        )
        .group_by(Review.model_version, day)
        .order_by(day, Review.model_version)
        .tuples()
    )
    return [
        {"version": version, "day": as_date(value), **_figures(count, agreeing, error)}
        for version, value, count, agreeing, error in query
    ]


def anchoring() -> list[dict[str, Any]]:
    """Agreement with the model with and without its suggestion shown, per version and for all.

    Rows: `version` (null: every version), `suggestion_shown` (true or false), reviews, the share
    whose rating equals the model's suggested rating, and the mean |rating - suggestion|.
    """
    shown = Review.suggestion_shown
    columns = (fn.COUNT(Review.id), fn.SUM(_kept()), fn.AVG(fn.ABS(Review.rating - Review.suggested_rating)))
    where = _suggested() & shown.is_null(False)
    per_version = (
        Review.select(Review.model_version, shown, *columns)
        .where(where)
        .group_by(Review.model_version, shown)
        .order_by(Review.model_version, shown)
        .tuples()
    )
    overall = Review.select(shown, *columns).where(where).group_by(shown).order_by(shown).tuples()
    rows = [
        {"version": None, "suggestion_shown": bool(flag), **_figures(count, agreeing, error)}
        for flag, count, agreeing, error in overall
    ]
    rows += [
        {"version": version, "suggestion_shown": bool(flag), **_figures(count, agreeing, error)}
        for version, flag, count, agreeing, error in per_version
    ]
    return rows
