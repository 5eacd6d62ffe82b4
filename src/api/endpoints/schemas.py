"""marshmallow schemas: what requests may hold and what responses hold.

They validate every request (through flask-smorest) and are the OpenAPI document, so the two
cannot drift apart: every limit the code enforces is a validator the document states (apispec
turns `Length`, `Range`, `OneOf` and a validator's `regex` into maxLength, maximum, enum and
pattern). Limits that are settings (review length, batch size, page size) are read from the
running app's settings, both when validating and when the document is built (in the app's
context, `docs.Api.register_blueprint`), so the document states the configured values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
import numpy as np
from flask import current_app
from marshmallow import fields, validate, validates_schema

from brandpulse.api.settings import Settings
from brandpulse.api.storage.tables import IDEMPOTENCY_KEY_MAX, MODEL_VERSION_MAX, NAME_MAX
from brandpulse.model.legibility import REASONS

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DIGITS = re.compile(r"[+-]?[0-9]{1,18}")
CURSOR_MAX = 512  # a review list cursor (base64 of the sort, the last row's value and id) is far shorter
# Exactly the characters `str.isspace()` (and so `str.strip()`) calls blank, as a regex class that
# reads the same in Python, ECMA-262 (JSON Schema) and Rust: a `\s` would differ between them.
BLANKS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32; below it: stored as 0
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _settings() -> Settings:
    return current_app.extensions["brandpulse.settings"]


def text_pattern(non_blank: int) -> str:
    """The pattern of a text without NUL that keeps `non_blank` characters or more once stripped.

    Stripped text runs from the first to the last non-blank character, so "at least n once
    stripped" is "two non-blank characters n - 1 apart" (one, for n = 1): no lookahead needed.
    """
    mark = rf"[^\x00{BLANKS}]"
    if non_blank <= 0:
        return r"^[^\x00]*$"
    if non_blank == 1:
        return rf"^[^\x00]*{mark}[^\x00]*$"
    return rf"^[^\x00]*{mark}[^\x00]{{{non_blank - 2},}}{mark}[^\x00]*$"


class _SettingBounds:
    """Mixin for `validate.Length`/`validate.Range`: a bound given as a setting's name is read from
    the running app's settings each time it is used (validation, or building the document)."""

    def __init__(
        self, *args: Any, min_setting: str | None = None, max_setting: str | None = None, **kwargs: Any
    ) -> None:
        self._bound_settings = {"min": min_setting, "max": max_setting}
        super().__init__(*args, **kwargs)

    def _bound(self, which: str) -> Any:
        name = self._bound_settings[which]
        return getattr(_settings(), name) if name else getattr(self, f"_{which}")

    @property
    def min(self) -> Any:
        return self._bound("min")

    @min.setter
    def min(self, value: Any) -> None:
        self._min = value

    @property
    def max(self) -> Any:
        return self._bound("max")

    @max.setter
    def max(self, value: Any) -> None:
        self._max = value


class SettingLength(_SettingBounds, validate.Length):
    """`validate.Length` with bounds that may be settings (`max_setting="page_size_max"`)."""


class SettingRange(_SettingBounds, validate.Range):
    """`validate.Range` with bounds that may be settings."""


class NonBlank(validate.Validator):
    """At least `min` characters once surrounding blanks are removed (`min`: a number or a setting's
    name); documented as the equivalent `pattern`, which also states that NUL is refused."""

    error = "Must be at least {min} characters once surrounding blanks are removed."

    def __init__(self, min: int | str = 1) -> None:
        self._min = min

    @property
    def min(self) -> int:
        return getattr(_settings(), self._min) if isinstance(self._min, str) else self._min

    @property
    def regex(self) -> re.Pattern[str]:
        """What apispec documents as the field's `pattern`."""
        return re.compile(text_pattern(self.min))

    def __call__(self, value: str) -> str:
        minimum = self.min
        if len(value.strip()) < minimum:
            raise ma.ValidationError("Must not be blank." if minimum == 1 else self.error.format(min=minimum))
        return value


class Pattern(validate.Regexp):
    """A regular expression the whole value must match, documented as the pattern `^(?:...)$`
    (`$` ends the input in JSON Schema's ECMA-262 regexes; Python's also allows a final newline)."""

    def __init__(self, body: str, error: str | None = None) -> None:
        super().__init__(rf"^(?:{body})$", error=error)
        self._whole = re.compile(body)

    def __call__(self, value: str) -> str:
        if self._whole.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class _NoNul(validate.Validator):
    """Documents a text field's refusal of NUL as a `pattern` (`Text` itself checks it)."""

    regex = re.compile(text_pattern(0))

    def __call__(self, value: str) -> str:
        return value


