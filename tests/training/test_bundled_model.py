"""The bundled default model really works: held-out accuracy and behaviour on clear reviews."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brandpulse.training.checkpoint import BUNDLED_CHECKPOINT, load_checkpoint
from brandpulse.training.data import label_scheme, load_dataset, select_rows
from brandpulse.training.evaluate import evaluate_model
from brandpulse.training.predictor import Predictor

SPLIT_FILE = BUNDLED_CHECKPOINT.parent / "movie_reviews_split.json"
CARD_FILE = BUNDLED_CHECKPOINT.with_suffix(".card.json")

# Measured on the fixed 600-row sample below when the model was trained (docs/model_card.md);
# the floors sit a few points under, so only a real regression fails.
SAMPLE_SIZE = 600
SAMPLE_FLOOR = {"overall": 0.83, "imdb": 0.87, "rotten_tomatoes": 0.72}  # measured 0.865, 0.905, 0.768


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_checkpoint(BUNDLED_CHECKPOINT)


def test_bundled_checkpoint_is_compact_and_self_describing():
    assert BUNDLED_CHECKPOINT.stat().st_size <= 25 * 1024 * 1024
    loaded = load_checkpoint(BUNDLED_CHECKPOINT)
    assert loaded.classes == ("negative", "positive")
    assert loaded.info["architecture"] == "small-bn+ngram"
    assert loaded.ngram is not None and loaded.combination is not None
    assert loaded.info["data"]["file"] == "movie_reviews.csv"
    test_metrics = loaded.metrics["test"]
    assert {"overall", "imdb", "rotten_tomatoes"} <= set(test_metrics)
    card = json.loads(CARD_FILE.read_text())
    assert card["model"]["sha256"] == loaded.sha256
    assert set(card["held_out"]) == {"combined", "charcnn", "ngram"}
    # The shipped pair meets the targets set for it on the whole held-out split.
    assert card["held_out"]["combined"]["imdb"]["accuracy"] >= 0.88
    assert card["held_out"]["combined"]["rotten_tomatoes"]["accuracy"] >= 0.75


@pytest.mark.slow
def test_held_out_accuracy_on_a_fixed_sample(predictor, movie_reviews_csv):
    split = json.loads(SPLIT_FILE.read_text())
    dataset = load_dataset(movie_reviews_csv, scheme=label_scheme("binary"), group_column="source")
    held_out = select_rows(dataset, split["test_row_ids"])
    assert len(held_out) == len(split["test_row_ids"]) == 6706
    rng = np.random.default_rng(0)
    sample = held_out.subset(np.sort(rng.choice(len(held_out), SAMPLE_SIZE, replace=False)))
    report = evaluate_model(predictor, sample)
    for group, floor in SAMPLE_FLOOR.items():
        assert report[group]["accuracy"] >= floor, (group, report[group]["accuracy"])


POSITIVE = [
    "One of the best films I have seen in years. Wonderful acting and a beautiful, moving story.",
    "An absolute delight from start to finish, funny, warm and brilliantly made. Highly recommended!",
    "Excellent service, friendly staff and great quality. I love this brand and will buy again.",
    "a gorgeous, witty and thoroughly enjoyable film.",
]
NEGATIVE = [
    "Awful product, it broke after two days and customer service never answered. Never again.",
    "This was the worst movie I have ever seen. Boring, stupid and a complete waste of time.",
    "Terrible acting, awful script, I wanted to leave after ten minutes. Avoid at all costs.",
    "Terrible service, rude staff and the worst quality I have ever seen. A complete waste of money.",
    "a dull, lifeless and painfully unfunny mess.",
]


@pytest.mark.parametrize(("text", "positive"), [(t, True) for t in POSITIVE] + [(t, False) for t in NEGATIVE])
def test_clear_reviews_land_on_the_right_side(predictor, text, positive):
    [result] = predictor.predict([text])
    assert (result["score"] > 0.5) is positive, result
    assert result["suggested_rating"] >= 4 if positive else result["suggested_rating"] <= 2
