"""marshmallow schemas of stored reviews: a new review, its answer, the admin's list, filters,
pages and summaries.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from brandpulse.api.endpoints.field_types import (
    CURSOR_MAX,
    JsonBoolean,
    NonBlank,
    Pattern,
    QueryInteger,
    Real,
    SettingLength,
    SettingRange,
    StrictInteger,
    StrictSchema,
    Text,
    UtcDateTime,
)
from brandpulse.api.prediction_tokens import TOKEN_MAX
from brandpulse.api.storage.tables import IDEMPOTENCY_KEY_MAX, MODEL_VERSION_MAX, NAME_MAX

# ---------------------------------------------------------------- reviews


class ReviewCreateSchema(StrictSchema):
    """A new review. Its score, suggested rating and model version are the server's: a valid
    `prediction_token` of the same text, else the served model's reading of the text."""

    text = Text(
        required=True,
        validate=[NonBlank("review_min_length"), SettingLength(max_setting="review_max_length")],
        metadata={
            "description": "The review: at most REVIEW_MAX_LENGTH characters as sent, at least "
            "REVIEW_MIN_LENGTH once surrounding blanks are removed (they are not stored).",
            "example": "The shoes are comfortable and arrived quickly. Very happy!",
        },
    )
    rating = StrictInteger(
        required=True, validate=validate.Range(1, 5), metadata={"description": "1-5 stars."}
    )
    brand = Text(
        required=True,
        validate=validate.Length(1, NAME_MAX),
        metadata={"description": "The name of a stored brand (GET /api/brands); another name: 422."},
    )
    # Any text up to TOKEN_MAX: one that is no token of ours is not used, and that is no error.
    prediction_token = fields.String(
        validate=validate.Length(1, TOKEN_MAX),
        metadata={
            "description": "The `token` of the `/api/predict` answer the visitor saw, for this same text "
            "(surrounding blanks aside): the review is stored with its score, suggested rating and model "
            "version. Without one, or with one that is expired (30 minutes), altered or made for another "
            "text, the server scores the text itself; that is no error."
        },
    )
    suggested_rating = StrictInteger(
        validate=validate.Range(1, 5),
        metadata={
            "description": "Deprecated and ignored: the stored suggested rating is the server's (see "
            "`prediction_token`). Still accepted, so that older clients keep working.",
            "deprecated": True,
        },
    )
    score = Real(
        validate=validate.Range(0.0, 1.0),
        metadata={
            "description": "Deprecated and ignored: the stored score is the server's (see "
            "`prediction_token`). Still accepted, so that older clients keep working.",
            "deprecated": True,
        },
    )
    model_version = Text(
        validate=validate.Length(1, MODEL_VERSION_MAX),
        metadata={
            "description": "Deprecated and ignored: the stored model version is the one that scored the "
            "text (see `prediction_token`). Still accepted, so that older clients keep working.",
            "deprecated": True,
        },
    )
    suggestion_shown = JsonBoolean(
        metadata={
            "description": "Whether the visitor saw the suggested rating before rating (false: the control "
            "group, shown no suggestion). The server records whether the rating differs from the "
            "suggestion it stores."
        },
    )


class IdempotencyHeaderSchema(ma.Schema):
    """The optional `Idempotency-Key` header of `POST /api/review` (other headers are ignored)."""

    class Meta:
        unknown = ma.EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=[
            validate.Length(1, IDEMPOTENCY_KEY_MAX),
            Pattern(r"[\x20-\x7e]*", error="Must be printable ASCII."),
        ],
        metadata={
            "description": "A key of the client's choosing (a UUID) naming this submission, at most 255 "
            "printable ASCII characters. A retry with the same key and fields gets the first answer "
            "(with `Idempotency-Replayed: true`) and stores nothing; the same key with other fields is a "
            "422. Keys are remembered for IDEMPOTENCY_TTL_HOURS (default 24).",
            "example": "5f0c2a4e-9b1d-4c3e-8f7a-2d6b1e0c9a48",
        },
    )


class ReviewSchema(ma.Schema):
    """A stored review, as anyone may see it."""

    id = fields.Integer(required=True)
    brand = fields.Function(lambda review: review.brand.name, required=True, metadata={"type": "string"})
    text = fields.String(required=True)
    rating = fields.Integer(required=True)
    suggested_rating = fields.Integer(allow_none=True)
    score = fields.Float(allow_none=True)
    model_version = fields.String(allow_none=True)
    suggestion_shown = fields.Boolean(
        allow_none=True, metadata={"description": "Whether a suggestion was shown (null: not said)."}
    )
    suggestion_changed = fields.Boolean(
        allow_none=True,
        metadata={"description": "Whether the rating differs from the suggestion shown (null: none shown)."},
    )
    created_at = UtcDateTime(required=True)


