"""Whether the character-level CNN can read a text well enough for its score to mean anything.

One rule, shared by everyone who shows a score: the API states it in each prediction
(`reliable`, `unreliable_reason`), and the web page reads it from there. It needs no torch (the
web image has none), only the encoder's alphabet from `config.py`.

Why an alphabet rule: the encoder (`encoding.py`) turns every character outside the model's
alphabet (the paper's: lower-case English letters, digits, punctuation) into index 0, the same
all-zero column as padding. A Japanese, Russian or Greek review therefore reaches the network as
an almost empty input, and its score is whatever the CNN answers to silence, not to the review:
the bundled model gives every review written in Japanese characters only the same 68 % ("4 stars"),
a glowing one and a furious one alike. Blanks are left out of the count: they are index 0 as
well, but every English text has them, and the model was trained with them.

Why a length rule: a few characters ("Good.") carry too little for the model; its score swings
from one letter to the next. The threshold is the shortest review the API stores
(`REVIEW_MIN_LENGTH`), so "too short to score" and "too short to submit" are the same line.

Why a letters rule: a text of emoji, punctuation and digits only ("!!!!!!!!!!!!!!!!", "10/10 ★★★★★")
says nothing the model learnt to read, whatever share of it is in the alphabet, and no language
test can tell what language it is in. Its reason is `NO_LETTERS` (a letter of any script counts:
a Japanese text is refused by the alphabet rule instead).

Why a language rule: German, Spanish or Dutch text is written in the same letters, so the
alphabet rule lets it through, but the model learnt English words only; it suggested 3 or 4
stars for every non-English complaint tried ("Schrecklicher Kundenservice, das Paket kam nie
an…" → 73 %). A text long enough to identify whose probability of being English is low is
`NOT_ENGLISH` (`brandpulse.model.language`: the same identification that keeps the corpus
English; it needs numpy, not torch).
"""

from __future__ import annotations

from functools import lru_cache

from brandpulse.model.config import PAPER_ALPHABET
from brandpulse.model.language import EnglishTest, english_test

TOO_SHORT = "too_short"
NO_LETTERS = "no_letters"
OUTSIDE_ALPHABET = "outside_alphabet"
NOT_ENGLISH = "not_english"
REASONS = (TOO_SHORT, NO_LETTERS, OUTSIDE_ALPHABET, NOT_ENGLISH)
# A text is read when at least this share of its non-blank characters is in the alphabet: below
# it, most of what the visitor wrote is invisible to the model. Accented Latin text (French,
# German) stays far above it; Japanese, Chinese, Cyrillic and Greek text falls far below.
MIN_ALPHABET_SHARE = 0.5
# Every character str.isspace() calls blank; U+3000 (the ideographic space) is the highest.
_BLANKS = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())


@lru_cache(maxsize=8)
def _deletion_table(symbols: str) -> dict[int, None]:
    """A `str.translate` table deleting `symbols`."""
    return dict.fromkeys(map(ord, symbols))


_DROP_BLANKS = _deletion_table(_BLANKS)


def alphabet_share(text: str, alphabet: str = PAPER_ALPHABET, lowercase: bool = True) -> float:
    """The share of the non-blank characters of `text` that the encoder maps to a symbol (not to 0);
    1.0 for a text of blanks only (nothing is hidden from the model).

    Counted with `str.translate` (no per-character Python loop, no list of pieces), so a megabyte
    of text costs milliseconds and a copy or two of itself in memory.
    """
    read = text.lower() if lowercase else text
    visible = len(read.translate(_DROP_BLANKS))
    if not visible:
        return 1.0
    outside = len(read.translate(_deletion_table(alphabet + _BLANKS)))  # neither blank nor in the alphabet
    return 1.0 - outside / visible


def has_letters(text: str) -> bool:
    """Whether `text` holds a letter of any script (emoji, digits and punctuation are none)."""
    return any(character.isalpha() for character in text)


def unreliable_reason(
    text: str,
    min_length: int,
    alphabet: str = PAPER_ALPHABET,
    lowercase: bool = True,
    english: EnglishTest | None = None,
) -> str | None:
    """Why the model's score of `text` is no usable suggestion, or None when it is.

    `TOO_SHORT`: fewer than `min_length` characters once surrounding blanks are removed (the
    API's rule for a review). `NO_LETTERS`: not one letter of any script. `OUTSIDE_ALPHABET`:
    less than `MIN_ALPHABET_SHARE` of its non-blank characters are in the model's alphabet (the
    model reads English letters only).
    `NOT_ENGLISH`: long enough to tell, and clearly another language (`english`, default the
    process's shared `EnglishTest`; its model is loaded on the first such text).
    """
    if len(text.strip()) < min_length:
        return TOO_SHORT
    if not has_letters(text):
        return NO_LETTERS
    if alphabet_share(text, alphabet, lowercase) < MIN_ALPHABET_SHARE:
        return OUTSIDE_ALPHABET
    if (english or english_test()).clearly_not_english(text):
        return NOT_ENGLISH
    return None
