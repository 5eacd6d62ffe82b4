"""marshmallow schemas: what requests may hold and what responses hold.

They validate every request (through flask-smorest) and are the OpenAPI document, so the two
cannot drift apart. Limits that depend on the settings (review length, batch size, page size)
are checked against the running app's settings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate, validates, validates_schema

from brandpulse.api.models import MODEL_VERSION_MAX, NAME_MAX
from brandpulse.api.settings import Settings

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DIGITS = re.compile(r"[+-]?[0-9]{1,18}")


def _settings() -> Settings:
    return current_app.extensions["brandpulse.settings"]


class Text(fields.String):
    """A string without NUL characters or unpaired surrogates (neither can be stored or encoded)."""

    default_error_messages = {
        "nul": "Must not contain NUL characters.",
        "surrogate": "Must be valid Unicode text (unpaired surrogate).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if _SURROGATE.search(text):
            raise self.make_error("surrogate")
        return text


class StrictInteger(fields.Integer):
    """An integer given as a JSON integer or a string of digits; never a float or a boolean."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or isinstance(value, float):
            raise self.make_error("invalid", input=value)
        if isinstance(value, str):
            if not _DIGITS.fullmatch(value.strip()):
                raise self.make_error("invalid", input=value)
            return int(value.strip())
        return super()._validated(value)


class JsonBoolean(fields.Boolean):
    """A JSON true or false only: not 1, "yes" or "true" (a request says what it means)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class UtcDateTime(fields.DateTime):
    """ISO 8601 date-time; stored as naive UTC, read as UTC when no offset is given."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _not_blank(value: str) -> None:
    if not value or value.isspace():
        raise ma.ValidationError("Must not be blank.")


class StrictSchema(ma.Schema):
    """Unknown fields are errors, not silently dropped."""

    class Meta:
        unknown = ma.RAISE


# ---------------------------------------------------------------- predictions


class PredictRequestSchema(StrictSchema):
    """One text to score."""

    review = Text(
        required=True,
        validate=_not_blank,
        metadata={
            "description": "The text to score. Longer texts are cut to the model's input length.",
            "example": "Great quality and friendly staff, I will buy again.",
        },
    )


class PredictBatchRequestSchema(StrictSchema):
    """Several texts to score at once."""

    reviews = fields.List(
        Text(validate=_not_blank),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "1 to PREDICT_BATCH_MAX texts (default 32)."},
    )

    @validates("reviews")
    def _at_most_batch_max(self, value: list[str], data_key: str) -> None:
        limit = _settings().predict_batch_max
        if len(value) > limit:
            raise ma.ValidationError(f"At most {limit} texts per request.")


class PredictionSchema(ma.Schema):
    """The model's reading of one text."""

    score = fields.Float(
        required=True,
        metadata={
            "description": "Satisfaction in [0, 1], rising with it: the expected position of the class "
            "probabilities, classes ordered worst (0) to best (1)."
        },
    )
    label = fields.String(
        required=True,
        metadata={"description": "The most probable class (the bundled model's: 1 star ... 5 stars)."},
    )
    probabilities = fields.Dict(
        keys=fields.String(), values=fields.Float(), required=True, metadata={"description": "Class -> p."}
    )
    suggested_rating = fields.Integer(
        required=True,
        metadata={
            "description": "1-5 stars, rising with the score: the score cut at the model's rating cut "
            "points (fitted on its validation rows; by default 1 + round(4 * score))."
        },
    )
    model_version = fields.String(required=True)


class PredictionBatchSchema(ma.Schema):
    """The model's reading of several texts, in request order."""

    predictions = fields.List(fields.Nested(PredictionSchema), required=True)
    model_version = fields.String(required=True)


# ---------------------------------------------------------------- brands


