"""The Dash app factory: the review page (`/`), the admin page (`/admin`) and the privacy page (`/privacy`).

Everything the browser loads comes from this server: Dash's own scripts (`serve_locally`), the
vendored Bootstrap CSS, the script and the favicon in `assets/`, and brand logos (`/logos/`); the
Content-Security-Policy (`security.py`) holds the browser to that.

Page callbacks are module-level `dash.callback`s, which the first app of a process to serve a
request takes over; so make one app per process (gunicorn makes one per worker).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html

from brandpulse.dash import api_client, api_limits, logos, security
from brandpulse.dash.settings import EXTENSION, WebSettings

ASSETS = Path(__file__).resolve().parent / "assets"
DESCRIPTION = "Review a brand: a character-level CNN scores your words as you type."
INDEX = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>
"""


def create_app(settings: WebSettings | Mapping[str, Any] | None = None) -> dash.Dash:
    """Build the web app from the environment, or from `settings` (or overrides of the environment)."""
    if not isinstance(settings, WebSettings):
        settings = WebSettings.from_env(overrides=settings)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",  # the pages register themselves below, as modules of this package
        assets_folder=str(ASSETS),
        serve_locally=True,
        title="BrandPulse",
        update_title=None,
        index_string=INDEX,
        meta_tags=[{"name": "description", "content": DESCRIPTION}],
    )
    server = app.server
    server.extensions[EXTENSION] = settings
    api_client.init_app(server, settings)
    api_limits.init_app(server)  # asks the API when a page first needs them
    logos.init_app(server, settings)
    security.init_app(app, settings)  # CSP and frame protection on every answer; the body limit
    server.add_url_rule("/healthz", endpoint="healthz", view_func=lambda: {"status": "ok"})

    from brandpulse.dash.pages import admin, privacy, review

    review.register()
    admin.register()
    privacy.register()
    app.layout = shell
    return app


def shell() -> Any:
    """The frame around every page: a skip link, the navigation bar (from the page registry)."""
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in sorted(dash.page_registry.values(), key=lambda page: page["order"])
    ]
    return html.Div(
        [
            html.A("Skip to the content", href="#main", className="visually-hidden-focusable"),
            dbc.NavbarSimple(
                links, brand="BrandPulse", brand_href="/", color="dark", dark=True, class_name="mb-4"
            ),
            dbc.Container(html.Main(dash.page_container, id="main"), class_name="pb-5"),
        ]
    )
