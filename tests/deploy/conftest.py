"""Shared helpers of the deployment tests: the repository's deploy files, parsed, and the compose
stack the container tests run (`running_stack`)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.support.docker import (
    ComposeProject,
    Stack,
    build_on_host_network,
    docker_unavailable,
    ensure_stand_ins,
    prepare_checkout,
)

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROXY_OVERLAY = REPO_ROOT / "compose.proxy.yml"
REPLICAS_OVERLAY = REPO_ROOT / "compose.replicas.yml"
COMPOSE_FILES = (
    COMPOSE_FILE,
    REPO_ROOT / "compose.override.yml",
    REPO_ROOT / "compose.gpu.yml",
    PROXY_OVERLAY,
    REPLICAS_OVERLAY,
)
# The container tests need a Docker engine: without one they skip, unless this is set (by .ci/run,
# where ../shared/tools/docker-local.sh gives it an engine), which turns that into a failure.
REQUIRE_DOCKER = os.environ.get("BRANDPULSE_REQUIRE_DOCKER") == "1"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
# The images that run this project's code: targets of one multi-stage Dockerfile, each built by
# these compose services (docker-compose.yml, compose.gpu.yml).
DOCKERFILE = REPO_ROOT / "Dockerfile"
TARGETS = {
    "api": ("api", "migrate", "privacy"),
    "learning": ("retrain",),
    "training": ("train",),
    "web": ("dash",),
}


class ComposeTag:
    """A value Compose's merge tags mark (`!reset`, `!override`): the tag and the value as written."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value

    def __repr__(self) -> str:
        return f"{self.tag} {self.value!r}"


class _Loader(yaml.SafeLoader):
    """The safe loader, plus Compose's `!reset` and `!override` (kept as ComposeTag)."""


def _compose_tag(loader: yaml.SafeLoader, node: yaml.Node) -> ComposeTag:
    if isinstance(node, yaml.SequenceNode):
        value: Any = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return ComposeTag(node.tag, value)


for _tag in ("!reset", "!override"):
    _Loader.add_constructor(_tag, _compose_tag)


def load_yaml(path: Path) -> Any:
    """One YAML document, parsed safely (Compose's merge tags: ComposeTag)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)


def instructions() -> list[tuple[str, object]]:
    """The Dockerfile's (INSTRUCTION, arguments) pairs; JSON arguments are parsed, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[tuple[str, object]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if name.upper() in ("CMD", "ENTRYPOINT") and rest.startswith("["):
            result.append((name.upper(), json.loads(rest)))
        else:
            result.append((name.upper(), rest))
    return result


def stages() -> dict[str, tuple[str, list[tuple[str, object]]]]:
    """Each stage's name -> (what it starts `FROM`, its instructions, that `FROM` first).

    Global ARGs before the first `FROM` belong to no stage; an unnamed stage is `#<index>`.
    """
    result: dict[str, tuple[str, list[tuple[str, object]]]] = {}
    name = ""
    for instruction, args in instructions():
        if instruction == "FROM":
            words = str(args).split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else f"#{len(result)}"
            result[name] = (words[0], [])
        if name:
            result[name][1].append((instruction, args))
    return result


def stage(target: str) -> list[tuple[str, object]]:
    """The instructions the image built for `target` runs, inherited ones first.

    A stage `FROM <an earlier stage>` continues it, so its ancestors' ENV, USER, CMD… count; the
    first `FROM` of the chain (the base image) is kept.
    """
    known = stages()
    chain = [target]
    while known[chain[0]][0] in known:
        chain.insert(0, known[chain[0]][0])
    return [step for link in chain for step in known[link][1]]


def build_steps(target: str) -> list[tuple[str, object]]:
    """Every instruction that makes the image of `target`, in the order they take effect: its own
    chain (`stage`), with each `COPY --from=<stage>` preceded by that stage's build steps."""
    known = stages()
    steps: list[tuple[str, object]] = []
    for instruction, args in stage(target):
        source = re.match(r"--from=(\S+)", str(args)) if instruction == "COPY" else None
        if source and source.group(1) in known:
            steps += build_steps(source.group(1))
        steps.append((instruction, args))
    return steps


