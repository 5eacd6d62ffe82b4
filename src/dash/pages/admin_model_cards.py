"""The Models section's cards: each registered version explains itself in plain text.

Per version (from `GET /api/models`): its status and whether the API serves it, its parent, when
it was registered, when, by whom and how it was last promoted, the data it learnt from (its
corpus's fingerprint and the stored reviews a `retrain` round used), the gate's figures before
(the champion of that round, its parent) and after (this version) with the gate's reason, how
visitors took its suggestions, and the rating mix its suggestion assumes. The confirmation of a
promotion or a rollback repeats the figures of the versions it names.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from brandpulse.dash.pages.admin_figures import live_line
from brandpulse.dash.pages.admin_reviews import when

FINGERPRINT_CHARS = 12  # as many hex digits of a fingerprint as tell two corpora apart at a glance
BANDS = (("bad", "bad (1–2 ★)"), ("average", "average (3 ★)"), ("good", "good (4–5 ★)"))
# The gate's figures, as gate.py compares them: (test set, measure, what it is).
GATE_MEASURES = (
    ("recent", "band_accuracy", "band accuracy"),
    ("fixed", "band_balanced_accuracy", "balanced band accuracy"),
    ("fixed", "score_correlation", "rank correlation of the score with the stars"),
    *(("fixed", ("band_recall", band), f"recall of {label}") for band, label in BANDS),
)
TEST_SETS = {"recent": "Recent reviews", "fixed": "Fixed test"}


def _mix(shares: dict[str, Any] | None) -> str:
    """A rating mix as "bad · average · good" percentages."""
    if not shares:
        return "—"
    return " · ".join(f"{round(float(shares[band]) * 100)}" for band, _ in BANDS) + " %"


def rating_mix_cell(metrics: dict[str, Any] | None) -> Any:
    """The rating mix a version's suggestion assumes, the visitors' estimate it came from (a
    retrained version) and the corpus's mix, one line each."""
    mix = (metrics or {}).get("rating_mix")
    if not mix:
        return "—"
    lines = [html.Div(f"assumes {_mix(mix.get('assumed'))}", className="fw-semibold")]
    visitors = mix.get("visitors")
    if visitors:
        lines.append(
            html.Div(
                f"visitors {_mix(visitors)} ({visitors['reviews']} reviews, {visitors['control']} control)",
                className="small",
            )
        )
    if mix.get("corpus"):
        lines.append(html.Div(f"corpus {_mix(mix['corpus'])}", className="small text-body-secondary"))
    return html.Div(lines, className="rating-mix")


def status_text(item: dict[str, Any], served: str | None) -> str:
    """ "champion (served)", "candidate", "retired (served)" while the API still serves it, ..."""
    return item["status"] + (" (served)" if item["version"] == served else "")


def promotion_text(item: dict[str, Any]) -> str:
    """When, by whom and how the version last became champion, or "never"."""
    if not item.get("promoted_at"):
        return "never"
    by, via = item.get("promoted_by") or "an unknown caller", item.get("promoted_via")
    if via and via.startswith(by):  # "install", "install (db upgrade)": say it once
        return f"{when(item['promoted_at'])} UTC by {via}"
    return f"{when(item['promoted_at'])} UTC by {by}" + (f", {via}" if via else "")


def _fingerprint(value: str | None) -> str:
    return value[:FINGERPRINT_CHARS] if value else "not recorded"


