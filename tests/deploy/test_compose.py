"""docker-compose.yml (and its override files): parsed, wired, and running code that imports."""

from __future__ import annotations

import importlib
import re
import shlex
from dataclasses import fields
from typing import Any

import pytest

from brandpulse.api.settings import Settings
from brandpulse.dash.settings import WebSettings
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import COMPOSE_FILES, load_yaml

SECRETS = ("POSTGRES_PASSWORD", "ADMIN_TOKEN")
SERVERS = {"api": ("/healthz", "api_routes"), "dash": ("/healthz", "dash_routes")}


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
    import tomllib

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


@pytest.mark.parametrize("service", ["migrate", "api", "dash", "train"])
def test_every_command_refers_to_code_that_imports(compose, service):
    command = compose["services"][service]["command"]
    assert isinstance(command, list), "exec form, so signals reach the server"
    check_command(command)


def test_the_image_default_commands_import_too():
    from tests.deploy.test_dockerfiles import instructions

    for dockerfile in ("api", "dash"):
        (cmd,) = [args for name, args in instructions(dockerfile) if name == "CMD"]
        check_command(cmd)


def test_startup_is_gated_on_health_not_order(compose):
    services = compose["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["api"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
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
        "api": {item.name.upper() for item in fields(Settings)},
        "dash": {item.name.upper() for item in fields(WebSettings)},
    }
    for service, names in expected.items():
        environment = _environment(compose["services"][service])
        missing, unknown = sorted(names - set(environment)), sorted(set(environment) - names)
        assert not missing and not unknown, f"{service}: missing {missing}, unknown {unknown}"
    api_env = _environment(compose["services"]["api"])
    assert api_env["DATABASE_URL"] == _environment(compose["services"]["migrate"])["DATABASE_URL"]
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
