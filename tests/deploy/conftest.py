"""Shared helpers of the deployment tests: the repository's deploy files, parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_FILES = (COMPOSE_FILE, REPO_ROOT / "compose.override.yml", REPO_ROOT / "compose.gpu.yml")
ENV_EXAMPLE = REPO_ROOT / ".env.example"
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
# The services whose images run this project's code, and their Dockerfiles.
DOCKERFILES = {
    "api": REPO_ROOT / "src" / "api" / "Dockerfile",
    "dash": REPO_ROOT / "src" / "dash" / "Dockerfile",
    "train": REPO_ROOT / "src" / "training" / "Dockerfile",
}


def load_yaml(path: Path) -> Any:
    """One YAML document, parsed safely."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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
