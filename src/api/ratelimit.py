"""Rate limits per endpoint and client address, with the `limits` library (flask-limiter's core).

`RATE_LIMIT_PREDICT`, `RATE_LIMIT_PREDICT_BATCH` and `RATE_LIMIT_REVIEW` limit their endpoints;
`RATE_LIMIT_DEFAULT` limits every other API endpoint (health, readiness, metrics and the docs are
exempt). A value like "120/minute" or "10/second;1000/day"; `off` disables the limit (an empty
value means the default, as for every setting).
Over a limit the answer is 429 with `Retry-After`.

Who is counted: the client's network, `pseudonyms.client_network(security.client_ip())`: an IPv4
address, or the /64 of an IPv6 address (one subscriber holds a whole /64 and can pick a fresh
address in it for every request). The address comes from TRUSTED_PROXIES' rule only, so a visitor
who writes `X-Forwarded-For` themselves is still counted as themselves. A trusted hop's own calls
(the web server's brand list and admin calls, sent with no `X-Forwarded-For`) are counted in a
scope of their own against `RATE_LIMIT_SERVICE` (default 6000/minute) instead of the endpoint's
limit: they serve every visitor, so no visitor's requests may use up their allowance, and a
visitor's limit low enough to stop one person must not stop the page for all.

Where hits are counted: `RATE_LIMIT_STORAGE_URI`. The default, `memory://`, counts per process, so
each gunicorn worker (and each replica) allows the full limit. `redis://host:6379/<db>` counts in
Redis, shared by every worker and replica (keys under `brandpulse:`, expiring with their window).
An unreachable Redis fails open: the request is served unlimited, the outage is logged once (and
its end), and Redis is not asked again for `STORAGE_RETRY_SECONDS`, so requests do not each wait
for a timeout. Rate limits protect the service; they are not worth refusing it for.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading
import time
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import SCHEMES, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from webargs.flaskparser import abort

from brandpulse.api.pseudonyms import client_network
from brandpulse.api.security import request_origin
from brandpulse.api.settings import RATE_LIMIT_OFF, Settings, SettingsError

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.ratelimit"
REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")
REDIS_KEY_PREFIX = "brandpulse"
# Seconds a Redis command may take (query parameters of the URI override them): a stuck Redis
# costs a request at most this once per STORAGE_RETRY_SECONDS.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
STORAGE_RETRY_SECONDS = 5.0
# Endpoints (blueprint.function) with their own limit; the settings field that holds it.
ENDPOINT_LIMITS = {
    "predict.predict": "rate_limit_predict",
    "predict.predict_batch": "rate_limit_predict_batch",
    "reviews.create_review": "rate_limit_review",
}
EXEMPT_BLUEPRINTS = frozenset({"health", "api-docs", "docs_assets"})
SERVICE_SCOPE = "service"  # a trusted hop's own calls, whatever the endpoint


def _parse(value: str, name: str) -> tuple[RateLimitItem, ...]:
    if value.strip().lower() in ("", RATE_LIMIT_OFF):
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError:
        raise SettingsError(f"{name.upper()}: {value!r} is not a rate limit such as '120/minute'") from None


def _check_storage_uri(uri: str) -> None:
    """Fail at start, not at the first request, on a storage `limits` cannot use."""
    scheme = urlparse(uri).scheme
    if scheme not in SCHEMES:
        raise SettingsError(f"RATE_LIMIT_STORAGE_URI: {uri!r} is not memory:// or redis://host:6379/<db>")
    if scheme in REDIS_SCHEMES and importlib.util.find_spec("redis") is None:
        raise SettingsError("RATE_LIMIT_STORAGE_URI: redis:// needs the `redis` package (the api extra)")


def _storage_options(uri: str) -> dict[str, Any]:
    options: dict[str, Any] = {"wrap_exceptions": True}  # any storage failure is a StorageError
    if urlparse(uri).scheme in REDIS_SCHEMES:
        options.update(REDIS_TIMEOUTS, key_prefix=REDIS_KEY_PREFIX)
    return options


class RateLimiter:
    """The app's limits and the storage counting hits (created lazily in each process)."""

    def __init__(self, settings: Settings) -> None:
        self.storage_uri = settings.rate_limit_storage_uri
        _check_storage_uri(self.storage_uri)
        self.default = _parse(settings.rate_limit_default, "rate_limit_default")
        self.service = _parse(settings.rate_limit_service, "rate_limit_service")
        self.by_endpoint = {
            endpoint: _parse(getattr(settings, field), field) for endpoint, field in ENDPOINT_LIMITS.items()
        }
        self._strategy: SlidingWindowCounterRateLimiter | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._unavailable_until: float | None = None  # monotonic time; None while the storage answers

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        # A storage made before gunicorn forks would be shared by nobody: make one per process.
        with self._lock:
            if self._strategy is None or self._pid != os.getpid():
                storage: Storage = storage_from_string(self.storage_uri, **_storage_options(self.storage_uri))
                self._strategy = SlidingWindowCounterRateLimiter(storage)
                self._pid = os.getpid()
            return self._strategy

    def check(self) -> None:
        """Count the current request; abort with 429 when a limit is exceeded."""
        if request.blueprint in EXEMPT_BLUEPRINTS or request.endpoint is None:
            return
        origin = request_origin()
        if origin.service:
            items, scope = self.service, SERVICE_SCOPE
        elif request.endpoint in self.by_endpoint:
            items, scope = self.by_endpoint[request.endpoint], request.endpoint
        else:
            items, scope = self.default, "default"
        if not items or self._storage_down():
            return
        limiter = self._limiter()
        key = client_network(origin.address) or "unknown"
        for item in items:
            try:
                allowed = limiter.hit(item, scope, key)
                reset = None if allowed else limiter.get_window_stats(item, scope, key).reset_time
            except StorageError as error:
                self._storage_failed(error)
                return  # fail open
            self._storage_answered()
            if reset is not None:
                retry_after = max(1, math.ceil(reset - time.time()))
                abort(
                    429,
                    message=f"rate limit exceeded ({item}); retry in {retry_after} s",
                    headers={"Retry-After": str(retry_after)},
                )

    def _storage_down(self) -> bool:
        """Whether the storage failed less than STORAGE_RETRY_SECONDS ago (requests go unlimited)."""
        until = self._unavailable_until
        return until is not None and time.monotonic() < until

    def _storage_failed(self, error: StorageError) -> None:
        with self._lock:
            first = self._unavailable_until is None
            self._unavailable_until = time.monotonic() + STORAGE_RETRY_SECONDS
        if first:
            logger.error(
                "rate limit storage %s is unavailable (%s): requests are not rate limited until it "
                "answers again (retried every %g s)",
                _redacted(self.storage_uri),
                error.storage_error,
                STORAGE_RETRY_SECONDS,
            )

    def _storage_answered(self) -> None:
        if self._unavailable_until is not None:
            with self._lock:
                self._unavailable_until = None
            logger.warning("rate limit storage %s answers again: limits apply", _redacted(self.storage_uri))


def _redacted(uri: str) -> str:
    """The URI without its password, for logs."""
    parsed = urlparse(uri)
    if parsed.password is None:
        return uri
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()


def _check() -> None:
    current_app.extensions[EXTENSION].check()


def init_app(app: Flask, settings: Settings) -> None:
    """Check the rate limits before every request."""
    app.extensions[EXTENSION] = RateLimiter(settings)
    app.before_request(_check)
