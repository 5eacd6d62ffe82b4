"""`POST /api/predict` and `/api/predict/batch`: live scoring by the model.

Each prediction also says whether its score is a usable suggestion (`reliable`), and if not why
(`unreliable_reason`): a text shorter than `REVIEW_MIN_LENGTH`, one without a letter, one mostly
outside the model's alphabet, which the CNN sees as an almost empty input, or one clearly written
in another language than English (`brandpulse.model.legibility` explains the rule; it is the one
rule for every client). The served model's Predictor gives both, so a score and its verdict come
from one model even across a hot swap. The score is returned either way.

Each prediction also carries a `token` (`prediction_tokens.py`): the server's signature of its
score, suggested rating and model version for this very text, valid for 30 minutes. A page that
shows the suggestion sends the token back with the review, and the review is stored with these
figures: the ones the visitor saw, vouched for by the server rather than taken from the client.
"""

from __future__ import annotations

from typing import Any

from brandpulse.api import prediction_tokens
from brandpulse.api.endpoints.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.endpoints.schemas import (
    PredictBatchRequestSchema,
    PredictionBatchSchema,
    PredictionSchema,
    PredictRequestSchema,
)
from brandpulse.api.serving.inference import get_model

bp = Blueprint("predict", __name__, url_prefix="/api", description="Live sentiment scoring by the model.")


@bp.route("/predict", methods=["POST"])
@bp.arguments(PredictRequestSchema, location=BODY)
@bp.response(200, PredictionSchema)
@bp.errors(*BODY_ERRORS, 503)
def predict(args: dict[str, Any]) -> dict[str, Any]:
    """Score one review: label, class probabilities, score in [0, 1], suggested rating, whether
    the score is a usable suggestion, and a token to send back with the review."""
    return _with_tokens([args["text"]], get_model().predict([args["text"]]))[0]


@bp.route("/predict/batch", methods=["POST"])
@bp.arguments(PredictBatchRequestSchema, location=BODY)
@bp.response(200, PredictionBatchSchema)
@bp.errors(*BODY_ERRORS, 503)
def predict_batch(args: dict[str, Any]) -> dict[str, Any]:
    """Score up to PREDICT_BATCH_MAX reviews in one model call."""
    model = get_model()
    predictions = _with_tokens(args["texts"], model.predict(args["texts"]))
    return {"predictions": predictions, "model_version": predictions[0]["model_version"]}


def _with_tokens(texts: list[str], predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The predictions, each with the token of its text (new dicts: the shadow scorer may hold
    the model's own)."""
    return [
        {**prediction, "token": prediction_tokens.issue(text, prediction)}
        for text, prediction in zip(texts, predictions, strict=True)
    ]
