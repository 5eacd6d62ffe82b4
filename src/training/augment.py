"""Character noise: typos for training (augmentation) and for measuring robustness.

`change_indices` changes characters of encoded batches while training: a changed character
becomes a random symbol of the model's alphabet or a space (index 0), drawn uniformly.
`change_characters` makes typos in plain text, a changed character becoming a random letter,
so `evaluate` can measure how far a score moves when a share of a review's characters change.
"""

from __future__ import annotations

import random
import string

import torch


def change_indices(
    indices: torch.Tensor, rate: float, vocab_size: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A copy of an encoded `(batch, length)` tensor with each character changed with probability `rate`.

    Only positions inside the text change (the padding after its last character stays zero).
    """
    lengths = (indices != 0).int().cumsum(dim=1).argmax(dim=1, keepdim=True) + 1  # (B, 1)
    lengths = torch.where((indices != 0).any(dim=1, keepdim=True), lengths, torch.zeros_like(lengths))
    positions = torch.arange(indices.shape[1], device=indices.device).unsqueeze(0)  # (1, L)
    draw = torch.rand(indices.shape, generator=generator).to(indices.device)
    replacement = torch.randint(0, vocab_size, indices.shape, generator=generator).to(indices.device)
    changed = (draw < rate) & (positions < lengths)
    return torch.where(changed, replacement.to(indices.dtype), indices)


def change_characters(
    text: str, rate: float, rng: random.Random, symbols: str = string.ascii_lowercase
) -> str:
    """`text` with each character replaced, with probability `rate`, by a random one of `symbols`."""
    return "".join(rng.choice(symbols) if rng.random() < rate else char for char in text)
