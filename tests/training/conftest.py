"""Fixtures for the training package: the model package's tiny model and checkpoint."""

from tests.model.conftest import TINY_MODEL, tiny_checkpoint, tiny_model

__all__ = ["TINY_MODEL", "tiny_checkpoint", "tiny_model"]
