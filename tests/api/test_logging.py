"""Structured JSON logs with request ids; no review text or IP address at INFO."""

from __future__ import annotations

import json
import logging

import pytest

from brandpulse.api.logging_setup import JsonFormatter


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def logs():
    handler = _Collect()
    logger = logging.getLogger("brandpulse")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_one_json_line_per_request(client, logs):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    entries = [json.loads(line) for line in logs.lines]
    request = [entry for entry in entries if entry["message"] == "request"]
    assert len(request) == 1
    entry = request[0]
    assert entry["request_id"] == "abc-123"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert entry["duration_ms"] >= 0
    assert entry["level"] == "INFO" and "time" in entry


def test_request_ids_are_generated_and_sanitised(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second and len(first) == 32
    forged = 'x", "level": "CRITICAL'
    assert client.get("/healthz", headers={"X-Request-ID": forged}).headers["X-Request-ID"] != forged
    assert len(client.get("/healthz", headers={"X-Request-ID": "a" * 65}).headers["X-Request-ID"]) == 32


def test_no_review_text_or_ip_at_info(client, logs):
    text = "My secret review text about the shoes I bought."
    client.post(
        "/api/review",
        json={"text": text, "rating": 5, "brand": "Nike", "score": 2.0},  # invalid: logs a 422
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    client.post(
        "/api/review",
        json={"text": text, "rating": 5, "brand": "Nike"},
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    client.post("/api/predict", json={"review": text}, environ_base={"REMOTE_ADDR": "198.51.100.23"})
    info = [
        line for line, record in zip(logs.lines, logs.records, strict=True) if record.levelno >= logging.INFO
    ]
    assert info
    assert not any("secret review" in line or "198.51.100.23" in line for line in info)


def test_errors_log_the_traceback_but_answer_without_it(make_app, logs):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.json == {"error": {"code": "internal_error", "message": "internal error"}}
    errors = [json.loads(line) for line in logs.lines if '"ERROR"' in line]
    assert any("kaboom internal detail" in entry.get("exception", "") for entry in errors)
