"""gunicorn configuration: `gunicorn -c python:brandpulse.dash.gunicorn_conf brandpulse.dash.wsgi:server`.

The web server does no heavy work of its own (the model runs in the API), so a few threads per
worker keep the live-scoring requests of several visitors in flight at once.
"""

from __future__ import annotations

from brandpulse.dash.settings import WebSettings

_settings = WebSettings.from_env()

bind = f"{_settings.web_host}:{_settings.web_port}"
workers = _settings.web_workers
worker_class = "gthread"
threads = _settings.web_threads
timeout = _settings.web_timeout
graceful_timeout = 10
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
