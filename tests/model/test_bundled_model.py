"""The bundled default model really works: held-out figures, behaviour on company reviews, typos."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, load_checkpoint
from brandpulse.model.paths import file_sha256
from brandpulse.model.predictor import Predictor
from brandpulse.training.augment import change_characters
from brandpulse.training.data import (
    STARS5_CLASSES,
    Dataset,
    label_scheme,
    load_dataset,
    select_rows,
)
from brandpulse.training.evaluate import evaluate_model
from brandpulse.training.recipe import load_recipe

SPLIT_FILE = BUNDLED_CHECKPOINT.parent / "review_stars_split.json"
CARD_FILE = BUNDLED_CHECKPOINT.with_suffix(".card.json")
RECIPE = load_recipe()

# Measured on the fixed samples below when the model was trained (docs/model_card.md); the
# floors sit a few points under, so only a real regression fails.
SAMPLE_SIZE = 1500
SAMPLE_FLOOR = {  # measured 0.802, 0.744, 0.586, 0.443, 0.924, 0.925 in domain; 0.611, 0.568 on the apps
    "in_domain": {
        "band_accuracy": 0.78,
        "band_balanced_accuracy": 0.72,
        "average_recall": 0.52,
        "mae": 0.48,
        "within_one": 0.90,
        "binary_accuracy": 0.91,
    },
    "google_play_apps": {"band_accuracy": 0.58, "band_balanced_accuracy": 0.54},
}


@pytest.fixture(scope="module")
def predictor(bundled_checkpoint) -> Predictor:
    return Predictor.from_checkpoint(bundled_checkpoint)


def test_bundled_checkpoint_is_compact_and_self_describing(bundled_checkpoint):
    assert bundled_checkpoint.stat().st_size <= 40 * 1024 * 1024
    loaded = load_checkpoint(bundled_checkpoint)
    assert loaded.classes == STARS5_CLASSES
    assert loaded.info.architecture == "small-bn+ngram"
    assert loaded.ngram is not None and loaded.combination is not None
    assert loaded.info.data.file == "reviews.csv"
    assert loaded.info.data.holdout_groups == RECIPE["selection"]["holdout_groups"]
    assert loaded.encoder_config.max_length == RECIPE["cnn"]["max_length"]
    card = json.loads(CARD_FILE.read_text())
    assert card["model"]["sha256"] == loaded.sha256
    assert set(card["held_out"]) == {"combined", "charcnn", "ngram"}
    # The suggestion assumes a third of each band (issue 23), stated in the file and the card.
    assert loaded.rating_prior is not None and loaded.rating_prior.assumed == pytest.approx((1 / 3,) * 3)
    assert card["model"]["rating_prior"] == loaded.rating_prior.to_dict()
    # On its whole held-out split: the targets of issue 23 that the shipped model meets (band
    # accuracy on the rows' own mix >= 0.80, MAE <= 0.50, average recall >= 0.55, good recall
    # >= 0.85), and floors a little under the measured figures for those it does not yet meet
    # (balanced 0.743, bad recall 0.810, binary 0.930; apps balanced 0.576, band 0.614):
    # docs/model_card.md.
    in_domain, unseen = (
        card["held_out"]["combined"]["in_domain"],
        card["held_out"]["combined"]["google_play_apps"],
    )
    assert in_domain["band_accuracy"] >= 0.80 and in_domain["mae"] <= 0.50
    assert in_domain["band_recall"]["average"] >= 0.55 and in_domain["band_recall"]["good"] >= 0.85
    assert in_domain["band_balanced_accuracy"] >= 0.73 and in_domain["band_recall"]["bad"] >= 0.79
    assert in_domain["within_one"] >= 0.90 and in_domain["binary_accuracy"] >= 0.92
    assert unseen["band_balanced_accuracy"] >= 0.56 and unseen["band_accuracy"] >= 0.60


def held_out_rows(reviews_csv) -> Dataset:
    """The bundled model's held-out test rows, as its split file lists them."""
    split = json.loads(SPLIT_FILE.read_text())
    selection = RECIPE["selection"]
    dataset = load_dataset(
        reviews_csv,
        text_column="text",
        label_column=selection["label_column"],
        scheme=label_scheme(selection["labels"]),
        group_column=selection["group_column"],
    )
    held_out = select_rows(dataset, split["test_row_ids"])
    assert len(held_out) == len(split["test_row_ids"])
    return held_out


@pytest.mark.slow
def test_held_out_figures_on_a_fixed_sample(predictor, reviews_csv):
    selection = RECIPE["selection"]
    held_out = held_out_rows(reviews_csv)
    rng = np.random.default_rng(0)
    sample = held_out.subset(np.sort(rng.choice(len(held_out), SAMPLE_SIZE, replace=False)))
    report = evaluate_model(predictor, sample, selection["holdout_groups"])
    for group, floors in SAMPLE_FLOOR.items():
        stars = report[group]["stars"]
        stars = {**stars, "average_recall": stars["band_recall"]["average"]}
        for key, floor in floors.items():
            if key == "mae":
                assert stars[key] <= floor, (group, key, stars[key])
            else:
                assert stars[key] >= floor, (group, key, stars[key])


