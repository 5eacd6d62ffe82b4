"""gunicorn configuration: `gunicorn -c python:brandpulse.api.gunicorn_conf brandpulse.api.wsgi:app`.

CPU budget: workers x torch threads <= cores. The default is one worker whose forward pass uses
every core, with a few gthread threads so health checks and database requests are not stuck
behind a prediction (predictions take turns on the worker's one inference thread, see
`inference.py`). `WEB_CONCURRENCY=N` gives N workers of cores/N torch threads each
(`Settings.inference_threads`). With `GUNICORN_PRELOAD` (default on) the app and the model are
loaded once in the master before it forks, so the workers share the weights' memory; the load
uses one torch thread, so no OpenMP thread team exists in the master when it forks.
"""

from __future__ import annotations

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


def when_ready(server) -> None:
    """With preload, load the model in the master so forked workers share its weights."""
    if server.cfg.preload_app:
        _load_model(server.app.wsgi(), server.log)


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
