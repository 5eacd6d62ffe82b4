"""Request bodies, read strictly: JSON or (for the original clients) form-encoded, else 415.

flask-smorest validates with marshmallow schemas through webargs. This parser adds what the
defaults lack for a public API: a body location `body` that takes `application/json` or
`application/x-www-form-urlencoded` and answers 415 to anything else; JSON decoded as strict
UTF-8, with every decoding failure (bad bytes, depth, huge integers) a 400 instead of a 500;
form fields decoded strictly too (webargs' form loader would replace bad bytes silently).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import MultiDict

BODY = "body"  # the location name used with `Blueprint.arguments`
BODY_ERRORS = (400, 413, 415, 429)  # what any endpoint reading a body may answer besides 422
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 1000


class BodyParser(FlaskParser):
    """webargs' Flask parser with a strict JSON-or-form body location and RAISE on unknown fields."""

    __location_map__ = {**FlaskParser.__location_map__, BODY: "load_body"}
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, BODY: None, "query": ma.RAISE}

    def load_body(self, req: Any, schema: ma.Schema) -> Any:
        """The JSON or form body of the request; 415 for any other media type."""
        if core.is_json(req.mimetype):
            return load_json_strict(req.get_data(cache=True))
        if req.mimetype == FORM:
            return self._makeproxy(load_form_strict(req.get_data(cache=True)), schema)
        abort(415, message=f"send the body as {JSON} or {FORM}")


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


def load_form_strict(body: bytes) -> MultiDict:
    """Decode a form-encoded body, refusing bytes (raw or percent-encoded) that are not UTF-8."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        abort(400, message="the form body is not valid UTF-8")
    except ValueError:
        abort(400, message=f"the form body has more than {MAX_FORM_FIELDS} fields")
    return MultiDict(pairs)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict parser; `body` is documented as JSON and form."""

    ARGUMENTS_PARSER = BodyParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        BODY: JSON,
    }

    def _prepare_arguments_doc(self, doc, doc_info, *, api, spec, **kwargs):
        parameters = (doc_info.get("arguments") or {}).get("parameters", [])
        is_body = any(isinstance(p, dict) and p.get("in") == BODY for p in parameters)
        doc = super()._prepare_arguments_doc(doc, doc_info, api=api, spec=spec, **kwargs)
        content = doc.get("requestBody", {}).get("content", {})
        if is_body and JSON in content:
            content[FORM] = dict(content[JSON])
        return doc

    def errors(self, *statuses: int):
        """Decorator documenting error statuses a view can answer (with the common error schema)."""

        def decorator(view):
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorator
