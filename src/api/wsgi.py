"""The gunicorn entry point: `gunicorn -c python:brandpulse.api.gunicorn_conf brandpulse.api.wsgi:app`.

The one module-level app of the package; importing it reads the environment, and nothing more
(no database connection, no model load).
"""

from __future__ import annotations

from brandpulse.api import create_app

app = create_app()