class BrandSchema(ma.Schema):
    """A brand."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    website = fields.String(allow_none=True)
    logo_url = fields.String(allow_none=True)


class BrandListSchema(ma.Schema):
    """Every brand, by name."""

    items = fields.List(fields.Nested(BrandSchema), required=True)
    total = fields.Integer(required=True)


class RandomBrandQuerySchema(StrictSchema):
    """Which brand not to suggest."""

    exclude = Text(validate=validate.Length(max=NAME_MAX), metadata={"description": "A brand name to skip."})


# ---------------------------------------------------------------- reviews


class ReviewCreateSchema(StrictSchema):
    """A new review. The server computes `score` and `suggested_rating` when they are absent."""

    text = Text(
        required=True,
        metadata={
            "description": "The review, REVIEW_MIN_LENGTH to REVIEW_MAX_LENGTH characters once surrounding "
            "blanks are removed (default 15 to 10,000).",
            "example": "The shoes are comfortable and arrived quickly. Very happy!",
        },
    )
    rating = StrictInteger(
        required=True, validate=validate.Range(1, 5), metadata={"description": "1-5 stars."}
    )
    brand = Text(
        required=True, validate=validate.Length(1, NAME_MAX), metadata={"description": "Brand name."}
    )
    suggested_rating = StrictInteger(
        validate=validate.Range(1, 5), metadata={"description": "The rating the model suggested to the user."}
    )
    score = fields.Float(
        allow_nan=False, validate=validate.Range(0.0, 1.0), metadata={"description": "In [0, 1]."}
    )
    model_version = Text(
        validate=validate.Length(1, MODEL_VERSION_MAX),
        metadata={"description": "The model that produced a supplied score."},
    )
    suggestion_shown = JsonBoolean(
        metadata={
            "description": "Whether the visitor saw `suggested_rating` before rating (false: the control "
            "group, shown no suggestion). The server records whether the rating differs from it."
        },
    )

    @validates("text")
    def _length(self, value: str, data_key: str) -> None:
        settings = _settings()
        length = len(value.strip())
        if length < settings.review_min_length:
            raise ma.ValidationError(f"Must be at least {settings.review_min_length} characters.")
        if length > settings.review_max_length:
            raise ma.ValidationError(f"Must be at most {settings.review_max_length} characters.")


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
    rating = StrictInteger(validate=validate.Range(1, 5))
    since = UtcDateTime(metadata={"description": "Created at or after (ISO 8601; UTC without offset)."})
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

    sort = Text(
        load_default="-created_at",
        validate=validate.OneOf(REVIEW_SORTS),
        metadata={
            "description": "Order: created_at, rating, suggested_rating, score or brand; "
            "a leading '-' sorts descending (default -created_at, newest first)."
        },
    )
    page = StrictInteger(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = StrictInteger(
        validate=validate.Range(min=1), metadata={"description": "Page size, at most PAGE_SIZE_MAX (100)."}
    )

    @validates("per_page")
    def _at_most_max(self, value: int, data_key: str) -> None:
        limit = _settings().page_size_max
        if value > limit:
            raise ma.ValidationError(f"At most {limit}.")


class ReviewPageSchema(ma.Schema):
    """One page of reviews, in the order asked for (newest first by default)."""

    items = fields.List(fields.Nested(AdminReviewSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "Reviews matching the filters."})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


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


# ---------------------------------------------------------------- statistics


class StatsRowSchema(ma.Schema):
    """Counts and means of a set of reviews."""

    count = fields.Integer(required=True)
    mean_rating = fields.Float(allow_none=True)
    mean_score = fields.Float(allow_none=True)
    agreement = fields.Float(
        allow_none=True,
        metadata={"description": "Share of reviews whose rating equals the suggested rating."},
    )
    rated_with_suggestion = fields.Integer(
        required=True, metadata={"description": "Reviews that have a suggested rating (agreement's base)."}
    )


class BrandStatsSchema(StatsRowSchema):
    """Statistics of one brand."""

    brand = fields.String(required=True)


class StatsSchema(ma.Schema):
    """Statistics overall and per brand."""

    overall = fields.Nested(StatsRowSchema, required=True)
    brands = fields.List(fields.Nested(BrandStatsSchema), required=True)


# ---------------------------------------------------------------- health and errors


class HealthSchema(ma.Schema):
    """The process is alive."""

    status = fields.String(required=True)


class ReadySchema(ma.Schema):
    """Database and model are usable."""

    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    model_version = fields.String(allow_none=True)


class ErrorBodySchema(ma.Schema):
    """What went wrong."""

    code = fields.String(required=True, metadata={"description": "Machine-readable, e.g. validation_error."})
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields", metadata={"description": "Per-field messages (validation errors only)."}
    )


class ErrorSchema(ma.Schema):
    """Every error response."""

    error = fields.Nested(ErrorBodySchema, required=True)


class ModelVersionSchema(ma.Schema):
    """One model of the registry."""

    version = fields.String(required=True, metadata={"example": "small-bn+ngram-4b8dfaf64fed"})
    parent = fields.String(allow_none=True, metadata={"description": "The version it was trained from."})
    status = fields.String(
        required=True, metadata={"description": "champion (served), candidate, rejected or retired."}
    )
    file = fields.String(required=True, metadata={"description": "Checkpoint path (relative: to MODEL_DIR)."})
    sha256 = fields.String(required=True)
    data_fingerprint = fields.String(allow_none=True)
    counts = fields.Dict(allow_none=True, metadata={"description": "Rows trained on and filtered."})
    metrics = fields.Dict(allow_none=True, metadata={"description": "Figures on the test sets."})
    reason = fields.String(allow_none=True, metadata={"description": "Why it has its status."})
    created_at = fields.String(required=True)
    promoted_at = fields.String(allow_none=True)
    promoted_by = fields.String(allow_none=True)


class LiveFiguresSchema(ma.Schema):
    """How a version's suggestions fared with the visitors who saw them."""

    reviews = fields.Integer(required=True, metadata={"description": "Stored reviews it suggested for."})
    kept_suggestion = fields.Float(
        required=True, metadata={"description": "Share whose rating equals the suggestion."}
    )
    mean_abs_error = fields.Float(required=True, metadata={"description": "Mean |rating - suggestion|."})


