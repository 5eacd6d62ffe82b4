"""The CNN pooled with the hashed n-gram model: fitting, saving in one checkpoint, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from brandpulse.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from brandpulse.model.ngram import MAX_CHARS, HashedNgramModel, clip_text
from brandpulse.model.pooling import Combination, fit_combination
from brandpulse.model.predictor import Predictor
from brandpulse.training import combine, evaluate, predict, train
from brandpulse.training.train_ngram import fit_ngram
from tests.training.test_train import synthetic_reviews

CLASSES = ("bad", "average", "good")


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels])))


def noisy_experts(rows: int = 600, seed: int = 0):
    """Labels, an informative expert's probabilities and an uninformative one's."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, rows)
    informative = np.full((rows, 3), 0.15)
    informative[np.arange(rows), labels] = 0.7
    flip = rng.random(rows) < 0.2  # wrong on a fifth of the rows
    informative[flip] = informative[flip][:, ::-1]
    noise = rng.dirichlet(np.ones(3), rows)
    return labels, informative, noise


def test_fitting_trusts_the_informative_model_and_beats_both():
    labels, informative, noise = noisy_experts()
    fitted = fit_combination(noise, informative, labels)
    assert fitted.ngram_weight > 5 * abs(fitted.cnn_weight)
    combined = fitted.combine(noise, informative)
    assert log_loss(combined, labels) < log_loss(informative, labels)
    assert log_loss(combined, labels) < log_loss(noise, labels)
    # Swapping the roles swaps the weights.
    swapped = fit_combination(informative, noise, labels)
    assert swapped.cnn_weight == pytest.approx(fitted.ngram_weight, rel=1e-3)


