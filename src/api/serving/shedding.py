"""Load shedding in front of the app: a full prediction queue refuses new predictions at once.

When more texts wait for the model than `PREDICT_QUEUE_MAX` (batching.py), a prediction
request is answered 503 with Retry-After right here, before Flask builds a request, parses the
body, runs its hooks or writes a log line. Under overload most requests are such refusals, and
a client that ignores Retry-After sends the next one at once: each refusal must cost next to
nothing, or the refusals take the CPU that the forward passes and the health checks need.
Refusals are counted (`brandpulse_predictions_refused_total`) and logged at most once a
second, with how many there were. A request that gets past this gate can still be refused by
the queue itself (the same 503 from the error handler) if the queue filled meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

logger = logging.getLogger(__name__)

PREDICTION_PATHS = frozenset({"/api/predict", "/api/predict/batch"})
LOG_EVERY_SECONDS = 1.0
MESSAGE = "too many predictions are waiting; try again shortly"  # as the error handler says


class OverloadGate:
    """WSGI middleware: 503 for a prediction while the model's queue is full, else the app."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._refused_since_log = 0
        self._logged_at = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") in PREDICTION_PATHS:
            from brandpulse.api.serving.batching import Overloaded
            from brandpulse.api.serving.inference import get_model

            try:
                get_model(self.app).batcher.refuse_if_full()
            except Overloaded as error:
                return self._refuse(error, start_response)
        return self.wsgi_app(environ, start_response)

    def _refuse(self, error: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
        metrics = self.app.extensions.get("brandpulse.metrics")
        if metrics is not None:
            metrics.refused_predictions.inc()
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_SECONDS:
            logger.warning("overloaded: %s; %d predictions refused", error, self._refused_since_log)
            self._refused_since_log, self._logged_at = 0, now
        body = json.dumps({"error": {"code": "overloaded", "message": MESSAGE}}).encode()
        start_response(
            "503 SERVICE UNAVAILABLE",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(error.retry_after)),
            ],
        )
        return [body]


def init_app(app: Flask) -> None:
    """Put the gate in front of the app's WSGI callable."""
    app.wsgi_app = OverloadGate(app, app.wsgi_app)
