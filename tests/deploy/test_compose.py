"""docker-compose.yml (and its override files): parsed, wired, hardened, and running code that imports.

The files are read as YAML here; `docker compose config` (Compose itself, no engine needed) merges
and interpolates them in the tests at the end, which skip without Compose v2 (and fail where
BRANDPULSE_REQUIRE_DOCKER=1 or BRANDPULSE_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger

from brandpulse.api.ratelimit import RateLimiter
from brandpulse.api.settings import Settings
from brandpulse.dash.settings import WebSettings
from tests.conftest import REPO_ROOT, REQUIRE_SERVICES
from tests.deploy.conftest import (
    COMPOSE_FILES,
    PROXY_OVERLAY,
    REPLICAS_OVERLAY,
    ComposeTag,
    container_model_dir,
    load_yaml,
    stage,
)

SECRETS = ("POSTGRES_PASSWORD", "ADMIN_TOKEN", "SECRET_KEY", "REDIS_PASSWORD")
# The services that run the API's code (its settings, its database, its keys).
API_CODE = ("migrate", "api", "retrain", "privacy")
# Capabilities a service keeps after `cap_drop: [ALL]`, each for a reason its comment gives.
KEPT_CAPABILITIES = {
    # the postgres image's entrypoint: chown/chmod of the data and socket directories, then it
    # drops to the `postgres` user
    "db": {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"},
    # only so that the kernel runs Caddy's binary, which carries this file capability; never
    # granted (no-new-privileges, a non-root user)
    "proxy": {"NET_BIND_SERVICE"},
}
# The API's compose healthcheck is its readiness (database and model), so `up --wait` fails on a
# model that does not load; the web page has only liveness.
SERVERS = {"api": ("/readyz", "api_routes"), "dash": ("/healthz", "dash_routes")}
# Settings only the API server needs: `retrain` and `privacy` get every other one, as the API does.
SERVER_ONLY = {"ADMIN_TOKEN", "API_HOST", "API_PORT", "TRUSTED_PROXIES"}
# gunicorn's own variable, fixed by compose for both servers (its control socket on the tmpfs).
GUNICORN_OWN = {"GUNICORN_CMD_ARGS"}


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


@pytest.mark.parametrize("service", ["migrate", "api", "dash", "retrain", "train", "privacy"])
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
    assert services["privacy"]["depends_on"] == services["migrate"]["depends_on"] | {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert services["proxy"]["depends_on"] == {"dash": {"condition": "service_healthy"}}
    assert services["api-lb"]["depends_on"] == {"api": {"condition": "service_healthy"}}


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
        "privacy": {name.upper() for name in Settings.model_fields} - SERVER_ONLY,
        "dash": {name.upper() for name in WebSettings.model_fields},
    }
    for service, names in expected.items():
        environment = _environment(compose["services"][service])
        if service in SERVERS:
            assert environment["GUNICORN_CMD_ARGS"] == "--control-socket /tmp/gunicorn.ctl", service
            names = names | GUNICORN_OWN
        missing, unknown = sorted(names - set(environment)), sorted(set(environment) - names)
        assert not missing and not unknown, f"{service}: missing {missing}, unknown {unknown}"
    api_env = _environment(compose["services"]["api"])
    for service in ("migrate", "retrain", "privacy"):
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
    pattern = r"\$\{RATE_LIMIT_STORAGE_URI:-(redis://:(\$\{REDIS_PASSWORD:\?[^}]+\})@redis:6379/\d+)\}"
    match = re.fullmatch(pattern, uri)
    assert match, f"the API's default storage is the redis service, with its password: {uri}"
    default = match.group(1).replace(match.group(2), "0123456789abcdef")
    RateLimiter(Settings.from_env({"RATE_LIMIT_STORAGE_URI": default}))  # a storage it accepts
    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    command = redis["command"]
    assert command[0] == "redis-server"
    # Counters only: no snapshot, no append-only file, no volume; bounded memory.
    assert command[command.index("--save") + 1] == "" and command[command.index("--appendonly") + 1] == "no"
    assert "volumes" not in redis and "--maxmemory" in command
    assert "ports" not in redis, "reached by the API on the compose network only"


# ---------------------------------------------------------------- hardening (issue 25)


def _tmpfs_paths(service: dict[str, Any]) -> set[str]:
    tmpfs = service.get("tmpfs", [])
    return {entry.split(":", 1)[0] for entry in ([tmpfs] if isinstance(tmpfs, str) else tmpfs)}


ALL_SERVICES = ("db", "migrate", "redis", "api", "dash", "retrain", "privacy", "proxy", "train", "api-lb")


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_every_service_runs_read_only_without_capabilities_or_new_privileges(compose, service):
    config = compose["services"][service]
    assert config.get("read_only") is True, f"{service}: a read-only root file system"
    assert "/tmp" in _tmpfs_paths(config), f"{service}: a tmpfs for /tmp"
    assert config.get("cap_drop") == ["ALL"], service
    assert "no-new-privileges:true" in config.get("security_opt", []), service
    assert set(config.get("cap_add", [])) == KEPT_CAPABILITIES.get(service, set()), service
    assert not config.get("privileged"), service
    user = str(config.get("user", ""))
    assert user.split(":")[0] not in ("root", "0"), service
    # Rotated logs: some lines name an address (docs/privacy.md), none is kept for ever.
    logging_options = config.get("logging", {}).get("options", {})
    assert logging_options.get("max-size") and logging_options.get("max-file"), service


def test_every_service_in_every_file_is_covered_by_the_hardening_test(compose):
    names = {name for path in COMPOSE_FILES for name in load_yaml(path)["services"]}
    assert names == set(compose["services"]), "a service only an override file defines"


def test_only_the_jobs_that_write_models_mount_the_volume_writable(compose):
    services = compose["services"]
    writable = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            if source == "models":
                writable[name] = mode != ["ro"]
                assert target == _mounts(services["api"])["models"], name
    assert writable == {"migrate": True, "retrain": True, "api": False}


def test_every_service_running_the_api_code_requires_the_secret_key(compose):
    for service in API_CODE:
        value = _environment(compose["services"][service])["SECRET_KEY"]
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", value), f"{service}: SECRET_KEY={value}"


def test_redis_asks_for_its_password_and_its_healthcheck_gives_it(compose):
    redis = compose["services"]["redis"]
    command = redis["command"]
    password = command[command.index("--requirepass") + 1]
    assert re.fullmatch(r"\$\{REDIS_PASSWORD:\?[^}]+\}", password), password
    # redis-cli reads REDISCLI_AUTH: the healthcheck authenticates without the password in argv.
    assert _environment(redis)["REDISCLI_AUTH"] == password
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert redis["user"] == "redis", "started as the image's user: no capability to switch users"
    uri = _environment(compose["services"]["api"])["RATE_LIMIT_STORAGE_URI"]
    assert f"redis://:{password}@redis:" in uri


def test_the_trusted_hops_are_the_web_server_and_the_proxy_only(compose):
    """The API believes X-Forwarded-For from `dash` and `proxy`, the web server from `proxy`: service
    names (resolved by the API), no network ranges; and they are valid settings."""
    services = compose["services"]
    hops = {}
    for service, variable in (("api", "TRUSTED_PROXIES"), ("dash", "WEB_TRUSTED_PROXIES")):
        value = _environment(services[service])[variable]
        match = re.fullmatch(rf"\$\{{{variable}:-([^}}]+)\}}", value)
        assert match, f"{service}: {variable} comes from .env with a default: {value}"
        hops[service] = match.group(1).split(",")
    assert hops == {"api": ["dash", "proxy"], "dash": ["proxy"]}
    assert all(name in services for names in hops.values() for name in names)
    Settings.from_env({"TRUSTED_PROXIES": ",".join(hops["api"])})
    WebSettings.from_env({"WEB_TRUSTED_PROXIES": ",".join(hops["dash"])})


def test_the_privacy_service_expires_personal_data_on_the_codes_schedule(compose):
    services = compose["services"]
    privacy, api = services["privacy"], services["api"]
    assert "profiles" not in privacy, "always on: a plain `up` starts it"
    assert privacy["image"] == api["image"] and privacy["build"] == api["build"]
    assert privacy["restart"] == "unless-stopped"
    # Not the image's HTTP check (nothing listens): whether the database answers, so `up --wait`
    # (which refuses a service whose healthcheck is disabled) sees it healthy.
    test = privacy["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and "DATABASE_URL" in test[3]
    compile(test[3], "healthcheck", "exec")
    assert "ports" not in privacy and "expose" not in privacy and "volumes" not in privacy
    command = privacy["command"]
    assert command[:-1] == ["flask", "--app", "brandpulse.api", "privacy", "expire", "--schedule"]
    match = re.fullmatch(r"\$\{PERSONAL_DATA_SCHEDULE:-([^}]+)\}", command[-1])
    assert match, command[-1]
    default = Settings.from_env({}).personal_data_schedule
    assert match.group(1) == default
    CronTrigger.from_crontab(default)


def test_the_proxy_overlay_starts_the_proxy_and_keeps_the_web_port_on_loopback():
    overlay = load_yaml(PROXY_OVERLAY)["services"]
    assert set(overlay) == {"proxy", "dash"}
    profiles, ports = overlay["proxy"]["profiles"], overlay["dash"]["ports"]
    assert isinstance(profiles, ComposeTag) and profiles.tag == "!reset" and profiles.value == []
    assert isinstance(ports, ComposeTag) and ports.tag == "!override"
    assert [str(port).split(":")[0] for port in ports.value] == ["127.0.0.1"]


# ---------------------------------------------------------------- `docker compose config`


REQUIRED_ENV = {
    "POSTGRES_USER": "brandpulse",
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "POSTGRES_DB": "brandpulse",
    "ADMIN_TOKEN": "9f2c4e6a8b0d1f3e5a7c9e1b",
    "SECRET_KEY": "4b6d8f0a2c4e6a8c0e2b4d6f",
    "REDIS_PASSWORD": "a1b2c3d4e5f60718293a4b5c",
}


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """The docker CLI with Compose v2 (no engine needed for `config`)."""
    docker = shutil.which("docker")
    version = [docker, "compose", "version"] if docker else None
    if version and subprocess.run(version, capture_output=True, timeout=30).returncode == 0:
        return docker
    reason = "Docker Compose v2 (`docker compose`) is not installed"
    if REQUIRE_SERVICES or os.environ.get("BRANDPULSE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"required but unavailable: {reason}")
    pytest.skip(reason)


def compose_config(
    docker: str, tmp_path: Path, files: list[str], env: dict[str, str], *args: str
) -> subprocess.CompletedProcess:
    """`docker compose -f … config --format json` over the repository's files, with `env` as the
    only .env (this machine's .env and COMPOSE_* variables play no part)."""
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    process_env = {key: os.environ[key] for key in ("PATH", "HOME", "DOCKER_CONFIG") if key in os.environ}
    command = [docker, "compose", "--project-directory", str(REPO_ROOT), "--env-file", str(env_file)]
    for name in files:
        command += ["-f", str(REPO_ROOT / name)]
    return subprocess.run(
        [*command, *args, "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, env=process_env, check=False,
    )  # fmt: skip


def merged(docker: str, tmp_path: Path, files: list[str], *args: str, **env: str) -> dict[str, Any]:
    result = compose_config(docker, tmp_path, files, {**REQUIRED_ENV, **env}, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("secret", sorted(set(REQUIRED_ENV) - {"POSTGRES_USER", "POSTGRES_DB"}))
def test_compose_refuses_to_start_without_each_secret(docker_compose, tmp_path, secret):
    env = {key: value for key, value in REQUIRED_ENV.items() if key != secret}
    result = compose_config(docker_compose, tmp_path, ["docker-compose.yml"], env)
    assert result.returncode != 0
    assert f"required variable {secret} is missing a value: set {secret} in .env" in result.stderr


def test_compose_config_hardens_every_service_and_wires_the_secrets(docker_compose, tmp_path):
    config = merged(docker_compose, tmp_path, ["docker-compose.yml"], "--profile", "learning",
                    "--profile", "proxy", "--profile", "train", "--profile", "replicas")  # fmt: skip
    services = config["services"]
    assert set(services) == set(ALL_SERVICES)
    for name, service in services.items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert set(service.get("cap_add", [])) == KEPT_CAPABILITIES.get(name, set()), name
    (models,) = [mount for mount in services["api"]["volumes"] if mount["source"] == "models"]
    assert models["read_only"] is True
    for name in API_CODE:
        assert services[name]["environment"]["SECRET_KEY"] == REQUIRED_ENV["SECRET_KEY"], name
    password = REQUIRED_ENV["REDIS_PASSWORD"]
    assert services["api"]["environment"]["RATE_LIMIT_STORAGE_URI"] == f"redis://:{password}@redis:6379/0"
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == password
    assert services["api"]["environment"]["TRUSTED_PROXIES"] == "dash,proxy"
    assert services["dash"]["environment"]["WEB_TRUSTED_PROXIES"] == "proxy"
    assert services["privacy"]["command"][-1] == Settings.from_env({}).personal_data_schedule
    # Set in .env, the values reach the containers instead.
    custom = merged(
        docker_compose,
        tmp_path,
        ["docker-compose.yml"],
        TRUSTED_PROXIES="dash",
        PERSONAL_DATA_SCHEDULE="0 4 * * *",
        RATE_LIMIT_STORAGE_URI="redis://cache:6379/1",
    )
    environment = custom["services"]["api"]["environment"]
    assert environment["TRUSTED_PROXIES"] == "dash"
    assert environment["RATE_LIMIT_STORAGE_URI"] == "redis://cache:6379/1"
    assert custom["services"]["privacy"]["command"][-1] == "0 4 * * *"


def _dash_bindings(config: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(port.get("host_ip"), str(port["published"])) for port in config["services"]["dash"]["ports"]]


def test_the_web_port_is_on_loopback_only_when_the_proxy_overlay_runs_the_proxy(docker_compose, tmp_path):
    plain = merged(docker_compose, tmp_path, ["docker-compose.yml"])
    assert "proxy" not in plain["services"], "the proxy is not started by a plain `up`"
    assert _dash_bindings(plain) == [(None, "8050")], "every interface, as before"
    files = ["docker-compose.yml", "compose.proxy.yml"]
    proxied = merged(docker_compose, tmp_path, files, WEB_PUBLISH="8443")
    assert "proxy" in proxied["services"] and not proxied["services"]["proxy"].get("profiles")
    assert _dash_bindings(proxied) == [("127.0.0.1", "8443")]
    # The overlay only adds the proxy and changes the web port: every other service is the same.
    for name, service in plain["services"].items():
        if name != "dash":
            assert proxied["services"][name] == service, name
    assert {**proxied["services"]["dash"], "ports": None} == {**plain["services"]["dash"], "ports": None}
    # With the development override too (COMPOSE_FILE in .env lists the files the same way).
    files = ["docker-compose.yml", "compose.override.yml", "compose.proxy.yml"]
    development = merged(docker_compose, tmp_path, files)
    assert _dash_bindings(development) == [("127.0.0.1", "8050")]
    assert {port.get("host_ip") for port in development["services"]["api"]["ports"]} == {"127.0.0.1"}


def test_the_replicas_overlay_scales_the_api_behind_the_balancer(docker_compose, tmp_path):
    """compose.replicas.yml: API_REPLICAS containers of `api` with no port of their own, the
    balancer started and published on loopback where the single API was, the web page calling the
    API through it, the API believing it; every other service as it was."""
    plain = merged(docker_compose, tmp_path, ["docker-compose.yml", "compose.override.yml"])
    assert "api-lb" not in plain["services"], "a plain `up` does not start the balancer"
    files = ["docker-compose.yml", "compose.override.yml", "compose.replicas.yml"]
    scaled = merged(docker_compose, tmp_path, files, API_PUBLISH="15000")
    services = scaled["services"]
    api, balancer, dash = services["api"], services["api-lb"], services["dash"]
    assert api["deploy"]["replicas"] == 3 and "ports" not in api
    assert not balancer.get("profiles")
    assert [(port.get("host_ip"), str(port["published"]), port["target"]) for port in balancer["ports"]] == [
        ("127.0.0.1", "15000", 5000)
    ]
    assert dash["environment"]["API_URL"] == "http://api-lb:5000"
    assert dash["depends_on"]["api-lb"]["condition"] == "service_started"
    assert api["environment"]["TRUSTED_PROXIES"].split(",") == ["dash", "proxy", "api-lb"]
    Settings.from_env({"TRUSTED_PROXIES": api["environment"]["TRUSTED_PROXIES"]})
    # The balancer is hardened as every service, and needs no capability at all.
    assert balancer["read_only"] is True and balancer["cap_drop"] == ["ALL"] and "cap_add" not in balancer
    assert "no-new-privileges:true" in balancer["security_opt"]
    (config,) = balancer["volumes"]
    assert config["read_only"] is True
    assert Path(config["source"]) == REPO_ROOT / "deploy" / "haproxy" / "haproxy.cfg"
    for name, service in plain["services"].items():
        if name not in ("api", "dash"):
            assert services[name] == service, name
    assert {**api, "deploy": None, "ports": None, "environment": None} == {
        **plain["services"]["api"], "deploy": None, "ports": None, "environment": None
    }  # fmt: skip
    # API_REPLICAS in .env, or `--scale api=N` on the command line.
    assert (
        merged(docker_compose, tmp_path, files, API_REPLICAS="5")["services"]["api"]["deploy"]["replicas"]
        == 5
    )
    overlay = load_yaml(REPLICAS_OVERLAY)["services"]
    assert set(overlay) == {"api", "api-lb", "dash"}
    assert isinstance(overlay["api"]["ports"], ComposeTag) and overlay["api"]["ports"].tag == "!reset"


def _haproxy_directives() -> list[str]:
    text = (REPO_ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    return [
        " ".join(line.split("#", 1)[0].split()) for line in text.splitlines() if line.split("#", 1)[0].strip()
    ]


def test_the_balancer_checks_readiness_finds_replicas_by_dns_and_retries_only_what_is_safe():
    directives = _haproxy_directives()
    # Every container of the `api` service, by Docker's DNS, checked on its readiness route.
    assert any(re.fullmatch(r"server-template \S+ 1-\d+ api:5000", line) for line in directives)
    assert "http-check send meth GET uri /readyz" in directives
    assert "http-check expect status 200" in directives
    (servers,) = [line for line in directives if line.startswith("default-server ")]
    for phrase in ("check ", "resolvers docker", "init-addr none", "observe layer4", "on-error mark-down"):
        assert phrase in servers, phrase
    assert "balance roundrobin" in directives
    # Sent again after a replica took it: only GET/HEAD, predictions and keyed writes.
    assert "retry-on conn-failure empty-response junk-response" in directives
    assert "http-request disable-l7-retry unless safe_method || scoring || keyed" in directives
    assert "acl safe_method method GET HEAD" in directives
    assert "acl scoring path /api/predict /api/predict/batch" in directives
    assert "acl keyed req.hdr(Idempotency-Key) -m found" in directives
    # The client's address appended to X-Forwarded-For; which hop to believe is the API's rule.
    assert "option forwardfor" in directives
    assert "bind :5000" in directives
    assert not any(word in line for line in directives for word in ("chroot", "pidfile", "stats socket"))


def test_the_gpu_file_still_merges(docker_compose, tmp_path):
    config = merged(docker_compose, tmp_path, ["docker-compose.yml", "compose.gpu.yml"], "--profile", "train")
    assert config["services"]["api"]["read_only"] is True
    (device,) = config["services"]["train"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"


def test_the_caddyfile_limits_bodies_and_believes_no_clients_forwarded_for():
    caddyfile = (REPO_ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    directives = "\n".join(line.split("#", 1)[0] for line in caddyfile.splitlines())
    assert re.search(r"request_body\s*\{\s*max_size 1MB\s*\}", directives)
    # A declared length of 1 MB or more (7+ digits) is refused at once, with 413.
    (pattern,) = re.findall(r"@too_large header_regexp Content-Length (\S+)", directives)
    assert re.search(r"respond @too_large .* 413", directives)
    assert all(re.fullmatch(pattern, str(size)) for size in (1_000_000, 6 * 1024 * 1024))
    assert not any(re.fullmatch(pattern, str(size)) for size in (0, 262_144, 999_999))
    # Caddy believes a client's X-Forwarded-For only from `trusted_proxies`: none, so none.
    assert "trusted_proxies" not in directives and "X-Forwarded-For" not in directives
    for header in ("Strict-Transport-Security", "X-Content-Type-Options nosniff", "-Server"):
        assert header in directives, header
