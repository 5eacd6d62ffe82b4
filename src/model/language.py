"""Whether a review is written in English, the only language the model was trained on.

One test, used twice: the corpus keeps English reviews only (`corpus/cleaning.py`), and the API
gives no suggestion for a review in another language (`legibility.py`), since the model's score
of a German or Spanish review is a guess about letters it never learnt to read as words.

py3langid (a maintained langid.py) identifies the language; its model ships inside the wheel, so
nothing is downloaded, and it is loaded on first use (not at import). langid.py labels many short
English reviews ("Nice app tiktok") as Nigerian Pidgin, an English-based creole, so both labels
count as English.

Two thresholds, for two jobs:
- the corpus keeps a text when its top language is English or P(English) >= 0.25 (`is_english`);
- serving calls a text not English only when it is long enough for the identification to mean
  something (`SERVING_MIN_LENGTH` characters) and P(English) < `SERVING_FLOOR`. Measured on 3,000
  English movie reviews cut to their first N characters, that flags 0.9 % of English texts at
  N = 30, 0.3 % at 50 and 0.1 % at 100 or more (0.17 % and 0 on the corpus's reviews), and every
  one of 24 complaints and praises written in German, Spanish, Dutch, Italian, Portuguese and
  French from 30 characters on (tests/training/test_language.py).
"""

from __future__ import annotations

import threading
from typing import Any

ENGLISH_LABELS = ("en", "pcm")
CORPUS_FLOOR = 0.25  # the corpus: English when P(English) reaches this, whatever the top label
SERVING_FLOOR = 0.05  # serving: not English when P(English) is below this ...
SERVING_MIN_LENGTH = 30  # ... and the text has at least this many characters (shorter: no verdict)
SERVING_SAMPLE = 2000  # serving reads this many characters at most: a long text costs no more


class EnglishTest:
    """Whether a text is English, by py3langid's probabilities (its model loaded on first use).

    Safe to share between threads: the model is loaded once, under a lock, and only read after.
    """

    def __init__(self, floor: float = CORPUS_FLOOR) -> None:
        self.floor = floor
        self._identifier: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return self._identifier

    def probability(self, text: str) -> float:
        """P(English) as this test counts it: English plus Nigerian Pidgin."""
        ranked = self._model().rank(text)
        return float(sum(p for label, p in ranked if label in ENGLISH_LABELS))

    def __call__(self, text: str) -> bool:
        """The corpus's rule: the top language is English, or P(English) reaches the floor."""
        top = self._model().classify(text)[0]
        return top in ENGLISH_LABELS or self.probability(text) >= self.floor

    def clearly_not_english(self, text: str) -> bool:
        """Serving's rule: long enough to tell, and P(English) below `SERVING_FLOOR`."""
        text = text.strip()
        return len(text) >= SERVING_MIN_LENGTH and self.probability(text[:SERVING_SAMPLE]) < SERVING_FLOOR


_shared = EnglishTest()


def english_test() -> EnglishTest:
    """The process's one test (one model in memory, loaded when first asked)."""
    return _shared
