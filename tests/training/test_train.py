"""A real, short training run through the `train` command line."""

from __future__ import annotations

import json
import math
import random

import pytest
from safetensors import safe_open

from brandpulse.training import train
from brandpulse.training.checkpoint import load_checkpoint
from brandpulse.training.predictor import Predictor

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
    assert loaded.info["data"]["fingerprint"] == report["info"]["data"]["fingerprint"]
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
        assert handle.metadata()["format_version"] == "2"


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