def image_environment(target: str) -> dict[str, str]:
    """The `ENV` variables of the image built for a Dockerfile target (`$VAR` left as written)."""
    environment: dict[str, str] = {}
    for name, args in stage(target):
        if name == "ENV":
            environment.update(word.split("=", 1) for word in shlex.split(str(args)))
    return environment


def container_model_dir(environment: Mapping[str, Any]) -> Path:
    """MODEL_DIR as the API's settings resolve it in its image, with `environment` set on top.

    Only the variables that decide it are taken (DATA_DIR, MODEL_DIR), and only when given a
    literal value: a name passed on from .env with no value there leaves the image's default.
    """
    from brandpulse.api.settings import Settings

    given = {**image_environment("api"), **{key: value for key, value in environment.items() if value}}
    decisive = {key: str(given[key]) for key in ("DATA_DIR", "MODEL_DIR") if key in given}
    assert not any("$" in value for value in decisive.values()), f"interpolated: {decisive}"
    return Settings.from_env(decisive).model_dir


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed (no interpolation: `${…}` stays as written)."""
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="session")
def api_routes() -> set[str]:
    """The URL rules of the API app."""
    from brandpulse.api import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///:memory:"})
    return {rule.rule for rule in app.url_map.iter_rules()}


@pytest.fixture(scope="session")
def dash_routes() -> set[str]:
    """The URL rules of the web front end's Flask server."""
    from brandpulse.dash.app import create_app

    return {rule.rule for rule in create_app().server.url_map.iter_rules()}


# ---------------------------------------------------------------- the compose stack, running


def require_docker() -> None:
    """Skip the test without a Docker engine (fail it where BRANDPULSE_REQUIRE_DOCKER=1)."""
    reason = docker_unavailable()
    if reason:
        if REQUIRE_DOCKER:
            pytest.fail(f"BRANDPULSE_REQUIRE_DOCKER=1 but {reason}")
        pytest.skip(f"{reason}; run ../shared/tools/docker-local.sh or install Docker to run these tests")


def report_figures(config: pytest.Config, name: str, figures: Mapping[str, Any]) -> None:
    """Keep the figures in artifacts/<name>.json and print them past pytest's output capture."""
    out = REPO_ROOT / "artifacts" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    writer = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if writer is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # onto the terminal
        writer.write_line("")
        writer.write_line(f"{name} figures ({out.relative_to(REPO_ROOT)}):")
        for key, value in figures.items():
            writer.write_line(f"  {key}: {value}")


@contextmanager
def running_stack(
    request: pytest.FixtureRequest,
    directory: Path,
    name: str,
    files: Sequence[str],
    settings: Mapping[str, str] | None = None,
    build: Sequence[str] = (),
) -> Iterator[Stack]:
    """The compose stack of a copy of the checkout in `directory`, up (`up --wait`), torn down with
    its volumes afterwards; its figures printed and kept in artifacts/<name>.json, and the
    services' last log lines in artifacts/<name>.log when a test failed.

    `settings` go into its `.env`; `build`: the services whose images are built first (timed).
    """
    require_docker()
    env = prepare_checkout(REPO_ROOT, directory, settings)
    files = [*files, build_on_host_network(directory)]
    project = ComposeProject(directory, f"bptest{secrets.token_hex(3)}", files, {})
    stack = Stack(
        project,
        env,
        web_url=f"http://{env['WEB_PUBLISH']}",
        api_url=f"http://127.0.0.1:{env['API_PUBLISH']}",
    )
    stack.figures["stand-ins built"] = ensure_stand_ins()
    failed_before = request.session.testsfailed
    broke = True  # until the tests ran: a build or `up` that fails keeps the logs too
    try:
        if build:
            started = time.monotonic()
            project.build(build)
            stack.figures["build (s)"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        project.compose("up", "--detach", "--wait", "--no-build", timeout=300)
        stack.figures["up to healthy (s)"] = round(time.monotonic() - started, 1)
        yield stack
        broke = False
    finally:
        logs = project.compose("logs", "--no-color", "--tail", "60", check=False).stdout
        if broke or request.session.testsfailed > failed_before:
            (REPO_ROOT / "artifacts").mkdir(exist_ok=True)
            (REPO_ROOT / "artifacts" / f"{name}.log").write_text(logs)
        project.down()
        report_figures(request.config, name, stack.figures)
