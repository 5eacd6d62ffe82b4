"""Request bodies, read strictly: JSON only, else 415.

flask-smorest validates with marshmallow schemas through webargs. This parser adds what the
defaults lack for a public API: a body location `body` that takes `application/json` (and
`+json` types) and answers 415, naming the type it got, to anything else; JSON decoded as strict
UTF-8, with every decoding failure (bad bytes, depth, huge integers) a 400 instead of a 500.
Form-encoded bodies are refused: a form field cannot say whether it is a string, a number or a
list of one, so a form could pass what the documented JSON schema forbids.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from brandpulse.api.security import SECURITY_SCHEME, admin_required

BODY = "body"  # the location name used with `Blueprint.arguments`
BODY_ERRORS = (400, 413, 415, 429)  # what any endpoint reading a body may answer besides 422
ADMIN_ERRORS = (401, 403, 429, 503)  # what any admin endpoint may answer (no token, wrong token, …)
JSON = "application/json"
# What the HTTP server answers, before the app sees the request, to any operation: gunicorn's
# limits (werkzeug's server refuses the same way). Components registered by `docs.init_app`.
SERVER_REFUSALS = {414: "SERVER_URI_TOO_LONG", 431: "SERVER_HEADERS_TOO_LARGE"}


class BodyParser(FlaskParser):
    """webargs' Flask parser with a strict JSON body location and RAISE on unknown fields."""

    __location_map__ = {**FlaskParser.__location_map__, BODY: "load_body"}
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, BODY: None, "query": ma.RAISE}

    def load_body(self, req: Any, schema: ma.Schema) -> Any:
        """The JSON body of the request (`missing` when there is none); 415 for any other media type."""
        body = req.get_data(cache=True)
        if core.is_json(req.mimetype):
            return load_json_strict(body)
        if not body and not req.mimetype:
            return core.missing
        got = f"got {req.mimetype}" if req.mimetype else "no Content-Type"
        abort(415, message=f"send the body as {JSON} ({got})")


def load_json_strict(body: bytes) -> Any:
    """Decode a JSON body; an empty body is `missing`; anything undecodable aborts with 400."""
    if not body.strip():
        return core.missing
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        abort(400, message="the body is not valid UTF-8")
    except (ValueError, RecursionError):  # JSONDecodeError, integers over the digit limit, nesting
        abort(400, message="the body is not valid JSON")


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict parser; `body` is documented as JSON."""

    ARGUMENTS_PARSER = BodyParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        BODY: JSON,
    }

    def _prepare_response_doc(self, doc, doc_info, *, api, spec, **kwargs):
        """flask-smorest's response doc, plus the HTTP server's refusals (`SERVER_REFUSALS`)."""
        responses = doc_info.setdefault("response", {}).setdefault("responses", {})
        for status, name in SERVER_REFUSALS.items():
            responses.setdefault(status, [name])
        return super()._prepare_response_doc(doc, doc_info, api=api, spec=spec, **kwargs)

    def errors(self, *statuses: int):
        """Decorator documenting error statuses a view can answer (with the common error schema)."""

        def decorator(view):
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorator

    def admin(self, *statuses: int):
        """Decorator, right under `route`: the admin's view. The token is checked before anything
        else (no validation messages for callers without it), and the document states the bearer
        scheme and the admin errors (401, 403, 429, 503), plus `statuses`."""

        def decorator(view):
            view = self.errors(*sorted({*ADMIN_ERRORS, *statuses}))(view)
            view = self.doc(security=[{SECURITY_SCHEME: []}])(view)
            return admin_required(view)

        return decorator
