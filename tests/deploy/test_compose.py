"""docker-compose.yml (and its override files): parsed, wired, and running code that imports."""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import PurePosixPath
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger

from brandpulse.api.ratelimit import RateLimiter
from brandpulse.api.settings import Settings
from brandpulse.dash.settings import WebSettings
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import COMPOSE_FILES, container_model_dir, load_yaml, stage

SECRETS = ("POSTGRES_PASSWORD", "ADMIN_TOKEN")
# The API's compose healthcheck is its readiness (database and model), so `up --wait` fails on a
# model that does not load; the web page has only liveness.
SERVERS = {"api": ("/readyz", "api_routes"), "dash": ("/healthz", "dash_routes")}
# Settings only the API server needs: `retrain` gets every other one, as the API does.
SERVER_ONLY = {"ADMIN_TOKEN", "API_HOST", "API_PORT", "TRUSTED_PROXIES"}


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "write `environment` as a mapping"
    return environment


def _import_object(reference: str) -> Any:
    """`package.module:attribute` (gunicorn's app syntax), imported."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def _check_gunicorn(command: list[str]) -> None:
    config = command[command.index("-c") + 1]
    assert config.startswith("python:"), "load the gunicorn config as a module"
    conf = importlib.import_module(config.removeprefix("python:"))
    assert conf.worker_class == "gthread"
    app = _import_object(command[-1])
    assert callable(app), f"{command[-1]} is not a WSGI callable"


def _check_flask_cli(command: list[str]) -> None:
    from brandpulse.api import create_app

    app_module = command[command.index("--app") + 1]
    assert importlib.import_module(app_module).create_app is create_app
    group, subcommand = command[command.index("--app") + 2 :][:2]
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///:memory:"})
    assert subcommand in app.cli.commands[group].commands, f"no `flask {group} {subcommand}`"


def _check_script(command: list[str]) -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts, f"{command[0]} is not a [project.scripts] entry"
    assert callable(_import_object(scripts[command[0]]))


def check_command(command: list[str]) -> None:
    """Every program a compose command runs refers to code that imports."""
    if command[:2] == ["sh", "-c"]:
        for part in command[2].split("&&"):
            check_command(shlex.split(part))
    elif command[0] == "gunicorn":
        _check_gunicorn(command)
    elif command[0] == "flask":
        _check_flask_cli(command)
    else:
        _check_script(command)


def test_the_compose_files_parse():
    for path in COMPOSE_FILES:
        assert isinstance(load_yaml(path)["services"], dict), path


@pytest.mark.parametrize("service", ["migrate", "api", "dash", "retrain", "train"])
def test_every_command_refers_to_code_that_imports(compose, service):
    command = compose["services"][service]["command"]
    assert isinstance(command, list), "exec form, so signals reach the server"
    check_command(command)


def test_the_image_default_commands_import_too():
    for target in ("api", "web"):
        cmd = [args for name, args in stage(target) if name == "CMD"][-1]
        check_command(cmd)


def test_startup_is_gated_on_health_not_order(compose):
    services = compose["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["api"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["dash"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert services["proxy"]["depends_on"] == {"dash": {"condition": "service_healthy"}}


@pytest.mark.parametrize("service", sorted(SERVERS))
def test_server_healthchecks_ask_a_route_that_exists(compose, request, service):
    path, routes_fixture = SERVERS[service]
    test = compose["services"][service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], "slim images have no curl"
    compile(test[3], "healthcheck", "exec")
    port = _environment(compose["services"][service])["API_PORT" if service == "api" else "WEB_PORT"]
    assert f"http://127.0.0.1:{port}{path}'" in test[3]
    assert path in request.getfixturevalue(routes_fixture)


def test_ports_restart_limits_and_volumes(compose):
    services = compose["services"]
    assert "ports" not in services["api"], "the API is published only by compose.override.yml"
    assert any(str(port).endswith(":8050") for port in services["dash"]["ports"])
    for name, service in services.items():
        assert service["restart"] == ("no" if name in ("migrate", "train") else "unless-stopped"), name
        assert {"cpus", "memory"} <= set(service["deploy"]["resources"]["limits"]), name
    assert services["db"]["image"].startswith("postgres:")
    volume = services["db"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the database lives in a named volume"
    assert services["proxy"]["profiles"] == ["proxy"]
    assert services["train"]["profiles"] == ["train"]
    mounts = {volume.split(":")[1] for volume in services["train"]["volumes"]}
    assert {"/app/data", "/app/models"} <= mounts
    caddyfile = services["proxy"]["volumes"][0].split(":")[0]
    assert (REPO_ROOT / caddyfile).is_file()
    assert "reverse_proxy dash:8050" in (REPO_ROOT / caddyfile).read_text()


def test_no_secret_is_written_in_a_compose_file():
    for path in COMPOSE_FILES:
        text = path.read_text()
        for name in SECRETS:
            # Only `${NAME:?message}`: required, and never given a default.
            for match in re.finditer(rf"\$\{{{name}([^}}]*)\}}", text):
                assert match.group(1).startswith(":?"), f"{path.name}: {match.group(0)}"
            assert not re.search(rf"^\s*{name}:\s*[^$\s]", text, re.MULTILINE), f"{path.name}: literal {name}"
        assert "postgresql://postgres:" not in text


def test_every_setting_reaches_its_container(compose):
    """A setting put in .env is passed on (by name) or fixed by compose, for each service."""
    expected = {
        "api": {name.upper() for name in Settings.model_fields},
        "retrain": {name.upper() for name in Settings.model_fields} - SERVER_ONLY,
        "dash": {name.upper() for name in WebSettings.model_fields},
    }
    for service, names in expected.items():
        environment = _environment(compose["services"][service])
        missing, unknown = sorted(names - set(environment)), sorted(set(environment) - names)
        assert not missing and not unknown, f"{service}: missing {missing}, unknown {unknown}"
    api_env = _environment(compose["services"]["api"])
    for service in ("migrate", "retrain"):
        assert api_env["DATABASE_URL"] == _environment(compose["services"][service])["DATABASE_URL"], service
    assert "@db:5432/" in api_env["DATABASE_URL"]
    dash_env = _environment(compose["services"]["dash"])
    assert dash_env["API_URL"] == f"http://api:{api_env['API_PORT']}"


def test_make_run_procfile_runs_the_compose_commands(compose):
    """`make run` (honcho + Procfile) starts the same servers as compose."""
    procfile = dict(
        line.split(": ", 1)
        for line in (REPO_ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(procfile) == {"api", "web"}
    for process, service in (("api", "api"), ("web", "dash")):
        words = shlex.split(procfile[process])
        command = words[words.index("exec") + 1 :]
        assert command == compose["services"][service]["command"], process


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Volume source (a named volume or a host path) -> its path in the container."""
    return {volume.split(":")[0]: volume.split(":")[1] for volume in service["volumes"]}