def training_data_text(item: dict[str, Any]) -> str:
    """What the version learnt from: its corpus, and the stored reviews of its `retrain` round."""
    corpus = f"corpus {_fingerprint(item.get('corpus_fingerprint'))}"
    counts = item.get("counts")
    if not counts:
        return f"{corpus}; no stored reviews (registered from a file)"
    train, validation = counts.get("train") or {}, counts.get("validation") or {}
    trained, validated = train.get("feedback", 0), validation.get("feedback", 0)
    # Over RETRAIN_MAX_FEEDBACK_ROWS a round reads a sample of each part (`sample`: of how many).
    sample = counts.get("sample") or {}
    older, older_used = sample.get("older", 0), sample.get("older_used", 0)
    of_older = f", a sample of the {older:,} older usable ones" if older > older_used else ""
    parts = [
        f"{corpus} plus {trained + validated:,} stored reviews ({trained:,} trained on, "
        f"{validated:,} validating{of_older})"
    ]
    if "recent" in counts:
        newest = sample.get("recent", 0)
        if newest > counts["recent"]:
            parts.append(f"a sample of {counts['recent']:,} of the {newest:,} newest held out to judge it")
        else:
            parts.append(f"{counts['recent']:,} newest held out to judge it")
    if "usable" in counts:
        dropped = {reason: n for reason, n in (counts.get("dropped") or {}).items() if n}
        why = ", ".join(f"{reason.replace('_', ' ')} {n:,}" for reason, n in sorted(dropped.items()))
        parts.append(f"{counts['usable']:,} usable" + (f"; dropped: {why}" if why else ""))
    return "; ".join(parts)


def _measure(figures: dict[str, Any] | None, key: str | tuple[str, str]) -> float | None:
    if not figures:
        return None
    value = figures.get(key) if isinstance(key, str) else (figures.get(key[0]) or {}).get(key[1])
    return None if value is None else float(value)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def gate_figures(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate's figures, one row per measure: the test set and its size, the measure, the
    champion's value (before), this version's (after, on the fixed test at the champion's
    suggestion rates, as the gate compares them) and the change; rows neither side measured are
    left out."""
    champion = metrics.get("champion") or {}
    after = {
        "recent": metrics.get("recent"),
        "fixed": metrics.get("fixed_at_champion_rates") or metrics.get("fixed"),
    }
    rows = []
    for test_set, key, name in GATE_MEASURES:
        before, now = _measure(champion.get(test_set), key), _measure(after[test_set], key)
        if before is None and now is None:
            continue
        size = (after[test_set] or champion.get(test_set) or {}).get("n")
        rows.append(
            {
                "set": test_set,
                "label": f"{TEST_SETS[test_set]}" + (f" ({size:,})" if size is not None else ""),
                "measure": name,
                "before": before,
                "after": now,
                "change": None if before is None or now is None else now - before,
            }
        )
    return rows


def gate_verdict(metrics: dict[str, Any] | None) -> str:
    """The gate's decision and its reason, or why there was none."""
    gate = (metrics or {}).get("gate")
    if not gate:
        return "no gate: registered from a file, not trained by retrain"
    return ("passed: " if gate.get("promote") else "refused: ") + str(
        gate.get("reason") or "no reason recorded"
    )


def gate_table(metrics: dict[str, Any], parent: str | None) -> Any:
    """The gate's figures before and after, as a table with a caption."""
    rows = gate_figures(metrics)
    if not rows:
        return None
    before = f"Before: {parent}" if parent else "Before: the champion"
    header = html.Thead(
        html.Tr([html.Th(name, scope="col") for name in ("Test set", "Measure", before, "After", "Change")])
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Th(row["label"], scope="row"),
                    html.Td(row["measure"]),
                    html.Td(_number(row["before"])),
                    html.Td(_number(row["after"])),
                    html.Td("—" if row["change"] is None else f"{row['change']:+.3f}"),
                ]
            )
            for row in rows
        ]
    )
    caption = html.Caption(
        "The gate's figures: the champion of that round (before) and this version (after) on the "
        "same rows; on the fixed test this version suggests each band as often as the champion.",
        className="small",
    )
    return dbc.Table([caption, header, body], size="sm", responsive=True, class_name="gate-figures mb-0")


def _says_more(item: dict[str, Any]) -> bool:
    """Whether the row's last decision is not the gate's reason, which the card shows already."""
    gate = (item.get("metrics") or {}).get("gate") or {}
    return bool(item.get("reason")) and item["reason"] != f"gate: {gate.get('reason')}"


def _fact(term: str, *definition: Any) -> list[Any]:
    return [html.Dt(term, className="col-sm-3"), html.Dd(list(definition), className="col-sm-9")]


# Versions drawn open; the others (retired, rejected) show their heading line, their facts one
# click away: a registry of a year of nightly rounds stays readable.
OPEN_STATUSES = ("champion", "candidate")


