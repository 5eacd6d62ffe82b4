"""The contract every network keeps: the base class that training, checkpoints and serving use.

A network reads the `(batch, max_length)` index tensor of `CharEncoder` and returns
`(batch, n_classes)` logits. It is built as `Network(config, encoder_config)`, where `config`
is a frozen dataclass with an `n_classes` field and defaults for every other field (a checkpoint
stores it as `model_config`), and `encoder_config` says how texts become indices. `CharCNN` is
one; `architectures.py` names them for checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from brandpulse.model.config import EncoderConfig


class TextNetwork(nn.Module):
    """A text classifier over character indices: `forward(indices) -> logits`."""

    def __init__(self, config: Any, encoder_config: EncoderConfig) -> None:
        super().__init__()
        self.config = config  # a dataclass with n_classes: the checkpoint's model_config
        self.encoder_config = encoder_config

    @property
    def n_classes(self) -> int:
        """How many logits a row gets."""
        return int(self.config.n_classes)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:  # pragma: no cover, abstract
        """Logits `(batch, n_classes)` for an index tensor `(batch, max_length)`."""
        raise NotImplementedError
