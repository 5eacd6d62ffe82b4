"""`/healthz`, `/readyz` and `/metrics`."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import post_review


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_loads_the_model_and_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"
    assert response.json["checks"] == {"database": "ok", "model": "ok"}
    assert response.json["model_version"].startswith("tiny-")


def test_readyz_503_without_the_model(make_app, tmp_path):
    client = make_app(MODEL_PATH=tmp_path / "nothing.safetensors").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "not_ready"
    assert response.json["checks"] == {"database": "ok", "model": "unavailable"}
    assert client.get("/healthz").status_code == 200


def test_readyz_503_without_the_database(make_app, tiny_checkpoint):
    # Nothing listens on port 9 of the loopback: connecting fails at once.
    app = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:9/none", migrate=False)
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "unavailable", "model": "ok"}
    assert client.get("/api/brands").status_code == 503
    assert client.post("/api/predict", json={"review": "still scores"}).status_code == 200


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics(client):
    client.post("/api/predict", json={"review": "nice"})
    client.post("/api/predict", json={"review": "nice"})
    post_review(client)
    client.get("/api/nowhere")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = _samples(response.get_data(as_text=True))
    predict = (("endpoint", "/api/predict"), ("method", "POST"), ("status", "200"))
    assert samples[("brandpulse_http_requests_total", predict)] == 2
    assert (
        samples[
            (
                "brandpulse_http_requests_total",
                (("endpoint", "<unmatched>"), ("method", "GET"), ("status", "404")),
            )
        ]
        == 1
    )
    latency = (("endpoint", "/api/predict"), ("method", "POST"))
    assert samples[("brandpulse_http_request_duration_seconds_count", latency)] == 2
    assert samples[("brandpulse_prediction_duration_seconds_count", ())] == 3  # the review was scored too
    assert samples[("brandpulse_predicted_texts_total", ())] == 3
    versions = [labels for name, labels in samples if name == "brandpulse_model_info"]
    assert len(versions) == 1 and dict(versions[0])["version"].startswith("tiny-")


def test_metrics_of_two_apps_do_not_clash(make_app):
    first, second = make_app().test_client(), make_app().test_client()
    first.get("/healthz")
    text = second.get("/metrics").get_data(as_text=True)
    assert 'endpoint="/healthz"' not in text
