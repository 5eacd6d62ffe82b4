"""The compose stack without Docker: the services' own commands, run here against PostgreSQL.

The `command` of `migrate`, `api` and `dash` is read from docker-compose.yml (not copied), run
with the virtual environment's scripts on PATH, on free loopback ports and a throw-away database,
then the whole flow goes over HTTP: readiness, predict, submit a review, list it as admin, export
CSV, and the web page. The API serves the bundled model, as the image does; only while that file
is not there yet (a fresh checkout before training) does it get a tiny random checkpoint, since
this test is about the wiring, not the model's quality.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from brandpulse.api.settings import Settings
from brandpulse.dash.settings import WebSettings
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT
from tests.conftest import save_tiny_checkpoint, skip_or_fail
from tests.support.postgres import POSTGRES_ADMIN_DSN, throwaway_database, unreachable
from tests.support.postgres import database_url as postgres_url
from tests.support.servers import free_port, stop_process

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

ADMIN_TOKEN = "stack-test-admin-token-" + secrets.token_hex(8)
SETTING_VARIABLES = {name.upper() for cls in (Settings, WebSettings) for name in cls.model_fields}
STARTUP_SECONDS = 120.0


@pytest.fixture
def database_url() -> Iterator[str]:
    """A throw-away PostgreSQL database, dropped afterwards."""
    reason = unreachable(POSTGRES_ADMIN_DSN)
    if reason:
        skip_or_fail(reason)
    with throwaway_database(POSTGRES_ADMIN_DSN, prefix="brandpulse_stack") as name:
        yield postgres_url(name)


@pytest.fixture
def model_env(tmp_path: Path) -> dict[str, str]:
    """No MODEL_PATH (the bundled model, as deployed), or a tiny checkpoint until it exists."""
    if BUNDLED_CHECKPOINT.is_file():
        return {}
    path = save_tiny_checkpoint(tmp_path / "tiny.safetensors")
    return {"MODEL_PATH": str(path)}


def _environment(**settings: str) -> dict[str, str]:
    """This process's environment without any BrandPulse setting, the venv first on PATH, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if key not in SETTING_VARIABLES}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **settings}


def _command(compose: dict, service: str) -> list[str]:
    command = compose["services"][service]["command"]
    assert isinstance(command, list), f"{service}: write command as a list (exec form)"
    return [str(part) for part in command]


@contextmanager
def _server(name: str, command: list[str], env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen]:
    """Run a server until the block ends, then stop it with SIGTERM (as `docker stop` does)."""
    log = (logs / f"{name}.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=logs, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop_process(process)
        log.close()


def _wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> requests.Response:
    """Poll `url` until it answers 200; fail at once if the process dies."""
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            response = requests.get(url, timeout=5)
        except requests.ConnectionError as error:
            last = str(error)
        else:
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:300]}"
        time.sleep(0.3)
    pytest.fail(f"{url} not ready after {STARTUP_SECONDS:.0f} s ({last}):\n{log.read_text()[-3000:]}")


def test_the_compose_services_commands_serve_the_whole_flow(compose, database_url, model_env, tmp_path):
    migrate_env = _environment(DATABASE_URL=database_url, LOG_LEVEL="WARNING")
    api_port, web_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    api_env = _environment(
        DATABASE_URL=database_url,
        ADMIN_TOKEN=ADMIN_TOKEN,
        API_HOST="127.0.0.1",
        API_PORT=str(api_port),
        DATA_DIR=str(tmp_path / "instance"),
        **model_env,
    )
    web_env = _environment(API_URL=api, WEB_HOST="127.0.0.1", WEB_PORT=str(web_port))

    # The one-shot migration, twice: a restarted stack must not duplicate anything.
    for _ in range(2):
        result = subprocess.run(
            _command(compose, "migrate"), env=migrate_env, cwd=tmp_path, capture_output=True, text=True,
            timeout=180, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

    with ExitStack() as stack:
        api_process = stack.enter_context(_server("api", _command(compose, "api"), api_env, tmp_path))
        ready = _wait_until_ready(api_process, f"{api}/readyz", tmp_path / "api.log").json()
        assert ready["checks"] == {"database": "ok", "model": "ok"}
        assert requests.get(f"{api}/healthz", timeout=5).json() == {"status": "ok"}

        brands = requests.get(f"{api}/api/brands", timeout=10).json()
        assert brands["total"] == len({item["name"] for item in brands["items"]}) > 0

        text = f"Comfortable shoes that arrived quickly, very happy {secrets.token_hex(4)}."
        prediction = requests.post(f"{api}/api/predict", json={"review": text}, timeout=30)
        assert prediction.status_code == 200, prediction.text
        assert 0.0 <= prediction.json()["score"] <= 1.0

        brand = brands["items"][0]["name"]
        created = requests.post(
            f"{api}/api/review", json={"text": text, "rating": 5, "brand": brand}, timeout=30
        )
        assert created.status_code == 201, created.text
        review_id = created.json()["id"]

        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert requests.get(f"{api}/api/reviews", timeout=10).status_code == 401
        listed = requests.get(f"{api}/api/reviews", headers=admin, timeout=10)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [review_id]
        assert listed.json()["items"][0]["ip_address"] == "127.0.0.1"

        export = requests.get(f"{api}/api/reviews/export.csv", headers=admin, timeout=10)
        assert export.status_code == 200, export.text
        assert export.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [(row["text"], row["label"], row["brand"]) for row in rows] == [(text, "5", brand)]

        dash_process = stack.enter_context(_server("dash", _command(compose, "dash"), web_env, tmp_path))
        _wait_until_ready(dash_process, f"http://127.0.0.1:{web_port}/healthz", tmp_path / "dash.log")
        page = requests.get(f"http://127.0.0.1:{web_port}/", timeout=10)
        assert page.status_code == 200
        assert "<title>BrandPulse</title>" in page.text

    # Both gunicorns stopped cleanly on SIGTERM, as `docker compose stop` sends it.
    assert api_process.returncode == 0, (tmp_path / "api.log").read_text()[-3000:]
    assert dash_process.returncode == 0, (tmp_path / "dash.log").read_text()[-3000:]
