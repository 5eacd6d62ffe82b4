"""The hashed word 1-2-gram model with logistic regression: the n-gram half of the model, pooled with the CNN.

This is the out-of-core IMDB classifier of Raschka's *Python Machine Learning* (chapter 8):
a stateless `HashingVectorizer` and an `SGDClassifier` with the logistic loss, fitted with
`partial_fit` one mini-batch at a time, so it can also keep learning online from new reviews.
Its arrays are saved in safetensors, its settings in the file's metadata, no pickle. It is
trained by `train-ngram` and may ride inside a CNN checkpoint (see `pooling.py`).

Scoring does not go through `HashingVectorizer.transform`: for the few texts of a live request,
that call's input validation, sparse-matrix building and normalisation cost several times the
hashing itself (docs/performance.md). `decision_function` computes the same features with
`word_grams` (the vectorizer's analyzer for these settings) and MurmurHash3 from `mmh3`,
feature by feature as `FeatureHasher` does; the tests check both against scikit-learn's. So
serving needs numpy and mmh3 only, not scikit-learn and SciPy (about 200 MB of the API image):
training, which fits the classifier, imports scikit-learn when it first needs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mmh3
import numpy as np

FORMAT = "brandpulse-hashing-baseline"  # the file format's name since its first release
DEFAULT_FEATURES = 2**20
DEFAULT_ALPHA = 1e-6
_MARKUP = re.compile(r"<[^>]*>")
# scikit-learn's default `token_pattern`: words of two or more letters, digits or underscores.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_INT32_MIN = -(2**31)


# Texts are cut to this many characters (head and tail halves) before hashing, so a huge
# text costs no more than a long review: the longest IMDB review has about 14,000.
MAX_CHARS = 16_384


def clip_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """`text` if it is short enough, else its first and last `max_chars // 2` characters."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]} {text[-half:]}"


def hashed_columns(grams: Sequence[str], n_features: int) -> np.ndarray:
    """The column of each word or bigram, by `FeatureHasher`'s rule (signed MurmurHash3, seed 0)."""
    codes = np.fromiter((mmh3.hash(gram, 0, True) for gram in grams), dtype=np.int64, count=len(grams))
    # abs(-2**31) overflows FeatureHasher's int32; it maps that one code as abs(-2**31) % n would.
    return np.where(codes == _INT32_MIN, 2**31 % n_features, np.abs(codes) % n_features)


def strip_markup(text: str) -> str:
    """Lower-case and drop HTML tags such as IMDB's ``<br />``."""
    return _MARKUP.sub(" ", text.lower())


def word_grams(text: str) -> list[str]:
    """The words and word bigrams of `text`, as the vectorizer's analyzer gives them.

    That is `HashingVectorizer(preprocessor=strip_markup, ngram_range=(1, 2)).build_analyzer()`:
    the preprocessor, the default token pattern, then the tokens followed by each pair of
    neighbours joined by a space.
    """
    tokens = _TOKEN.findall(strip_markup(text))
    return tokens + [f"{first} {second}" for first, second in zip(tokens, tokens[1:], strict=False)]


