"""`/healthz` (alive), `/readyz` (database and model usable) and `/metrics` (Prometheus)."""

from __future__ import annotations

import logging

from flask import Response
from peewee import InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded

from brandpulse.api.endpoints.errors import error_response
from brandpulse.api.endpoints.parsing import Blueprint
from brandpulse.api.endpoints.schemas import HealthSchema, ReadySchema
from brandpulse.api.metrics import get_metrics
from brandpulse.api.serving.inference import ModelUnavailable, get_model
from brandpulse.api.storage.db import get_database, open_connection

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__, description="Liveness, readiness and metrics.")


@bp.route("/healthz", methods=["GET"])
@bp.response(200, HealthSchema)
def healthz() -> dict[str, str]:
    """The process is alive (checks nothing else)."""
    return {"status": "ok"}


@bp.route("/readyz", methods=["GET"])
@bp.response(200, ReadySchema)
@bp.errors(503)
def readyz() -> dict[str, object] | Response:
    """The database answers and the model is loaded (loading it if needed); 503 otherwise."""
    checks = {"database": "ok", "model": "ok"}
    try:
        open_connection()
        get_database().execute_sql("SELECT 1")
    except (OperationalError, InterfaceError, MaxConnectionsExceeded) as error:
        logger.warning("readiness: database unavailable: %s", str(error).strip())
        checks["database"] = "unavailable"
    model = get_model()
    try:
        model.get()
    except ModelUnavailable:
        checks["model"] = "unavailable"
    if any(value != "ok" for value in checks.values()):
        failed = ", ".join(name for name, value in checks.items() if value != "ok")
        return error_response(503, f"not ready: {failed} unavailable", code="not_ready", checks=checks)
    return {"status": "ready", "checks": checks, "model_version": model.version}


@bp.route("/metrics", methods=["GET"])
@bp.response(200, {"type": "string"}, content_type="text/plain", description="Prometheus text format.")
def metrics() -> Response:
    """Request counts and latencies per endpoint, prediction latency and the model version."""
    return get_metrics().render(get_model().version)
