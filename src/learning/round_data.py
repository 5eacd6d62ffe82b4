"""What a round of `retrain` learns from and is judged on: the base corpus and the stored reviews.

- `load_base_corpus`: the champion's base corpus, split exactly as its recorded selection split
  it (training and validation rows), and the gate's fixed test, a seeded sample of its held-out
  rows of the trained-on domains;
- `training_rows`: those rows and the older stored reviews, these weighted to carry their
  configured share (RETRAIN_FEEDBACK_SHARE) of training and of validation;
- `rating_mix`: the rating mix the challenger assumes, the visitors' estimate once there are
  enough usable reviews (`feedback.visitor_mix`), else the champion's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brandpulse.learning import feedback
from brandpulse.learning.errors import RetrainError
from brandpulse.learning.rows import LabelledRows
from brandpulse.model.checkpoint import Checkpoint
from brandpulse.training.data import DataError, Dataset, fingerprint, selection_of, training_data

logger = logging.getLogger(__name__)

FIXED_TEST_SEED = 2015
VALIDATION_SHARE = 0.15
MIN_BASE_VALIDATION = 2000  # base rows validating at least: a third-of-a-band rule needs its 3-star rows
BANDS = ("bad", "average", "good")


@dataclass
class BaseCorpus:
    """The champion's base rows: training, validation, and the fixed test of the gate."""

    train: LabelledRows
    validation: LabelledRows
    fixed_test: LabelledRows
    fixed_test_texts: set[str]  # `feedback.normalise`d: stored reviews among them are not trained on


def feedback_rows(reviews: Sequence[feedback.StoredReview], weights: np.ndarray) -> LabelledRows:
    """Stored reviews as rows of origin "feedback", with these weights."""
    return LabelledRows(
        [review.text for review in reviews],
        np.asarray([review.rating for review in reviews]),
        weights,
        ["feedback"] * len(reviews),
    )


def base_rows(dataset: Dataset) -> LabelledRows:
    """Corpus rows of origin "base", each of weight 1."""
    return LabelledRows(dataset.texts, dataset.stars, np.ones(len(dataset)), ["base"] * len(dataset))


def load_base_corpus(path: Path, champion: Checkpoint, fixed_rows: int) -> BaseCorpus:
    """The base corpus split exactly as the champion's recipe split it (its recorded selection).

    The file must be the corpus the champion's data descends from (`corpus_fingerprint`). The
    fixed test is a seeded sample of its held-out rows of the trained-on domains (a held-out
    source, never trained on by the bundled model, may be what visitors now review).
    """
    if not path.is_file():
        raise RetrainError(f"RETRAIN_BASE_CORPUS: {path} does not exist (build it with `make corpus`)")
    recorded = champion.info.data
    try:
        selection = selection_of(recorded.selection if recorded else {})
        expected = recorded.corpus_fingerprint if recorded else None
        if expected is None:
            raise DataError("no data fingerprint")
        if fingerprint(path, **selection) != expected:
            raise RetrainError(
                f"{path}: not the corpus the champion's base rows came from (fingerprint differs)"
            )
        _, train, validation, test = training_data(path, selection)
    except (DataError, KeyError, ValueError) as error:
        raise RetrainError(f"the champion does not say how to read the base corpus ({error})") from None
    held_out = set(selection["holdout_groups"] or ())
    in_domain = test.subset([i for i, group in enumerate(test.groups) if group not in held_out])
    rng = np.random.default_rng(FIXED_TEST_SEED)
    sample = np.sort(rng.choice(len(in_domain), min(fixed_rows, len(in_domain)), replace=False))
    fixed = in_domain.subset(sample)
    fixed_texts = {feedback.normalise(text) for text in fixed.texts}
    return BaseCorpus(base_rows(train), base_rows(validation), base_rows(fixed), fixed_texts)


def training_rows(
    base: BaseCorpus, reviews: list[feedback.StoredReview], weights: np.ndarray, feedback_share: float
) -> tuple[LabelledRows, LabelledRows]:
    """(train, validation): base rows and the older reviews, these weighted to `feedback_share`.

    Of the reviews `VALIDATION_SHARE` validate (each of weight 1); the others train, scaled so
    that they carry `feedback_share` of the training weight. At least `MIN_BASE_VALIDATION` base
    rows validate, weighted so that the reviews carry the same share of the validation weight.
    """
    rng = np.random.default_rng(FIXED_TEST_SEED)
    order = rng.permutation(len(reviews))
    n_val = max(1, round(len(reviews) * VALIDATION_SHARE)) if len(reviews) > 1 else 0
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    stored = feedback_rows(reviews, weights)
    feedback_train, feedback_val = stored.subset(train_idx), stored.subset(val_idx)
    feedback_val.weights = np.ones(len(val_idx))
    share = feedback_share
    if len(feedback_train) and feedback_train.weights.sum() > 0:
        scale = share / (1 - share) * base.train.weights.sum() / feedback_train.weights.sum()
        feedback_train.weights = feedback_train.weights * scale
    n_base_val = min(len(base.validation), max(MIN_BASE_VALIDATION, len(feedback_val)))
    base_val_idx = np.sort(rng.choice(len(base.validation), n_base_val, replace=False))
    base_val = base.validation.subset(base_val_idx)
    if len(feedback_val):  # the stored reviews carry the same share of the validation weight
        base_val.weights = np.full(n_base_val, len(feedback_val) * (1 - share) / share / n_base_val)
    return base.train + feedback_train, base_val + feedback_val


def rating_mix(selected: feedback.Feedback, champion: Checkpoint) -> dict[str, Any]:
    """The rating mix the challenger assumes: the visitors' estimate, once there are enough
    usable reviews, else the champion's; with the corpus's mix (the champion's calibration rows)
    beside it for the admin page."""
    estimate = feedback.visitor_mix(selected)
    prior = champion.rating_prior
    mix: dict[str, Any] = {
        "visitors": estimate.as_dict(),
        "corpus": dict(zip(BANDS, prior.calibrated, strict=True)) if prior else None,
        "champion": dict(zip(BANDS, prior.assumed, strict=True)) if prior else None,
    }
    if estimate.reviews >= feedback.MIN_MIX_REVIEWS:
        mix["assumed"], mix["source"] = estimate.shares, "visitors"
    else:
        mix["assumed"] = prior.assumed if prior else None
        mix["source"] = (
            f"the champion's ({estimate.reviews} usable reviews, {feedback.MIN_MIX_REVIEWS} needed)"
        )
    logger.info("rating mix assumed: %s (%s)", mix["assumed"], mix["source"])
    return mix
