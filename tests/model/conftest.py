"""Fixtures for the model package: tiny configurations and a tiny random checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import save_checkpoint
from tests.conftest import TINY_ENCODER
from tests.conftest import TINY_MODEL as TWO_CLASS_TINY_MODEL

# The shared tiny architecture with three classes, as star ratings grouped bad/average/good.
TINY_MODEL = dataclasses.replace(TWO_CLASS_TINY_MODEL, n_classes=3)


@pytest.fixture
def tiny_model() -> CharCNN:
    """A small randomly initialised CharCNN, in eval mode."""
    torch.manual_seed(0)
    return CharCNN(TINY_MODEL, TINY_ENCODER).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model: CharCNN) -> Path:
    """The tiny model saved as a checkpoint file."""
    return save_checkpoint(
        tmp_path / "tiny.safetensors",
        tiny_model,
        classes=("bad", "average", "good"),
        metrics={"test": {"overall": {"accuracy": 0.5}}},
        info={"architecture": "tiny"},
    )
