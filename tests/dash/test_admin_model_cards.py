"""The Models section's cards and dialog, and the shared wording of the suggestion figures, as plain
functions; and the section's callbacks against the real API (served from a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from brandpulse.dash.pages import admin_figures, admin_model_cards, admin_models
from tests.dash.conftest import ADMIN_TOKEN

VISITOR = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}, "headers": {"User-Agent": "Mozilla/5.0 (test)"}}
CHAMPION = {
    "version": "base-111111111111",
    "parent": None,
    "status": "champion",
    "corpus_fingerprint": "c0ffee0123456789" + "0" * 48,
    "counts": None,
    "metrics": {"rating_mix": {"assumed": {"bad": 1 / 3, "average": 1 / 3, "good": 1 / 3}}},
    "reason": "the configured model of a new install",
    "created_at": "2026-01-02T09:00:00+00:00",
    "promoted_at": "2026-01-02T09:00:05+00:00",
    "promoted_by": "install",
    "promoted_via": "install (db upgrade)",
    "live": {"reviews": 7, "kept": 2, "kept_suggestion": 0.2857, "mean_abs_error": 0.7143},
}
CHALLENGER = {
    "version": "tuned-222222222222",
    "parent": "base-111111111111",
    "status": "candidate",
    "corpus_fingerprint": CHAMPION["corpus_fingerprint"],
    "counts": {
        "usable": 1500,
        "dropped": {"flagged": 2, "too_short": 0, "client_day_cap": 21},
        "recent": 300,
        "train": {"base": 50000, "feedback": 1020},
        "validation": {"base": 2000, "feedback": 180},
    },
    "metrics": {
        "recent": {"n": 300, "band_accuracy": 0.75},
        "fixed": {"n": 4000, "band_balanced_accuracy": 0.61},
        "fixed_at_champion_rates": {
            "n": 4000,
            "band_balanced_accuracy": 0.663,
            "band_recall": {"bad": 0.8, "average": 0.4, "good": 0.79},
        },
        "champion": {
            "recent": {"n": 300, "band_accuracy": 0.677},
            "fixed": {"n": 4000, "band_balanced_accuracy": 0.66, "band_recall": {"bad": 0.81, "good": 0.8}},
        },
        "gate": {"promote": True, "reason": "better on the recent reviews, nothing forgotten"},
    },
    "reason": "gate: better on the recent reviews, nothing forgotten",
    "created_at": "2026-01-03T03:00:00+00:00",
    "promoted_at": None,
    "promoted_by": None,
    "promoted_via": None,
    "live": None,
}
LISTING = {"items": [CHALLENGER, CHAMPION], "served": CHAMPION["version"], "rollback_to": None}


def text_of(component: Any) -> str:
    """Every string in a component tree, joined with spaces (what a person reads, roughly)."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(" ".join(filter(None, (text_of(child) for child in component))).split())
    return text_of(getattr(component, "children", None))


def test_the_suggestion_figures_are_worded_with_their_counts():
    live = CHAMPION["live"]
    assert admin_figures.kept_share(live) == "29% (2 of 7)"
    assert admin_figures.mean_error(live) == "0.71 ★ (7 reviews)"
    assert (
        admin_figures.live_line(live) == "kept 29% (2 of 7) · mean |rating − suggestion| 0.71 ★ (7 reviews)"
    )
    assert admin_figures.live_line(None) == admin_figures.kept_share({"reviews": 0}) == "no reviews yet"
    stats = {"rated_with_suggestion": 1204, "kept": 301, "agreement": 0.25, "mean_abs_error": 1.0}
    assert admin_figures.kept_share(admin_figures.from_stats(stats)) == "25% (301 of 1,204)"
    assert admin_figures.mean_error(admin_figures.from_stats(stats)) == "1.00 ★ (1,204 reviews)"


def test_a_version_registered_from_a_file_says_so():
    card = text_of(admin_model_cards.version_card(CHAMPION, CHAMPION["version"], 0))
    assert "base-111111111111 — champion (served)" in card
    assert "Parent none" in card and "Registered 2026-01-02 09:00 UTC" in card
    assert "Promoted 2026-01-02 09:00 UTC by install (db upgrade)" in card
    assert "corpus c0ffee012345; no stored reviews (registered from a file)" in card
    assert "no gate: registered from a file, not trained by retrain" in card
    assert "kept 29% (2 of 7)" in card and "assumes 33 · 33 · 33 %" in card


def test_a_retrained_version_shows_its_data_and_the_gates_figures_before_and_after():
    card = admin_model_cards.version_card(CHALLENGER, CHAMPION["version"], 1)
    text = text_of(card)
    assert "tuned-222222222222 — candidate" in text and "(served)" not in text
    assert "Promoted never" in text and "Live no reviews yet" in text
    assert (
        "corpus c0ffee012345 plus 1,200 stored reviews (1,020 trained on, 180 validating); "
        "300 newest held out to judge it; 1,500 usable; dropped: client day cap 21, flagged 2"
    ) in text
    assert "passed: better on the recent reviews, nothing forgotten" in text
    rows = admin_model_cards.gate_figures(CHALLENGER["metrics"])
    assert [(row["label"], row["measure"], row["before"], row["after"]) for row in rows] == [
        ("Recent reviews (300)", "band accuracy", 0.677, 0.75),
        ("Fixed test (4,000)", "balanced band accuracy", 0.66, 0.663),  # at the champion's rates
        ("Fixed test (4,000)", "recall of bad (1–2 ★)", 0.81, 0.8),
        ("Fixed test (4,000)", "recall of average (3 ★)", None, 0.4),
        ("Fixed test (4,000)", "recall of good (4–5 ★)", 0.8, 0.79),
    ]
    assert rows[0]["change"] == pytest.approx(0.073) and rows[3]["change"] is None
    assert "Before: base-111111111111" in text and "+0.073" in text and "-0.010" in text
    props = card.to_plotly_json()["props"]
    assert (props["data-version"], props["data-status"], props["data-served"]) == (
        "tuned-222222222222",
        "candidate",
        "false",
    )
    assert props["aria-labelledby"] == "model-version-1"


