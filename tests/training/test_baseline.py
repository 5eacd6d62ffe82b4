"""The hashed 1-2-gram logistic-regression baseline: learning, saving, evaluation."""

from __future__ import annotations

import json

import numpy as np

from brandpulse.training import baseline, evaluate
from brandpulse.training.baseline import fit_baseline
from brandpulse.training.ngram import HashingBaseline

from .test_train import synthetic_reviews


def test_baseline_learns_and_round_trips(tmp_path):
    texts = ["great product, loved it", "awful, hated it", "loved the staff", "hated the delivery"] * 25
    labels = np.array([1, 0, 1, 0] * 25)
    model = fit_baseline(texts, labels, ("negative", "positive"), epochs=3, batch_size=20, seed=0)
    probabilities = model.predict_proba(["loved it", "hated it"])
    assert probabilities[0, 1] > 0.5 > probabilities[1, 1]
    path = model.save(tmp_path / "baseline.safetensors", metrics={"note": "test"})
    again = HashingBaseline.load(path)
    np.testing.assert_allclose(again.predict_proba(texts[:8]), model.predict_proba(texts[:8]), rtol=1e-6)


def test_baseline_command_and_evaluate_read_the_same_file(tmp_path):
    data = synthetic_reviews(tmp_path / "reviews.csv", rows=200)
    out = tmp_path / "baseline.safetensors"
    assert (
        baseline.main(
            ["--data", str(data), "--label-column", "stars", "--labels", "stars3", "--out", str(out)]
        )
        == 0
    )
    report_dir = tmp_path / "report"
    assert (
        evaluate.main(
            [
                "--model",
                str(out),
                "--data",
                str(data),
                "--label-column",
                "stars",
                "--labels",
                "stars3",
                "--out-dir",
                str(report_dir),
            ]
        )
        == 0
    )
    metrics = json.loads((report_dir / "report.json").read_text())["metrics"]["overall"]
    assert metrics["accuracy"] > 0.9  # trivially separable synthetic reviews
