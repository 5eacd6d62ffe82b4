"""Shadow scoring: a share of live predictions also scored by the newest candidate, off the request path."""

from __future__ import annotations

import logging
import shutil
import time

from brandpulse.api.serving.inference import get_model
from brandpulse.api.storage import registry
from brandpulse.api.storage.db import get_database
from brandpulse.model.checkpoint import load_checkpoint
from tests.conftest import save_tiny_checkpoint


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_candidate_scores_live_predictions_in_the_shadow(make_app, tmp_path, tiny_checkpoint):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    champion = shutil.copy(tiny_checkpoint, model_dir / "champion.safetensors")
    candidate = save_tiny_checkpoint(model_dir / "candidate.safetensors", seed=3)
    app = make_app(MODEL_PATH=champion, MODEL_DIR=model_dir, MODEL_POLL_SECONDS=0.2, SHADOW_SHARE=1.0)
    with app.app_context(), get_database().connection_context():
        registry.register_first_champion(champion, model_dir)
        registry.register(candidate, model_dir=model_dir)
    client = app.test_client()
    logs = _Records()
    logging.getLogger("brandpulse.api.serving.shadow").addHandler(logs)
    served = client.post("/api/predict", json={"review": "Fast delivery and friendly staff."}).get_json()
    candidate_version = load_checkpoint(candidate).version
    assert served.get("model_version") == load_checkpoint(champion).version, served  # the champion answers
    assert wait_for(lambda: get_model(app).shadow.version == candidate_version)
    client.post("/api/predict", json={"review": "Fast delivery and friendly staff."})
    assert wait_for(lambda: any(r.getMessage() == "shadow prediction" for r in logs.records))
    record = next(r for r in logs.records if r.getMessage() == "shadow prediction")
    assert record.candidate == candidate_version and record.champion == served["model_version"]
    assert 1 <= record.candidate_rating <= 5 and 0 <= record.candidate_score <= 1
    logging.getLogger("brandpulse.api.serving.shadow").removeHandler(logs)

    def counted() -> bool:  # the counter follows the log line on the shadow thread
        metrics = client.get("/metrics").get_data(as_text=True)
        return "brandpulse_shadow_predictions_total{" in metrics and candidate_version in metrics

    assert wait_for(counted)


def test_without_a_share_nothing_is_scored_twice(make_app, tiny_checkpoint):
    app = make_app()
    app.test_client().post("/api/predict", json={"review": "Fast delivery and friendly staff."})
    assert get_model(app).shadow is None
