"""The OpenAPI document (`/api/openapi.json`) and Swagger UI (`/api/docs`), assets served locally."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import flask_smorest
from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from brandpulse.api.errors import http_error
from brandpulse.api.schemas import ErrorSchema
from brandpulse.api.security import SECURITY_SCHEME

ASSETS_BLUEPRINT = "docs_assets"


class Api(flask_smorest.Api):
    """flask-smorest's Api with this project's error shape, in the document and in responses."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        """Render HTTP errors as `{"error": {...}}`."""
        return http_error(error)


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
                'Every error is `{"error": {"code", "message", "fields"?}}`.'
            }
        },
    )
    api = Api(app)
    api.spec.components.security_scheme(
        SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}
    )
    app.register_blueprint(_assets_blueprint())
    return api
