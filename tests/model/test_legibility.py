"""The rule that says when the model's score is no usable suggestion (`training/legibility.py`)."""

from __future__ import annotations

import sys
import time

import pytest

from brandpulse.model.config import PAPER_ALPHABET
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.legibility import (
    MIN_ALPHABET_SHARE,
    NO_LETTERS,
    NOT_ENGLISH,
    OUTSIDE_ALPHABET,
    TOO_SHORT,
    alphabet_share,
    unreliable_reason,
)


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("Great quality!", 1.0),
        ("   ", 1.0),  # blanks are not counted: every English text has them
        ("とても良い", 0.0),
        ("ab日本", 0.5),
        ("ÉTÉ", 1 / 3),  # lower-cased first, as the encoder does: t is inside, é is not
    ],
)
def test_alphabet_share(text, share):
    assert alphabet_share(text) == pytest.approx(share)


def test_the_share_is_what_the_encoder_sees():
    """Characters counted as inside are exactly those the encoder gives a non-zero index."""
    encoder = CharEncoder()
    text = "Schöne Größe! 😍 Très bien, 10/10 — とても"
    indices = encoder.encode(text)[: len(text)]
    visible = [index for character, index in zip(text, indices, strict=True) if not character.isspace()]
    assert alphabet_share(text) == pytest.approx(sum(1 for index in visible if index) / len(visible))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Good.", TOO_SHORT),
        ("      Good.       ", TOO_SHORT),
        ("Great quality and fast delivery.", None),
        ("Très bon produit, je le recommande à tous.", NOT_ENGLISH),  # Latin letters, not English words
        ("Schöne Jacke, gute Qualität und schnelle Lieferung.", NOT_ENGLISH),
        ("Très bon produit!", None),  # too short to tell the language: the model's score stands
        ("とても素晴らしい製品でした。配送も早く、また買いたいです！", OUTSIDE_ALPHABET),
        ("Отличный товар, всем рекомендую!", OUTSIDE_ALPHABET),
        ("Πολύ καλό προϊόν, το συνιστώ ανεπιφύλακτα.", OUTSIDE_ALPHABET),
        ("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", NO_LETTERS),  # all in the alphabet: no words either
        ("10/10 ★★★★★ 5/5 !!! 100 % :-)", NO_LETTERS),
        ("😀😀😀 🎉🎉🎉 !!! ??? 👍👍👍👍", NO_LETTERS),
        ("Great 👍👍👍👍👍👍👍👍👍👍👍👍", OUTSIDE_ALPHABET),  # a word, but mostly what the model cannot see
    ],
)
def test_unreliable_reason(text, reason):
    assert unreliable_reason(text, min_length=15) == reason


def test_the_threshold_is_a_share_of_the_visible_characters():
    half = "abcdefghij" + "日" * 10  # exactly half inside
    assert alphabet_share(half) == MIN_ALPHABET_SHARE
    assert unreliable_reason(half, 15) is None
    assert unreliable_reason(half + "日", 15) == OUTSIDE_ALPHABET


def test_another_alphabet_can_be_given():
    assert unreliable_reason("абвгдеёжзийклмнопрст", 15, alphabet="абвгдеёжзийклмнопрст") is None
    assert unreliable_reason("ABCDEFGHIJKLMNOPQRST", 15, alphabet=PAPER_ALPHABET, lowercase=False) == (
        OUTSIDE_ALPHABET
    )


def test_a_megabyte_costs_little():
    text = "great product, " * 70_000
    start = time.perf_counter()
    assert unreliable_reason(text, 15) is None
    assert time.perf_counter() - start < 1.0


def test_the_rule_needs_no_torch():
    """The web page's image has no torch: the module imports none."""
    import subprocess

    code = "import sys, brandpulse.model.legibility; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_every_blank_is_known():
    from brandpulse.model import legibility

    assert legibility._BLANKS == "".join(chr(code) for code in range(0x110000) if chr(code).isspace())
