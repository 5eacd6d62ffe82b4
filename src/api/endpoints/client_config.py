"""`GET /api/config`: the limits a client must respect, as this API is configured.

A client (the web page first) reads them here instead of copying them: the review length bounds,
the batch size, the review list's page sizes and sort orders, and the rate limits per client
address, and how long a review keeps its personal data (the web page's privacy notice says it).
They are settings (REVIEW_MAX_LENGTH, PAGE_SIZE_MAX, ...) or the schemas' own rules, so
they change with the API's configuration and nothing else. Public, and cheap: no database.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from brandpulse.api.endpoints.parsing import Blueprint
from brandpulse.api.endpoints.review_schemas import REVIEW_SORTS, ReviewListQuerySchema
from brandpulse.api.settings import Settings, current_settings

bp = Blueprint("config", __name__, url_prefix="/api", description="What a client must respect.")


class RateLimitsSchema(ma.Schema):
    """Requests allowed per client address ("N/second|minute|hour|day", ";"-separated; "off": none)."""

    predict = fields.String(required=True, metadata={"description": "`POST /api/predict`."})
    predict_batch = fields.String(required=True, metadata={"description": "`POST /api/predict/batch`."})
    review = fields.String(required=True, metadata={"description": "`POST /api/review`."})
    default = fields.String(required=True, metadata={"description": "Every other `/api/...` endpoint."})


class ClientConfigSchema(ma.Schema):
    """The limits a client must respect, as this API is configured."""

    review_min_length = fields.Integer(
        required=True, metadata={"description": "Shortest review text, characters, blanks around removed."}
    )
    review_max_length = fields.Integer(required=True, metadata={"description": "Longest review text."})
    predict_batch_max = fields.Integer(
        required=True, metadata={"description": "Most texts per `POST /api/predict/batch`."}
    )
    page_size_default = fields.Integer(
        required=True, metadata={"description": "Reviews per page of `GET /api/reviews` without `per_page`."}
    )
    page_size_max = fields.Integer(required=True, metadata={"description": "Largest `per_page`."})
    review_sorts = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Values `sort` of `GET /api/reviews` takes; a leading '-' is descending."},
    )
    review_sort_default = fields.String(required=True, metadata={"description": "The order without `sort`."})
    rate_limits = fields.Nested(RateLimitsSchema, required=True)
    personal_data_retention_days = fields.Integer(
        required=True,
        metadata={
            "description": "Days a review keeps its IP address and user agent before they are cleared "
            "(PERSONAL_DATA_RETENTION_DAYS; docs/privacy.md)."
        },
    )


def client_config(settings: Settings) -> dict[str, Any]:
    """The values of `GET /api/config` for these settings."""
    return {
        "review_min_length": settings.review_min_length,
        "review_max_length": settings.review_max_length,
        "predict_batch_max": settings.predict_batch_max,
        "page_size_default": settings.page_size_default,
        "page_size_max": settings.page_size_max,
        "review_sorts": list(REVIEW_SORTS),
        "review_sort_default": ReviewListQuerySchema().fields["sort"].load_default,  # the schema's
        "rate_limits": {
            "predict": settings.rate_limit_predict,
            "predict_batch": settings.rate_limit_predict_batch,
            "review": settings.rate_limit_review,
            "default": settings.rate_limit_default,
        },
        "personal_data_retention_days": settings.personal_data_retention_days,
    }


@bp.route("/config", methods=["GET"])
@bp.response(200, ClientConfigSchema)
@bp.errors(429)
def get_config() -> dict[str, Any]:
    """The limits a client must respect: review length, batch and page sizes, sort orders, rate
    limits; and how long a review's personal data is kept."""
    return client_config(current_settings())
