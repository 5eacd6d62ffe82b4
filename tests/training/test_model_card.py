"""The JSON model card: what the checkpoint records, with the evaluations named on the command line."""

from __future__ import annotations

import json

import pytest

from brandpulse.model.checkpoint import save_checkpoint
from brandpulse.training import model_card

STAR_FIGURES = {
    "n": 10,
    "band_accuracy": 0.8,
    "band_macro_f1": 0.7,
    "band_balanced_accuracy": 0.75,
    "exact_accuracy": 0.6,
    "mae": 0.45,
    "within_one": 0.93,
    "binary_accuracy": 0.94,
    "binary_n": 8,
}


def test_the_card_summarises_star_figures_cut_points_and_evaluations(tmp_path, tiny_model):
    group = {"n": 10, "accuracy": 0.6, "macro_f1": 0.5, "ece": 0.04, "per_class": {}, "stars": STAR_FIGURES}
    path = save_checkpoint(
        tmp_path / "m.safetensors",
        tiny_model,
        classes=("bad", "average", "good"),
        metrics={"test": {"overall": group, "in_domain": group}},
        info={"architecture": "tiny", "data": {"file": "reviews.csv"}},
        rating_cuts=(0.2, 0.45, 0.56, 0.8),
    )
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "model": str(path),
                "data": "data/reviews.csv",
                "metrics": {"overall": group},
                "typos": {"rate": 0.05, "mean_abs_score_change": 0.01},
            }
        )
    )
    out = tmp_path / "card.json"
    assert (
        model_card.main(["--checkpoint", str(path), "--report", f"held_out={report}", "--out", str(out)]) == 0
    )
    card = json.loads(out.read_text())
    summary = card["held_out"]["charcnn"]["in_domain"]
    assert summary["mae"] == 0.45 and summary["band_accuracy"] == 0.8 and summary["ece"] == 0.04
    assert card["model"]["rating_cuts"] == [0.2, 0.45, 0.56, 0.8]
    assert card["evaluations"]["held_out"]["data"] == "reviews.csv"
    assert card["evaluations"]["held_out"]["typos"]["mean_abs_score_change"] == 0.01


def test_a_report_needs_a_name(tmp_path, tiny_checkpoint):
    with pytest.raises(SystemExit):
        model_card.main(["--checkpoint", str(tiny_checkpoint), "--report", "report.json"])
