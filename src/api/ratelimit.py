"""Rate limits per endpoint and client address, with the `limits` library (flask-limiter's core).

`RATE_LIMIT_PREDICT`, `RATE_LIMIT_PREDICT_BATCH` and `RATE_LIMIT_REVIEW` limit their endpoints;
`RATE_LIMIT_DEFAULT` limits every other API endpoint (health, readiness, metrics and the docs are
exempt). A value like "120/minute" or "10/second;1000/day"; an empty value disables the limit.
Over a limit the answer is 429 with `Retry-After`. The default storage (`memory://`) counts per
process; give several workers a shared one (`RATE_LIMIT_STORAGE_URI=redis://…`) to count across.
"""

from __future__ import annotations

import math
import os
import threading
import time

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from webargs.flaskparser import abort

from brandpulse.api.security import client_ip
from brandpulse.api.settings import Settings, SettingsError

EXTENSION = "brandpulse.ratelimit"
# Endpoints (blueprint.function) with their own limit; the settings field that holds it.
ENDPOINT_LIMITS = {
    "predict.predict": "rate_limit_predict",
    "predict.predict_batch": "rate_limit_predict_batch",
    "reviews.create_review": "rate_limit_review",
}
EXEMPT_BLUEPRINTS = frozenset({"health", "api-docs", "docs_assets"})


def _parse(value: str, name: str) -> tuple[RateLimitItem, ...]:
    if not value.strip():
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError:
        raise SettingsError(f"{name.upper()}: {value!r} is not a rate limit such as '120/minute'") from None


class RateLimiter:
    """The app's limits and the storage counting hits (created lazily in each process)."""

    def __init__(self, settings: Settings) -> None:
        self.storage_uri = settings.rate_limit_storage_uri
        self.default = _parse(settings.rate_limit_default, "rate_limit_default")
        self.by_endpoint = {
            endpoint: _parse(getattr(settings, field), field) for endpoint, field in ENDPOINT_LIMITS.items()
        }
        self._strategy: SlidingWindowCounterRateLimiter | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        # A storage made before gunicorn forks would be shared by nobody: make one per process.
        with self._lock:
            if self._strategy is None or self._pid != os.getpid():
                storage: Storage = storage_from_string(self.storage_uri)
                self._strategy = SlidingWindowCounterRateLimiter(storage)
                self._pid = os.getpid()
            return self._strategy

    def check(self) -> None:
        """Count the current request; abort with 429 when a limit is exceeded."""
        if request.blueprint in EXEMPT_BLUEPRINTS or request.endpoint is None:
            return
        if request.endpoint in self.by_endpoint:
            items, scope = self.by_endpoint[request.endpoint], request.endpoint
        else:
            items, scope = self.default, "default"
        if not items:
            return
        limiter = self._limiter()
        key = client_ip() or "unknown"
        for item in items:
            if not limiter.hit(item, scope, key):
                reset = limiter.get_window_stats(item, scope, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                abort(
                    429,
                    message=f"rate limit exceeded ({item}); retry in {retry_after} s",
                    headers={"Retry-After": str(retry_after)},
                )


def _check() -> None:
    current_app.extensions[EXTENSION].check()


def init_app(app: Flask, settings: Settings) -> None:
    """Check the rate limits before every request."""
    app.extensions[EXTENSION] = RateLimiter(settings)
    app.before_request(_check)
