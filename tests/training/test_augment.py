"""Character noise for training and for measuring typo sensitivity."""

from __future__ import annotations

import random

import torch

from brandpulse.training.augment import change_characters, change_indices


def test_change_indices_changes_about_the_rate_and_only_inside_the_text():
    indices = torch.zeros((200, 100), dtype=torch.long)
    indices[:, :60] = 5  # each text is 60 characters, then padding
    changed = change_indices(indices, 0.1, vocab_size=70, generator=torch.Generator().manual_seed(0))
    assert (changed[:, 60:] == 0).all()  # the padding stays
    rate = (changed[:, :60] != 5).float().mean().item()
    assert 0.08 < rate < 0.11  # a change may draw the same symbol again (1 in 70)
    assert changed.max() < 70 and changed.min() >= 0
    assert torch.equal(indices[:, :60], torch.full((200, 60), 5))  # the input is not modified


def test_change_indices_with_a_space_inside_the_text():
    indices = torch.tensor([[3, 0, 4, 0, 0]])  # "a b" then padding: the space (0) is inside
    changed = change_indices(indices, 0.999, vocab_size=70, generator=torch.Generator().manual_seed(1))
    assert (changed[0, 3:] == 0).all()


def test_change_characters_is_seeded_and_keeps_the_length():
    text = "The delivery was late and support never answered."
    first = change_characters(text, 0.2, random.Random(3))
    assert first == change_characters(text, 0.2, random.Random(3))
    assert len(first) == len(text) and first != text
    assert change_characters(text, 0.0, random.Random(3)) == text
