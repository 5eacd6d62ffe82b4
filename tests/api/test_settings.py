"""Settings: safe defaults, the environment, explicit overrides, and refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from brandpulse.api import create_app
from brandpulse.api.settings import Settings, SettingsError
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT

SRC = Path(__file__).resolve().parents[2] / "src"


def test_defaults_need_no_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(environ={})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve().as_posix()}/instance/brandpulse.sqlite3"
    assert settings.model_path == BUNDLED_CHECKPOINT
    assert settings.model_dir == Path("instance") / "models" and settings.model_poll_seconds == 10
    assert settings.admin_token == ""
    assert (settings.api_port, settings.log_level) == (5000, "INFO")
    assert (settings.review_min_length, settings.max_content_length) == (15, 1024 * 1024)


def test_environment_then_overrides():
    environ = {
        "DATABASE_URL": "postgresql://u@db/brandpulse",
        "API_PORT": "8000",
        "TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12",
        "GUNICORN_PRELOAD": "false",
        "LOG_LEVEL": "debug",
        "MODEL_DIR": "/srv/models",
    }
    settings = Settings.from_env(environ=environ, overrides={"API_PORT": 9000, "review_min_length": "3"})
    assert settings.database_url == "postgresql://u@db/brandpulse"
    assert settings.api_port == 9000
    assert settings.review_min_length == 3
    assert settings.trusted_proxies == ("10.0.0.1", "172.16.0.0/12")
    assert settings.gunicorn_preload is False
    assert settings.log_level == "DEBUG"
    assert settings.model_dir == Path("/srv/models")


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"API_PORT": "http"}, "API_PORT"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"ADMIN_TOKEN": "short"}, "ADMIN_TOKEN"),
        ({"TRUSTED_PROXIES": "not an ip"}, "TRUSTED_PROXIES"),
        ({"PAGE_SIZE_MAX": "0"}, "PAGE_SIZE_MAX"),
        ({"REVIEW_MIN_LENGTH": "50", "REVIEW_MAX_LENGTH": "20"}, "REVIEW_MIN_LENGTH"),
        ({"GUNICORN_PRELOAD": "maybe"}, "GUNICORN_PRELOAD"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"MODEL_BF16": "sometimes"}, "MODEL_BF16"),
        ({"MODEL_POLL_SECONDS": "0"}, "MODEL_POLL_SECONDS"),
        ({"MODEL_POLL_SECONDS": "120"}, "MODEL_POLL_SECONDS"),
    ],
)
def test_bad_values_are_refused_by_name(environ, names):
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(environ=environ)


def test_workers_and_torch_threads_default_to_the_available_cpus(monkeypatch):
    monkeypatch.setattr("brandpulse.api.settings.available_cpus", lambda: 8)
    default = Settings.from_env({})
    assert (default.workers, default.inference_threads) == (8, 1)  # one single-threaded worker per CPU
    assert Settings.from_env({"WEB_CONCURRENCY": "1"}).inference_threads == 8
    assert Settings.from_env({"WEB_CONCURRENCY": "3"}).inference_threads == 2
    assert Settings.from_env({"WEB_CONCURRENCY": "16"}).inference_threads == 1
    assert Settings.from_env({"WEB_CONCURRENCY": "4", "TORCH_THREADS": "3"}).inference_threads == 3


def test_bf16_follows_the_setting_and_auto_asks_the_cpu(monkeypatch):
    assert Settings.from_env({"MODEL_BF16": " TRUE "}).inference_bf16 is True
    assert Settings.from_env({"MODEL_BF16": "false"}).inference_bf16 is False
    for native in (True, False):
        monkeypatch.setattr("brandpulse.api.settings.cpu_has_native_bf16", lambda native=native: native)
        assert Settings.from_env({}).inference_bf16 is native


def test_bad_rate_limit_is_refused_at_app_creation(tmp_path):
    with pytest.raises(SettingsError, match="RATE_LIMIT_PREDICT"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "RATE_LIMIT_PREDICT": "lots"})


def test_flask_keys_pass_through_and_in_memory_sqlite_works():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///:memory:"})
    assert app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    client = app.test_client()
    assert client.get("/api/brands").json == {"items": [], "total": 0}


def test_only_settings_reads_the_environment():
    offenders = []
    for path in sorted((SRC / "api").rglob("*.py")):
        text = path.read_text()
        if path.name != "settings.py" and ("os.environ" in text or "getenv" in text):
            offenders.append(path.name)
    assert offenders == []


def test_imports_have_no_side_effects(tmp_path):
    # Import every module of the API, the learning loop and the model (the gunicorn entry point
    # too) in a fresh interpreter, in an empty directory, with an unreachable database and no
    # model: nothing may connect, load, create a file or fail.
    code = """
import importlib, pkgutil, sys
names = []
for package in ("brandpulse.api", "brandpulse.learning", "brandpulse.model"):
    root = importlib.import_module(package)
    names += [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
for name in names:
    importlib.import_module(name)
from brandpulse.api.storage import db
from brandpulse.api.serving import inference
assert inference._cache == {}, "a model was loaded"
assert db.database.obj.is_closed(), "a database connection was opened"
print(len(names))
"""
    environ = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "MODEL_PATH": str(tmp_path / "missing.safetensors"),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 50
    assert list(tmp_path.iterdir()) == []


def test_an_empty_variable_is_the_default_even_where_it_used_to_mean_something():
    # One rule for every setting (brandpulse/env_settings.py): empty is the default.
    defaults = Settings.from_env({})
    assert Settings.from_env({"LOG_LEVEL": ""}).log_level == "INFO"  # was refused
    assert Settings.from_env({"GUNICORN_PRELOAD": ""}).gunicorn_preload is True  # was false
    assert Settings.from_env({"RATE_LIMIT_REVIEW": ""}).rate_limit_review == defaults.rate_limit_review
    assert Settings.from_env({"RATE_LIMIT_REVIEW": " OFF "}).rate_limit_review == "off"


def test_off_switches_a_rate_limit_off(tmp_path):
    database = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "LOG_LEVEL": "WARNING"}
    limited = create_app({**database, "RATE_LIMIT_DEFAULT": "1/minute"}).test_client()
    assert [limited.get("/api/config").status_code for _ in range(2)] == [200, 429]
    unlimited = create_app({**database, "RATE_LIMIT_DEFAULT": "off"}).test_client()
    assert {unlimited.get("/api/config").status_code for _ in range(3)} == {200}


def test_the_settings_and_the_gunicorn_config_load_no_torch():
    # gunicorn's master imports its configuration first: sizing the workers must stay cheap.
    code = (
        "import sys, brandpulse.api.settings, brandpulse.api.gunicorn_conf, brandpulse.dash.settings\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert not [m for m in sys.modules if m.startswith('brandpulse.api.') and m not in "
        "('brandpulse.api.settings', 'brandpulse.api.gunicorn_conf')], 'an API module was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_each_worker_has_a_thread_for_every_prediction_its_queue_and_pass_may_hold():
    settings = Settings.from_env({"PREDICT_QUEUE_MAX": "40", "PREDICT_BATCH_MAX": "16"})
    assert settings.threads == 40 + 16 + 8
    assert Settings.from_env({"GUNICORN_THREADS": "4"}).threads == 4
