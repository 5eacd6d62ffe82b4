"""Fixtures for the training package: tiny configurations and a tiny random checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brandpulse.training.checkpoint import save_checkpoint
from brandpulse.training.config import EncoderConfig, ModelConfig
from brandpulse.training.model import CharCNN

TINY_ENCODER = EncoderConfig(max_length=64)
TINY_MODEL = ModelConfig(
    n_classes=3,
    conv_channels=8,
    conv_kernels=(3, 3, 3),
    pool_after=(0, 2),
    fc_units=16,
    embedding_dim=4,
    batch_norm=True,
    pooling="max+mean",
)


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
