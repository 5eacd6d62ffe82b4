"""The compose stack as a user runs it, from a test: a project folder, `.env`, `docker compose`.

- `docker_unavailable()`: why no Docker engine can be used here, or None.
- `ensure_stand_ins()`: where no image registry is reachable (`../shared/tools/docker-local.sh`
  built the other stand-ins), a local stand-in for the one public image that script does not make.
- `ComposeProject`: a copy of the repository's files (what `git clone` gives, plus uncommitted
  work) in a folder of its own with its own `.env`, and `docker compose` run there under a
  project name of its own, so it never touches a developer's `.env`, volumes or containers.
- `prepare_checkout()`: that copy, with the folders the training service mounts and a `.env`
  written as docs/deploy.md says (generated secrets, free ports, the test's own settings).
- `Stack`: a running project, what its `.env` says, the admin's calls, and the figures gathered.
- `kill_process()`: SIGKILL a container's process from the host, as a crash would.

Nothing here is a pytest fixture: tests/deploy/test_containers.py and test_replicas.py wrap them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.support.servers import free_port, wait_until

log = logging.getLogger(__name__)
STAND_INS = Path(__file__).parent / "stand_ins"
# The local stand-in for the official redis image: Debian's redis-server, run as the `redis` user.
REDIS_IMAGE = "redis:7-bookworm"
# docker-local.sh's Debian root file system, the base of its stand-ins (and of ours).
LOCAL_DEBIAN = "local/debian:bookworm"
# The local stand-in for the official haproxy image (the API's load balancer, compose.replicas.yml).
HAPROXY_IMAGE = "haproxy:2.8-bookworm"
# Every profile of docker-compose.yml, so that `down` and `build` reach every service.
ALL_PROFILES = (
    "--profile", "proxy", "--profile", "train", "--profile", "learning", "--profile", "replicas",
)  # fmt: skip
LOCAL_TORCH_INDEX = "http://127.0.0.1:8999/"  # docker-local.sh serves this machine's CPU wheel there
# The project's images, by the compose service that builds each (one service per image).
IMAGES = {
    "api": "brandpulse-api:latest",
    "retrain": "brandpulse-learning:latest",
    "dash": "brandpulse-dash:latest",
    "train": "brandpulse-train:latest",
    "proxy": "brandpulse-proxy:latest",
}


def run(command: Sequence[str], timeout: float = 600, check: bool = True, **kwargs: Any):
    """Run a command, its output captured as text; on failure the error carries that output."""
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


def docker_unavailable() -> str | None:
    """Why the Docker engine or Compose v2 cannot be used here, or None when both answer."""
    if shutil.which("docker") is None:
        return "no `docker` command (../shared/tools/docker-local.sh installs one)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip()[-300:]}"
    if compose.returncode != 0:
        return "Docker Compose v2 (`docker compose`) is not installed"
    return None


def image_exists(name: str) -> bool:
    """Whether the engine has an image of that name (no registry is asked)."""
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def image_size(name: str) -> int:
    """The image's size in bytes, as `docker images` counts it (all its layers)."""
    return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", name]).stdout)


def ensure_stand_ins() -> list[str]:
    """Build the stand-ins (redis, haproxy) that are missing where docker-local.sh made the others.

    With an image registry (a normal Docker host) compose pulls the real images and this does nothing.
    """
    if not image_exists(LOCAL_DEBIAN):
        return []
    built = []
    for image, folder in ((REDIS_IMAGE, "redis"), (HAPROXY_IMAGE, "haproxy")):
        if image_exists(image):
            continue
        log.info("building the %s stand-in from Debian's package", image)
        run(["docker", "build", "--network", "host", "-q", "-t", image, str(STAND_INS / folder)], timeout=900)
        built.append(image)
    return built


def copy_checkout(source: Path, destination: Path) -> None:
    """The repository's tracked and untracked-but-not-ignored files, as a clone with local work would have."""
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=source
    ).stdout.split("\0")
    for name in filter(None, listed):
        origin = source / name
        if not origin.is_file():
            continue  # deleted in the work tree, not yet in git
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)


