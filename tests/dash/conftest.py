"""Fixtures for the web front end: the real API and the web app, each under gunicorn on a free
loopback port, and headless Chromium driven by Selenium (Debian's chromium and chromium-driver,
never a downloaded browser or driver).

The API runs on a fresh SQLite file with the bundled brands and trusts 127.0.0.1 as a proxy; its
model is the bundled one when it exists, else a tiny random one (the tests that judge sentiment
ask for `bundled_checkpoint` and skip without it). A test may stop the API (`api.stop()`); the `api`
fixture starts it again, on the same port and database, for the next test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from brandpulse.api import create_app as create_api
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT
from tests.conftest import skip_or_fail
from tests.support.chromium import headless_chromium
from tests.support.servers import (
    free_port,
    predictions_answered,
    prepare_database,
    serve_in_thread,
    stop_process,
    wait_until,
)

ADMIN_TOKEN = "web-test-admin-token-0123456789"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT = 90  # seconds for a gunicorn server to answer (torch import and model load included)
NO_RATE_LIMITS = {
    "RATE_LIMIT_PREDICT": "off",
    "RATE_LIMIT_PREDICT_BATCH": "off",
    "RATE_LIMIT_REVIEW": "off",
    "RATE_LIMIT_DEFAULT": "off",
}


class GunicornServer:
    """A gunicorn server in a subprocess, started and stopped on demand."""

    def __init__(
        self, name: str, app: str, config: str, env: dict[str, str], port: int, ready: str, logs: Path
    ):
        self.name = name
        self.command = [sys.executable, "-m", "gunicorn", "-c", f"python:{config}", app]
        self.env = {**os.environ, **env}
        self.port = port
        self.ready_path = ready
        self.log_path = logs / f"{name}.log"
        self.cwd = logs
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, characters: int = 3000) -> str:
        """The end of the server's output, for failure messages."""
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def start(self) -> None:
        """Start the server and wait until its readiness URL answers 200."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            return requests.get(self.url + self.ready_path, timeout=2).status_code == 200

        try:
            wait_until(
                ready, START_TIMEOUT, f"{self.name} did not become ready:\n{self.log_tail()}", interval=0.2
            )
        except AssertionError:
            self.stop()
            raise
        if not self.running:
            raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server at once (gunicorn's quick shutdown) and wait for it to exit."""
        if self.process is None:
            return
        stop_process(self.process, signal.SIGINT, timeout=15)
        self.process = None


# ---------------------------------------------------------------- model and API


@pytest.fixture(scope="session")
def model_path(tiny_checkpoint: Path) -> Path:
    """The model the servers use: the bundled one when it exists."""
    return BUNDLED_CHECKPOINT if BUNDLED_CHECKPOINT.is_file() else tiny_checkpoint


