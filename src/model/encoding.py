"""Text encoding shared by training and serving: text -> fixed-length alphabet indices.

The encoder emits integer indices, not one-hot rows: index i (1..len(alphabet)) is the i-th
alphabet symbol and 0 is anything else (spaces, accents, emoji) and padding. The model turns
indices into the paper's one-hot vectors (or a learned embedding) on the fly, which keeps
batches small in memory. Encoding is vectorised with NumPy: one table look-up per text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from brandpulse.model.config import EncoderConfig


class CharEncoder:
    """Turns texts into `(batch, max_length)` index tensors as `EncoderConfig` describes."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig()
        highest = max(ord(symbol) for symbol in self.config.alphabet)
        # One slot past the highest code point catches every code point outside the table.
        table = np.zeros(highest + 2, dtype=np.int64)
        for index, symbol in enumerate(self.config.alphabet, start=1):
            table[ord(symbol)] = index
        self._table = table

    @property
    def vocab_size(self) -> int:
        """Number of distinct indices, the zero index included."""
        return self.config.vocab_size

    def _clip(self, text: str) -> str:
        """Keep at most max_length characters, as the truncation setting says."""
        limit = self.config.max_length
        lower = str.lower if self.config.lowercase else str
        if len(text) <= limit:
            return lower(text)
        # Lower-casing can lengthen a string ("İ" -> "i̇"), so clip, lower, then clip again.
        if self.config.truncation == "head":
            return lower(text[:limit])[:limit]
        if self.config.truncation == "tail":
            return lower(text[-limit:])[-limit:]
        tail = limit // 2
        head = limit - tail
        return lower(text[:head])[:head] + lower(text[-tail:])[-tail:]

    def encode(self, text: str) -> np.ndarray:
        """Encode one text as a `(max_length,)` int64 array."""
        out = np.zeros(self.config.max_length, dtype=np.int64)
        self._encode_into(text, out)
        return out

    def _encode_into(self, text: str, out: np.ndarray) -> None:
        clipped = self._clip(text)[: self.config.max_length]
        if not clipped:
            return
        # utf-32 gives one fixed-width code point per character; surrogatepass keeps lone
        # surrogates (which Python strings may hold) from raising.
        codes = np.frombuffer(clipped.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        codes = np.minimum(codes, len(self._table) - 1)
        indices = self._table[codes]
        if self.config.reverse:
            indices = indices[::-1]
        out[: len(indices)] = indices

    def encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        """Encode texts as a `(batch, max_length)` int64 tensor."""
        if isinstance(texts, str):
            raise TypeError("encode_batch takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self.config.max_length), dtype=np.int64)
        for row, text in enumerate(texts):
            self._encode_into(text, out[row])
        return torch.from_numpy(out)

    def decode(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> str:
        """Best-effort inverse of `encode`, with "·" for index 0 (for debugging)."""
        symbols = [self.config.alphabet[i - 1] if i > 0 else "·" for i in np.asarray(indices).tolist()]
        if self.config.reverse:
            symbols.reverse()
        return "".join(symbols)
