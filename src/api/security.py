"""Admin authentication and the client's address.

Admin endpoints take `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. With no
token configured they are disabled (403), never open. The client address is the TCP peer, or,
when the peer is a configured trusted proxy, the nearest untrusted address of `X-Forwarded-For`.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import request
from webargs.flaskparser import abort

from brandpulse.api.settings import current_settings

F = TypeVar("F", bound=Callable[..., Any])
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="brandpulse-admin"'}
SECURITY_SCHEME = "AdminToken"  # its name in the OpenAPI document


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


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip() -> str | None:
    """The address of the client that sent the current request."""
    remote = request.remote_addr
    trusted = _networks(current_settings().trusted_proxies)
    peer = _address(remote or "")
    if peer is None or not trusted or not any(peer in network for network in trusted):
        return remote
    hops = [hop for header in request.headers.getlist("X-Forwarded-For") for hop in header.split(",")]
    address = None
    for hop in reversed(hops):  # nearest first: each trusted proxy appended the address it saw
        address = _address(hop)
        if address is None:
            return remote  # a garbled chain is not evidence of anything
        if not any(address in network for network in trusted):
            return str(address)
    return str(address) if address is not None else remote  # every hop is trusted: the first one
