"""One JSON shape for every error: `{"error": {"code", "message", "fields"?}}`.

HTTP errors (werkzeug's and the `abort` of webargs/flask-smorest, which carries validation
messages) keep their status. An unreachable database or model is 503. Anything else is a bug:
500, logged with its traceback, which never reaches the response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from peewee import InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException

from brandpulse.api.serving.batching import Overloaded
from brandpulse.api.serving.inference import ModelUnavailable

logger = logging.getLogger(__name__)

# Stable machine-readable codes; other statuses use the lower-cased status name.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
MESSAGES = {
    400: "the request could not be understood",
    401: "authentication required",
    403: "not allowed",
    404: "no such resource",
    405: "method not allowed for this resource",
    413: "request body too large",
    415: "send the body as application/json",
    422: "invalid input",
    429: "too many requests",
    500: "internal error",
    503: "service unavailable",
}


def error_response(
    status: int,
    message: str | None = None,
    fields: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    **extra: Any,
) -> Response:
    """A JSON error response."""
    body: dict[str, Any] = {
        "code": code or CODES.get(status, HTTPStatus(status).name.lower()),
        "message": message or MESSAGES.get(status, HTTPStatus(status).phrase),
    }
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body, **extra})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages: Mapping[str, Any]) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {"rating": [...]}}); drop that level."""
    fields: dict[str, Any] = {}
    for location, value in messages.items():
        if isinstance(value, Mapping) and location in (
            "body",
            "json",
            "form",
            "json_or_form",
            "query",
            "view_args",
            "headers",
        ):
            fields.update(value)
        else:
            fields[location] = value
    return fields


def http_error(error: HTTPException) -> Response:
    """Render an HTTPException (with the data `abort` attached, if any)."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    fields = _flatten(messages) if isinstance(messages, Mapping) else None
    message = data.get("message")
    if message is None and status == 422 and fields:
        message = "invalid input: see fields"
    headers = dict(data.get("headers") or {})
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            headers.setdefault(name, value)
    if status >= 500:
        logger.error("HTTP %d: %s", status, error.description)
    return error_response(status, message, fields, headers)


def _database_unavailable(error: Exception) -> Response:
    logger.warning("database unavailable: %s", str(error).strip() or type(error).__name__)
    return error_response(503, "the database is unavailable; try again shortly", headers={"Retry-After": "5"})


def _model_unavailable(error: ModelUnavailable) -> Response:
    return error_response(503, "the model is unavailable; try again shortly", headers={"Retry-After": "10"})


def _overloaded(error: Overloaded) -> Response:
    return error_response(
        503,
        "too many predictions are waiting; try again shortly",
        code="overloaded",
        headers={"Retry-After": str(error.retry_after)},
    )


def _unexpected(error: Exception) -> Response:
    logger.exception("unhandled error")
    return error_response(500)


def init_app(app: Flask) -> None:
    """Register the handlers (HTTP errors themselves go through `http_error` via the Api class)."""
    app.register_error_handler(HTTPException, http_error)
    for kind in (OperationalError, InterfaceError, MaxConnectionsExceeded):
        app.register_error_handler(kind, _database_unavailable)
    app.register_error_handler(ModelUnavailable, _model_unavailable)
    app.register_error_handler(Overloaded, _overloaded)
    app.register_error_handler(Exception, _unexpected)