def test_retrain_runs_on_a_schedule_only_in_the_learning_profile(compose, capsys):
    services = compose["services"]
    retrain, api = services["retrain"], services["api"]
    assert retrain["profiles"] == ["learning"], "a plain `docker compose up` must not start it"
    # The API's build context and arguments, the `learning` target (the API plus scikit-learn).
    assert retrain["image"] == "brandpulse-learning:latest"
    assert retrain["build"] == {**api["build"], "target": "learning"}
    # db healthy and migrate completed, as for the API (which also waits for its rate-limit Redis)
    assert retrain["depends_on"] == {name: api["depends_on"][name] for name in ("db", "migrate")}
    assert retrain["restart"] == "unless-stopped"
    assert "ports" not in retrain and "expose" not in retrain, "it serves nothing"
    # No `user:` override: the image's own non-root user (checked in test_dockerfiles).
    assert "user" not in retrain
    assert [args for name, args in stage("learning") if name == "USER"][-1] not in ("root", "0")

    program, option, schedule = retrain["command"]
    assert [program, option] == ["retrain", "--schedule"]
    match = re.fullmatch(r"\$\{RETRAIN_SCHEDULE:-([^}]+)\}", schedule)
    assert match, f"the schedule comes from .env, with the code's default: {schedule}"
    default = Settings.from_env({}).retrain_schedule
    assert match.group(1) == default
    CronTrigger.from_crontab(default)  # a 5-field cron expression that APScheduler reads

    # The options compose uses are `retrain`'s own (its --help exits before any setting is read).
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    with pytest.raises(SystemExit) as exited:
        _import_object(scripts["retrain"])(["--help"])
    assert exited.value.code == 0
    assert option in capsys.readouterr().out


def test_retrain_writes_to_the_apis_models_volume_and_reads_the_corpus(compose):
    services = compose["services"]
    retrain, api = services["retrain"], services["api"]
    environment = _environment(retrain)
    mounts, api_mounts = _mounts(retrain), _mounts(api)
    # The registry's checkpoints: the same named volume at the same MODEL_DIR as the API.
    assert "models" in compose["volumes"]
    assert mounts["models"] == api_mounts["models"]
    assert container_model_dir(environment) == container_model_dir(_environment(api))
    assert str(container_model_dir(environment)) == mounts["models"]

    # The base corpus `make corpus` writes (the code's default path, relative to the repository),
    # mounted read-only and named by an absolute path in the container.
    data = next(volume for volume in retrain["volumes"] if volume.startswith("./data:"))
    assert data.endswith(":ro")
    corpus = PurePosixPath(environment["RETRAIN_BASE_CORPUS"])
    assert corpus.is_absolute()
    on_host = PurePosixPath("data") / corpus.relative_to(mounts["./data"])
    assert str(on_host) == str(Settings.from_env({}).retrain_base_corpus)

    # CPU heavy: threads within its CPU limit, and a lower CPU weight than the API's default.
    threads = re.fullmatch(r"\$\{RETRAIN_THREADS:-(\d+)\}", environment["RETRAIN_THREADS"])
    assert threads, environment["RETRAIN_THREADS"]
    assert 1 <= int(threads.group(1)) <= float(retrain["deploy"]["resources"]["limits"]["cpus"])
    assert retrain["cpu_shares"] < 1024


def test_the_api_workers_count_rate_limits_in_the_redis_service(compose):
    """Every API worker counts in the one redis service (RATE_LIMIT_STORAGE_URI, .env may change it)."""
    services = compose["services"]
    uri = _environment(services["api"])["RATE_LIMIT_STORAGE_URI"]
    match = re.fullmatch(r"\$\{RATE_LIMIT_STORAGE_URI:-(redis://redis:6379/\d+)\}", uri)
    assert match, f"the API's default storage is the redis service: {uri}"
    RateLimiter(Settings.from_env({"RATE_LIMIT_STORAGE_URI": match.group(1)}))  # a storage it accepts
    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    command = redis["command"]
    assert command[0] == "redis-server"
    # Counters only: no snapshot, no append-only file, no volume; bounded memory.
    assert command[command.index("--save") + 1] == "" and command[command.index("--appendonly") + 1] == "no"
    assert "volumes" not in redis and "--maxmemory" in command
    assert "ports" not in redis, "reached by the API on the compose network only"
