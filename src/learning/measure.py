"""The figures the promotion gate compares: champion and challenger measured in stars.

`star_figures` measures any predictor on rows with true stars (`metrics.ranked_star_metrics`:
band accuracy on the rows' mix and balanced, each band's recall, MAE, ... and the score's rank
correlation with the stars); `measure_pair` measures both models of a round on the fixed test and
the recent reviews, the files as served.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brandpulse.learning.rows import LabelledRows
from brandpulse.model.checkpoint import Checkpoint
from brandpulse.model.predictor import Predictor
from brandpulse.model.scoring import bands_of, cuts_at_band_counts, sentiment_scores, suggested_ratings
from brandpulse.training.metrics import ranked_star_metrics


def star_figures(
    predictor: Predictor, texts: Sequence[str], stars: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """How the predictor's suggested ratings match these true stars: the gate's figures.

    With `weights`, each row counts that much (stored reviews whose label may be the model's own
    echo count less); `n` stays the number of rows.
    """
    if not len(texts):
        return {"n": 0}
    return ranked_star_metrics(stars, predictor.predict_proba(list(texts)), predictor.rating_cuts, weights)


def measure_pair(
    champion: Checkpoint, challenger: Checkpoint, fixed: LabelledRows, recent: LabelledRows, bf16: bool
) -> dict[str, dict[str, Any]]:
    """Both models' star figures on the fixed test and the recent reviews (the files as served).

    The challenger is also measured on the fixed test suggesting each band as often as the
    champion does there (`fixed_at_champion_rates`, `scoring.cuts_at_band_counts`): what the gate
    compares, so that a rule fitted for a new mix of visitors is not taken for forgetting. The
    network runs under bfloat16 autocast if `bf16` (MODEL_BF16, as in serving).
    """

    def measured(checkpoint: Checkpoint) -> tuple[dict[str, Any], np.ndarray]:
        """The checkpoint's figures, and its probabilities on the fixed test."""
        predictor = Predictor.from_loaded(checkpoint, batch_size=128, bf16=bf16)
        probabilities = predictor.predict_proba(list(fixed.texts))
        return {
            "version": checkpoint.version,
            "fixed": ranked_star_metrics(fixed.stars, probabilities, checkpoint.rating_cuts),
            "recent": star_figures(predictor, recent.texts, recent.stars, recent.weights),
        }, probabilities

    champion_figures, champion_probabilities = measured(champion)
    challenger_figures, challenger_probabilities = measured(challenger)
    champion_ratings = suggested_ratings(sentiment_scores(champion_probabilities), champion.rating_cuts)
    cuts = cuts_at_band_counts(
        sentiment_scores(challenger_probabilities),
        challenger.rating_cuts,
        np.bincount(bands_of(champion_ratings), minlength=3),
    )
    challenger_figures["fixed_at_champion_rates"] = ranked_star_metrics(
        fixed.stars, challenger_probabilities, cuts
    )
    return {"champion": champion_figures, "challenger": challenger_figures}
