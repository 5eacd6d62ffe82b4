"""The compose stack as a user runs it, from a test: a project folder, `.env`, `docker compose`.

- `docker_unavailable()`: why no Docker engine can be used here, or None.
- `ensure_stand_ins()`: where no image registry is reachable (`../shared/tools/docker-local.sh`
  built the other stand-ins), a local stand-in for the one public image that script does not make.
- `ComposeProject`: a copy of the repository's files (what `git clone` gives, plus uncommitted
  work) in a folder of its own with its own `.env`, and `docker compose` run there under a
  project name of its own, so it never touches a developer's `.env`, volumes or containers.

Nothing here is a pytest fixture: tests/deploy/test_containers.py wraps them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.servers import wait_until

log = logging.getLogger(__name__)
STAND_INS = Path(__file__).parent / "stand_ins"
# The local stand-in for the official redis image: Debian's redis-server, run as the `redis` user.
REDIS_IMAGE = "redis:7-bookworm"
# docker-local.sh's Debian root file system, the base of its stand-ins (and of ours).
LOCAL_DEBIAN = "local/debian:bookworm"
# Every profile of docker-compose.yml, so that `down` and `build` reach every service.
ALL_PROFILES = ("--profile", "proxy", "--profile", "train", "--profile", "learning")


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
    """Build the redis stand-in where docker-local.sh made the others and redis is missing.

    With an image registry (a normal Docker host) compose pulls the real image and this does nothing.
    """
    if image_exists(REDIS_IMAGE) or not image_exists(LOCAL_DEBIAN):
        return []
    log.info("building the %s stand-in from Debian's redis-server", REDIS_IMAGE)
    run(
        ["docker", "build", "--network", "host", "-q", "-t", REDIS_IMAGE, str(STAND_INS / "redis")],
        timeout=900,
    )
    return [REDIS_IMAGE]


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

    def container(self, service: str) -> str:
        """The id of the service's (first) container, running or not."""
        ids = self.compose("ps", "--all", "--quiet", service).stdout.split()
        assert ids, f"no container for {service}"
        return ids[0]

    def inspect(self, service: str) -> dict[str, Any]:
        """`docker inspect` of the service's container."""
        return json.loads(run(["docker", "inspect", self.container(service)]).stdout)[0]

    def health(self, service: str) -> str:
        """healthy / unhealthy / starting, or the state (running, exited…) where there is no healthcheck."""
        state = self.inspect(service)["State"]
        return state["Health"]["Status"] if state.get("Health") else state["Status"]

    def wait_healthy(self, service: str, timeout: float = 120) -> float:
        """Seconds until the service's container is healthy."""
        started = time.monotonic()
        wait_until(lambda: self.health(service) == "healthy", timeout, f"{service} never became healthy", 0.5)
        return time.monotonic() - started

    def process_users(self, service: str) -> list[tuple[int, str]]:
        """(uid, command) of every process in the service's container, read from the host's /proc."""
        table = run(["docker", "top", self.container(service), "-eo", "pid,uid,comm"]).stdout.splitlines()
        rows = [line.split(None, 2) for line in table[1:] if line.strip()]
        return [(int(uid), command.strip()) for _pid, uid, command in rows]

    def down(self) -> None:
        """Stop and remove everything of the project, its volumes included."""
        self.compose(*ALL_PROFILES, "down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