@pytest.fixture(scope="session")
def inprocess_api(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Iterator[str]:
    """The real API with the tiny model, served from a thread of this process: its base URL."""
    data = tmp_path_factory.mktemp("inprocess-api")
    url = f"sqlite:///{(data / 'api.sqlite3').as_posix()}"
    prepare_database(url, tiny_checkpoint)
    app = create_api(
        {
            "DATABASE_URL": url,
            "MODEL_PATH": tiny_checkpoint,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "TRUSTED_PROXIES": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            **NO_RATE_LIMITS,
        }
    )
    with serve_in_thread(app) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def logo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logo folder holding one logo, for Nike."""
    folder = tmp_path_factory.mktemp("logos")
    (folder / "nike.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>')
    return folder


@pytest.fixture(scope="session")
def web_app(inprocess_api: str, logo_dir: Path) -> Any:
    """The Dash app in this process, talking to `inprocess_api`.

    The only app the in-process tests build: Dash hands the pages' callbacks to the first app of
    a process that serves a request.
    """
    from brandpulse.dash.app import create_app
    from brandpulse.dash.settings import WebSettings

    return create_app(WebSettings(api_url=inprocess_api, api_timeout=10, logo_dir=logo_dir))


@pytest.fixture
def web_client(web_app: Any) -> Any:
    """A Flask test client of the Dash app's server."""
    return web_app.server.test_client()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[GunicornServer]:
    """The API under gunicorn on a fresh SQLite database with the bundled brands."""
    data = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{(data / 'api.sqlite3').as_posix()}"
    prepare_database(url, model_path, data)
    port = free_port()
    env = {
        "DATABASE_URL": url,
        "DATA_DIR": str(data),
        "MODEL_PATH": str(model_path),
        "MODEL_DIR": str(data / "models"),
        "MODEL_POLL_SECONDS": "1",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "TRUSTED_PROXIES": "127.0.0.1",  # the web server forwards the visitor's address
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "TORCH_THREADS": "1",
        "LOG_LEVEL": "WARNING",
        **NO_RATE_LIMITS,
    }
    server = GunicornServer(
        "api", "brandpulse.api.wsgi:app", "brandpulse.api.gunicorn_conf", env, port, "/readyz", data
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(api_server: GunicornServer) -> GunicornServer:
    """The running API (started again if an earlier test stopped it)."""
    if not api_server.running:
        api_server.start()
    return api_server


def _web_server(
    tmp_path_factory: pytest.TempPathFactory, api_server: GunicornServer, name: str, control_share: str
) -> Iterator[GunicornServer]:
    logs = tmp_path_factory.mktemp(name)
    port = free_port()
    env = {
        "API_URL": api_server.url,
        "API_TIMEOUT": "5",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "WEB_WORKERS": "1",
        "WEB_THREADS": "8",
        "LOG_LEVEL": "WARNING",
        "SUGGESTION_CONTROL_SHARE": control_share,
    }
    server = GunicornServer(
        name, "brandpulse.dash.wsgi:server", "brandpulse.dash.gunicorn_conf", env, port, "/healthz", logs
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def web_server(
    tmp_path_factory: pytest.TempPathFactory, api_server: GunicornServer
) -> Iterator[GunicornServer]:
    """The web app under gunicorn, talking to `api_server` over HTTP; every visitor session is
    shown suggestions (`SUGGESTION_CONTROL_SHARE=0`)."""
    yield from _web_server(tmp_path_factory, api_server, "web", "0")


@pytest.fixture(scope="session")
def control_web_server(
    tmp_path_factory: pytest.TempPathFactory, api_server: GunicornServer
) -> Iterator[GunicornServer]:
    """A second web app on the same API where every visitor session is in the control group
    (`SUGGESTION_CONTROL_SHARE=1`), shown no suggestion."""
    yield from _web_server(tmp_path_factory, api_server, "web-control", "1")


def api_get(api: GunicornServer, path: str, **params: Any) -> Any:
    """GET an API endpoint as the admin; the decoded JSON."""
    response = requests.get(
        api.url + path, params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def predict_requests(api: GunicornServer) -> int:
    """How many `POST /api/predict` requests the API has answered (from its /metrics)."""
    return predictions_answered(api.url)


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """The paths of Chromium and its driver, or a skip (a failure where services are required)."""
    browser, driver = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    if not browser or not driver:
        skip_or_fail(
            f"Chromium and chromedriver are needed ({CHROMIUM}, {CHROMEDRIVER}): "
            "apt-get install chromium chromium-driver"
        )
    return browser, driver


@pytest.fixture(scope="session")
def browser_session(chromium: tuple[str, str]) -> Iterator[Any]:
    """One headless Chromium for the whole session, with its network log enabled."""
    with headless_chromium(*chromium, network_log=True) as driver:
        driver.implicitly_wait(0)
        yield driver


@pytest.fixture
def browser(browser_session: Any, web_server: GunicornServer) -> Iterator[Any]:
    """The browser on a blank page with empty storage and network log; a desktop-sized window."""
    driver = browser_session
    driver.set_window_size(1280, 1000)
    driver.get(web_server.url + "/healthz")
    driver.execute_script("window.sessionStorage.clear(); window.localStorage.clear();")
    driver.get_log("performance")  # drain what earlier tests requested
    yield driver
    driver.get("about:blank")


@pytest.fixture(scope="session")
def axe_installed() -> str:
    """axe-core's version (`make axe` installs the locked one), or a skip (a failure in CI)."""
    from tests.support import axe

    version = axe.installed_version()
    if version is None:
        skip_or_fail(f"axe-core is not installed ({axe.AXE_SCRIPT}): make axe (needs npm)")
    if version != axe.locked_version():
        pytest.fail(f"axe-core {version} is installed, the lock pins {axe.locked_version()}: make axe")
    return version


@contextmanager
def api_registry(api: GunicornServer) -> Iterator[Path]:
    """The running API's model registry, opened from this process on its database (as `flask
    model …` would): for rows a browser test needs that no command writes, such as a retrained
    version's gate figures. Yields MODEL_DIR."""
    from brandpulse.api.serving.inference import get_model
    from brandpulse.api.storage.db import dispose, get_database

    model_dir = Path(api.env["MODEL_DIR"])
    app = create_api(
        {
            "DATABASE_URL": api.env["DATABASE_URL"],
            "DATA_DIR": api.env["DATA_DIR"],
            "MODEL_DIR": model_dir,
            "MODEL_PATH": api.env["MODEL_PATH"],
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        with app.app_context(), get_database().connection_context():
            yield model_dir
    finally:
        get_model(app).close()
        dispose(app)