def version_card(item: dict[str, Any], served: str | None, index: int) -> Any:
    """One version, in plain text, with its Promote button unless it is the champion; open when
    it is the champion, a candidate or the version served."""
    version, metrics = item["version"], item.get("metrics") or {}
    heading = f"model-version-{index}"
    promote = (
        html.Button(  # dbc.Button takes no aria-label: the name says which version it promotes
            "Promote",
            id={"type": "model-promote", "version": version},
            className="btn btn-primary btn-sm mt-2",
            type="button",
            **{"aria-label": f"Promote {version}"},
        )
        if item["status"] != "champion"
        else None
    )
    facts = [
        *_fact("Status", status_text(item, served)),
        *_fact("Parent", html.Code(item["parent"]) if item.get("parent") else "none"),
        *_fact("Registered", f"{when(item['created_at'])} UTC"),
        *_fact("Promoted", promotion_text(item)),
        *(_fact("Last decision", item["reason"]) if _says_more(item) else []),
        *_fact("Training data", training_data_text(item)),
        *_fact("Gate", gate_verdict(metrics), gate_table(metrics, item.get("parent"))),
        *_fact("Live", live_line(item.get("live"))),
        *_fact("Rating mix", rating_mix_cell(metrics)),
    ]
    title = html.H3(
        [html.Code(version), f" — {status_text(item, served)}"], id=heading, className="h6 mb-0 d-inline"
    )
    return html.Article(
        html.Details(
            [
                html.Summary(title, className="card-header"),
                html.Div([html.Dl(facts, className="row mb-0 small"), promote], className="card-body"),
            ],
            open=item["status"] in OPEN_STATUSES or version == served,
        ),
        className="card model-version mb-3" + (" border-success" if item["status"] == "champion" else ""),
        **{
            "aria-labelledby": heading,
            "data-version": version,
            "data-status": item["status"],
            "data-served": "true" if version == served else "false",
        },
    )


def models_list(listing: dict[str, Any], served: str | None) -> Any:
    """Every registered version, newest first, as a card."""
    items = listing.get("items") or []
    if not items:
        return html.P(
            "No model is registered yet: run `db upgrade` (docs/api.md).", className="text-body-secondary"
        )
    return html.Div([version_card(item, served, index) for index, item in enumerate(items)], id="models-list")


def _find(listing: dict[str, Any], version: str | None) -> dict[str, Any] | None:
    return next((item for item in listing.get("items") or [] if item["version"] == version), None)


def _summary(item: dict[str, Any] | None, version: str | None) -> list[Any]:
    """One version's figures for the confirmation dialog."""
    if item is None:
        return [html.P(["No figures for ", html.Code(version or "—"), "."])]
    return [
        html.H3([html.Code(item["version"]), f" — {item['status']}"], className="h6 mt-2"),
        html.Ul(
            [
                html.Li(f"Gate: {gate_verdict(item.get('metrics'))}"),
                html.Li(f"Live: {live_line(item.get('live'))}"),
                html.Li(f"Training data: {training_data_text(item)}"),
            ],
            className="small mb-1",
        ),
    ]


def confirmation(pending: dict[str, Any], listing: dict[str, Any]) -> tuple[str, list[Any], str]:
    """The dialog's title, body and confirming button's text for a promotion or a rollback."""
    version = pending["version"]
    champion = next((item for item in listing.get("items") or [] if item["status"] == "champion"), None)
    current = champion["version"] if champion else None
    if pending["action"] == "rollback":
        title = f"Roll back to {version}?"
        intro = f"{version} becomes the champion again and {current} is retired."
        button = f"Roll back to {version}"
    else:
        title = f"Promote {version}?"
        intro = f"{version} becomes the champion" + (f" and {current} is retired." if current else ".")
        button = f"Promote {version}"
    body = [
        html.P(intro + " Every API worker serves it within MODEL_POLL_SECONDS, without a restart."),
        *_summary(_find(listing, version), version),
    ]
    if current and current != version:
        body += [html.P("The champion now:", className="small mb-0 mt-2"), *_summary(champion, current)]
    return title, body, button
