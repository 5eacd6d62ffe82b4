"""Combining the char-CNN with the hashed word n-gram model into one classifier.

The two models see a review differently: the CNN reads a fixed window of characters, the
linear n-gram model counts every word pair of the whole text. Their class probabilities are
pooled log-linearly (a weighted product of experts),

    logits = w_cnn * log p_cnn + w_ngram * log p_ngram + bias        p = softmax(logits)

with the two weights and the per-class bias fitted on the validation split (never on the
held-out test rows) by minimising the log-loss, a small convex problem. The fitted weights
are stored in the checkpoint's metadata, so serving combines exactly as evaluation did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_FLOOR = 1e-7  # probabilities are clipped here before the log, so a certain 0 stays finite


@dataclass(frozen=True)
class Combination:
    """The weights of the log-linear pooling of the CNN's and the n-gram model's probabilities."""

    cnn_weight: float
    ngram_weight: float
    bias: tuple[float, ...]

    def __post_init__(self) -> None:
        values = (self.cnn_weight, self.ngram_weight, *self.bias)
        if not all(np.isfinite(values)):
            raise ValueError(f"combination weights must be finite, got {values}")
        if len(self.bias) < 2:
            raise ValueError("combination needs a bias per class, at least two")

    def combine(self, cnn_proba: np.ndarray, ngram_proba: np.ndarray) -> np.ndarray:
        """Combined class probabilities, `(rows, classes)`, from both models' probabilities."""
        if cnn_proba.shape != ngram_proba.shape or cnn_proba.shape[1:] != (len(self.bias),):
            raise ValueError(
                f"probabilities of shapes {cnn_proba.shape} and {ngram_proba.shape} "
                f"for a combination of {len(self.bias)} classes"
            )
        logits = (
            self.cnn_weight * np.log(np.clip(cnn_proba, _FLOOR, 1.0))
            + self.ngram_weight * np.log(np.clip(ngram_proba, _FLOOR, 1.0))
            + np.asarray(self.bias)
        )
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in a checkpoint."""
        return {"cnn_weight": self.cnn_weight, "ngram_weight": self.ngram_weight, "bias": list(self.bias)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Combination:
        """Inverse of `to_dict`; raises ValueError for missing or non-numeric values."""
        try:
            return cls(
                cnn_weight=float(data["cnn_weight"]),
                ngram_weight=float(data["ngram_weight"]),
                bias=tuple(float(b) for b in data["bias"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"incomplete combination {data!r} ({error})") from None


def fit_combination(
    cnn_proba: np.ndarray, ngram_proba: np.ndarray, labels: np.ndarray, l2: float = 1e-3
) -> Combination:
    """The weights minimising the mean log-loss of the combined model on these rows.

    The objective is convex in the weights (the logits are linear in them), so L-BFGS finds
    the optimum; the small L2 penalty keeps them finite when one model alone separates the
    rows perfectly.
    """
    if len(labels) == 0:
        raise ValueError("cannot fit a combination on zero rows")
    if cnn_proba.shape != ngram_proba.shape:
        raise ValueError(f"probabilities of shapes {cnn_proba.shape} and {ngram_proba.shape}")
    n_classes = cnn_proba.shape[1]
    log_cnn = torch.from_numpy(np.log(np.clip(cnn_proba, _FLOOR, 1.0))).double()
    log_ngram = torch.from_numpy(np.log(np.clip(ngram_proba, _FLOOR, 1.0))).double()
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    weights = torch.ones(2, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = weights[0] * log_cnn + weights[1] * log_ngram + bias
        loss = torch.nn.functional.cross_entropy(logits, targets) + l2 * (
            weights.square().sum() + bias.square().sum()
        )
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    fitted = weights.detach()
    centred = bias.detach() - bias.detach().mean()  # only differences between classes matter
    return Combination(
        cnn_weight=float(fitted[0]),
        ngram_weight=float(fitted[1]),
        bias=tuple(float(b) for b in centred),
    )
