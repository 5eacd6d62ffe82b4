"""The production path over real HTTP: `db upgrade`, `db seed-brands`, then gunicorn with preload.

Two preloaded workers share the model loaded by the master before the fork: this also checks
that torch works in forked workers, and that `/metrics` adds up both workers' values (in the
temporary directory the gunicorn configuration creates, and removes at exit).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from brandpulse.api import gunicorn_conf
from brandpulse.model.checkpoint import load_checkpoint
from tests.api.conftest import ADMIN, ADMIN_TOKEN
from tests.conftest import save_tiny_checkpoint
from tests.support.servers import free_port, stop_process

BIN = Path(sys.executable).parent


def _request(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.slow
def test_upgrade_seed_and_serve_under_gunicorn(tmp_path, tiny_checkpoint):
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/gunicorn.sqlite3",
        "MODEL_PATH": str(tiny_checkpoint),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "API_PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "TMPDIR": str(tmp_path / "tmp"),  # where the metrics directory goes
        "MODEL_DIR": str(tmp_path / "models"),
        "MODEL_POLL_SECONDS": "1",
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    (tmp_path / "tmp").mkdir()
    flask = [str(BIN / "flask"), "--app", "brandpulse.api"]
    for command in (["db", "upgrade"], ["db", "seed-brands"]):
        subprocess.run([*flask, *command], env=environ, check=True, timeout=120, capture_output=True)
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "python:brandpulse.api.gunicorn_conf", "brandpulse.api.wsgi:app"],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, body = _request(f"{base}/readyz")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.2)
        assert body["model_version"].startswith("tiny-")
        for _ in range(6):  # several requests, so both workers are likely to serve some
            status, headers, prediction = _request(
                f"{base}/api/predict", {"review": "great shoes, love them"}
            )
            assert status == 200 and 0 <= prediction["score"] <= 1
            assert headers["X-Request-ID"]
        review = {"text": "Comfortable and quick delivery.", "rating": 5, "brand": "Nike"}
        status, headers, created = _request(f"{base}/api/review", review)
        assert status == 201
        status, _, page = _request(f"{base}/api/reviews", headers=ADMIN)
        assert status == 200 and page["total"] == 1
        assert _request(f"{base}/api/brands")[2]["total"] == 12
        assert _request(f"{base}/api/review", {"text": "x"})[0] == 422
        assert len(list((tmp_path / "tmp").glob("brandpulse-metrics-*"))) == 1
        for _ in range(4):  # whichever worker answers, it reports both workers' predictions
            with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
                text = response.read().decode()
            lines = text.splitlines()
            predictions = 'brandpulse_http_requests_total{endpoint="/api/predict",method="POST",status="200"}'
            assert f"{predictions} 6.0" in lines
            assert "brandpulse_predicted_texts_total 7.0" in lines  # the stored review was scored too
        # A promotion reaches every worker within MODEL_POLL_SECONDS, without a restart.
        challenger = save_tiny_checkpoint(tmp_path / "models" / "challenger.safetensors", seed=1)
        version = load_checkpoint(challenger).version
        for command in (["model", "register", str(challenger)], ["model", "promote", version]):
            subprocess.run([*flask, *command], env=environ, check=True, timeout=120, capture_output=True)
        promoted = time.monotonic()
        streak = 0
        while streak < 12:  # a dozen answers in a row from the new champion: both workers swapped
            status, _, prediction = _request(f"{base}/api/predict", {"review": "great shoes, love them"})
            assert status == 200
            streak = streak + 1 if prediction["model_version"] == version else 0
            assert time.monotonic() - promoted < 30, "the workers did not swap within 30 s"
        assert _request(f"{base}/readyz")[2]["model_version"] == version
    finally:
        stop_process(server, timeout=30)
        server.stderr.close()
    assert list((tmp_path / "tmp").iterdir()) == []  # the metrics directory is gone


def test_importing_the_config_creates_nothing(monkeypatch, tmp_path):
    """The metrics directory of several workers is only named at import; the app creates it."""
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    try:
        conf = importlib.reload(gunicorn_conf)
        assert conf.workers == 2
        assert conf.raw_env == [f"PROMETHEUS_MULTIPROC_DIR={conf._metrics_dir}"]
        assert conf._metrics_dir.startswith(f"{tmp_path}/brandpulse-metrics-")
        assert list(tmp_path.iterdir()) == []
    finally:
        monkeypatch.undo()
        importlib.reload(gunicorn_conf)
