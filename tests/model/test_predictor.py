"""Inference through `Predictor` and the `predict` and `evaluate` command lines (tiny model)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from brandpulse.model.legibility import OUTSIDE_ALPHABET, TOO_SHORT, unreliable_reason
from brandpulse.model.predictor import Predictor
from brandpulse.model.scoring import sentiment_score, suggested_rating
from brandpulse.training import evaluate, predict


def test_prediction_fields_are_consistent(tiny_checkpoint):
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    [result] = predictor.predict(["The delivery was quick and the staff friendly."])
    assert set(result) == {"label", "probabilities", "score", "suggested_rating"}
    probabilities = list(result["probabilities"].values())
    assert list(result["probabilities"]) == ["bad", "average", "good"]
    assert sum(probabilities) == pytest.approx(1.0)
    assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)
    assert result["score"] == pytest.approx(sentiment_score(probabilities))
    assert result["suggested_rating"] == suggested_rating(result["score"])


def test_with_a_minimum_length_each_answer_carries_its_own_models_legibility_verdict(tiny_checkpoint):
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    texts = ["The delivery was quick and the staff friendly.", "Fine.", "配達がとても早くて親切でした。"]
    results = predictor.predict(texts, min_length=15)
    assert [(r["reliable"], r["unreliable_reason"]) for r in results] == [
        (True, None),
        (False, TOO_SHORT),
        (False, OUTSIDE_ALPHABET),
    ]
    # The verdict is read with this predictor's own alphabet, the one its score was read with.
    config = predictor.encoder.config
    assert [r["unreliable_reason"] for r in results] == [
        unreliable_reason(text, 15, config.alphabet, config.lowercase) for text in texts
    ]
    assert all(r["score"] == p["score"] for r, p in zip(results, predictor.predict(texts), strict=True))


def test_batches_give_the_same_answers_as_single_texts(tiny_checkpoint):
    predictor = Predictor.from_checkpoint(tiny_checkpoint, batch_size=2)
    texts = ["one", "two two", "three three three", "", "x" * 10_000]
    together = predictor.predict_proba(texts)
    alone = np.vstack([predictor.predict_proba([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_empty_input_and_bare_string(tiny_checkpoint):
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    assert predictor.predict([]) == []
    with pytest.raises(TypeError):
        predictor.predict("a bare string")


def test_predict_command_reads_arguments_and_stdin(tiny_checkpoint, capsys, monkeypatch):
    assert predict.main(["--checkpoint", str(tiny_checkpoint), "good", "bad"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["good", "bad"]
    assert all(line["model_version"].startswith("tiny-") for line in lines)

    monkeypatch.setattr("sys.stdin", io.StringIO("first line\n\nsecond line\n"))
    assert predict.main(["--checkpoint", str(tiny_checkpoint)]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == [
        "first line",
        "second line",
    ]


def test_predict_command_with_a_bad_checkpoint(tmp_path, caplog):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert predict.main(["--checkpoint", str(bad), "text"]) == 2
    assert "bad.safetensors" in caplog.text


def test_evaluate_command_writes_report_and_plots(tiny_checkpoint, tmp_path):
    data = tmp_path / "stars.csv"
    rows = [f"review number {i},{1 + i % 5}" for i in range(40)]
    data.write_text("text,stars\n" + "\n".join(rows) + "\n")
    out = tmp_path / "report"
    code = evaluate.main(
        [
            "--model",
            str(tiny_checkpoint),
            "--data",
            str(data),
            "--label-column",
            "stars",
            "--labels",
            "stars3",
            "--out-dir",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())["metrics"]["overall"]
    assert report["n"] == 40
    assert sum(map(sum, report["confusion_matrix"])) == 40
    assert set(report["per_class"]) == {"bad", "average", "good"}
    assert (out / "confusion_matrix_overall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_refuses_classes_it_cannot_compare(tiny_checkpoint, tmp_path, caplog):
    data = tmp_path / "named.csv"
    data.write_text("text,label\na,meh\nb,wow\n")
    argv = ["--model", str(tiny_checkpoint), "--data", str(data), "--labels", "names"]
    assert evaluate.main([*argv, "--classes", "meh", "wow", "--out-dir", str(tmp_path / "r")]) == 2
    assert "classes" in caplog.text


def test_evaluate_measures_other_classes_by_score_and_rating(tiny_checkpoint, tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_text("text,label\ngreat,1\nawful,0\nfine,1\n")
    assert (
        evaluate.main(
            ["--model", str(tiny_checkpoint), "--data", str(binary), "--out-dir", str(tmp_path / "b")]
        )
        == 0
    )
    overall = json.loads((tmp_path / "b" / "report.json").read_text())["metrics"]["overall"]
    assert overall["n"] == 3 and 0.0 <= overall["accuracy"] <= 1.0 and "macro_f1" in overall
    stars = tmp_path / "stars.csv"
    stars.write_text("text,stars\ngreat,5\nawful,1\nfine,4\nmeh,3\n")
    argv = [
        "--model",
        str(tiny_checkpoint),
        "--data",
        str(stars),
        "--label-column",
        "stars",
        "--labels",
        "stars5",
    ]
    assert evaluate.main([*argv, "--out-dir", str(tmp_path / "s")]) == 0
    overall = json.loads((tmp_path / "s" / "report.json").read_text())["metrics"]["overall"]
    assert overall["n"] == 4 and overall["stars"]["star_distribution"] == {
        "1": 1,
        "2": 0,
        "3": 1,
        "4": 1,
        "5": 1,
    }


def test_evaluate_measures_typo_sensitivity_and_reads_names_of_the_models_classes(tiny_checkpoint, tmp_path):
    data = tmp_path / "named.csv"
    data.write_text(
        "text,label\n"
        + "".join(f"review number {i} was fine,{('bad', 'average', 'good')[i % 3]}\n" for i in range(30))
    )
    out = tmp_path / "report"
    argv = ["--model", str(tiny_checkpoint), "--data", str(data), "--labels", "names", "--typo-rate", "0.05"]
    assert evaluate.main([*argv, "--out-dir", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["overall"]["n"] == 30
    typos = report["typos"]
    assert typos["rate"] == 0.05 and typos["n"] == 30
    assert 0.0 <= typos["mean_abs_score_change"] <= typos["max_abs_score_change"] <= 1.0