# Reviews of companies written for this test (not from any data set), with the rating their
# author meant; the model's suggestion must be within one star of it for at least 18 of 20.
COMPANY_REVIEWS = [
    ("The parcel never arrived, the tracking number is fake and nobody answers the phone. Avoid.", 1),
    ("Three weeks waiting for a refund promised in five days. They keep my money and ignore my emails.", 1),
    ("They charged my card twice and support closed the ticket without reading it. Disgraceful.", 1),
    ("The app crashes every time I try to pay and customer service just sends copy-paste answers.", 1),
    ("Rude staff, wrong order and a manager who laughed at us when we complained.", 1),
    ("Delivery was four days late and the box was damaged. The product works, but I won't order again.", 2),
    (
        "Billing is confusing and they added a fee nobody told me about. Support fixed part of it in a week.",
        2,
    ),
    ("Slow support. It took several emails to get a simple answer about my subscription.", 2),
    ("The staff were friendly, but the room was not cleaned and the check-in took forever.", 2),
    ("Delivery took a bit longer than promised, but the item was fine. An average experience.", 3),
    ("The app does what it should, though it is slow and the latest update moved everything around.", 3),
    ("Refund arrived eventually. Not great, not terrible: the process could be much simpler.", 3),
    ("Okay service. The staff were polite, prices are a little high for what you get.", 3),
    ("Good service overall. My order came on time and support answered within a day.", 4),
    ("Easy to use app and clear billing. I would like more payment options, otherwise very good.", 4),
    ("Nice staff and quick delivery. One item was missing but they sent it the next day.", 4),
    ("Fast delivery, great prices and the support team solved my problem in minutes. Highly recommend!", 5),
    ("Excellent company! The refund was processed the same day and the agent was so kind.", 5),
    ("Brilliant app, flawless payments and the friendliest customer service I have ever dealt with.", 5),
    ("Outstanding service from start to finish. Everything arrived perfectly packed. Five stars!", 5),
]


def test_company_reviews_get_a_suggestion_within_one_star(predictor):
    results = predictor.predict([text for text, _ in COMPANY_REVIEWS])
    misses = [
        (text, stars, result["suggested_rating"])
        for (text, stars), result in zip(COMPANY_REVIEWS, results, strict=True)
        if abs(result["suggested_rating"] - stars) > 1
    ]
    assert len(misses) <= 2, misses


@pytest.mark.parametrize(("text", "stars"), [COMPANY_REVIEWS[0], COMPANY_REVIEWS[-1]])
def test_clear_reviews_land_in_the_right_band(predictor, text, stars):
    [result] = predictor.predict([text])
    if stars == 1:
        assert result["suggested_rating"] <= 2 and result["score"] < 0.3, result
    else:
        assert result["suggested_rating"] >= 4 and result["score"] > 0.7, result


def held_out_in_domain_texts(reviews_csv, rows: int) -> list[str]:
    """A fixed sample of the held-out test reviews of the trained-on sources."""
    held_out = held_out_rows(reviews_csv)
    holdout_groups = RECIPE["selection"]["holdout_groups"]
    in_domain = [i for i, group in enumerate(held_out.groups) if group not in holdout_groups]
    chosen = np.sort(np.random.default_rng(1).choice(in_domain, rows, replace=False))
    return [held_out.texts[i] for i in chosen]


def typo_movement(predictor: Predictor, texts: list[str], copies: int) -> float:
    """Mean change of the score when 5 % of the characters are random letters."""
    rng = random.Random(0)
    noisy = [change_characters(text, 0.05, rng) for text in texts for _ in range(copies)]
    clean = np.repeat([result["score"] for result in predictor.predict(texts)], copies)
    return float(np.abs(np.asarray([result["score"] for result in predictor.predict(noisy)]) - clean).mean())


def test_scores_move_little_when_five_percent_of_characters_are_typos(predictor, reviews_csv):
    # The target of issue 11, on real held-out reviews (measured: 0.036 on these 300).
    assert typo_movement(predictor, held_out_in_domain_texts(reviews_csv, 300), copies=1) <= 0.05


def test_short_reviews_stay_steady_under_typos(predictor):
    # One-sentence reviews move more (each typo is a larger share of their words): measured
    # 0.070 on the hand-written company reviews, against 0.036 on real held-out reviews.
    assert typo_movement(predictor, [text for text, _ in COMPANY_REVIEWS], copies=5) <= 0.08


def test_the_corpus_builds_to_the_bytes_the_model_was_trained_on(bundled_checkpoint, reviews_csv):
    # `make corpus` on any machine gives exactly the rows the bundled model's split refers to.
    recorded = load_checkpoint(bundled_checkpoint).info.data.to_dict()
    assert file_sha256(reviews_csv) == recorded["sha256"] == json.loads(SPLIT_FILE.read_text())["data_sha256"]