def test_a_round_over_the_sample_cap_says_it_read_a_sample():
    """Over RETRAIN_MAX_FEEDBACK_ROWS the round learns from and is judged on samples (issue 27)."""
    counts = {
        **CHALLENGER["counts"],
        "usable": 900_000,
        "recent": 4_000,
        "train": {"base": 50000, "feedback": 13_600},
        "validation": {"base": 2000, "feedback": 2_400},
        "sample": {"older": 719_000, "older_used": 16_000, "recent": 180_000, "recent_used": 4_000},
    }
    text = admin_model_cards.training_data_text({**CHALLENGER, "counts": counts})
    assert text == (
        "corpus c0ffee012345 plus 16,000 stored reviews (13,600 trained on, 2,400 validating, a sample of "
        "the 719,000 older usable ones); a sample of 4,000 of the 180,000 newest held out to judge it; "
        "900,000 usable; dropped: client day cap 21, flagged 2"
    )
    under_the_cap = {
        **counts,
        "sample": {"older": 16_000, "older_used": 16_000, "recent": 4_000, "recent_used": 4_000},
    }
    assert "sample" not in admin_model_cards.training_data_text({**CHALLENGER, "counts": under_the_cap})


def test_a_rejected_version_and_one_promoted_by_an_admin():
    rejected = {
        **CHALLENGER,
        "status": "rejected",
        "metrics": {"gate": {"promote": False, "reason": "forgot"}},
    }
    assert "refused: forgot" in text_of(admin_model_cards.version_card(rejected, None, 0))
    promoted = {
        **CHALLENGER,
        "promoted_at": "2026-01-04T10:30:00+00:00",
        "promoted_by": "admin page",
        "promoted_via": "admin token from 203.0.113.9",
    }
    assert "2026-01-04 10:30 UTC by admin page, admin token from 203.0.113.9" in text_of(
        admin_model_cards.version_card(promoted, None, 0)
    )


def test_the_champion_still_served_after_a_promotion_is_marked_so():
    retired = {**CHAMPION, "status": "retired"}
    assert admin_model_cards.status_text(retired, CHAMPION["version"]) == "retired (served)"
    assert admin_model_cards.status_text(CHALLENGER, CHAMPION["version"]) == "candidate"


@pytest.mark.parametrize(
    ("status", "served", "drawn_open"),
    [
        ("champion", False, True),
        ("candidate", False, True),
        ("retired", True, True),
        ("retired", False, False),
    ],
)
def test_retired_and_rejected_versions_are_drawn_closed_unless_served(status, served, drawn_open):
    item = {**CHAMPION, "status": status}
    details = admin_model_cards.version_card(item, item["version"] if served else None, 0).children
    assert details.open is drawn_open
    assert text_of(details.children[0]) == f"base-111111111111 — {status}" + (" (served)" if served else "")


def test_the_dialog_names_the_version_and_the_figures_of_both():
    title, body, button = admin_model_cards.confirmation(
        {"action": "promote", "version": CHALLENGER["version"]}, LISTING
    )
    assert title == "Promote tuned-222222222222?" and button == "Promote tuned-222222222222"
    text = text_of(body)
    assert "tuned-222222222222 becomes the champion and base-111111111111 is retired." in text
    assert "Gate: passed: better on the recent reviews" in text and "Live: no reviews yet" in text
    assert "The champion now:" in text and "Live: kept 29% (2 of 7)" in text
    title, body, button = admin_model_cards.confirmation(
        {"action": "rollback", "version": CHAMPION["version"]},
        {"items": [{**CHALLENGER, "status": "champion"}, {**CHAMPION, "status": "retired"}]},
    )
    assert title == "Roll back to base-111111111111?" and button == "Roll back to base-111111111111"
    assert "base-111111111111 becomes the champion again and tuned-222222222222 is retired." in text_of(body)


@pytest.fixture
def request_context(web_app: Any) -> Iterator[None]:
    """A request to the web app, as a Dash callback runs in."""
    with web_app.server.test_request_context("/_dash-update-component", **VISITOR):
        yield


def test_the_section_lists_the_registry_and_names_the_rollback(request_context):
    served, _ = admin_models.served_version(ADMIN_TOKEN, 1, None, None)  # /readyz: the model loaded
    drawn, listing, label, disabled = admin_models.models(ADMIN_TOKEN, None, 0, served, None)
    assert listing["served"] == served and any(item["version"] == served for item in listing["items"])
    assert f"{served} — champion (served)" in text_of(drawn)
    assert (label, disabled) == (
        ("Roll back (no earlier champion)", True)
        if listing["rollback_to"] is None
        else (f"Roll back to {listing['rollback_to']}", False)
    )
    assert admin_models.models(None, None, 0, None, None) == (None, None, "Roll back", True)


def test_the_served_version_is_asked_of_the_api_and_changes_only_when_it_does(request_context):
    version, line = admin_models.served_version(ADMIN_TOKEN, 1, None, None)
    assert line == f"Served now: {version}"
    assert admin_models.served_version(ADMIN_TOKEN, 2, version, line) == (
        admin_models.dash.no_update,
        admin_models.dash.no_update,
    )
    assert admin_models.served_version(None, 3, version, line) == (None, "")
    assert admin_models.poll_while_signed_in(None) is True and admin_models.poll_while_signed_in("t") is False
