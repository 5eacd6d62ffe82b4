"""A challenger from the champion and new labelled rows: the training half of `retrain`.

The champion is a char-CNN pooled with a hashed word n-gram model (`pooling.py`). A
challenger is made in four steps, each timed:

1. **CNN, fine-tuned** from the champion's weights (never from scratch: on two CPU cores a
   fresh CNN takes an hour and a half, a fine-tune minutes) with the recipe's losses and typo
   augmentation, rows drawn in proportion to their weights, so the visitors' reviews weigh
   what the caller decided against the base corpus.
2. **n-gram model, refitted** on all rows with their weights (it is linear and fast; its
   vocabulary follows the new reviews' words).
3. **Pooling weights** and 4. **the rating rule** (the rating mix it assumes and the cut
   points, `scoring.fit_rating_rule`), refitted on the validation rows (base corpus and stored
   reviews, about as many of each: docs/learning_loop.md says why). The mix assumed is the one
   the caller estimated of its visitors, else the champion's.

The rows are `rows.LabelledRows`; the figures the promotion gate compares are `measure.py`'s.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from brandpulse.learning.rows import LabelledRows
from brandpulse.model.checkpoint import Checkpoint
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.network import TextNetwork
from brandpulse.model.ngram import DEFAULT_FEATURES, HashedNgramModel
from brandpulse.model.pooling import Combination, fit_combination
from brandpulse.model.predictor import Predictor
from brandpulse.model.runtime import bf16_is_fast
from brandpulse.model.scoring import RatingPrior, band_mix, fit_rating_rule
from brandpulse.training.data import STAR_SCHEMES, Dataset, label_scheme
from brandpulse.training.train_ngram import fit_ngram
from brandpulse.training.trainer import build_train_config, train_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneConfig:
    """How a challenger is trained (defaults: one CNN epoch, about three minutes on two cores)."""

    cnn_epochs: int = 1
    cnn_lr: float = 5e-4  # a sixth of the recipe's peak: the weights start trained
    batch_size: int = 64
    weight_decay: float = 0.05
    char_noise: float = 0.15  # as the recipe: reading through typos must not be unlearnt
    ordinal_weight: float = 1.0
    max_steps: int | None = None  # a CNN step budget (tests, smoke runs)
    bf16: bool | None = None  # bfloat16 autocast; None: where the device has it natively
    ngram_epochs: int = 5
    ngram_batch_size: int = 1000
    ngram_alpha: float = 3e-6
    seed: int = 13
    device: str = "auto"


@dataclass
class Challenger:
    """A trained challenger, not yet saved: what `save_checkpoint` needs, and how it was made."""

    model: TextNetwork
    classes: tuple[str, ...]
    ngram: HashedNgramModel
    combination: Combination
    rating_cuts: tuple[float, ...]
    rating_prior: RatingPrior | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def predictor(self, batch_size: int = 128) -> Predictor:
        """The challenger ready to score texts (as the saved file will)."""
        return Predictor(
            self.model,
            CharEncoder(self.model.encoder_config),
            self.classes,
            batch_size=batch_size,
            bf16=bf16_is_fast("cpu"),
            ngram=self.ngram,
            combination=self.combination,
            rating_cuts=self.rating_cuts,
            rating_prior=self.rating_prior,
        )


def as_dataset(rows: LabelledRows, classes: Sequence[str], scheme: str) -> tuple[Dataset, np.ndarray]:
    """The rows as a Dataset of `scheme`'s classes, and their weights (rows the scheme drops removed)."""
    labelling = label_scheme(scheme, classes)
    mapped = [labelling.class_of_stars(int(stars)) for stars in rows.stars]
    keep = np.asarray([label != "drop" for label in mapped], dtype=bool)
    labels = np.asarray([label for label in mapped if label != "drop"], dtype=np.int64)
    kept = np.flatnonzero(keep)
    dataset = Dataset(
        texts=[rows.texts[i] for i in kept],
        labels=labels,
        classes=tuple(classes),
        row_ids=kept,
        groups=[rows.origins[i] for i in kept],
        stars=rows.stars[kept],
    )
    return dataset, rows.weights[kept]


def weights_as_repeats(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How many times each row is shown to the n-gram model: its weight, rounded at random.

    Stochastic gradient descent takes a row of weight 16 as one step 16 times too long, which
    overshoots; the same row seen 16 times is 16 ordinary steps. A weight of 0.4 becomes one
    copy with probability 0.4. The expected count equals the weight.
    """
    whole = np.floor(weights)
    return (whole + (rng.random(len(weights)) < weights - whole)).astype(np.int64)


def label_scheme_of(champion: Checkpoint) -> str:
    """The champion's star label scheme (stars5 for the bundled model); ValueError if it has none."""
    data = champion.info.data
    scheme = (data.labels if data else None) or "stars5"
    if scheme not in STAR_SCHEMES:
        raise ValueError(f"the champion was trained on {scheme!r} labels, not star ratings: cannot fine-tune")
    return scheme


def corpus_mix(rows: Dataset) -> tuple[float, float, float]:
    """The band mix of the base corpus's rows among these (of all, if none): the mix a checkpoint
    from before rating priors suggests for, its cut points fitted on its corpus's validation rows."""
    from_base = np.asarray([group == "base" for group in rows.groups], dtype=bool)
    return band_mix(rows.stars[from_base] if from_base.any() else rows.stars)


def train_challenger(
    champion: Checkpoint,
    train: LabelledRows,
    validation: LabelledRows,
    config: FinetuneConfig = FinetuneConfig(),
    assumed_mix: Sequence[float] | None = None,
) -> Challenger:
    """Fine-tune the champion's CNN, refit its n-gram model, pooling and rating rule on these rows.

    `assumed_mix` (bad, average, good shares) is the rating mix the challenger suggests for;
    None keeps the champion's (for a champion from before rating priors, `corpus_mix`).
    """
    if champion.ngram is None:
        raise ValueError("the champion has no n-gram model to refit (not a pooled checkpoint)")
    if not len(train) or not len(validation):
        raise ValueError("a challenger needs training and validation rows")
    scheme = label_scheme_of(champion)
    train_set, train_weights = as_dataset(train, champion.classes, scheme)
    val_set, val_weights = as_dataset(validation, champion.classes, scheme)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    model = copy.deepcopy(champion.model).float()
    train_config = build_train_config(
        device=config.device,
        bf16=config.bf16,
        epochs=config.cnn_epochs,
        batch_size=config.batch_size,
        lr=config.cnn_lr,
        schedule="cosine",
        weight_decay=config.weight_decay,
        patience=1,
        seed=config.seed,
        max_steps=config.max_steps,
        char_noise=config.char_noise,
        ordinal_weight=config.ordinal_weight,
    )
    encoder = CharEncoder(model.encoder_config)
    result = train_model(model, encoder, train_set, val_set, train_config, sample_weights=train_weights)
    seconds["cnn"] = round(time.perf_counter() - started, 1)
    logger.info("CNN fine-tuned in %.0f s (%.0f rows/s)", seconds["cnn"], result.samples_per_second)

    started = time.perf_counter()
    repeats = weights_as_repeats(train_weights, np.random.default_rng(config.seed))
    rows = np.repeat(np.arange(len(train_set)), repeats)
    ngram = fit_ngram(
        [train_set.texts[i] for i in rows],
        train_set.labels[rows],
        champion.classes,
        epochs=config.ngram_epochs,
        batch_size=config.ngram_batch_size,
        seed=config.seed,
        n_features=champion.ngram.n_features if champion.ngram else DEFAULT_FEATURES,
        alpha=config.ngram_alpha,
    )
    seconds["ngram"] = round(time.perf_counter() - started, 1)
    logger.info("n-gram model refitted in %.0f s", seconds["ngram"])

    started = time.perf_counter()
    cnn_only = Predictor(result.model, encoder, champion.classes, batch_size=128, bf16=train_config.bf16)
    cnn_val, ngram_val = cnn_only.predict_proba(val_set.texts), ngram.predict_proba(val_set.texts)
    combination = fit_combination(cnn_val, ngram_val, val_set.labels)
    pooled = combination.combine(cnn_val, ngram_val)

    # The rule for the visitors' mix, fitted on every validation row as weighted (the stored
    # reviews carry the share of the weight they carry in training).
    champion_mix = champion.rating_prior.assumed if champion.rating_prior is not None else corpus_mix(val_set)
    assumed = assumed_mix if assumed_mix is not None else champion_mix
    prior, cuts = fit_rating_rule(pooled, val_set.stars, assumed, weights=val_weights)
    seconds["pooling"] = round(time.perf_counter() - started, 1)
    logger.info(
        "pooling %s, rating cut points %s and prior %s fitted",
        combination.to_dict(),
        cuts,
        prior.to_dict() if prior else None,
    )
    return Challenger(
        model=result.model,
        classes=champion.classes,
        ngram=ngram,
        combination=combination,
        rating_cuts=tuple(cuts),
        rating_prior=prior,
        seconds=seconds,
        info={
            "method": "fine-tuned from the champion's CNN; n-gram model, pooling and rating rule refitted",
            "config": asdict(config),
            "rows": {"train": train.counts(), "validation": validation.counts()},
            "cnn": {
                "epochs_run": len(result.history),
                "samples_per_second": round(result.samples_per_second, 1),
                "history": result.history,
            },
        },
    )
