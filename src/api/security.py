"""Admin authentication and the client's address.

Admin endpoints take `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. With no
token configured they are disabled (403), never open.

The client address is the TCP peer, or, when the peer is one of TRUSTED_PROXIES (the web server,
the TLS proxy: addresses, networks or host names), the nearest address of `X-Forwarded-For` that
is not a trusted hop (`brandpulse.trusted_hops`, the rule the web server follows too). Rate limits
and the stored review's address both come from here, so a visitor who writes the header
themselves changes neither. A trusted hop's call with no `X-Forwarded-For` is its own (the web
server's brand list and admin calls): rate limits count those apart (`is_service_call`), so a
visitor can never use up the limit the web server needs for everyone.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, request
from webargs.flaskparser import abort

from brandpulse.api.settings import Settings, current_settings
from brandpulse.trusted_hops import TrustedHops, parse_address

F = TypeVar("F", bound=Callable[..., Any])
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="brandpulse-admin"'}
SECURITY_SCHEME = "AdminToken"  # its name in the OpenAPI document
EXTENSION = "brandpulse.trusted_hops"
_ORIGIN = "brandpulse.origin"  # the request's Origin, kept in its WSGI environ


def check_admin() -> None:
    """Abort with 403 (disabled or wrong token) or 401 (no bearer token) unless the caller is admin."""
    expected = current_settings().admin_token
    if not expected:
        abort(403, message="admin endpoints are disabled: the server has no ADMIN_TOKEN")
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    supplied = supplied.strip()
    if scheme.lower() != "bearer" or not supplied:
        abort(401, message="admin endpoint: send Authorization: Bearer <token>", headers=BEARER_CHALLENGE)
    if not hmac.compare_digest(supplied.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        abort(403, message="the admin token is not valid")


def admin_required(view: F) -> F:
    """Decorator: the view runs only for a caller with the admin token."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_admin()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def init_app(app: Flask, settings: Settings) -> None:
    """Build the app's trusted hops once (host names among them are resolved as they are used)."""
    app.extensions[EXTENSION] = TrustedHops(settings.trusted_proxies)


def _trusted_hops() -> TrustedHops:
    hops = current_app.extensions.get(EXTENSION)
    if hops is None:  # an app built without init_app: built on first use, once
        hops = current_app.extensions.setdefault(EXTENSION, TrustedHops(current_settings().trusted_proxies))
    return hops


@dataclass(frozen=True)
class Origin:
    """Who sent the current request: the client's address, and whether the request is a trusted
    hop's own call (the web server asking for the brand list) rather than one made for a visitor."""

    address: str | None
    service: bool


def request_origin() -> Origin:
    """The current request's `Origin`, worked out once per request.

    A trusted hop forwards a visitor's request with the visitor's address in `X-Forwarded-For`;
    one without that header is the hop's own call. Only a trusted peer can make one: an
    untrusted peer is the client, whatever it sends.
    """
    origin = request.environ.get(_ORIGIN)
    if origin is None:
        hops = _trusted_hops()
        forwarded_for = request.headers.getlist("X-Forwarded-For")
        peer = request.remote_addr
        address = hops.client_address(peer, forwarded_for)
        peer_address = parse_address(peer or "")
        service = (
            bool(hops)
            and peer_address is not None
            and not any(value.strip(" ,\t") for value in forwarded_for)
            and hops.trusts(peer_address)
        )
        origin = Origin(address, service)
        request.environ[_ORIGIN] = origin
    return origin


def client_ip() -> str | None:
    """The address of the client that sent the current request (src/trusted_hops.py's rule)."""
    return request_origin().address


def is_service_call() -> bool:
    """Whether the current request is a trusted hop's own call (no visitor behind it)."""
    return request_origin().service
