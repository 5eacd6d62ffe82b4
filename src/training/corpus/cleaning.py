"""Cleaning review texts: repair, markup removal, the English test, exact and near-duplicate keys.

- `clean_text`: repairs mis-decoded Unicode and straightens curly quotes ("itâ€™s" -> "it's",
  with ftfy; the straight quote is in the model's alphabet, the curly one is not), removes HTML
  tags and entities, and tidies blanks (runs of spaces become one, at most one empty line).
- `is_markup_only`: a text that had content, all of it markup.
- `EnglishTest` (`brandpulse.model.language`, shared with serving): py3langid on the cleaned
  text. langid.py labels many short English reviews ("Nice app tiktok") as Nigerian Pidgin, an
  English-based creole, so both labels count as English, as does any text whose probability of
  the two is at least 0.25.
- `dedupe_key`: the words of a text, lower-cased, without punctuation: texts equal up to case,
  spacing and punctuation are exact duplicates.
- `NearDuplicates`: MinHash signatures (128 permutations) of word 3-grams (character 5-grams
  for texts of fewer than 8 words) in an LSH index (datasketch) tuned for recall; a text whose
  estimated Jaccard similarity to a kept one reaches the threshold is a near duplicate (a
  review posted twice with small edits).
"""

from __future__ import annotations

import html
import re

import numpy as np

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_WORD = re.compile(r"\w+")


def clean_text(text: str) -> str:
    """The text repaired, without markup, with tidy blanks (see the module docstring)."""
    import ftfy

    text = ftfy.fix_text(text, normalization="NFC")
    text = html.unescape(_TAG.sub(" ", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def is_markup_only(raw: str, cleaned: str) -> bool:
    """True when `raw` had something other than blanks, and nothing but markup was left of it."""
    return bool(raw.strip()) and not cleaned and bool(_TAG.search(raw) or "&" in raw)


def dedupe_key(text: str) -> str:
    """Lower-cased words joined by single spaces, so case, blanks and punctuation do not count."""
    return " ".join(_WORD.findall(text.lower()))


def shingles(text: str) -> set[str]:
    """Word 3-grams of the dedupe key, or character 5-grams for texts of fewer than 8 words."""
    key = dedupe_key(text)
    words = key.split()
    if len(words) >= 8:
        return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    return {key[i : i + 5] for i in range(max(1, len(key) - 4))}


class NearDuplicates:
    """An index of kept texts that answers whether a new text nearly repeats one of them."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, seed: int = 1) -> None:
        from datasketch import MinHash, MinHashLSH

        self._minhash = MinHash
        # The index's bands are tuned to miss few similar pairs (false negatives weigh 0.95):
        # every candidate it returns is then checked against the threshold.
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.05, 0.95))
        self.threshold = threshold
        self.num_perm = num_perm
        self.seed = seed
        # The seeded permutations, drawn once rather than for every signature.
        template = MinHash(num_perm=num_perm, seed=seed)
        self._permutations, self._scheme = template.permutations, template.scheme
        self._signatures: dict[str, object] = {}

    def signature(self, text: str):
        """The MinHash of a text's shingles."""
        minhash = self._minhash(
            num_perm=self.num_perm, seed=self.seed, permutations=self._permutations, scheme=self._scheme
        )
        minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
        return minhash

    def match(self, text: str, signature=None) -> str | None:
        """The key of a kept text this one nearly repeats (estimated Jaccard >= threshold), or None."""
        signature = signature if signature is not None else self.signature(text)
        for key in self._lsh.query(signature):
            if signature.jaccard(self._signatures[key]) >= self.threshold:
                return key
        return None

    def add(self, key: str, text: str, signature=None) -> None:
        """Keep a text under `key`."""
        signature = signature if signature is not None else self.signature(text)
        self._lsh.insert(key, signature)
        self._signatures[key] = signature

    def match_or_add(self, key: str, text: str) -> str | None:
        """`match(text)`, keeping the text under `key` when it matches nothing (one signature)."""
        signature = self.signature(text)
        found = self.match(text, signature)
        if found is None:
            self.add(key, text, signature)
        return found

    def __len__(self) -> int:
        return len(self._signatures)


def length_summary(lengths: list[int]) -> dict[str, float]:
    """Median, mean, 10th and 90th percentile of text lengths (characters)."""
    if not lengths:
        return {"median": 0, "mean": 0, "p10": 0, "p90": 0}
    values = np.asarray(lengths)
    return {
        "median": float(np.median(values)),
        "mean": round(float(values.mean()), 1),
        "p10": float(np.percentile(values, 10)),
        "p90": float(np.percentile(values, 90)),
    }
