"""How the admin page writes the figures of the suggestions: one wording wherever they appear.

The API counts them once (`src/api/storage/agreement.py`): of the reviews whose visitor saw a
suggested rating, how many (`reviews`), how many kept it (`kept`), that share
(`kept_suggestion`) and the mean |rating - suggestion| (`mean_abs_error`). The headline (from
`GET /api/stats`), each model version's live figures (`GET /api/models`) and the confirmation
dialog all write them with these functions, each with the count it rests on: "29% (2 of 7)".
"""

from __future__ import annotations

from typing import Any

NO_REVIEWS = "no reviews yet"


def percent(share: float | None) -> str:
    """A share as a whole percentage ("—" without one)."""
    return "—" if share is None else f"{round(share * 100)}%"


def reviews(count: int) -> str:
    """ "1 review", "1,204 reviews"."""
    return f"{count:,} review{'' if count == 1 else 's'}"


def from_stats(row: dict[str, Any]) -> dict[str, Any]:
    """A `GET /api/stats` row's suggestion figures under the names every other figure uses."""
    return {
        "reviews": row.get("rated_with_suggestion") or 0,
        "kept": row.get("kept") or 0,
        "kept_suggestion": row.get("agreement"),
        "mean_abs_error": row.get("mean_abs_error"),
    }


def kept_share(figures: dict[str, Any] | None) -> str:
    """The share of visitors shown a suggestion who kept it, with its counts: "29% (2 of 7)"."""
    if not figures or not figures.get("reviews"):
        return NO_REVIEWS
    return f"{percent(figures['kept_suggestion'])} ({figures['kept']:,} of {figures['reviews']:,})"


def mean_error(figures: dict[str, Any] | None) -> str:
    """The mean |rating - suggestion| in stars, with its count: "0.71 ★ (7 reviews)"."""
    if not figures or not figures.get("reviews") or figures.get("mean_abs_error") is None:
        return NO_REVIEWS
    return f"{figures['mean_abs_error']:.2f} ★ ({reviews(figures['reviews'])})"


def live_line(figures: dict[str, Any] | None) -> str:
    """A version's live figures in one line, or "no reviews yet"."""
    if not figures or not figures.get("reviews"):
        return NO_REVIEWS
    return f"kept {kept_share(figures)} · mean |rating − suggestion| {mean_error(figures)}"
