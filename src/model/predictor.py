"""Inference: texts in, labels, probabilities, score and suggested rating out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brandpulse.model.checkpoint import Checkpoint, load_checkpoint
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.legibility import unreliable_reason
from brandpulse.model.network import TextNetwork
from brandpulse.model.ngram import HashedNgramModel
from brandpulse.model.pooling import Combination
from brandpulse.model.scoring import (
    DEFAULT_CUTS,
    RatingPrior,
    check_cuts,
    sentiment_score,
    suggested_rating,
)


def cnn_probabilities(model: TextNetwork, batches: Iterable[torch.Tensor], bf16: bool = False) -> np.ndarray:
    """Class probabilities `(rows, classes)` of the network (the CNN) for batches of encoded texts.

    The one forward loop of the project: training (validation, test) and serving both score
    through it, in eval mode, without gradients, on the model's device.
    """
    was_training = model.training
    if was_training:
        model.eval()
    device = next(model.parameters()).device
    chunks = []
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            for indices in batches:
                logits = model(indices.to(device).long())
                chunks.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    finally:
        if was_training:
            model.train()
    if not chunks:
        return np.zeros((0, model.n_classes), dtype=np.float64)
    return np.concatenate(chunks).astype(np.float64)


class Predictor:
    """A model and its encoder, ready to score texts on the CPU.

    With an n-gram model and a combination (as the bundled checkpoint has), the CNN's
    probabilities are pooled with the n-gram model's; see `pooling.py`. With a rating prior
    they are then moved to the rating mix it assumes (`scoring.RatingPrior`).
    """

    def __init__(
        self,
        model: TextNetwork,
        encoder: CharEncoder,
        classes: Sequence[str],
        version: str = "unversioned",
        batch_size: int = 64,
        bf16: bool = False,
        ngram: HashedNgramModel | None = None,
        combination: Combination | None = None,
        rating_cuts: Sequence[float] = DEFAULT_CUTS,
        rating_prior: RatingPrior | None = None,
    ) -> None:
        if (ngram is None) != (combination is None):
            raise ValueError("an n-gram model needs a combination, and a combination an n-gram model")
        self.model = model.eval()
        self.encoder = encoder
        self.classes = tuple(classes)
        self.version = version
        self.batch_size = batch_size
        self.bf16 = bf16  # bfloat16 autocast: see bench/model_speed.py for when it pays
        self.ngram = ngram
        self.combination = combination
        self.rating_cuts = check_cuts(rating_cuts)  # score -> suggested rating (scoring.py)
        if rating_prior is not None:
            rating_prior.class_factors(len(self.classes))  # ValueError unless five star classes
        self.rating_prior = rating_prior

    @classmethod
    def from_checkpoint(cls, path: str | Path, batch_size: int = 64, bf16: bool = False) -> Predictor:
        """Load a checkpoint file into a predictor."""
        return cls.from_loaded(load_checkpoint(path), batch_size=batch_size, bf16=bf16)

    @classmethod
    def from_loaded(cls, checkpoint: Checkpoint, batch_size: int = 64, bf16: bool = False) -> Predictor:
        """Wrap an already loaded checkpoint."""
        return cls(
            checkpoint.model,
            CharEncoder(checkpoint.encoder_config),
            checkpoint.classes,
            version=checkpoint.version,
            batch_size=batch_size,
            bf16=bf16,
            ngram=checkpoint.ngram,
            combination=checkpoint.combination,
            rating_cuts=checkpoint.rating_cuts,
            rating_prior=checkpoint.rating_prior,
        )

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, `(len(texts), n_classes)`, classes ordered as `self.classes`."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a sequence of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        batches = (
            self.encoder.encode_batch(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        )
        probabilities = cnn_probabilities(self.model, batches, self.bf16)
        if self.ngram is not None and self.combination is not None:
            probabilities = self.combination.combine(probabilities, self.ngram.predict_proba(texts))
        if self.rating_prior is not None:
            probabilities = self.rating_prior.adjust(probabilities)
        return probabilities

    def predict(self, texts: Sequence[str], min_length: int | None = None) -> list[dict[str, Any]]:
        """One result per text: label, probabilities by class, score and suggested rating.

        With `min_length` (the API's shortest review), each result also says whether its score is a
        usable suggestion (`reliable`) and if not why (`unreliable_reason`, legibility.py), judged
        with this model's own alphabet, so a score and its verdict always come from one model.
        """
        results = []
        for text, row in zip(texts, self.predict_proba(texts), strict=True):
            score = sentiment_score(row)
            result = {
                "label": self.classes[int(row.argmax())],
                "probabilities": {name: float(p) for name, p in zip(self.classes, row, strict=True)},
                "score": score,
                "suggested_rating": suggested_rating(score, self.rating_cuts),
            }
            if min_length is not None:
                config = self.encoder.config
                reason = unreliable_reason(text, min_length, config.alphabet, config.lowercase)
                result["reliable"] = reason is None
                result["unreliable_reason"] = reason
            results.append(result)
        return results