class AdminReviewSchema(ReviewSchema):
    """A stored review with the personal data only admins see."""

    user_agent = fields.String(allow_none=True)
    ip_address = fields.String(allow_none=True)
    flagged = fields.Boolean(
        required=True, metadata={"description": "Flagged by an admin: never used to retrain."}
    )


class FlagRequestSchema(StrictSchema):
    """Flag a review (keep it out of retraining) or clear the flag."""

    flagged = JsonBoolean(required=True)


class ReviewFilterSchema(StrictSchema):
    """Filters of the review list and export."""

    brand = Text(validate=validate.Length(1, NAME_MAX), metadata={"description": "Brand name."})
    rating = QueryInteger(validate=validate.Range(1, 5))
    since = UtcDateTime(
        metadata={"description": "Created at or after (ISO 8601; UTC without offset); after `until`: 422."}
    )
    until = UtcDateTime(metadata={"description": "Created before (ISO 8601; UTC without offset)."})

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "since" in data and "until" in data and data["since"] > data["until"]:
            raise ma.ValidationError("Must not be after `until`.", "since")


# Sort keys of the review list; a leading "-" sorts descending. Ties are broken by id.
REVIEW_SORT_KEYS = ("created_at", "rating", "suggested_rating", "score", "brand")
REVIEW_SORTS = tuple(f"{sign}{key}" for key in REVIEW_SORT_KEYS for sign in ("", "-"))


class ReviewListQuerySchema(ReviewFilterSchema):
    """Filters, order and page of the review list."""

    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(REVIEW_SORTS),
        metadata={
            "description": "Order: created_at, rating, suggested_rating, score or brand; "
            "a leading '-' sorts descending (default -created_at, newest first)."
        },
    )
    page = QueryInteger(
        load_default=1,
        validate=validate.Range(1, 1_000_000),
        metadata={
            "description": "Page number: the database reads every review before the page, so a deep "
            "page is slow on a large table; follow `next_cursor` instead."
        },
    )
    per_page = QueryInteger(
        validate=SettingRange(min=1, max_setting="page_size_max"),
        metadata={"description": "Page size, at most PAGE_SIZE_MAX (default PAGE_SIZE_DEFAULT)."},
    )
    cursor = fields.String(
        validate=validate.Length(1, CURSOR_MAX),
        metadata={
            "description": "The `next_cursor` of the previous page: the page after it, as fast at any "
            "depth (keyset pagination). Only with the same `sort`, and without `page`."
        },
    )

    @validates_schema
    def _page_or_cursor(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "cursor" in data and data.get("page", 1) != 1:
            raise ma.ValidationError("Send either `page` or `cursor`, not both.", "cursor")


class ReviewPageSchema(ma.Schema):
    """One page of reviews, in the order asked for (newest first by default)."""

    items = fields.List(fields.Nested(AdminReviewSchema), required=True)
    total = fields.Integer(
        required=True,
        metadata={
            "description": "Reviews matching the filters: counted up to 10,000; above that, on "
            "PostgreSQL, the planner's estimate (`total_exact` false)."
        },
    )
    total_exact = fields.Boolean(required=True, metadata={"description": "Whether `total` was counted."})
    page = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The page number (null: asked by cursor)."}
    )
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The `cursor` of the next page (null: this is the last page)."},
    )


class DayCountSchema(ma.Schema):
    """Reviews written on one day (UTC)."""

    day = fields.Date(required=True)
    count = fields.Integer(required=True)


class RatingCountSchema(ma.Schema):
    """Reviews that gave one star rating."""

    rating = fields.Integer(required=True)
    count = fields.Integer(required=True)


class SuggestionCountSchema(ma.Schema):
    """Reviews that gave `rating` where the model suggested `suggested_rating`."""

    rating = fields.Integer(required=True)
    suggested_rating = fields.Integer(required=True)
    count = fields.Integer(required=True)


class ReviewSummarySchema(ma.Schema):
    """Counts of the matching reviews, aggregated by the database: what the admin charts draw."""

    total = fields.Integer(required=True)
    per_day = fields.List(
        fields.Nested(DayCountSchema),
        required=True,
        metadata={"description": "Days (UTC) with reviews, oldest first."},
    )
    ratings = fields.List(
        fields.Nested(RatingCountSchema), required=True, metadata={"description": "Every rating, 1 to 5."}
    )
    suggestions = fields.List(
        fields.Nested(SuggestionCountSchema),
        required=True,
        metadata={"description": "(given, suggested) pairs that occur; no suggestion: left out."},
    )
