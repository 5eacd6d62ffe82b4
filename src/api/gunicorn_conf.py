"""gunicorn configuration: `gunicorn -c python:brandpulse.api.gunicorn_conf brandpulse.api.wsgi:app`.

CPU budget: workers x torch threads <= CPUs. The default is one worker per available CPU
(`Settings.workers`: the affinity mask, capped by a container's CPU quota), each running its
forward passes on one torch thread. For the traffic this API gets (a visitor typing sends a
request every 250 ms or more) that beats one worker whose passes use both cores: after such a
pause a two-thread pass waits for its second OpenMP thread to wake, while under saturation two
single-threaded processes serve as many predictions per second or more (the figures:
docs/api.md, "gunicorn"; bench/api_latency.py). Only back-to-back requests from one client are
faster with one two-thread worker (`WEB_CONCURRENCY=1`).
Each worker has a few gthread threads, so health checks and database requests are not stuck
behind a prediction (predictions take turns on the worker's one inference thread, see
`inference.py`). With `GUNICORN_PRELOAD` (default on) the app and the model are loaded once in
the master before it forks, so the workers share the weights' memory; the load uses one torch
thread, so no OpenMP thread team exists in the master when it forks.

With several workers and no `PROMETHEUS_MULTIPROC_DIR`, each start gets a new temporary
directory for it (removed at exit), so `/metrics` adds up every worker's values. Importing this
module creates nothing: the app creates the directory when it starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from brandpulse.api.settings import Settings

_settings = Settings.from_env()

bind = f"{_settings.api_host}:{_settings.api_port}"
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
preload_app = _settings.gunicorn_preload
timeout = _settings.gunicorn_timeout
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
loglevel = _settings.log_level.lower()

_metrics_dir = _settings.prometheus_multiproc_dir
_own_metrics_dir = workers > 1 and not _metrics_dir
if _own_metrics_dir:
    # A new directory for this server: the app creates it (metrics.init_app), on_exit removes it.
    # gunicorn sets raw_env before it preloads the app, so prometheus_client sees it at import.
    _metrics_dir = os.path.join(tempfile.gettempdir(), f"brandpulse-metrics-{os.getpid()}-{time.time_ns()}")
    raw_env = [f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir}"]


def when_ready(server) -> None:
    """With preload, load the model in the master so forked workers share its weights."""
    if server.cfg.preload_app:
        _load_model(server.app.wsgi(), server.log, watch=False)  # no thread in the master


def post_worker_init(worker) -> None:
    """Load the model (without preload) and start the worker's registry watcher, before requests."""
    _load_model(worker.wsgi, worker.log)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live metrics in multi-process Prometheus mode."""
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _metrics_dir)


def on_exit(server) -> None:
    """Remove the metrics directory this configuration created."""
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)


def _load_model(app, log, watch: bool = True) -> None:
    from brandpulse.api.serving.inference import ModelUnavailable, get_model
    from brandpulse.model.language import english_test

    english_test().probability("")  # the language model too (0.6 s), not on a visitor's request
    try:
        get_model(app).get(watch=watch)
    except ModelUnavailable as error:
        # Keep serving: /readyz reports the model missing, /api/predict answers 503.
        log.error("model not loaded: %s", error)
