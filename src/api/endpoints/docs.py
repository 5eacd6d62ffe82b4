"""The OpenAPI document (`/api/openapi.json`) and Swagger UI (`/api/docs`), assets served locally.

The document is built when the blueprints are registered, inside the app's context, so the limits
that are settings (`field_types.SettingLength`, `NonBlank`) are stated with their configured values.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import flask_smorest
from apispec import BasePlugin
from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from brandpulse.api.endpoints.errors import http_error
from brandpulse.api.endpoints.parsing import SERVER_REFUSALS
from brandpulse.api.endpoints.schemas import ErrorSchema
from brandpulse.api.security import SECURITY_SCHEME

ASSETS_BLUEPRINT = "docs_assets"
# The HTTP server's own refusals (gunicorn's default limits), documented on every operation.
SERVER_REFUSAL_DESCRIPTIONS = {
    414: "The request line (method, path and query string) is over 4,094 bytes: the HTTP server "
    "refuses it before the app sees it, with an HTML page.",
    431: "A header is over 8,190 bytes, or there are more than 100: the HTTP server refuses the "
    "request before the app sees it, with an HTML page.",
}


class SchemaKeywordsPlugin(BasePlugin):
    """Adds a schema's `OPENAPI_KEYWORDS` (rules across fields, such as an `anyOf`) to its component."""

    def schema_helper(self, name, definition, **kwargs):
        schema = kwargs.get("schema")
        return dict(getattr(schema, "OPENAPI_KEYWORDS", None) or {})


class Api(flask_smorest.Api):
    """flask-smorest's Api with this project's error shape, in the document and in responses."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        """Render HTTP errors as `{"error": {...}}`."""
        return http_error(error)

    def register_blueprint(self, blp, **options):
        """Register a blueprint and document it in the app's context (limits read from its settings)."""
        with self._app.app_context():
            super().register_blueprint(blp, **options)


def _package_version() -> str:
    try:
        return version("brandpulse")
    except PackageNotFoundError:  # pragma: no cover, running from a source tree without metadata
        return "0.0.0"


def _assets_blueprint() -> Blueprint:
    assets = Blueprint(ASSETS_BLUEPRINT, __name__, url_prefix="/api/docs/assets")

    @assets.route("/<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    return assets


def init_app(app: Flask) -> Api:
    """Set up the OpenAPI document, Swagger UI and its local assets; return the Api."""
    app.config.update(
        API_TITLE="BrandPulse API",
        API_VERSION=_package_version(),
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="docs/assets/",  # relative to /api/docs: works under any mount point
        API_SPEC_OPTIONS={
            "info": {
                "description": "Brand reviews with live sentiment scores from a character-level CNN. "
                'Every error is `{"error": {"code", "message", "fields"?}}`. Request bodies are JSON '
                "(`application/json`); any other media type is refused with 415."
            }
        },
    )
    api = Api(app, spec_kwargs={"extra_plugins": [SchemaKeywordsPlugin()]})
    for status, name in SERVER_REFUSALS.items():
        api.spec.components.response(
            name,
            {
                "description": SERVER_REFUSAL_DESCRIPTIONS[status],
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        )
    api.spec.components.security_scheme(
        SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}
    )
    app.register_blueprint(_assets_blueprint())
    return api
