"""Whether visitors kept the model's suggestion: the one definition every figure uses.

A review counts when its visitor saw a suggested rating (`suggestion_shown` true) made by a named
model version. The control group (false) saw none and is counted apart, in the anchoring table
only. A review whose client did not say (null: an API client, or a page that showed no estimate)
carries the served model's suggestion but was shown nothing, so it is not counted either; nor is
a suggestion without the version that made it (none is stored so today), so that the figures of
all versions add up to the headline's. `kept_suggestion` is the share of counted reviews rated
exactly as suggested (`kept` of them), `mean_abs_error` the mean |rating - suggestion| in stars;
both come with `reviews`, the count they rest on. The headline (`GET /api/stats`), each version's live figures
(`GET /api/models`), the daily chart and the anchoring table (`GET /api/models/suggestions`) all
read them from here.
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
    return has_suggestion() & (Review.suggestion_shown == True)  # noqa: E712 (SQL)


def _error() -> Any:
    return fn.ABS(Review.rating - Review.suggested_rating)


def columns() -> tuple[Any, Any, Any]:
    """Reviews, reviews rated as suggested, and the mean |rating - suggestion|, as SQL aggregates
    over rows already restricted to the counted ones (`shown()`, or a group of the anchoring table)."""
    kept = Case(None, [(Review.rating == Review.suggested_rating, 1)], 0)
    return fn.COUNT(Review.id), fn.SUM(kept), fn.AVG(_error())


def shown_columns() -> tuple[Any, Any, Any]:
    """`columns()` for a query over every review (the statistics per brand): only `shown()` rows
    are counted, kept and averaged; the others add nothing."""
    counted = shown()
    return (
        fn.SUM(Case(None, [(counted, 1)], 0)),
        fn.SUM(Case(None, [(counted & (Review.rating == Review.suggested_rating), 1)], 0)),
        fn.AVG(Case(None, [(counted, _error())])),  # NULL for the others: AVG skips them
    )


def figures(count: Any, kept: Any, error: Any) -> dict[str, Any]:
    """The figures of one group from `columns()`'s values (PostgreSQL's sums and means are Decimals)."""
    count, kept = int(count or 0), int(kept or 0)
    return {
        "reviews": count,
        "kept": kept,
        "kept_suggestion": round(kept / count, 4) if count else None,
        "mean_abs_error": round(float(error), 4) if error is not None and count else None,
    }
