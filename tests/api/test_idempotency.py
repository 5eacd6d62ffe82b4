"""`Idempotency-Key` on `POST /api/review`: a retry gets the first answer and stores nothing new."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from brandpulse.api.serving.inference import get_model
from brandpulse.api.storage import idempotency
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import IdempotencyKey, Review, utcnow
from tests.api.conftest import ADMIN_TOKEN, NO_RATE_LIMITS, counts
from tests.support.servers import stop_process

BIN = Path(sys.executable).parent
REVIEW = {"text": "Good shoes, comfortable and well made.", "rating": 4, "brand": "Nike"}
SCORED = {**REVIEW, "score": 0.75, "suggested_rating": 4, "suggestion_shown": True}


def post(client, body=REVIEW, key: str | None = None, **headers):
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/review", json=body, headers=headers)


def keys(app) -> int:
    with app.app_context(), get_database().connection_context():
        return IdempotencyKey.select().count()


@pytest.mark.parametrize("body", [REVIEW, SCORED], ids=["model scores", "client scored"])
def test_a_retry_gets_the_first_answer_and_stores_nothing(app, client, body):
    key = str(uuid.uuid4())
    first = post(client, body, key)
    assert first.status_code == 201
    assert idempotency.REPLAYED_HEADER not in first.headers
    again = post(client, body, key)
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers[idempotency.REPLAYED_HEADER] == "true"
    assert counts(app)["reviews"] == 1 and keys(app) == 1


def test_a_replay_does_not_score_the_text_again(app, client, monkeypatch):
    key = str(uuid.uuid4())
    assert post(client, REVIEW, key).status_code == 201
    service = get_model(app)

    def refuse(*args, **kwargs):
        raise AssertionError("scored twice")

    monkeypatch.setattr(service, "predict", refuse)
    assert post(client, REVIEW, key).headers[idempotency.REPLAYED_HEADER] == "true"


def test_the_same_key_with_other_fields_is_refused(app, client):
    key = str(uuid.uuid4())
    assert post(client, SCORED, key).status_code == 201
    for other in ({**SCORED, "rating": 5}, {**REVIEW, "rating": 4}):
        response = post(client, other, key)
        assert response.status_code == 422
        assert "Idempotency-Key" in response.json["error"]["fields"]
        assert "other fields" in response.json["error"]["fields"]["Idempotency-Key"][0]
    assert counts(app)["reviews"] == 1


def test_fields_are_compared_not_bytes(app, client):
    key = str(uuid.uuid4())
    assert post(client, SCORED, key).status_code == 201
    reordered = json.dumps(dict(reversed(list(SCORED.items()))), indent=2)
    response = client.post(
        "/api/review", data=reordered, content_type="application/json", headers={"Idempotency-Key": key}
    )
    assert response.headers[idempotency.REPLAYED_HEADER] == "true"
    assert counts(app)["reviews"] == 1


def test_an_expired_key_is_a_new_request(make_app):
    app = make_app(IDEMPOTENCY_TTL_HOURS=1)
    client = app.test_client()
    key = str(uuid.uuid4())
    first = post(client, SCORED, key)
    with app.app_context(), get_database().connection_context():
        old = utcnow() - timedelta(hours=1, minutes=1)
        IdempotencyKey.update(created_at=old).where(IdempotencyKey.key == key).execute()
    second = post(client, SCORED, key)
    assert second.status_code == 201 and idempotency.REPLAYED_HEADER not in second.headers
    assert second.json["id"] != first.json["id"]
    assert post(client, SCORED, key).json["id"] == second.json["id"]  # the key now names the new one
    assert counts(app)["reviews"] == 2 and keys(app) == 1


def test_expired_keys_are_pruned_and_live_ones_kept(make_app):
    app = make_app(IDEMPOTENCY_TTL_HOURS=2)
    client = app.test_client()
    for number in range(5):
        post(client, {**SCORED, "text": f"{SCORED['text']} {number}"}, f"key-{number}")
    with app.app_context(), get_database().connection_context():
        old = utcnow() - timedelta(hours=3)
        IdempotencyKey.update(created_at=old).where(
            IdempotencyKey.key.in_(["key-0", "key-1", "key-2"])
        ).execute()
        assert idempotency.prune_expired(2, batch=2) == 3  # two statements
    assert keys(app) == 2
    result = app.test_cli_runner().invoke(args=["db", "prune-idempotency-keys"])
    assert result.exit_code == 0 and "0 expired" in result.output
    assert counts(app)["reviews"] == 5  # the reviews stay


def test_a_worker_prunes_now_and_then(app, client, monkeypatch):
    post(client, SCORED, "old-key")
    with app.app_context(), get_database().connection_context():
        old = utcnow() - timedelta(hours=25)
        IdempotencyKey.update(created_at=old).execute()
    monkeypatch.setattr(idempotency, "PRUNE_EVERY_SECONDS", 0.0)
    post(client, {**SCORED, "text": f"{SCORED['text']} again"}, "new-key")
    with app.app_context(), get_database().connection_context():
        assert [row.key for row in IdempotencyKey.select()] == ["new-key"]


@pytest.mark.parametrize(
    ("key", "problem"),
    [("", "Length"), ("k" * 256, "Length"), ("caf\u00e9", "printable"), ("tab\there", "printable")],
)
def test_bad_keys_are_refused(app, client, key, problem):
    response = post(client, SCORED, key)
    assert response.status_code == 422
    message = response.json["error"]["fields"]["Idempotency-Key"][0]
    assert ("printable" in message) if problem == "printable" else ("255" in message or "1" in message)
    assert counts(app)["reviews"] == 0


def test_the_longest_key_is_accepted(app, client):
    key = "k" * 255
    assert post(client, SCORED, key).status_code == 201
    assert post(client, SCORED, key).headers[idempotency.REPLAYED_HEADER] == "true"


def test_without_a_key_every_post_is_stored(app, client):
    assert post(client, SCORED).json["id"] != post(client, SCORED).json["id"]
    assert counts(app)["reviews"] == 2 and keys(app) == 0


def test_invalid_requests_store_no_key(app, client):
    key = str(uuid.uuid4())
    assert post(client, {**SCORED, "brand": "Nobody"}, key).status_code == 422
    assert keys(app) == 0
    assert post(client, SCORED, key).status_code == 201  # the key is still free


def test_the_header_is_documented(client):
    operation = client.get("/api/openapi.json").json["paths"]["/api/review"]["post"]
    parameter = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert parameter["in"] == "header" and not parameter.get("required", False)
    assert parameter["schema"]["maxLength"] == 255
    assert idempotency.REPLAYED_HEADER in operation["responses"]["201"]["headers"]


# ---------------------------------------------------------------- duplicates at once, over HTTP


def _serve(environ: dict[str, str], cwd: Path) -> subprocess.Popen:
    flask = [str(BIN / "flask"), "--app", "brandpulse.api", "db"]
    for command in (["upgrade"], ["seed-brands"]):
        subprocess.run([*flask, *command], env=environ, check=True, timeout=120, capture_output=True)
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "python:brandpulse.api.gunicorn_conf", "brandpulse.api.wsgi:app"],
        env=environ,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(port: int, server: subprocess.Popen) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise AssertionError("gunicorn did not become ready")


@pytest.mark.slow
def test_400_reviews_each_sent_twice_at_once_are_stored_once(database_url, tiny_checkpoint, tmp_path):
    """Over real HTTP, two gunicorn workers: every review is sent on two connections at the same
    moment with one key; each pair gets one answer (one of them replayed), and 400 rows exist."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {
        **os.environ,
        **NO_RATE_LIMITS,
        "DATABASE_URL": database_url,
        "MODEL_PATH": str(tiny_checkpoint),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "API_PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "TMPDIR": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = _serve(environ, tmp_path)
    pairs = 8  # 16 connections: 8 pairs of threads, each pair sending the same request at once
    answers: list[list[tuple[int, dict, bool]]] = [[] for _ in range(2 * pairs)]
    try:
        _wait_ready(port, server)
        barriers = [threading.Barrier(2) for _ in range(pairs)]

        def send(slot: int) -> None:
            pair = slot // 2
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for number in range(pair, 400, pairs):
                body = {**REVIEW, "text": f"Review number {number:03d}, sent twice at once."}
                if number % 2:  # half scored by the client, half by the model
                    body.update(score=0.5, suggested_rating=3)
                headers = {"Content-Type": "application/json", "Idempotency-Key": f"pair-{number}"}
                barriers[pair].wait(timeout=60)
                connection.request("POST", "/api/review", body=json.dumps(body), headers=headers)
                response = connection.getresponse()
                replayed = response.getheader(idempotency.REPLAYED_HEADER) == "true"
                answers[slot].append((response.status, json.loads(response.read()), replayed))
            connection.close()

        threads = [threading.Thread(target=send, args=(slot,)) for slot in range(2 * pairs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        stop_process(server, timeout=30)
    ids = set()
    for pair in range(pairs):
        for left, right in zip(answers[2 * pair], answers[2 * pair + 1], strict=True):
            assert left[0] == right[0] == 201, (left, right)
            assert left[1] == right[1]  # the same answer, the same review
            assert left[2] != right[2]  # exactly one of the two is the replay
            ids.add(left[1]["id"])
    assert len(ids) == 400
    from brandpulse.api import create_app
    from brandpulse.api.storage.db import dispose

    app = create_app({"DATABASE_URL": database_url, "MODEL_PATH": tiny_checkpoint})
    try:
        with app.app_context(), get_database().connection_context():
            assert Review.select().count() == 400
            assert IdempotencyKey.select().count() == 400
            assert {review.id for review in Review.select(Review.id)} == ids
    finally:
        get_model(app).close()
        dispose(app)
