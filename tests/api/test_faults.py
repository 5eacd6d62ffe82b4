"""Faults under load, over real HTTP through gunicorn on PostgreSQL, judged by counting rows.

Clients send predictions and reviews (each review with a unique text) back to back, note every
answer, and afterwards every review a client saw acknowledged (201) must be in the table exactly
once:

- SIGTERM to the gunicorn master (what `docker stop` and Kubernetes send): requests in flight
  finish, including one whose body is still arriving, then the server exits 0;
- `kill -9` of one worker: only the requests that worker had in flight fail (no HTTP answer),
  and the master starts a replacement;
- a PostgreSQL restart in the middle of 60 s of 32 clients (bench/faults.py, the same code as
  the benchmark): only 503s (JSON) during the outage, reviews stored again within 5 s of the
  database's return without restarting the API. This one restarts a private cluster of its own
  (initdb + pg_ctl), never the shared server.

The model is the tiny random one: these tests are about the server, not about scores.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.faults import RECOVERY_LIMIT_S, load_with_pg_restart
from tests.api.conftest import reset_postgres
from tests.conftest import skip_or_fail
from tests.support.servers import (
    ApiServer,
    api_settings,
    is_alive,
    prepare_database,
    private_postgres_unavailable,
    wait_until,
)
from tests.support.traffic import REVIEW_MARKER, Outcome, Traffic, review_rows

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(180)]

CLIENTS = 8
WORKERS = 2


@pytest.fixture
def api(tmp_path: Path, postgres_database: str, tiny_checkpoint: Path) -> Iterator[ApiServer]:
    """The API under gunicorn (two workers) on an emptied PostgreSQL test database."""
    reset_postgres(postgres_database)
    prepare_database(postgres_database, tiny_checkpoint, tmp_path)
    settings = api_settings(postgres_database, tiny_checkpoint, tmp_path, WEB_CONCURRENCY=str(WORKERS))
    server = ApiServer(settings, tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def _served(traffic: Traffic, at_least: int, timeout: float = 60.0) -> None:
    """Wait until the clients have had `at_least` more answers."""
    goal = len(traffic.outcomes) + at_least
    wait_until(lambda: len(traffic.outcomes) >= goal, timeout, f"fewer than {at_least} answers")


class SlowReview:
    """A review whose body arrives in two halves: in flight for as long as the test wants."""

    def __init__(self, port: int) -> None:
        self.text = f"{REVIEW_MARKER} slow-{os.getpid()}-{time.monotonic_ns()}: fine shoes."
        self.body = json.dumps({"text": self.text, "rating": 4, "brand": "Nike"}).encode()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        head = (
            "POST /api/review HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        )
        self.started = time.monotonic()
        self.sock.sendall(head.encode() + self.body[: len(self.body) // 2])

    def finish(self) -> Outcome:
        """Send the rest of the body and read the answer."""
        self.sock.sendall(self.body[len(self.body) // 2 :])
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        response.read()
        self.sock.close()
        return Outcome("review", self.started, time.monotonic(), response.status, None, self.text)


def test_sigterm_under_load_lets_requests_in_flight_finish_and_loses_no_review(api, postgres_database):
    traffic = Traffic(api.url, clients=CLIENTS, review_share=0.5, stop_on_failure=True).start()
    try:
        _served(traffic, 200)
        slow = SlowReview(api.port)
        time.sleep(0.5)  # a worker has read its headers and waits for the body
        terminated = time.monotonic()
        api.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the server is shutting down meanwhile
        slow_outcome = slow.finish()
        exit_status = api.wait(timeout=45)
        stopped = time.monotonic()
        wait_until(lambda: traffic.running_clients == 0, 30, "a client still gets answers after the exit")
    finally:
        outcomes = traffic.stop()
    assert exit_status == 0, api.log_tail()
    assert stopped - terminated < 15, "the shutdown waited for more than the requests in flight"
    assert slow_outcome.status == 201, "the request whose body was still arriving was cut off"

    answered = [outcome for outcome in outcomes if outcome.status is not None]
    assert {outcome.status for outcome in answered} <= {200, 201}
    in_flight = [outcome for outcome in answered if outcome.started < terminated < outcome.ended]
    assert in_flight, "no request was in flight at SIGTERM: the test proves nothing"
    # Once the server stops listening, clients fail to connect; nothing sent before SIGTERM fails.
    failed = [outcome for outcome in outcomes if outcome.status is None]
    assert all(outcome.started >= terminated for outcome in failed)
    # The connection closed by the dying worker: before its answer (ConnectionError), or once it had
    # sent the headers and was writing the body (ChunkedEncodingError; seen once in CI).
    assert {outcome.error for outcome in failed} <= {"ConnectionError", "ChunkedEncodingError"}

    rows = review_rows([*outcomes, slow_outcome], postgres_database)
    assert rows["acknowledged"] > 50
    assert rows["missing"] == rows["duplicated"] == 0, rows
    assert rows["stored_unacknowledged"] == 0, f"a review was stored but its answer lost: {rows}"


def test_kill_9_of_a_worker_costs_only_its_requests_in_flight(api, postgres_database):
    workers = api.worker_pids()
    assert len(workers) == WORKERS
    victim = workers[0]
    traffic = Traffic(api.url, clients=CLIENTS, review_share=0.5).start()
    try:
        _served(traffic, 200)
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        # Reaped by the master, so every thread of it has exited (its sockets are closed): a
        # thread group's leader shows as a zombie earlier, while the others still exit.
        wait_until(lambda: not Path(f"/proc/{victim}").exists(), 10, "the worker was not reaped", 0.005)
        gone = time.monotonic()

        def replaced() -> list[int] | None:
            pids = api.worker_pids()
            return pids if len(pids) == WORKERS and victim not in pids else None

        new_workers = wait_until(replaced, 60, f"the master did not replace the worker:\n{api.log_tail()}")
        _served(traffic, 300)  # the replacement serves its share too
    finally:
        outcomes = traffic.stop()
    assert set(new_workers) - {victim} >= set(workers) - {victim}, "the other worker was untouched"
    assert is_alive(api.pid)
    assert requests.get(api.url + "/readyz", timeout=10).status_code == 200

    answered = [outcome for outcome in outcomes if outcome.status is not None]
    assert {outcome.status for outcome in answered} <= {200, 201}
    failed = [outcome for outcome in outcomes if outcome.status is None]
    # Only requests already sent when the worker died, at most one per client, failed.
    timeline = [(o.kind, round(o.started - killed, 3), round(o.ended - killed, 3)) for o in failed]
    assert all(o.started < gone and o.ended >= killed for o in failed), (round(gone - killed, 3), timeline)
    assert len(failed) <= CLIENTS
    # The connection closed by the dying worker: before its answer (ConnectionError), or once it had
    # sent the headers and was writing the body (ChunkedEncodingError; seen once in CI).
    assert {outcome.error for outcome in failed} <= {"ConnectionError", "ChunkedEncodingError"}

    rows = review_rows(outcomes, postgres_database)
    assert rows["acknowledged"] > 100
    assert rows["missing"] == rows["duplicated"] == 0, rows
    # A review the worker committed just before it died may be stored unacknowledged.
    assert rows["stored_unacknowledged"] <= sum(outcome.kind == "review" for outcome in failed)
    assert api.stop() == 0


@pytest.mark.timeout(300)
def test_a_postgres_restart_under_load_gives_503s_only_while_it_is_down(tmp_path, tiny_checkpoint):
    reason = private_postgres_unavailable()
    if reason:
        skip_or_fail(reason)
    figures = load_with_pg_restart(clients=32, seconds=60.0, checkpoint=tiny_checkpoint, logs=tmp_path)
    outage, rows, statuses = figures["outage"], figures["rows"], figures["statuses"]
    summary = json.dumps(figures)
    assert outage["500"] == outage["other_errors"] == outage["no_answer"] == 0, summary
    assert statuses["predict"] == {"200": statuses["predict"]["200"]}, "scoring needs no database"
    assert 0 < outage["503"] == outage["503_by_kind"]["review"], summary
    assert outage["503_outside_outage"] == outage["503_not_json"] == 0, summary
    # Recovery without restarting the API: reviews are stored again within 5 s.
    assert outage["first_201_after_up_s"] is not None, summary
    assert outage["first_201_after_up_s"] <= RECOVERY_LIMIT_S, summary
    assert (outage["last_503_started_after_up_s"] or 0) <= RECOVERY_LIMIT_S, summary
    assert not figures["api_restarted"]
    assert rows["acknowledged"] > 100
    assert rows["missing"] == rows["duplicated"] == 0, summary
