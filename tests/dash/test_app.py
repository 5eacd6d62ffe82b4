"""The app factory: pages, callbacks, local-only resources, and imports without side effects."""

from __future__ import annotations

import re
import subprocess
import sys

import dash

from brandpulse.dash.app import create_app
from brandpulse.dash.pages import admin, review
from brandpulse.dash.settings import WebSettings


def test_building_the_app_needs_no_environment_and_no_api():
    # Nothing listens on the default API_URL here: building the app must not call it.
    app = create_app(WebSettings())
    assert isinstance(app, dash.Dash)
    assert app.server.extensions["brandpulse.web_settings"].api_url == "http://127.0.0.1:5000"


def test_page_layouts_need_no_api_and_no_request():
    assert review.layout() is not None
    assert review.layout(brand="Nike") is not None
    assert admin.layout() is not None


def test_pages_are_registered_with_their_titles(web_app):
    pages = {page["path"]: page for page in dash.page_registry.values()}
    assert pages["/"]["title"] == "BrandPulse — review a brand"
    assert pages["/admin"]["title"] == "BrandPulse — admin"


def test_the_index_loads_only_local_resources(web_client):
    response = web_client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html
    resources = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert any("bootstrap.min.css" in url for url in resources)
    assert all(url.startswith("/") and not url.startswith("//") for url in resources), resources
    assert "cdn" not in html.lower()
    favicon = next(url for url in resources if "favicon" in url)
    with web_client.get(favicon) as icon:
        assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an .ico file


def test_the_vendored_stylesheet_has_no_remote_references(web_app):
    from brandpulse.dash.app import ASSETS

    for css in ASSETS.glob("*.css"):
        text = css.read_text()
        assert not re.search(r"url\((?!['\"]?data:)", text), css
        assert "@import" not in text and "sourceMappingURL" not in text


def test_the_callbacks_are_wired(web_client):
    dependencies = web_client.get("/_dash-dependencies").get_json()
    outputs = " ".join(dependency["output"] for dependency in dependencies)
    for output in (
        "score-result.data",
        "brand-card.children",
        "reviews-table.children",
        "export-download.data",
        "suggestion-group.data",
        "anchoring-table.children",
        "chart-model-suggestions.figure",
        "review-flag-status.children",
    ):
        assert output in outputs


def test_health(web_client):
    assert web_client.get("/healthz").get_json() == {"status": "ok"}


def test_the_wsgi_module_serves_the_app():
    code = "from brandpulse.dash.wsgi import app, server; print(type(app).__name__, type(server).__name__)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["Dash", "Flask"]