class Text(fields.String):
    """A string without NUL characters or unpaired surrogates (neither can be stored or encoded).

    The document states the NUL rule as a `pattern` (a `NonBlank` validator's, if it has one).
    """

    default_error_messages = {
        "nul": "Must not contain NUL characters.",
        "surrogate": "Must be valid Unicode text (unpaired surrogate).",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(isinstance(validator, NonBlank) for validator in self.validators):
            self.validators.insert(0, _NoNul())

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if _SURROGATE.search(text):
            raise self.make_error("surrogate")
        return text


class StrictInteger(fields.Integer):
    """A JSON integer; never a float, a boolean or a string (a body says what it means)."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool | float | str):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class QueryInteger(fields.Integer):
    """An integer in a query string: decimal digits with an optional sign, no decimal point."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, str):
            if not _DIGITS.fullmatch(value.strip()):
                raise self.make_error("invalid", input=value)
            return int(value.strip())
        return super()._validated(value)


class Real(fields.Float):
    """A finite number stored in a REAL (float4) column: validated as sent, then rounded to the
    nearest float32, written as its shortest decimal (0.9 stays 0.9); magnitudes below the smallest
    normal float32 become 0, since PostgreSQL refuses a REAL that underflows."""

    default_error_messages = {"too_large": "Must be at most 3.4e38 in magnitude (a float32)."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        metadata = {"format": "float", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        number = super().deserialize(value, attr, data, **kwargs)
        if not isinstance(number, float):
            return number
        if abs(number) > FLOAT32_MAX:
            raise self.make_error("too_large", input=value)
        if abs(number) < FLOAT32_TINY:
            return 0.0
        return float(str(np.float32(number)))


class JsonBoolean(fields.Boolean):
    """A JSON true or false only: not 1, "yes" or "true" (a request says what it means)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class UtcDateTime(fields.DateTime):
    """ISO 8601 date-time; stored as naive UTC, read as UTC when no offset is given.

    A moment whose UTC time falls outside years 1 to 9999 (0001-01-01T00:00:00+01:00) is clamped
    to the nearest representable one: as a filter bound it means the same.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:
                moment = datetime.min if moment.year == datetime.min.year else datetime.max
        return moment

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class StrictSchema(ma.Schema):
    """Unknown fields are errors, not silently dropped."""

    class Meta:
        unknown = ma.RAISE


# ---------------------------------------------------------------- predictions


class PredictRequestSchema(StrictSchema):
    """One text to score."""

    review = Text(
        required=True,
        validate=NonBlank(1),
        metadata={
            "description": "The text to score. Longer texts are cut to the model's input length.",
            "example": "Great quality and friendly staff, I will buy again.",
        },
    )


class PredictBatchRequestSchema(StrictSchema):
    """Several texts to score at once."""

    reviews = fields.List(
        Text(validate=NonBlank(1)),
        required=True,
        validate=SettingLength(min=1, max_setting="predict_batch_max"),
        metadata={"description": "1 to PREDICT_BATCH_MAX texts, none blank."},
    )


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
    reliable = fields.Boolean(
        required=True,
        metadata={
            "description": "Whether the score is a usable suggestion. False when the text is shorter than "
            "REVIEW_MIN_LENGTH once stripped, or when most of its non-blank characters are outside the "
            "model's alphabet (English letters, digits, punctuation), which the model reads as an almost "
            "empty input, or when a text of 30 characters or more is clearly in a language other than "
            "English (the model learnt English only). The score is returned either way; a client should "
            "not suggest a rating from it."
        },
    )
    unreliable_reason = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf((*REASONS, None)),  # null in the enum too: OpenAPI 3.0 wants it with nullable
        metadata={
            "description": "Why the score is not usable: `too_short`, `outside_alphabet` or `not_english`; "
            "null when it is."
        },
    )


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
    suggested_rating = StrictInteger(
        validate=validate.Range(1, 5),
        metadata={
            "description": "The rating the model suggested to the user; required when `suggestion_shown` "
            "is true."
        },
    )
    score = Real(
        validate=validate.Range(0.0, 1.0),
        metadata={
            "description": "In [0, 1]; stored as a float32 (about 7 significant digits, under 1.2e-38: 0)."
        },
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

    # Stated in the document (docs.SchemaKeywordsPlugin): a suggestion shown must be named.
    OPENAPI_KEYWORDS = {
        "anyOf": [
            {"properties": {"suggestion_shown": {"enum": [False]}}},
            {"required": ["suggested_rating"]},
        ]
    }

    @validates_schema
    def _shown_suggestion_is_named(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("suggestion_shown") and "suggested_rating" not in data:
            raise ma.ValidationError("Required when suggestion_shown is true.", "suggested_rating")


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

    version = fields.String(required=True, metadata={"example": "small-bn+ngram-f89cf8326913"})
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

    days = QueryInteger(
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

    by = Text(load_default="admin", validate=validate.Length(min=1, max=NAME_MAX))