def test_combined_probabilities_are_distributions_even_for_certain_inputs():
    combination = Combination(cnn_weight=0.5, ngram_weight=2.0, bias=(0.1, -0.1))
    cnn = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    ngram = np.array([[0.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    combined = combination.combine(cnn, ngram)
    assert np.isfinite(combined).all()
    np.testing.assert_allclose(combined.sum(axis=1), 1.0)
    assert combined[1, 1] > 0.99 and combined[2, 0] > 0.5  # the bias favours class 0 on a tie


@pytest.mark.parametrize(
    "data",
    [{}, {"cnn_weight": 1.0, "ngram_weight": 1.0}, {"cnn_weight": "x", "ngram_weight": 1, "bias": [0, 0]}],
)
def test_a_malformed_combination_is_refused(data):
    with pytest.raises(ValueError):
        Combination.from_dict(data)


def test_non_finite_weights_and_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="finite"):
        Combination(cnn_weight=float("nan"), ngram_weight=1.0, bias=(0.0, 0.0))
    with pytest.raises(ValueError, match="shapes"):
        Combination(1.0, 1.0, (0.0, 0.0)).combine(np.ones((2, 2)) / 2, np.ones((2, 3)) / 3)


def test_huge_texts_are_clipped_to_head_and_tail():
    text = "a" * MAX_CHARS + "b" * MAX_CHARS
    clipped = clip_text(text)
    assert len(clipped) == MAX_CHARS + 1
    assert clipped.startswith("a") and clipped.endswith("b")
    assert clip_text("short") == "short"


@pytest.fixture
def ngram_model() -> HashedNgramModel:
    texts = ["loved it, great", "it was fine, average", "hated it, awful"] * 20
    labels = np.array([2, 1, 0] * 20)
    return fit_ngram(texts, labels, CLASSES, epochs=3, batch_size=30, seed=0)


def save_pair(path, model, ngram, combination):
    """The tiny CNN and the n-gram model saved as one checkpoint."""
    return save_checkpoint(
        path, model, classes=CLASSES, info={"architecture": "tiny"}, ngram=ngram, combination=combination
    )


def rewritten(source, target, tensors=None, **metadata):
    """A copy of checkpoint `source` at `target` with some tensors and metadata keys replaced
    (a metadata value of None drops the key)."""
    with safe_open(str(source), framework="pt") as handle:
        merged = {**handle.metadata(), **metadata}
    kept = {key: value for key, value in merged.items() if value is not None}
    save_file({**load_file(str(source)), **(tensors or {})}, str(target), metadata=kept)
    return target


def test_a_checkpoint_carries_the_ngram_model_and_predicts_as_its_parts(tmp_path, tiny_model, ngram_model):
    combination = Combination(cnn_weight=0.3, ngram_weight=1.5, bias=(0.0, 0.1, -0.1))
    path = save_pair(tmp_path / "combined.safetensors", tiny_model, ngram_model, combination)
    loaded = load_checkpoint(path)
    assert loaded.combination == combination
    assert loaded.version.startswith("tiny-")
    texts = ["loved it, great", "hated it, awful", "", "x" * 5000]
    predictor = Predictor.from_loaded(loaded)
    cnn_only = Predictor(loaded.model, predictor.encoder, CLASSES)
    expected = combination.combine(cnn_only.predict_proba(texts), ngram_model.predict_proba(texts))
    np.testing.assert_allclose(predictor.predict_proba(texts), expected, rtol=1e-6)
    assert predictor.predict(["loved it, great"])[0]["label"] == "good"  # the n-gram part decides here


def test_old_checkpoints_without_an_ngram_model_still_load(tmp_path, tiny_checkpoint):
    version_one = rewritten(tiny_checkpoint, tmp_path / "v1.safetensors", format_version="1")
    loaded = load_checkpoint(version_one)
    assert loaded.ngram is None and loaded.combination is None


def test_a_newer_format_version_is_refused(tmp_path, tiny_checkpoint):
    future = rewritten(tiny_checkpoint, tmp_path / "v5.safetensors", format_version="5")
    with pytest.raises(CheckpointError, match="format version .5."):
        load_checkpoint(future)


def test_an_incomplete_or_misshapen_ngram_part_is_refused(tmp_path, tiny_model, ngram_model):
    path = save_pair(
        tmp_path / "combined.safetensors", tiny_model, ngram_model, Combination(1.0, 1.0, (0.0, 0.0, 0.0))
    )

    without_combination = rewritten(path, tmp_path / "no_combination.safetensors", combination=None)
    with pytest.raises(CheckpointError, match="must all be present"):
        load_checkpoint(without_combination)

    misshapen = rewritten(
        path, tmp_path / "misshapen.safetensors", tensors={"ngram.coef": torch.zeros(3, 10)}
    )
    with pytest.raises(CheckpointError, match="n-gram part is invalid"):
        load_checkpoint(misshapen)

    bad_weights = rewritten(path, tmp_path / "bad_weights.safetensors", combination='{"cnn_weight": 1}')
    with pytest.raises(CheckpointError, match="n-gram part is invalid"):
        load_checkpoint(bad_weights)


def test_saving_half_a_pair_is_refused(tmp_path, tiny_model, ngram_model):
    with pytest.raises(ValueError, match="together"):
        save_checkpoint(tmp_path / "x.safetensors", tiny_model, classes=CLASSES, ngram=ngram_model)


SPLIT = ["--label-column", "stars", "--labels", "stars3", "--test-fraction", "0.2", "--split-seed", "7"]


@pytest.mark.slow
def test_combine_command_pools_a_trained_cnn_and_baseline(tmp_path, caplog):
    data = synthetic_reviews(tmp_path / "reviews.csv", rows=300)
    cnn, ngram, out = (
        tmp_path / "cnn.safetensors",
        tmp_path / "ngram.safetensors",
        tmp_path / "both.safetensors",
    )
    tiny = ["--arch", "small-bn", "--max-length", "128", "--epochs", "2", "--batch-size", "32"]
    assert train.main(["--data", str(data), *SPLIT, *tiny, "--out", str(cnn)]) == 0
    assert (
        combine.main(["--cnn", str(cnn), "--ngram", str(ngram), "--data", str(data), "--out", str(out)]) == 2
    )
    assert "not a readable n-gram model" in caplog.text
    assert main_baseline(data, ngram, SPLIT) == 0

    assert (
        combine.main(["--cnn", str(cnn), "--ngram", str(ngram), "--data", str(data), "--out", str(out)]) == 0
    )
    loaded = load_checkpoint(out)
    assert loaded.ngram is not None and loaded.combination is not None
    assert loaded.info.architecture == "small-bn+ngram"
    assert set(loaded.metrics["components"]) == {"charcnn", "ngram"}
    assert loaded.metrics["test"]["overall"]["n"] == 60
    assert loaded.metrics["test"]["overall"]["accuracy"] > 0.9  # the n-gram part separates these

    report_dir = tmp_path / "report"
    evaluate_args = ["--model", str(out), "--data", str(data), "--out-dir", str(report_dir)]
    assert evaluate.main([*evaluate_args, "--label-column", "stars", "--labels", "stars3"]) == 0
    overall = json.loads((report_dir / "report.json").read_text())["metrics"]["overall"]
    assert overall["accuracy"] > 0.9


@pytest.mark.slow
def test_combine_command_refuses_models_from_other_data(tmp_path, caplog):
    data = synthetic_reviews(tmp_path / "reviews.csv", rows=200)
    other = synthetic_reviews(tmp_path / "other.csv", rows=200, seed=1)
    cnn, ngram = tmp_path / "cnn.safetensors", tmp_path / "ngram.safetensors"
    tiny = ["--arch", "small-bn", "--max-length", "128", "--epochs", "1", "--batch-size", "32"]
    assert train.main(["--data", str(data), *SPLIT, *tiny, "--out", str(cnn)]) == 0
    out = tmp_path / "both.safetensors"
    common = ["--cnn", str(cnn), "--ngram", str(ngram), "--out", str(out)]

    assert main_baseline(data, ngram, [*SPLIT[:-1], "8"]) == 0  # another split seed
    assert combine.main([*common, "--data", str(data)]) == 2
    assert "trained on other rows than the CNN" in caplog.text

    assert main_baseline(data, ngram, SPLIT) == 0
    assert combine.main([*common, "--data", str(other)]) == 2
    assert "not the data the CNN was trained on" in caplog.text
    assert not out.exists()


def main_baseline(data, out, split_args) -> int:
    from brandpulse.training import train_ngram

    return train_ngram.main(["--data", str(data), *split_args, "--out", str(out)])


def test_predict_command_reads_a_combined_checkpoint(tmp_path, tiny_model, ngram_model, capsys):
    path = save_pair(
        tmp_path / "combined.safetensors", tiny_model, ngram_model, Combination(0.0, 3.0, (0.0, 0.0, 0.0))
    )
    assert predict.main(["--checkpoint", str(path), "hated it, awful"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == "bad"
    assert result["model_version"].startswith("tiny-")
