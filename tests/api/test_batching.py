"""Dynamic micro-batching: waiting predictions share a pass; a full queue answers 503 at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from brandpulse.api.serving.batching import MicroBatcher, Overloaded
from brandpulse.api.serving.inference import ModelService, get_model

TEXTS = [
    "Friendly staff and quick delivery, I would order from them again without a doubt.",
    "Rude staff, broken on arrival, and no refund. Avoid this shop.",
    "It was fine, nothing special, delivery took a week.",
    "Absolutely brilliant service, the best I have had in years!",
]


class GatedModel:
    """The real model's pass, held until the test opens the gate, recording each pass's texts."""

    def __init__(self, service: ModelService) -> None:
        self.service = service
        self.gate = threading.Event()
        self.started = threading.Event()
        self.passes: list[list[str]] = []

    def __call__(self, texts: list[str]):
        self.started.set()
        self.gate.wait(30)
        self.passes.append(list(texts))
        predictor = self.service.get()
        return predictor.predict(texts), predictor.version


@pytest.fixture(scope="module")
def service(bundled_checkpoint) -> ModelService:
    service = ModelService(bundled_checkpoint, threads=2)
    service.get()
    return service


def test_concurrent_requests_share_passes_and_get_their_own_answers(service):
    alone = [service.predict([text])[0] for text in TEXTS]
    gated = GatedModel(service)
    batcher = MicroBatcher(gated, batch_max=32, wait_seconds=0.002, queue_max=64)
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(batcher.predict, [TEXTS[0]])]
        assert gated.started.wait(10)  # the first pass is running (held)
        futures += [pool.submit(batcher.predict, [TEXTS[i % 4]]) for i in range(1, 16)]
        deadline = time.monotonic() + 10
        while batcher.waiting < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        gated.gate.set()
        answers = [future.result(30) for future in futures]
    assert len(gated.passes) == 2  # the first request alone, then the 15 that waited, together
    assert [len(texts) for texts in gated.passes] == [1, 15]
    for i, (results, version) in enumerate(answers):
        assert version == service.version
        assert results[0]["suggested_rating"] == alone[i % 4]["suggested_rating"]
        assert results[0]["score"] == pytest.approx(alone[i % 4]["score"], abs=1e-4)


def test_a_pass_never_takes_more_than_batch_max_texts(service):
    gated = GatedModel(service)
    batcher = MicroBatcher(gated, batch_max=8, wait_seconds=0, queue_max=100)
    first = batcher.submit([TEXTS[0]])
    assert gated.started.wait(10)
    waiting = [batcher.submit(TEXTS[:3]) for _ in range(7)]  # 21 texts queued
    gated.gate.set()
    first.result(30)
    for future in waiting:
        results, _ = future.result(30)
        assert len(results) == 3
    assert [len(texts) for texts in gated.passes] == [1, 6, 6, 6, 3]


def test_a_lone_request_does_not_wait_for_company(service):
    batcher = MicroBatcher(lambda texts: (service.get().predict(texts), "v"), wait_seconds=5.0)
    start = time.monotonic()
    batcher.predict([TEXTS[0]])
    assert time.monotonic() - start < 2.5  # far below the 5 s a pass may wait when others queue


def test_a_full_queue_refuses_at_once_and_the_waiting_are_still_answered(service):
    gated = GatedModel(service)
    batcher = MicroBatcher(gated, batch_max=32, wait_seconds=0, queue_max=4)
    running = batcher.submit([TEXTS[0]])
    assert gated.started.wait(10)
    queued = [batcher.submit([text]) for text in TEXTS]  # 4 texts: the queue is full
    assert batcher.waiting == 4
    with pytest.raises(Overloaded) as refused:
        batcher.submit([TEXTS[0]])
    assert refused.value.retry_after >= 1
    gated.gate.set()
    assert running.result(30)[0][0]["label"]
    assert [len(future.result(30)[0]) for future in queued] == [1, 1, 1, 1]
    assert batcher.waiting == 0
    batcher.predict([TEXTS[1]])  # room again


def test_a_request_larger_than_the_queue_runs_when_nothing_waits(service):
    batcher = MicroBatcher(lambda texts: (service.get().predict(texts), "v"), queue_max=2)
    results, _ = batcher.predict(TEXTS)
    assert len(results) == 4


def test_a_failing_pass_fails_its_requests_and_the_thread_serves_on(service):
    calls = []

    def run(texts):
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("the pass failed")
        return service.get().predict(texts), "v"

    batcher = MicroBatcher(run)
    with pytest.raises(RuntimeError, match="the pass failed"):
        batcher.predict([TEXTS[0]])
    results, _ = batcher.predict([TEXTS[1]])
    assert results[0]["label"]


def test_the_api_answers_503_with_retry_after_when_the_queue_is_full(make_app, bundled_checkpoint):
    app = make_app(MODEL_PATH=str(bundled_checkpoint), PREDICT_QUEUE_MAX=2)
    model = get_model(app)
    model.get()
    gated = GatedModel(model)
    model.batcher.run = gated
    client = app.test_client()
    with ThreadPoolExecutor(4) as pool:
        held = pool.submit(client.post, "/api/predict", json={"review": TEXTS[0]})
        assert gated.started.wait(10)
        queued = [pool.submit(client.post, "/api/predict", json={"review": text}) for text in TEXTS[:2]]
        deadline = time.monotonic() + 10
        while model.batcher.waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = client.post("/api/predict", json={"review": TEXTS[3]})
        unread = client.post("/api/predict", data=b"not even JSON")  # refused before its body is read
        gated.gate.set()
        answers = [held.result(30)] + [future.result(30) for future in queued]
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert refused.get_json()["error"]["code"] == "overloaded"
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert unread.status_code == 503
    assert "brandpulse_prediction_batch_texts_bucket" in metrics
    assert "brandpulse_predictions_refused_total 2.0" in metrics


def test_the_queue_also_refuses_once_its_texts_would_wait_too_long(service):
    gated = GatedModel(service)
    batcher = MicroBatcher(gated, queue_max=64, max_wait_seconds=0.25, wait_seconds=0)
    running = batcher.submit([TEXTS[0]])
    assert gated.started.wait(10)
    batcher.seconds_per_text = 0.1  # as if recent passes took 100 ms a text (a flooded server)
    queued = [batcher.submit([TEXTS[1]]) for _ in range(3)]  # 0.3 s of waiting work
    with pytest.raises(Overloaded):
        batcher.submit([TEXTS[2]])  # three texts of 64 by count, but too long a wait
    gated.gate.set()
    running.result(30)
    assert all(len(future.result(30)[0]) == 1 for future in queued)
