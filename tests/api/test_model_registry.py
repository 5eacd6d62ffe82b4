"""The model registry and the hot swap: register, promote, roll back; every worker follows the champion."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import torch
from peewee import IntegrityError
from werkzeug.serving import make_server

from brandpulse.api import prediction_tokens
from brandpulse.api.serving import inference
from brandpulse.api.serving.inference import get_model
from brandpulse.api.storage import registry
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import ModelVersion
from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import load_checkpoint, save_checkpoint
from brandpulse.model.paths import file_sha256
from tests.api.conftest import ADMIN
from tests.conftest import TINY_ENCODER, TINY_MODEL, save_tiny_checkpoint

INFERENCE_LOGGER = "brandpulse.api.serving.inference"


@pytest.fixture
def model_dir(tmp_path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


@pytest.fixture
def two_models(model_dir, tiny_checkpoint) -> tuple[Path, Path]:
    """The champion of a new install (the configured model) and a challenger, both in MODEL_DIR."""
    first = model_dir / "first.safetensors"
    shutil.copy(tiny_checkpoint, first)
    return first, save_tiny_checkpoint(model_dir / "second.safetensors", seed=1)


@pytest.fixture
def registry_app(make_app, model_dir, two_models):
    first, second = two_models
    app = make_app(MODEL_PATH=first, MODEL_DIR=model_dir, MODEL_POLL_SECONDS=0.2)
    with app.app_context(), get_database().connection_context():
        registry.register_first_champion(first, model_dir)
        registry.register(second, model_dir=model_dir, parent=None)
    return app


def versions_of(*paths: Path) -> list[str]:
    return [load_checkpoint(path).version for path in paths]


def test_a_new_install_records_its_model_as_the_first_champion_once(registry_app, two_models, model_dir):
    first, second = versions_of(*two_models)
    with registry_app.app_context(), get_database().connection_context():
        assert registry.register_first_champion(two_models[0], model_dir) is None
        rows = {row.version: row for row in registry.list_versions()}
    assert rows[first].status == "champion" and rows[first].promoted_by == "install"
    assert rows[first].file == "first.safetensors"  # relative to MODEL_DIR
    assert rows[second].status == "candidate"


def test_at_most_one_champion_is_enforced_by_the_database(registry_app):
    with registry_app.app_context(), get_database().connection_context():
        candidate = ModelVersion.get(ModelVersion.status == "candidate")
        with pytest.raises(IntegrityError), get_database().atomic():  # the partial unique index
            ModelVersion.update(status="champion").where(ModelVersion.id == candidate.id).execute()
        assert ModelVersion.select().where(ModelVersion.status == "champion").count() == 1


def test_admin_endpoints_list_promote_and_roll_back(registry_app, two_models):
    client = registry_app.test_client()
    first, second = versions_of(*two_models)
    assert client.get("/api/models").status_code == 401
    listing = client.get("/api/models", headers=ADMIN).get_json()
    assert {item["version"]: item["status"] for item in listing["items"]} == {
        first: "champion",
        second: "candidate",
    }
    assert client.post("/api/models/nope/promote", headers=ADMIN).status_code == 404
    assert client.post("/api/models/rollback", headers=ADMIN).status_code == 409  # no earlier champion
    promoted = client.post(f"/api/models/{second}/promote", headers=ADMIN, json={"by": "alice"})
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["status"] == "champion" and promoted.get_json()["promoted_by"] == "alice"
    again = client.post(f"/api/models/{second}/promote", headers=ADMIN)
    assert again.status_code == 409 and "already the champion" in again.get_json()["error"]["message"]
    assert promoted.get_json()["promoted_via"] == "admin token from 127.0.0.1"
    listing = client.get("/api/models", headers=ADMIN).get_json()
    assert listing["rollback_to"] == first  # what Roll back would bring back, named before it is done
    rolled = client.post("/api/models/rollback", headers=ADMIN, json={"by": "bob"})
    assert rolled.status_code == 200 and rolled.get_json()["version"] == first
    assert (rolled.get_json()["promoted_by"], rolled.get_json()["promoted_via"]) == (
        "bob",
        "admin token from 127.0.0.1",
    )
    listing = client.get("/api/models", headers=ADMIN).get_json()
    statuses = {item["version"]: item for item in listing["items"]}
    assert statuses[first]["status"] == "champion"
    assert statuses[second]["status"] == "retired" and statuses[second]["reason"] == "rolled back by bob"
    assert listing["rollback_to"] == second  # as `kubectl rollout undo`: back to where it started


def test_the_commands_record_how_they_promoted(registry_app, two_models):
    first, second = versions_of(*two_models)
    runner = registry_app.test_cli_runner()
    promoted = runner.invoke(args=["model", "promote", second, "--by", "carol"])
    assert promoted.exit_code == 0, promoted.output
    rolled = runner.invoke(args=["model", "rollback"])
    assert rolled.exit_code == 0, rolled.output
    with registry_app.app_context(), get_database().connection_context():
        rows = {row.version: row for row in registry.list_versions()}
    assert (rows[second].promoted_by, rows[second].promoted_via) == ("carol", registry.VIA_PROMOTE_COMMAND)
    assert (rows[first].promoted_by, rows[first].promoted_via) == ("cli", registry.VIA_ROLLBACK_COMMAND)
    listed = runner.invoke(args=["model", "list"]).output
    assert f"by cli via {registry.VIA_ROLLBACK_COMMAND}" in listed
    assert "by carol via command (flask model promote)" in listed


def test_the_install_records_itself_as_the_first_promotion(registry_app, two_models):
    first, _ = versions_of(*two_models)
    item = next(
        item
        for item in registry_app.test_client().get("/api/models", headers=ADMIN).get_json()["items"]
        if item["version"] == first
    )
    assert (item["promoted_by"], item["promoted_via"]) == ("install", registry.VIA_INSTALL)
    assert item["created_at"] <= item["promoted_at"]


def test_a_retrain_round_records_the_gate_as_what_promoted(registry_app, model_dir, two_models):
    from brandpulse.api.settings import current_settings
    from brandpulse.learning.gate import Decision
    from brandpulse.learning.retrain_round import RoundOptions, record

    first, _ = versions_of(*two_models)
    challenger = save_tiny_checkpoint(model_dir / "challenger.safetensors", seed=7)
    figures = {
        "champion": {"version": first, "fixed": {"n": 40}, "recent": {"n": 30}},
        "challenger": {"fixed": {"n": 40}, "fixed_at_champion_rates": {"n": 40}, "recent": {"n": 30}},
    }
    counts = {"usable": 150, "recent": 30, "train": {"base": 900, "feedback": 102}}
    mix = {"assumed": None, "visitors": None, "corpus": None, "champion": None, "source": "test"}
    with registry_app.app_context(), get_database().connection_context():
        identity = registry.checkpoint_identity(challenger)
        result = record(
            challenger,
            identity,
            Decision(True, "better on the recent reviews"),
            figures,
            counts,
            first,
            current_settings(),
            RoundOptions(),
            mix,
        )
        row = ModelVersion.get(ModelVersion.version == identity["version"])
    assert result.status == "promoted"
    assert (row.status, row.parent, row.promoted_by, row.promoted_via) == (
        "champion",
        first,
        "retrain",
        registry.VIA_RETRAIN,
    )
    assert row.reason == "gate: better on the recent reviews"


def test_a_version_records_the_corpus_its_data_descends_from(registry_app, model_dir):
    torch.manual_seed(3)
    path = save_checkpoint(
        model_dir / "retrained.safetensors",
        CharCNN(TINY_MODEL, TINY_ENCODER).eval(),
        classes=("negative", "positive"),
        info={"architecture": "tiny", "data": {"fingerprint": "f" * 64, "base_fingerprint": "c" * 64}},
    )
    with registry_app.app_context(), get_database().connection_context():
        row = registry.register(path, model_dir=model_dir)
    item = registry.as_dict(row)
    assert (item["data_fingerprint"], item["corpus_fingerprint"]) == ("f" * 64, "c" * 64)


def test_a_version_whose_file_is_gone_or_changed_is_not_promoted(registry_app, two_models):
    client = registry_app.test_client()
    _, second = versions_of(*two_models)
    two_models[1].write_bytes(two_models[1].read_bytes() + b" ")
    refused = client.post(f"/api/models/{second}/promote", headers=ADMIN)
    assert (
        refused.status_code == 409
        and "changed since it was registered" in refused.get_json()["error"]["message"]
    )
    two_models[1].unlink()
    refused = client.post(f"/api/models/{second}/promote", headers=ADMIN)
    assert refused.status_code == 409 and "missing" in refused.get_json()["error"]["message"]


def test_the_service_follows_the_champion(registry_app, two_models):
    first, second = versions_of(*two_models)
    model = get_model(registry_app)
    with registry_app.app_context():
        assert model.get().version == first
        with get_database().connection_context():
            registry.promote(second, by="test", via="test", model_dir=two_models[0].parent)
        assert model.refresh() is True and model.version == second
        assert model.refresh() is False  # nothing changed
        # A champion that cannot be loaded is logged and the model in memory keeps serving.
        with get_database().connection_context():
            registry.rollback(by="test", via="test", model_dir=two_models[0].parent)
        saved = two_models[0].read_bytes()
        two_models[0].write_bytes(b"not a checkpoint")
        assert model.refresh() is False and model.version == second
        two_models[0].write_bytes(saved)


def _post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_predictions_stream_through_a_promotion_and_a_rollback_without_errors(registry_app, two_models):
    first, second = versions_of(*two_models)
    server = make_server("127.0.0.1", 0, registry_app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            status, body = _post(
                f"{base}/api/predict", {"review": "The parcel came late but support helped."}
            )
            seen.append((time.monotonic(), status, body.get("model_version")))

    def wait_for(version: str) -> float:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if seen and seen[-1][2] == version:
                return time.monotonic()
            time.sleep(0.05)
        raise AssertionError(f"still serving {seen[-1][2] if seen else None}, not {version}")

    clients = [threading.Thread(target=stream) for _ in range(3)]
    try:
        for client in clients:
            client.start()
        wait_for(first)
        asked = time.monotonic()
        assert _post(f"{base}/api/models/{second}/promote", {}, ADMIN)[0] == 200
        assert wait_for(second) - asked < 30
        assert _post(f"{base}/api/models/rollback", {}, ADMIN)[0] == 200
        wait_for(first)
        time.sleep(0.5)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
        server.shutdown()
    statuses = Counter(status for _, status, _ in seen)
    assert statuses == {200: len(seen)}, statuses
    order = [version for _, _, version in seen]
    switches = [b for a, b in zip(order, order[1:], strict=False) if a != b]
    assert set(switches) == {first, second} and len(seen) > 20


def test_a_champion_that_cannot_be_loaded_at_start_falls_back_to_model_path(registry_app, two_models):
    first, second = versions_of(*two_models)
    with registry_app.app_context(), get_database().connection_context():
        registry.promote(second, by="test", via="test", model_dir=two_models[0].parent)
    two_models[1].write_bytes(b"not a checkpoint")  # e.g. a volume that lost the file
    model = get_model(registry_app)
    with registry_app.app_context():
        assert model.get().version == first  # MODEL_PATH, not a 503
        assert model.refresh() is False and model.version == first  # retried later, still failing


def test_a_champion_whose_file_changed_is_refused_at_start_naming_both_hashes(
    registry_app, two_models, caplog
):
    """A loadable checkpoint put in place of the promoted one (MODEL_DIR is writable) is not
    served: the error names the file and both hashes, and MODEL_PATH is served, as for a
    champion that does not load."""
    first, second = versions_of(*two_models)
    with registry_app.app_context(), get_database().connection_context():
        registry.promote(second, by="test", via="test", model_dir=two_models[0].parent)
        registered = ModelVersion.get(ModelVersion.version == second).sha256
    save_tiny_checkpoint(two_models[1], seed=7)  # another model under the champion's name
    replaced = file_sha256(two_models[1])
    model = get_model(registry_app)
    with (
        registry_app.app_context(),
        caplog.at_level(logging.ERROR, logger=INFERENCE_LOGGER),
    ):
        assert model.get(watch=False).version == first  # MODEL_PATH, not the replaced file
        assert model.served_path == two_models[0]
        assert model.refresh() is False and model.version == first  # still refused later
    (refusal, *_) = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert f"refusing the champion {second}" in refusal
    assert str(two_models[1]) in refusal and registered in refusal and replaced in refusal
    response = registry_app.test_client().post("/api/predict", json={"text": "Fine shoes, thank you."})
    assert response.status_code == 200 and response.get_json()["model_version"] == first


def test_a_changed_champion_that_is_model_path_itself_is_served_only_as_model_path(
    registry_app, two_models, caplog
):
    first, _ = versions_of(*two_models)
    save_tiny_checkpoint(two_models[0], seed=8)  # the configured file itself replaced
    model = get_model(registry_app)
    with (
        registry_app.app_context(),
        caplog.at_level(logging.ERROR, logger=INFERENCE_LOGGER),
    ):
        served = model.get(watch=False)
    assert served.version != first  # its own version: no prediction claims to be the champion's
    assert any(f"refusing the champion {first}" in record.getMessage() for record in caplog.records)


def test_a_new_configured_model_is_registered_as_a_candidate_not_swapped_in(registry_app, model_dir):
    release = save_tiny_checkpoint(model_dir / "release.safetensors", seed=2)
    with registry_app.app_context(), get_database().connection_context():
        assert registry.register_first_champion(release, model_dir) is None
        row = ModelVersion.get(ModelVersion.version == load_checkpoint(release).version)
        assert row.status == "candidate" and "promote it" in row.reason
        assert ModelVersion.get(ModelVersion.status == "champion").file == "first.safetensors"


def test_the_listing_shows_how_each_versions_suggestions_fared(registry_app, two_models):
    client = registry_app.test_client()
    first, second = versions_of(*two_models)
    text = "The parcel was late, but the refund came quickly."
    for version, suggested, rating in ((first, 4, 4), (first, 4, 2), (second, 3, 3)):
        # What each version said, as the server signs it (the client's own figures are ignored).
        said = {"score": 0.6, "suggested_rating": suggested, "model_version": version}
        with registry_app.app_context():
            token = prediction_tokens.issue(text, said)
        review = {"text": text, "brand": "Nike", "rating": rating, "suggestion_shown": True}
        created = client.post("/api/review", json={**review, "prediction_token": token})
        assert created.status_code == 201, created.get_json()
        assert created.get_json()["model_version"] == version
    items = {item["version"]: item for item in client.get("/api/models", headers=ADMIN).get_json()["items"]}
    assert items[first]["live"] == {"reviews": 2, "kept": 1, "kept_suggestion": 0.5, "mean_abs_error": 1.0}
    assert items[second]["live"] == {"reviews": 1, "kept": 1, "kept_suggestion": 1.0, "mean_abs_error": 0.0}


def test_a_champion_file_that_no_longer_matches_its_version_keeps_the_model_in_memory(
    registry_app, two_models
):
    first, _ = versions_of(*two_models)
    model = get_model(registry_app)
    with registry_app.app_context():
        served = model.get()
        with get_database().connection_context():  # as if a release replaced the registered file
            ModelVersion.update(version="tiny-000000000000").where(ModelVersion.version == first).execute()
        assert model.refresh() is False
    assert model.get() is served and served in inference._cache.values()  # kept, not reloaded


def test_model_check_loads_what_the_api_would_serve(registry_app, make_app, model_dir, two_models):
    first, second = versions_of(*two_models)
    result = registry_app.test_cli_runner().invoke(args=["model", "check"])
    assert result.exit_code == 0, result.output
    assert f"model check: {first} loads from {two_models[0]}" in result.output
    with registry_app.app_context(), get_database().connection_context():
        registry.promote(second, by="test", via="test", model_dir=model_dir)
    # A new process, as each `flask … model check` is: the new champion, not MODEL_PATH.
    fresh = make_app(MODEL_PATH=two_models[0], MODEL_DIR=model_dir, migrate=False)
    result = fresh.test_cli_runner().invoke(args=["model", "check"])
    assert result.exit_code == 0, result.output
    assert f"model check: {second} loads from {two_models[1]}" in result.output


def test_model_check_names_a_champion_that_does_not_load_and_the_fallback(make_app, model_dir, two_models):
    first, second = versions_of(*two_models)
    app = make_app(MODEL_PATH=two_models[0], MODEL_DIR=model_dir)
    with app.app_context(), get_database().connection_context():
        registry.register_first_champion(two_models[0], model_dir)
        registry.register(two_models[1], model_dir=model_dir, parent=None)
        registry.promote(second, by="test", via="test", model_dir=model_dir)
    two_models[1].write_bytes(b"not a checkpoint")
    result = app.test_cli_runner().invoke(args=["model", "check"])
    assert result.exit_code == 0, result.output  # the API serves MODEL_PATH: degraded, not down
    assert f"the champion {second} ({two_models[1]}) does not load" in result.output
    assert f"model check: {first} loads from {two_models[0]}" in result.output


def test_a_new_install_whose_model_does_not_load_fails_the_model_check_naming_the_file(make_app, model_dir):
    missing = model_dir / "missing.safetensors"
    app = make_app(MODEL_PATH=missing, MODEL_DIR=model_dir, migrate=False)
    runner = app.test_cli_runner()
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output  # the schema is there: its own job is done
    assert f"no champion recorded ({missing}: " in upgrade.output
    check = runner.invoke(args=["model", "check"])
    assert check.exit_code == 1
    assert f"cannot load the model: {missing}: No such file or directory" in check.output
