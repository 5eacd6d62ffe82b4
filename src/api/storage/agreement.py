"""Whether visitors kept the model's suggestion: the one definition every figure uses.

A review counts when its visitor saw a suggested rating (`suggestion_shown` true); figures per
model version also need the version that made it. The control group (false) saw none and is
counted apart, in the anchoring table only. A review whose client did not say (null: an API
client, or a page that showed no estimate) carries the served model's suggestion but was shown
nothing, so it is not counted either. `kept_suggestion` is the share of counted reviews rated
exactly as suggested, `mean_abs_error` the mean |rating - suggestion| in stars.
"""

from __future__ import annotations

from typing import Any

from peewee import Case, Expression, fn

from brandpulse.api.storage.tables import Review


def has_suggestion() -> Expression:
    """Reviews with a suggested rating from a named model version (shown or not)."""
    return Review.suggested_rating.is_null(False) & Review.model_version.is_null(False)


def shown() -> Expression:
    """Reviews whose visitor saw the model's suggestion: the ones agreement is measured on."""
    return Review.suggested_rating.is_null(False) & (Review.suggestion_shown == True)  # noqa: E712 (SQL)


def shown_by_version() -> Expression:
    """`shown()` reviews whose model version is named, for figures per version."""
    return shown() & Review.model_version.is_null(False)


def columns() -> tuple[Any, Any, Any]:
    """Reviews, reviews rated as suggested, and the mean |rating - suggestion|, as SQL aggregates."""
    kept = Case(None, [(Review.rating == Review.suggested_rating, 1)], 0)
    return fn.COUNT(Review.id), fn.SUM(kept), fn.AVG(fn.ABS(Review.rating - Review.suggested_rating))


def figures(count: Any, kept: Any, error: Any) -> dict[str, Any]:
    """The figures of one group from `columns()`'s values (PostgreSQL's sums and means are Decimals)."""
    count = int(count or 0)
    return {
        "reviews": count,
        "kept_suggestion": round(int(kept or 0) / count, 4) if count else None,
        "mean_abs_error": round(float(error), 4) if error is not None else None,
    }
