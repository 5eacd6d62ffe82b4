"""`POST /api/predict` and `/api/predict/batch`: live scoring by the model."""

from __future__ import annotations

from typing import Any

from brandpulse.api.inference import get_model
from brandpulse.api.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.schemas import (
    PredictBatchRequestSchema,
    PredictionBatchSchema,
    PredictionSchema,
    PredictRequestSchema,
)

bp = Blueprint("predict", __name__, url_prefix="/api", description="Live sentiment scoring by the model.")


@bp.route("/predict", methods=["POST"])
@bp.arguments(PredictRequestSchema, location=BODY)
@bp.response(200, PredictionSchema)
@bp.errors(*BODY_ERRORS, 503)
def predict(args: dict[str, Any]) -> dict[str, Any]:
    """Score one review: label, class probabilities, score in [0, 1] and suggested rating."""
    return get_model().predict([args["review"]])[0]


@bp.route("/predict/batch", methods=["POST"])
@bp.arguments(PredictBatchRequestSchema, location=BODY)
@bp.response(200, PredictionBatchSchema)
@bp.errors(*BODY_ERRORS, 503)
def predict_batch(args: dict[str, Any]) -> dict[str, Any]:
    """Score up to PREDICT_BATCH_MAX reviews in one model call."""
    model = get_model()
    predictions = model.predict(args["reviews"])
    return {"predictions": predictions, "model_version": model.version}