class ModelVersionListItemSchema(ModelVersionSchema):
    """A registry row with its live figures (null before any review)."""

    live = fields.Nested(LiveFiguresSchema, allow_none=True)


class ModelVersionListSchema(ma.Schema):
    """The registry, newest first, and the version this API process serves."""

    items = fields.List(fields.Nested(ModelVersionListItemSchema), required=True)
    served = fields.String(allow_none=True, metadata={"description": "The version this process serves."})


class SuggestionFiguresQuerySchema(StrictSchema):
    """How far back the daily figures go."""

    days = StrictInteger(
        load_default=30, validate=validate.Range(1, 366), metadata={"description": "Days back, 1 to 366."}
    )


class DailySuggestionFiguresSchema(ma.Schema):
    """One model version's suggestions on one day (visitors who saw them)."""

    version = fields.String(required=True)
    day = fields.Date(required=True)
    reviews = fields.Integer(required=True)
    kept_suggestion = fields.Float(required=True, metadata={"description": "Share that kept the suggestion."})
    mean_abs_error = fields.Float(required=True, metadata={"description": "Mean |rating - suggestion|."})


class AnchoringSchema(ma.Schema):
    """Agreement with the model's suggestion with it shown, or not (the control group)."""

    version = fields.String(allow_none=True, metadata={"description": "null: every version together."})
    suggestion_shown = fields.Boolean(required=True)
    reviews = fields.Integer(required=True)
    kept_suggestion = fields.Float(
        required=True, metadata={"description": "Share whose rating equals the model's suggestion."}
    )
    mean_abs_error = fields.Float(required=True, metadata={"description": "Mean |rating - suggestion|."})


class SuggestionFiguresSchema(ma.Schema):
    """How visitors took the suggestions: per version and day, and the anchoring effect."""

    daily = fields.List(fields.Nested(DailySuggestionFiguresSchema), required=True)
    anchoring = fields.List(fields.Nested(AnchoringSchema), required=True)


class PromoteRequestSchema(StrictSchema):
    """Who promotes (recorded in the registry)."""

    by = fields.String(load_default="admin", validate=validate.Length(min=1, max=200))
