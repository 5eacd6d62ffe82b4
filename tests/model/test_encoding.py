"""The text encoding: alphabet, case, unknown symbols, padding, truncation, reversal."""

from __future__ import annotations

import numpy as np
import pytest

from brandpulse.model.config import PAPER_ALPHABET, EncoderConfig
from brandpulse.model.encoding import CharEncoder


def test_paper_alphabet_has_the_papers_symbols():
    assert len(PAPER_ALPHABET) == 69  # the paper's 70-entry list repeats "-"
    assert "abc" in PAPER_ALPHABET and "0123456789" in PAPER_ALPHABET and "\n" in PAPER_ALPHABET
    assert " " not in PAPER_ALPHABET


def test_empty_text_is_all_padding():
    assert not CharEncoder(EncoderConfig(max_length=10)).encode("").any()


def test_known_symbols_map_to_their_alphabet_position():
    encoded = CharEncoder(EncoderConfig(max_length=5)).encode("ab!")
    assert encoded.tolist() == [1, 2, PAPER_ALPHABET.index("!") + 1, 0, 0]


def test_upper_case_is_lowered_unless_configured():
    assert CharEncoder().encode("GREAT").tolist() == CharEncoder().encode("great").tolist()
    cased = CharEncoder(EncoderConfig(lowercase=False))
    assert not cased.encode("GREAT").any()  # upper case is outside the alphabet


@pytest.mark.parametrize("text", [" ", "é", "日本", "🙂", "\ud800", "\x00"])
def test_symbols_outside_the_alphabet_are_zero(text):
    encoded = CharEncoder(EncoderConfig(max_length=4)).encode("a" + text + "b")
    assert encoded[0] == 1
    assert (encoded[1 : 1 + len(text)] == 0).all()
    assert encoded[1 + len(text)] == 2


def test_text_of_exactly_max_length_is_kept_whole():
    text = "abcdefghij"
    encoded = CharEncoder(EncoderConfig(max_length=10)).encode(text)
    assert encoded.tolist() == list(range(1, 11))


@pytest.mark.parametrize(
    ("truncation", "expected"),
    [("head", "abcd"), ("tail", "ghij"), ("head+tail", "abij")],
)
def test_longer_text_is_truncated_as_configured(truncation, expected):
    encoder = CharEncoder(EncoderConfig(max_length=4, truncation=truncation))
    assert encoder.decode(encoder.encode("abcdefghij")) == expected


def test_reverse_reads_backwards_and_pads_at_the_end():
    encoder = CharEncoder(EncoderConfig(max_length=5, reverse=True))
    assert encoder.encode("abc").tolist() == [3, 2, 1, 0, 0]


def test_lowercasing_that_lengthens_text_still_fits():
    # "İ".lower() is two code points; the encoding must stay max_length long.
    encoded = CharEncoder(EncoderConfig(max_length=3)).encode("İİİİ")
    assert encoded.shape == (3,)


def test_huge_text_costs_only_max_length():
    encoder = CharEncoder(EncoderConfig(max_length=8))
    assert encoder.encode("x" * 5_000_000 + "abc").shape == (8,)


def test_batch_matches_single_encodings():
    encoder = CharEncoder(EncoderConfig(max_length=12))
    texts = ["Great product!", "", "awful\nservice"]
    batch = encoder.encode_batch(texts)
    assert tuple(batch.shape) == (3, 12)
    for row, text in zip(batch.numpy(), texts, strict=True):
        np.testing.assert_array_equal(row, encoder.encode(text))


def test_batch_refuses_a_bare_string():
    with pytest.raises(TypeError):
        CharEncoder().encode_batch("not a list")


@pytest.mark.parametrize(
    "kwargs", [{"alphabet": "aa"}, {"alphabet": ""}, {"max_length": 0}, {"truncation": "middle"}]
)
def test_invalid_encoder_configs_are_refused(kwargs):
    with pytest.raises(ValueError):
        EncoderConfig(**kwargs)
