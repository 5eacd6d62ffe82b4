"""A real, short training run through the `train` command line."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest
import torch
from safetensors import safe_open

from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import load_checkpoint
from brandpulse.model.predictor import Predictor
from brandpulse.training import train
from brandpulse.training.data import STARS5_CLASSES
from brandpulse.training.trainer import initialise_from, training_loss
from tests.conftest import TINY_ENCODER, TINY_MODEL

POSITIVE = ["great", "excellent", "wonderful", "loved it", "superb", "fantastic", "brilliant"]
NEGATIVE = ["awful", "terrible", "horrible", "hated it", "dreadful", "boring", "a waste"]
FILLER = ["the staff", "my order", "this brand", "the delivery", "their app", "customer care"]


def synthetic_reviews(path, rows: int, seed: int = 0):
    """A small CSV of clearly positive and clearly negative star-rated reviews."""
    rng = random.Random(seed)
    lines = ["text,stars"]
    for i in range(rows):
        good = i % 2 == 0
        word = rng.choice(POSITIVE if good else NEGATIVE)
        stars = rng.choice([4, 5]) if good else rng.choice([1, 2])
        lines.append(f'"{rng.choice(FILLER)} was {word}, {rng.choice(FILLER)} too",{stars}')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_train_command_learns_and_writes_a_usable_checkpoint(tmp_path):
    data = synthetic_reviews(tmp_path / "reviews.csv", rows=320)
    out = tmp_path / "model.safetensors"
    code = train.main(
        [
            "--data",
            str(data),
            "--text-column",
            "text",
            "--label-column",
            "stars",
            "--labels",
            "stars2",
            "--arch",
            "small-bn",
            "--max-length",
            "128",
            "--epochs",
            "6",
            "--patience",
            "6",
            "--test-fraction",
            "0.2",
            "--split-out",
            str(tmp_path / "split.json"),
            "--out",
            str(out),
            "--log-dir",
            str(tmp_path / "tb"),
            "--seed",
            "3",
        ]
    )
    assert code == 0
    report = json.loads(out.with_suffix(".report.json").read_text())
    history = report["info"]["train"]["history"]
    losses = [epoch["train_loss"] for epoch in history]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < 0.5 * losses[0], losses  # the loss really falls, no plateau at chance
    assert report["metrics"]["test"]["overall"]["accuracy"] >= 0.9

    # The checkpoint describes itself: rebuilding it needs no flag from training.
    loaded = load_checkpoint(out)
    assert loaded.classes == ("negative", "positive")
    assert loaded.encoder_config.max_length == 128
    assert loaded.info.data.fingerprint == report["info"]["data"]["fingerprint"]
    assert loaded.metrics["test"]["overall"]["n"] == 64
    # The checkpoint alone scores new reviews of the same kind (a fresh seed).
    fresh = synthetic_reviews(tmp_path / "fresh.csv", rows=100, seed=1).read_text().splitlines()[1:]
    texts = [line.rsplit(",", 1)[0].strip('"') for line in fresh]
    positive = [int(line.rsplit(",", 1)[1]) >= 4 for line in fresh]
    scores = [result["score"] for result in Predictor.from_checkpoint(out).predict(texts)]
    agreement = sum((score > 0.5) == label for score, label in zip(scores, positive, strict=True))
    assert agreement >= 85, agreement

    split = json.loads((tmp_path / "split.json").read_text())
    assert len(split["test_row_ids"]) == 64 and split["seed"] == 2015
    assert any((tmp_path / "tb").iterdir())  # TensorBoard logs written
    with safe_open(str(out), framework="pt") as handle:
        assert handle.metadata()["format_version"] == "4"


def test_train_command_reports_bad_data_clearly(tmp_path, caplog):
    data = tmp_path / "bad.csv"
    data.write_text("text,stars\nfine,5\nhmm,seven\n")
    code = train.main(
        [
            "--data",
            str(data),
            "--label-column",
            "stars",
            "--labels",
            "stars3",
            "--out",
            str(tmp_path / "m.safetensors"),
        ]
    )
    assert code == 2
    assert "line 3: column 'stars': cannot read label 'seven'" in caplog.text
    assert not (tmp_path / "m.safetensors").exists()


def test_train_command_refuses_unknown_architecture(tmp_path, caplog):
    data = synthetic_reviews(tmp_path / "reviews.csv", rows=20)
    code = train.main(
        [
            "--data",
            str(data),
            "--label-column",
            "stars",
            "--labels",
            "stars2",
            "--arch",
            "nope",
            "--out",
            str(tmp_path / "m.safetensors"),
        ]
    )
    assert code == 2 and "unknown architecture" in caplog.text


def test_ordinal_loss_costs_more_the_further_off_the_prediction_is():
    target = torch.tensor([4])  # 5 stars
    near = torch.tensor([[0.0, 0.0, 0.0, 9.0, 0.0]])  # nearly all mass on 4 stars
    far = torch.tensor([[9.0, 0.0, 0.0, 0.0, 0.0]])  # nearly all mass on 1 star
    # Cross-entropy alone cannot tell them apart (both give the target the same probability).
    assert training_loss(near, target, 0.0) == pytest.approx(float(training_loss(far, target, 0.0)))
    emd_near = float(training_loss(near, target, 1.0) - training_loss(near, target, 0.0))
    emd_far = float(training_loss(far, target, 1.0) - training_loss(far, target, 0.0))
    assert emd_near == pytest.approx(1.0, abs=0.01) and emd_far == pytest.approx(4.0, abs=0.01)


def test_initialise_from_copies_all_but_a_differently_shaped_output_layer():
    torch.manual_seed(0)
    source = CharCNN(dataclasses.replace(TINY_MODEL, n_classes=2), TINY_ENCODER)
    target = CharCNN(dataclasses.replace(TINY_MODEL, n_classes=5), TINY_ENCODER)
    fresh = initialise_from(target, source)
    assert fresh == ["classifier.7.bias", "classifier.7.weight"]
    assert torch.equal(target.convolutions[0].weight, source.convolutions[0].weight)
    other = CharCNN(TINY_MODEL, dataclasses.replace(TINY_ENCODER, max_length=80))
    with pytest.raises(ValueError, match="encoder"):
        initialise_from(other, source)


def test_train_command_on_star_ratings_held_out_by_company(tmp_path, tiny_checkpoint):
    lines = ["text,stars,source,company"]
    rng = random.Random(0)
    for i in range(240):
        good = i % 2 == 0
        source = "apps" if i % 6 == 0 else "shops"
        lines.append(
            f'"{rng.choice(POSITIVE if good else NEGATIVE)} {rng.choice(FILLER)}",{5 if good else 1},'
            f"{source},co{i % 24}"
        )
    data = tmp_path / "stars.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "stars.safetensors"
    code = train.main(
        [
            "--data",
            str(data),
            "--label-column",
            "stars",
            "--labels",
            "stars5",
            "--group-column",
            "source",
            "--company-column",
            "company",
            "--holdout-group",
            "apps",
            "--init-from",
            str(tiny_checkpoint),
            "--char-noise",
            "0.05",
            "--ordinal-weight",
            "1",
            "--epochs",
            "1",
            "--max-steps",
            "3",
            "--split-out",
            str(tmp_path / "split.json"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    loaded = load_checkpoint(out)
    assert loaded.classes == STARS5_CLASSES and loaded.encoder_config == TINY_ENCODER  # from --init-from
    assert loaded.info.data.holdout_groups == ["apps"] and loaded.info.init_from == str(tiny_checkpoint)
    assert len(loaded.rating_cuts) == 4 and loaded.metrics["rating_cuts"] == list(loaded.rating_cuts)
    test = loaded.metrics["test"]
    assert {"overall", "in_domain", "apps", "shops"} <= set(test)
    assert test["apps"]["n"] == 40 and "band_accuracy" in test["in_domain"]["stars"]
    split = json.loads((tmp_path / "split.json").read_text())
    assert split["holdout_groups"] == ["apps"] and split["company_column"] == "company"


def test_train_and_evaluate_share_one_holdout_option_and_train_builds_one_config():
    from brandpulse.training import evaluate

    options = ["--data", "reviews.csv", "--holdout-group", "apps", "--holdout-group", "web"]
    assert evaluate.build_parser().parse_args(options).holdout_groups == ["apps", "web"]
    parsed = train.build_parser().parse_args([*options, "--out", "m.safetensors", "--bf16", "off"])
    assert parsed.holdout_groups == ["apps", "web"]
    config = train.train_config_of(parsed)
    assert config.bf16 is False and config.device in ("cpu", "cuda") and config.epochs == parsed.epochs
