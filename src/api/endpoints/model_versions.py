"""`/api/models`: the model registry for admins — list versions, promote one, roll back.

A promotion or rollback changes the registry's champion; every API process picks it up within
`MODEL_POLL_SECONDS` (`inference.ModelService`), loading it off the request path. Each records
the name given (`by`) and, as `promoted_via`, the admin token and the address that used it.
"""

from __future__ import annotations

from typing import Any

from webargs.flaskparser import abort

from brandpulse.api.endpoints.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.endpoints.privacy import admin_actor
from brandpulse.api.endpoints.schemas import (
    ModelVersionListSchema,
    ModelVersionSchema,
    PromoteRequestSchema,
    SuggestionFiguresQuerySchema,
    SuggestionFiguresSchema,
)
from brandpulse.api.serving.inference import get_model
from brandpulse.api.settings import current_settings
from brandpulse.api.storage import registry, suggestion_stats
from brandpulse.api.storage.db import open_connection

bp = Blueprint("models", __name__, url_prefix="/api", description="The model registry (admin).")
bp.before_request(open_connection)


@bp.route("/models", methods=["GET"])
@bp.admin()
@bp.response(200, ModelVersionListSchema)
def list_models() -> dict[str, Any]:
    """Every registered model version, newest first, with its figures and status, and how its
    suggestions fared with visitors (`live`: reviews, share kept, mean |rating - suggestion|);
    the version this process serves, and the one a rollback would bring back (admin)."""
    live = registry.live_figures()
    rows = [{**registry.as_dict(row), "live": live.get(row.version)} for row in registry.list_versions()]
    previous = registry.previous_champion()
    return {
        "items": rows,
        "served": get_model().version,
        "rollback_to": previous.version if previous is not None else None,
    }


@bp.route("/models/suggestions", methods=["GET"])
@bp.admin()
@bp.arguments(SuggestionFiguresQuerySchema, location="query")
@bp.response(200, SuggestionFiguresSchema)
def suggestion_figures(args: dict[str, Any]) -> dict[str, Any]:
    """How visitors took each version's suggestions, per day (share kept, mean |rating - suggestion|),
    and the anchoring effect: agreement with the model with the suggestion shown and without it
    (the control group) (admin)."""
    return {"daily": suggestion_stats.daily_figures(args["days"]), "anchoring": suggestion_stats.anchoring()}


@bp.route("/models/<string(maxlength=64):version>/promote", methods=["POST"])
@bp.admin(*BODY_ERRORS, 404, 409)
@bp.arguments(PromoteRequestSchema, location=BODY, required=False)
@bp.response(200, ModelVersionSchema)
def promote(args: dict[str, Any], version: str) -> dict[str, Any]:
    """Make a registered version the champion; the API serves it within MODEL_POLL_SECONDS (admin)."""
    try:
        row = registry.promote(
            version,
            by=(args or {}).get("by", "admin"),
            via=admin_actor(),
            model_dir=current_settings().model_dir,
        )
    except registry.UnknownVersion as error:
        abort(404, message=str(error))
    except registry.RegistryError as error:
        abort(409, message=str(error))
    return registry.as_dict(row)


@bp.route("/models/rollback", methods=["POST"])
@bp.admin(*BODY_ERRORS, 409)
@bp.arguments(PromoteRequestSchema, location=BODY, required=False)
@bp.response(200, ModelVersionSchema)
def rollback(args: dict[str, Any]) -> dict[str, Any]:
    """Make the previous champion the champion again (admin)."""
    try:
        row = registry.rollback(
            by=(args or {}).get("by", "admin"), via=admin_actor(), model_dir=current_settings().model_dir
        )
    except registry.RegistryError as error:
        abort(409, message=str(error))
    return registry.as_dict(row)
