"""gunicorn configuration: `gunicorn -c python:brandpulse.api.gunicorn_conf brandpulse.api.wsgi:app`.

CPU budget: workers x torch threads <= cores. The default is one worker whose forward pass uses
every core, with a few gthread threads so health checks and database requests are not stuck
behind a prediction (predictions take turns inside a worker). `WEB_CONCURRENCY=N` gives N workers
of cores/N torch threads each. With `GUNICORN_PRELOAD` (default on) the app and the model are
loaded once in the master before it forks, so the workers share the weights' memory.
"""

from __future__ import annotations

import os

from brandpulse.api.settings import Settings

_settings = Settings.from_env()

bind = f"{_settings.api_host}:{_settings.api_port}"
workers = _settings.web_concurrency
worker_class = "gthread"
threads = _settings.gunicorn_threads
preload_app = _settings.gunicorn_preload
timeout = _settings.gunicorn_timeout
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
loglevel = _settings.log_level.lower()


def torch_threads(settings: Settings) -> int:
    """Torch threads per worker: the setting, else the cores shared out among the workers."""
    return settings.torch_threads or max(1, (os.cpu_count() or 1) // settings.web_concurrency)


def when_ready(server) -> None:
    """With preload, load the model in the master so forked workers share its weights."""
    if server.cfg.preload_app:
        _load_model(server.app.wsgi(), server.log)


def post_fork(server, worker) -> None:
    """Give each worker its share of the cores."""
    from brandpulse.training.runtime import use_threads

    use_threads(torch_threads(_settings))


def post_worker_init(worker) -> None:
    """Without preload, load the model as the worker starts rather than on its first request."""
    _load_model(worker.wsgi, worker.log)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live metrics in multi-process Prometheus mode."""
    if _settings.prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _settings.prometheus_multiproc_dir)


def _load_model(app, log) -> None:
    from brandpulse.api.inference import ModelUnavailable, get_model

    try:
        get_model(app).get()
    except ModelUnavailable as error:
        # Keep serving: /readyz reports the model missing, /api/predict answers 503.
        log.error("model not loaded: %s", error)
