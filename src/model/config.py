"""Configuration of the text encoding and of the character-level CNN.

Every hyper-parameter of the network and of its input lives here, in two frozen dataclasses
that a checkpoint stores beside its weights, so serving rebuilds exactly what was trained.

Reference: Xiang Zhang, Junbo Zhao, Yann LeCun, "Character-level Convolutional Networks for
Text Classification", NIPS 2015 (arXiv:1509.01626).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# The paper's alphabet: 26 letters, 10 digits, the punctuation below and the new line. The paper
# lists 70 entries, but "-" appears twice in its list, so 69 symbols are distinct. Index 0 is kept
# for everything outside the alphabet (spaces included) and for padding: an all-zero column.
PAPER_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{}\n"

PAPER_MAX_LENGTH = 1014
TRUNCATIONS = ("head", "tail", "head+tail")


@dataclass(frozen=True)
class EncoderConfig:
    """How a text becomes a fixed-length sequence of alphabet indices."""

    alphabet: str = PAPER_ALPHABET
    max_length: int = PAPER_MAX_LENGTH
    lowercase: bool = True
    # The paper quantizes characters in backward order, so the latest reading sits first.
    reverse: bool = False
    # Which part of a text longer than max_length is kept.
    truncation: str = "head"

    def __post_init__(self) -> None:
        if len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError("alphabet has repeated symbols")
        if not self.alphabet:
            raise ValueError("alphabet is empty")
        if any(ord(symbol) > 0x10FFFF for symbol in self.alphabet):  # pragma: no cover, guard
            raise ValueError("alphabet symbol outside Unicode")
        if self.max_length < 1:
            raise ValueError(f"max_length must be positive, got {self.max_length}")
        if self.truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {self.truncation!r}")

    @property
    def vocab_size(self) -> int:
        """Number of indices the encoder emits: the alphabet plus the zero index."""
        return len(self.alphabet) + 1


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the character-level CNN.

    The defaults are the paper's small model: six convolutions of 256 filters with kernels
    7, 7, 3, 3, 3, 3, max-pooling of 3 after the first, second and last, two dense layers of
    1024 units with dropout 0.5. `embedding_dim=0` means the paper's one-hot input.
    """

    n_classes: int = 2
    conv_channels: int = 256
    conv_kernels: tuple[int, ...] = (7, 7, 3, 3, 3, 3)
    pool_after: tuple[int, ...] = (0, 1, 5)
    pool_size: int = 3
    fc_units: int = 1024
    dropout: float = 0.5
    embedding_dim: int = 0
    batch_norm: bool = False
    # "flatten" is the paper's; "max+mean" pools over time, so the dense layers are small.
    pooling: str = "flatten"

    def __post_init__(self) -> None:
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        if any(i < 0 or i >= len(self.conv_kernels) for i in self.pool_after):
            raise ValueError("pool_after names a convolution that does not exist")
        if self.pooling not in ("flatten", "max+mean"):
            raise ValueError(f"pooling must be 'flatten' or 'max+mean', got {self.pooling!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


# Named architectures. "small" and "large" are the paper's; "small-bn" is what ships (see
# docs/model_card.md for why): the small model's convolutions with a learned character
# embedding, batch normalisation and pooling over time.
PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    "large": {"conv_channels": 1024, "fc_units": 2048},
    "small-bn": {"embedding_dim": 32, "batch_norm": True, "pooling": "max+mean", "dropout": 0.2},
}


def model_config_from_preset(name: str, **overrides: Any) -> ModelConfig:
    """Build a ModelConfig from a named preset plus explicit overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(PRESETS)}")
    return ModelConfig(**{**PRESETS[name], **overrides})


def to_dict(config: EncoderConfig | ModelConfig) -> dict[str, Any]:
    """Plain JSON-able dict of a config (tuples become lists)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}


def from_dict(cls: type, data: dict[str, Any]):
    """Rebuild a config dataclass from `to_dict` output, refusing unknown keys."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
    return cls(**values)


__all__ = [
    "PAPER_ALPHABET",
    "PAPER_MAX_LENGTH",
    "PRESETS",
    "EncoderConfig",
    "ModelConfig",
    "from_dict",
    "model_config_from_preset",
    "to_dict",
]
