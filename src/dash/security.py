"""What the web server's answers tell the browser about trust, and how large a request it reads.

Every answer carries a Content-Security-Policy: scripts only from this server, plus Dash's own
inline scripts by their hashes (`Dash.csp_hashes()`: the renderer's start and the clientside
functions), so an injected `<script>` or event handler would not run; data and callbacks go only
back to this server (`connect-src 'self'`); no plugins, no `<base>`, forms post here only. No
'unsafe-eval': nothing on the pages needs it (Chromium reports no violation, tests/dash/
test_security.py). Styles allow 'unsafe-inline': Dash's renderer and core components add their
CSS as `<style>` elements at run time (each blocked without it, in Chromium), and a style cannot
run code. Pages cannot be framed (`frame-ancestors 'none'`, and `X-Frame-Options: DENY`
for older browsers), so no other site can overlay the admin page's buttons (click-jacking).

The request body limit (`WEB_MAX_CONTENT_LENGTH`, Flask's MAX_CONTENT_LENGTH) bounds what one
callback may make this server read and parse: the largest callback body the pages send is a
review at the API's longest (a few KiB of JSON); a larger one is answered 413 before it is read.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from brandpulse.dash.settings import WebSettings

logger = logging.getLogger(__name__)

# Every directive but script-src, whose hashes depend on the app's inline scripts.
POLICY = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # the admin page's address never goes to a brand's website
    "Cross-Origin-Opener-Policy": "same-origin",
}
TOO_LARGE = "The request is too large for this server."


def content_security_policy(app: dash.Dash) -> str:
    """The policy for `app`: POLICY, with script-src naming the hashes of its inline scripts.

    Asked per answer, not once: Dash takes clientside callbacks registered at any time into its
    inline scripts, and hashing a few short scripts costs microseconds.
    """
    scripts = " ".join(["'self'", *app.csp_hashes()])
    return "; ".join([POLICY[0], f"script-src {scripts}", *POLICY[1:]])


def too_large(error: RequestEntityTooLarge) -> tuple[dict[str, Any], int]:
    """A body over WEB_MAX_CONTENT_LENGTH: 413 with a JSON error, as the API writes them."""
    logger.warning("refused a %s-byte body to %s: over the limit", request.content_length, request.path)
    return {"error": {"code": "payload_too_large", "message": TOO_LARGE}}, 413


def init_app(app: dash.Dash, settings: WebSettings) -> None:
    """Bound request bodies and add the security headers to every answer of `app`'s server."""
    server: Flask = app.server
    server.config["MAX_CONTENT_LENGTH"] = settings.web_max_content_length
    server.register_error_handler(RequestEntityTooLarge, too_large)

    @server.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = content_security_policy(app)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
