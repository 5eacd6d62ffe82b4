"""marshmallow schemas of predictions, brands, statistics, health, errors and model versions:
what requests may hold and what responses hold (the reviews' are in review_schemas.py).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, post_load, validate

from brandpulse.api.endpoints.field_types import (
    NonBlank,
    QueryInteger,
    SettingLength,
    StrictSchema,
    Text,
)
from brandpulse.api.storage.tables import NAME_MAX
from brandpulse.model.legibility import REASONS

# ---------------------------------------------------------------- predictions


def _one_of(data: dict[str, Any], name: str, alias: str) -> dict[str, Any]:
    """`data` with the deprecated `alias` read as `name`; exactly one of the two must be sent."""
    if name in data and alias in data:
        raise ma.ValidationError(f"Send `{name}` only (`{alias}` is its deprecated name).", alias)
    if alias in data:
        data[name] = data.pop(alias)
    if name not in data:
        raise ma.ValidationError("Missing data for required field.", name)
    return data


class PredictRequestSchema(StrictSchema):
    """One text to score."""

    text = Text(
        validate=NonBlank(1),
        metadata={
            "description": "The text to score (required). Longer texts are cut to the model's input length.",
            "example": "Great quality and friendly staff, I will buy again.",
        },
    )
    review = Text(
        validate=NonBlank(1),
        metadata={
            "description": "Deprecated: the former name of `text`, still accepted; send one of the two.",
            "deprecated": True,
        },
    )

    # Stated in the document (docs.SchemaKeywordsPlugin): one of the two names, not both.
    OPENAPI_KEYWORDS = {"oneOf": [{"required": ["text"]}, {"required": ["review"]}]}

    @post_load
    def _text(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return _one_of(data, "text", "review")


class PredictBatchRequestSchema(StrictSchema):
    """Several texts to score at once."""

    texts = fields.List(
        Text(validate=NonBlank(1)),
        validate=SettingLength(min=1, max_setting="predict_batch_max"),
        metadata={"description": "1 to PREDICT_BATCH_MAX texts, none blank (required)."},
    )
    reviews = fields.List(
        Text(validate=NonBlank(1)),
        validate=SettingLength(min=1, max_setting="predict_batch_max"),
        metadata={
            "description": "Deprecated: the former name of `texts`, still accepted; send one of the two.",
            "deprecated": True,
        },
    )

    OPENAPI_KEYWORDS = {"oneOf": [{"required": ["texts"]}, {"required": ["reviews"]}]}

    @post_load
    def _texts(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return _one_of(data, "texts", "reviews")


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
            "description": "Why the score is not usable: `too_short`, `no_letters`, `outside_alphabet` or "
            "`not_english`; "
            "null when it is."
        },
    )
    token = fields.String(
        required=True,
        metadata={
            "description": "The server's signature of this score, suggested rating and model version for "
            "this text, valid for 30 minutes: send it back as the review's `prediction_token` (with the "
            "same text), and the review is stored with these figures, the ones the visitor saw."
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


# ---------------------------------------------------------------- statistics


class StatsRowSchema(ma.Schema):
    """Counts and means of a set of reviews."""

    count = fields.Integer(required=True)
    mean_rating = fields.Float(allow_none=True)
    mean_score = fields.Float(allow_none=True)
    agreement = fields.Float(
        allow_none=True,
        metadata={
            "description": "The share of suggestions kept: of the reviews whose visitor saw the "
            "suggested rating, those that gave exactly that rating (null: none saw one)."
        },
    )
    mean_abs_error = fields.Float(
        allow_none=True,
        metadata={"description": "Mean |rating - suggestion| in stars, over the same reviews."},
    )
    rated_with_suggestion = fields.Integer(
        required=True,
        metadata={
            "description": "Reviews whose visitor saw a suggested rating: the base of `agreement` "
            "and `mean_abs_error`, the sum of the model versions' `live.reviews`."
        },
    )
    kept = fields.Integer(
        required=True,
        metadata={"description": "Of those, the reviews rated exactly as suggested (agreement's numerator)."},
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
    data_fingerprint = fields.String(
        allow_none=True, metadata={"description": "SHA-256 of the very rows it learnt from."}
    )
    corpus_fingerprint = fields.String(
        allow_none=True,
        metadata={
            "description": "SHA-256 of the corpus rows its data descends from (a retrained version: "
            "its parent's corpus; it also learnt from the stored reviews `counts` names)."
        },
    )
    counts = fields.Dict(
        allow_none=True,
        metadata={
            "description": "A retrained version's data: stored reviews usable and dropped (by reason), "
            "held out as `recent`, rows by origin (`base`, `feedback`) in `train` and `validation`, "
            "`fixed_test` rows. Null: registered from a file."
        },
    )
    metrics = fields.Dict(
        allow_none=True,
        metadata={
            "description": "What retrain measured: `recent`, `fixed`, `fixed_at_champion_rates` (this "
            "version), `champion` (its parent on the same rows), `gate` (`promote`, `reason`); and "
            "`rating_mix`."
        },
    )
    reason = fields.String(
        allow_none=True, metadata={"description": "Why it has its status (the last decision)."}
    )
    created_at = fields.String(required=True, metadata={"description": "When it was registered."})
    promoted_at = fields.String(allow_none=True, metadata={"description": "When it last became champion."})
    promoted_by = fields.String(
        allow_none=True, metadata={"description": "The name given by whoever promoted it."}
    )
    promoted_via = fields.String(
        allow_none=True,
        metadata={
            "description": "How: `admin token from <address>` (the admin endpoints), `command (flask "
            "model promote)` or `… rollback)`, `retrain (the gate)`, `install (db upgrade)`."
        },
    )


class LiveFiguresSchema(ma.Schema):
    """How a version's suggestions fared with the visitors who saw them."""

    reviews = fields.Integer(
        required=True,
        metadata={"description": "Stored reviews whose visitor saw its suggestion (the figures' base)."},
    )
    kept = fields.Integer(required=True, metadata={"description": "Reviews rated exactly as suggested."})
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
    rollback_to = fields.String(
        allow_none=True,
        metadata={"description": "The version `POST /api/models/rollback` would make the champion."},
    )


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
    kept = fields.Integer(required=True, metadata={"description": "Reviews rated exactly as suggested."})
    kept_suggestion = fields.Float(required=True, metadata={"description": "Share that kept the suggestion."})
    mean_abs_error = fields.Float(required=True, metadata={"description": "Mean |rating - suggestion|."})


class AnchoringSchema(ma.Schema):
    """Agreement with the model's suggestion with it shown, or not (the control group)."""

    version = fields.String(allow_none=True, metadata={"description": "null: every version together."})
    suggestion_shown = fields.Boolean(required=True)
    reviews = fields.Integer(required=True)
    kept = fields.Integer(required=True, metadata={"description": "Reviews rated exactly as suggested."})
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