class ComposeProject:
    """`docker compose` in one project folder, under one project name, with the given files."""

    def __init__(self, directory: Path, name: str, files: Sequence[str], env: Mapping[str, str]) -> None:
        self.directory = directory
        self.name = name
        self.files = list(files)
        # The classic builder: BuildKit would fetch its front end from a registry (docker-local.sh).
        self.env = {**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_PROGRESS": "plain", **env}

    def compose(self, *args: str, timeout: float = 600, check: bool = True):
        """`docker compose -p NAME -f … ARGS` in the project folder."""
        files = [part for name in self.files for part in ("-f", name)]
        return run(
            ["docker", "compose", "-p", self.name, *files, *args],
            timeout=timeout,
            check=check,
            cwd=self.directory,
            env=self.env,
        )

    def containers(self, service: str) -> list[str]:
        """The ids of the service's containers (its replicas), running or not, in name order."""
        ids = self.compose("ps", "--all", "--quiet", service).stdout.split()
        assert ids, f"no container for {service}"
        names = {container["Id"][: len(ids[0])]: container["Name"] for container in inspect(*ids)}
        return sorted(ids, key=lambda container_id: names.get(container_id, container_id))

    def container(self, service: str) -> str:
        """The id of the service's (first) container, running or not."""
        return self.containers(service)[0]

    def inspect(self, service: str) -> dict[str, Any]:
        """`docker inspect` of the service's (first) container."""
        return inspect(self.container(service))[0]

    def health(self, service: str) -> str:
        """healthy / unhealthy / starting, or the state (running, exited…) where there is no healthcheck."""
        return health(self.container(service))

    def wait_healthy(self, service: str, timeout: float = 120) -> float:
        """Seconds until the service's (first) container is healthy."""
        return wait_healthy(self.container(service), timeout)

    def build(self, services: Sequence[str], timeout: float = 1800) -> None:
        """Build the images of these services, one at a time.

        COMPOSE_PARALLEL_LIMIT=1: the classic builder (docker-local.sh's) builds every stage above a
        target and shares none with a build running beside it, so built in turn each image reuses
        the stages the ones before built (BuildKit, a Docker host's default, builds only the stages
        a target needs and shares them anyway).
        """
        builder = ComposeProject(self.directory, self.name, self.files, {})
        builder.env = {**self.env, "COMPOSE_PARALLEL_LIMIT": "1"}
        builder.compose(*ALL_PROFILES, "build", *services, timeout=timeout)

    def process_users(self, service: str) -> list[tuple[int, str]]:
        """(uid, command) of every process in the service's container, read from the host's /proc."""
        table = run(["docker", "top", self.container(service), "-eo", "pid,uid,comm"]).stdout.splitlines()
        rows = [line.split(None, 2) for line in table[1:] if line.strip()]
        return [(int(uid), command.strip()) for _pid, uid, command in rows]

    def down(self) -> None:
        """Stop and remove everything of the project, its volumes included."""
        self.compose(*ALL_PROFILES, "down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


def inspect(*containers: str) -> list[dict[str, Any]]:
    """`docker inspect` of containers, by id or name."""
    return json.loads(run(["docker", "inspect", *containers]).stdout)


def address(container: dict[str, Any]) -> str:
    """An inspected container's address on its (one) compose network."""
    networks = container["NetworkSettings"]["Networks"].values()
    (ip,) = [network["IPAddress"] for network in networks if network["IPAddress"]]
    return ip


def health(container: str) -> str:
    """healthy / unhealthy / starting, or the state (running, exited…) where there is no healthcheck."""
    state = inspect(container)[0]["State"]
    return state["Health"]["Status"] if state.get("Health") else state["Status"]


def wait_healthy(container: str, timeout: float = 120) -> float:
    """Seconds until the container is healthy."""
    started = time.monotonic()
    wait_until(lambda: health(container) == "healthy", timeout, f"{container} never became healthy", 0.5)
    return time.monotonic() - started


def kill_process(pid: int) -> None:
    """SIGKILL a host process: directly as root, else from a container in the host's PID namespace.

    For a container's main process, this is a crash. Not `docker kill`: the engine counts that as
    a stop by the operator, which the restart policy `unless-stopped` respects.
    """
    try:
        os.kill(pid, signal.SIGKILL)
    except PermissionError:
        program = "import os, sys; os.kill(int(sys.argv[1]), 9)"
        run(["docker", "run", "--rm", "--pid", "host", "--user", "0", "--entrypoint", "python",
             IMAGES["api"], "-c", program, str(pid)])  # fmt: skip


def answers(url: str) -> bool:
    """Whether `url` answers 200 to a GET."""
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def torch_index() -> str | None:
    """TORCH_INDEX_URL from the environment, else docker-local.sh's local index when it answers."""
    if os.environ.get("TORCH_INDEX_URL"):
        return os.environ["TORCH_INDEX_URL"]
    return LOCAL_TORCH_INDEX if answers(f"{LOCAL_TORCH_INDEX}torch/") else None


def write_env(source: Path, directory: Path, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """`.env` from `source`/.env.example with secrets filled in, as docs/deploy.md says, free ports
    and `settings` on top; the values it holds."""
    values = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "ADMIN_TOKEN": secrets.token_hex(24),
        "SECRET_KEY": secrets.token_hex(32),
        "REDIS_PASSWORD": secrets.token_hex(24),
        "WEB_PUBLISH": f"127.0.0.1:{free_port()}",
        "API_PUBLISH": str(free_port()),
        "DB_PUBLISH": str(free_port()),
        "HTTP_PUBLISH": str(free_port()),
        "HTTPS_PUBLISH": str(free_port()),
        **(settings or {}),
    }
    if index := torch_index():
        values["TORCH_INDEX_URL"] = index
    lines = (source / ".env.example").read_text().splitlines()
    written = [
        f"{line.split('=', 1)[0]}={values.pop(line.split('=', 1)[0])}"
        if not line.startswith("#") and line.split("=", 1)[0] in values
        else line
        for line in lines
    ]
    written += [f"{key}={value}" for key, value in values.items()]
    (directory / ".env").write_text("\n".join(written) + "\n")
    return dict(
        line.split("=", 1) for line in written if line.strip() and not line.startswith("#") and "=" in line
    )


def prepare_checkout(
    source: Path, directory: Path, settings: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A copy of the checkout in `directory` with its `.env` (`write_env`); the values it holds.

    The training service's mounts (data, models, runs) are made writable by the images' user.
    """
    copy_checkout(source, directory)
    for folder in ("data", "models", "runs"):
        (directory / folder).mkdir(exist_ok=True)
        try:
            os.chown(directory / folder, 10001, 10001)  # as docs/deploy.md says (`sudo chown`)
        except PermissionError:
            (directory / folder).chmod(0o777)  # not root here (a CI runner with a Docker group)
    return write_env(source, directory, settings)


def build_on_host_network(directory: Path) -> str:
    """A compose file that builds every image with the host's network (the local torch index, PyPI)."""
    path = directory / "compose.build-host-network.yml"
    built = ("migrate", "privacy", *IMAGES)  # every service with a `build`
    path.write_text(json.dumps({"services": {service: {"build": {"network": "host"}} for service in built}}))
    return path.name


@dataclass
class Stack:
    """A running project, what its `.env` says, and the figures gathered along the way."""

    project: ComposeProject
    env: dict[str, str]
    web_url: str
    api_url: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['ADMIN_TOKEN']}"}

    def reviews(self) -> list[dict[str, Any]]:
        """The newest 100 stored reviews, through the admin API."""
        response = requests.get(f"{self.api_url}/api/reviews?per_page=100", headers=self.admin, timeout=10)
        response.raise_for_status()
        return response.json()["items"]

    def wait_serving(self, timeout: float = 120) -> None:
        """Until the API and the page answer through the published ports."""
        for url in (f"{self.api_url}/readyz", f"{self.web_url}/healthz"):
            wait_until(lambda url=url: answers(url), timeout, f"{url} does not answer", 0.5)