def sigmoid(scores: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large negative scores (SciPy's `expit`)."""
    return np.exp(-np.logaddexp(0.0, -scores))


class HashedNgramModel:
    """Hashed word 1-2-grams and a linear model with the logistic loss, trained online."""

    def __init__(
        self,
        classes: Sequence[str],
        n_features: int = DEFAULT_FEATURES,
        seed: int = 1,
        alpha: float = DEFAULT_ALPHA,
    ) -> None:
        self.classes = tuple(classes)
        self.n_features = n_features
        self.seed = seed
        self.alpha = alpha
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self._vectorizer: Any = None  # scikit-learn's, made by the first training call
        self._classifier: Any = None

    @property
    def vectorizer(self) -> Any:
        """scikit-learn's `HashingVectorizer` with this model's settings (training only)."""
        if self._vectorizer is None:
            from sklearn.feature_extraction.text import HashingVectorizer

            self._vectorizer = HashingVectorizer(
                n_features=self.n_features,
                ngram_range=(1, 2),
                preprocessor=strip_markup,
                alternate_sign=False,
                norm="l2",
            )
        return self._vectorizer

    @property
    def classifier(self) -> Any:
        """scikit-learn's `SGDClassifier` with the logistic loss that `partial_fit` trains."""
        if self._classifier is None:
            from sklearn.linear_model import SGDClassifier

            self._classifier = SGDClassifier(loss="log_loss", alpha=self.alpha, random_state=self.seed)
        return self._classifier

    def partial_fit(
        self, texts: Sequence[str], labels: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        """Learn from one mini-batch (each row weighted by `sample_weight`, default 1)."""
        features = self.vectorizer.transform([clip_text(text) for text in texts])
        self.classifier.partial_fit(
            features, labels, classes=np.arange(len(self.classes)), sample_weight=sample_weight
        )
        self.coef = self.classifier.coef_.astype(np.float32)
        self.intercept = self.classifier.intercept_.astype(np.float32)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's row of the vectorizer's output: sorted columns and their l2-normalised counts."""
        grams = word_grams(clip_text(text))
        columns, counts = np.unique(hashed_columns(grams, self.n_features), return_counts=True)
        values = counts.astype(np.float64)
        if len(values):
            values /= np.sqrt(values @ values)
        return columns, values

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Linear scores `(len(texts), 1 or n_classes)`: sklearn keeps one row for two classes."""
        if self.coef is None or self.intercept is None:
            raise RuntimeError("the n-gram model has not been trained")
        scores = np.empty((len(texts), len(self.intercept)), dtype=np.float64)
        for row, text in enumerate(texts):
            columns, values = self.features(text)
            scores[row] = self.coef[:, columns] @ values + self.intercept
        return scores

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities `(len(texts), n_classes)` (one-vs-rest, normalised, as sklearn)."""
        probabilities = sigmoid(self.decision_function(texts))  # (B, 1 or C)
        if probabilities.shape[1] == 1:
            return np.hstack([1.0 - probabilities, probabilities])
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def settings(self) -> dict[str, Any]:
        """What, beside its arrays, rebuilds this model (stored in file metadata)."""
        return {"format": FORMAT, "n_features": self.n_features}

    def tensors(self) -> dict[str, np.ndarray]:
        """The learned arrays by name."""
        if self.coef is None or self.intercept is None:
            raise RuntimeError("the n-gram model has not been trained")
        return {"coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_tensors(
        cls, classes: Sequence[str], settings: dict[str, Any], tensors: dict[str, np.ndarray]
    ) -> HashedNgramModel:
        """Rebuild a trained model from `settings()` and `tensors()`; ValueError if they disagree."""
        if settings.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model (format {settings.get('format')!r})")
        try:
            n_features = int(settings["n_features"])
            coef, intercept = tensors["coef"], tensors["intercept"]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"incomplete {FORMAT} model ({error!r})") from None
        rows = 1 if len(classes) == 2 else len(classes)  # sklearn keeps one row for two classes
        if coef.shape != (rows, n_features) or intercept.shape != (rows,):
            raise ValueError(
                f"arrays of shapes {coef.shape} and {intercept.shape} for {len(classes)} classes "
                f"and {n_features} features"
            )
        model = cls(classes, n_features=n_features)
        model.coef = np.asarray(coef, dtype=np.float32)
        model.intercept = np.asarray(intercept, dtype=np.float32)
        return model

    def save(
        self, path: str | Path, metrics: dict[str, Any] | None = None, info: dict[str, Any] | None = None
    ) -> Path:
        """Write the weights and settings to a safetensors file."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {
            **{key: str(value) for key, value in self.settings().items()},
            "classes": json.dumps(list(self.classes)),
            "metrics": json.dumps(metrics or {}),
            "info": json.dumps(info or {}),
        }
        save_file(self.tensors(), str(path), metadata=metadata)
        return path

    @classmethod
    def read(cls, path: str | Path) -> tuple[HashedNgramModel, dict[str, Any]]:
        """An n-gram model written by `save`, and the `metrics` and `info` it was saved with."""
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ValueError(f"{path}: not a {FORMAT} file")
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        model = cls.from_tensors(json.loads(metadata["classes"]), metadata, tensors)
        return model, {key: json.loads(metadata.get(key, "{}")) for key in ("metrics", "info")}

    @classmethod
    def load(cls, path: str | Path) -> HashedNgramModel:
        """Read an n-gram model written by `save`."""
        return cls.read(path)[0]
