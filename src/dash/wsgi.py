"""The gunicorn entry point: `gunicorn -c python:brandpulse.dash.gunicorn_conf brandpulse.dash.wsgi:server`.

The one module-level app of the package; importing it reads the environment, and nothing more
(the API is first called when a page is opened).
"""

from __future__ import annotations

from brandpulse.dash.app import create_app

app = create_app()
server = app.server
