"""Prometheus metrics: request counts and latencies per endpoint, prediction latency, model version.

Each app has its own `CollectorRegistry` (not the process-global one), so many apps in one
process (tests) never clash. With several gunicorn workers, set `PROMETHEUS_MULTIPROC_DIR` to an
empty directory: prometheus_client then keeps the values in files there and `/metrics` adds up
every worker's (see docs/api.md).
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from brandpulse.api.settings import Settings

EXTENSION = "brandpulse.metrics"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
UNMATCHED = "<unmatched>"  # the endpoint label of requests no route matched (keeps labels bounded)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The app's metrics and its registry."""

    def __init__(self, multiprocess_dir: str = "") -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "brandpulse_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "brandpulse_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.prediction_latency = Histogram(
            "brandpulse_prediction_duration_seconds",
            "Model forward time (encoding included) per prediction call.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predicted_texts = Counter(
            "brandpulse_predicted_texts", "Texts scored by the model.", registry=self.registry
        )
        self.batch_texts = Histogram(
            "brandpulse_prediction_batch_texts",
            "Texts per forward pass (requests waiting together share one pass).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "brandpulse_prediction_batch_requests",
            "Requests answered by one forward pass.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.refused_predictions = Counter(
            "brandpulse_predictions_refused",
            "Predictions answered 503 at once because the model's queue was full.",
            registry=self.registry,
        )
        self.shadow_predictions = Counter(
            "brandpulse_shadow_predictions",
            "Texts the candidate also scored (SHADOW_SHARE), by agreement of its suggested rating.",
            ["candidate", "agreement"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "brandpulse_model_info",
            "The loaded model's version (value 1).",
            ["version"],
            registry=self.registry,
            multiprocess_mode="max",
        )

    def observe_shadow(self, candidate: str, same_rating: bool) -> None:
        """Record one text the candidate scored in the shadow of the champion."""
        self.shadow_predictions.labels(
            candidate=candidate, agreement="same" if same_rating else "different"
        ).inc()

    def observe_prediction(self, seconds: float, texts: int) -> None:
        """Record one prediction call."""
        self.prediction_latency.observe(seconds)
        self.predicted_texts.inc(texts)

    def observe_batch(self, texts: int, requests: int) -> None:
        """Record the size of one forward pass."""
        self.batch_texts.observe(texts)
        self.batch_requests.observe(requests)

    def render(self, model_version: str | None) -> Response:
        """The metrics in Prometheus' text format."""
        if model_version:
            self.model_info.labels(version=model_version).set(1)
        registry = self.registry
        if self.multiprocess_dir:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.metrics_start = time.perf_counter()


def _record(response: Response) -> Response:
    metrics: Metrics = current_app.extensions[EXTENSION]
    start = g.pop("metrics_start", None)
    endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    metrics.requests.labels(method, endpoint, str(response.status_code)).inc()
    if start is not None:
        metrics.latency.labels(method, endpoint).observe(time.perf_counter() - start)
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Create the app's metrics (and the multi-process directory, if named and missing); time requests."""
    if settings.prometheus_multiproc_dir:
        Path(settings.prometheus_multiproc_dir).mkdir(parents=True, exist_ok=True)
    app.extensions[EXTENSION] = Metrics(settings.prometheus_multiproc_dir)
    app.before_request(_start_timer)
    app.after_request(_record)


def get_metrics(app: Flask | None = None) -> Metrics:
    """The metrics of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
