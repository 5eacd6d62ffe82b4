"""The admin page's model registry: the versions (promote, roll back), anchoring, suggestions per day.

Per version: how visitors took its suggestions and the rating mix its suggestion assumes; the
anchoring table (agreement with the model with the suggestion shown vs. the control group); and
each version's suggestions per day.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, callback, ctx, html

from brandpulse.dash import charts
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.pages.admin_reviews import when

SUGGESTIONS_GRAPH = "chart-model-suggestions"
SUGGESTION_DAYS = 30  # how far back the per-day chart of the suggestions goes


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def _mix(shares: dict[str, Any] | None) -> str:
    """A rating mix as "bad · average · good" percentages."""
    if not shares:
        return "—"
    return " · ".join(f"{round(float(shares[band]) * 100)}" for band in ("bad", "average", "good")) + " %"


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


def models_table(listing: dict[str, Any]) -> Any:
    """One row per registered version: status, how visitors took its suggestions, the rating mix
    its suggestion assumes (bad · average · good), promote button."""
    names = ("Version", "Status", "Promoted", "Reviews", "Kept", "Mean |error|", "Rating mix", "")
    header = html.Thead(html.Tr([html.Th(name) for name in names]))
    rows = []
    for item in listing["items"]:
        live = item.get("live") or {}
        served = item["version"] == listing.get("served")
        promoted = f"{when(item['promoted_at'])} by {item['promoted_by']}" if item.get("promoted_at") else "—"
        action = (
            dbc.Button(
                "Promote",
                id={"type": "model-promote", "version": item["version"]},
                size="sm",
                color="primary",
                outline=True,
            )
            if item["status"] != "champion"
            else None
        )
        error = live.get("mean_abs_error")
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(item["version"]), title=item.get("reason") or ""),
                    html.Td(item["status"] + (" (served)" if served else "")),
                    html.Td(promoted),
                    html.Td(live.get("reviews", 0)),
                    html.Td(_percent(live.get("kept_suggestion"))),
                    html.Td("—" if error is None else f"{error:.2f} ★"),
                    html.Td(rating_mix_cell(item.get("metrics"))),
                    html.Td(action),
                ],
                className="table-success" if item["status"] == "champion" else None,
            )
        )
    return dbc.Table([header, html.Tbody(rows)], size="sm", hover=True, responsive=True, id="models-list")


@callback(
    Output("models-table", "children"),
    Output("model-status", "children"),
    Input("admin-token", "data"),
    Input("admin-refresh", "n_clicks"),
    Input({"type": "model-promote", "version": ALL}, "n_clicks"),
    Input("model-rollback", "n_clicks"),
)
def models(
    token: str | None, _refresh: int | None, _promotes: list[int | None], _rollback: int | None
) -> tuple[Any, str]:
    """The registry; a Promote or Roll back click changes the champion first."""
    if not token:
        return None, ""
    client = get_client()
    status = ""
    trigger = ctx.triggered_id
    try:
        clicked = bool(ctx.triggered and ctx.triggered[0]["value"])  # not a button just drawn
        if isinstance(trigger, dict) and trigger.get("type") == "model-promote" and clicked:
            row = client.promote_model(token, trigger["version"])
            status = f"{row['version']} is the champion; the API serves it within seconds."
        elif trigger == "model-rollback" and clicked:
            row = client.rollback_model(token)
            status = f"Rolled back: {row['version']} is the champion."
    except ApiError as error:
        status = f"Not done. {error}"
    try:
        listing = client.model_versions(token)
    except ApiError as error:
        return dbc.Alert(f"The models could not be loaded. {error}", color="danger"), status
    return models_table(listing), status


# ---------------------------------------------------------------- suggestions and anchoring


def _signed_points(difference: float | None) -> str:
    return "—" if difference is None else f"{difference * 100:+.1f} pts"


def _stars_off(error: float | None, signed: bool = False) -> str:
    if error is None:
        return "—"
    return f"{error:+.2f} ★" if signed else f"{error:.2f} ★"


def _difference(entry: dict[str, Any], key: str) -> float | None:
    """Shown minus control for one figure; None unless both groups have it."""
    shown, control = entry["shown"] or {}, entry["control"] or {}
    if shown.get(key) is None or control.get(key) is None:
        return None
    return shown[key] - control[key]


def anchoring_rows(anchoring: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's anchoring rows paired up: per version (None: all versions, first) the figures with
    the suggestion shown and without it (the control group), and the anchoring effect, shown minus
    control, for the share agreeing and the mean |rating - suggestion| (None without both)."""
    paired: dict[str | None, dict[str, Any]] = {}
    for row in sorted(anchoring, key=lambda row: row["version"] is not None):  # all versions first
        entry = paired.setdefault(row["version"], {"version": row["version"], "shown": None, "control": None})
        entry["shown" if row["suggestion_shown"] else "control"] = row
    return [
        {
            **entry,
            "kept_effect": _difference(entry, "kept_suggestion"),
            "error_effect": _difference(entry, "mean_abs_error"),
        }
        for entry in paired.values()
    ]


def anchoring_table(anchoring: list[dict[str, Any]]) -> Any:
    """Agreement with the model with the suggestion shown and in the control group, and the difference,
    overall and per version."""
    rows = anchoring_rows(anchoring)
    if not rows:
        return html.P("No reviews say yet whether a suggestion was shown.", className="text-body-secondary")
    groups = html.Tr(
        [
            html.Th(""),
            html.Th("Suggestion shown", colSpan=3, scope="colgroup", className="text-center"),
            html.Th("Control group (not shown)", colSpan=3, scope="colgroup", className="text-center"),
            html.Th("Anchoring effect", colSpan=2, scope="colgroup", className="text-center"),
        ]
    )
    names = ["Version"] + ["Reviews", "Agree", "Mean |error|"] * 2 + ["Agree", "Mean |error|"]
    header = html.Thead([groups, html.Tr([html.Th(name, scope="col") for name in names])])
    body = []
    for row in rows:
        cells = [html.Td("All versions" if row["version"] is None else html.Code(row["version"]))]
        for side in (row["shown"] or {}, row["control"] or {}):
            cells += [
                html.Td(side.get("reviews", 0)),
                html.Td(_percent(side.get("kept_suggestion"))),
                html.Td(_stars_off(side.get("mean_abs_error"))),
            ]
        cells += [
            html.Td(_signed_points(row["kept_effect"]), className="fw-semibold"),
            html.Td(_stars_off(row["error_effect"], signed=True)),
        ]
        body.append(html.Tr(cells, className="table-light fw-semibold" if row["version"] is None else None))
    return dbc.Table([header, html.Tbody(body)], size="sm", hover=True, responsive=True, id="anchoring-list")


@callback(
    Output("anchoring-table", "children"),
    Output(SUGGESTIONS_GRAPH, "figure"),
    Input("admin-token", "data"),
    Input("admin-refresh", "n_clicks"),
)
def load_suggestions(token: str | None, _refresh: int | None) -> tuple[Any, Any]:
    """The anchoring table and the per-day chart of each version's suggestions."""
    if not token:
        return None, charts.empty_figure("")
    try:
        figures = get_client().suggestion_figures(token, days=SUGGESTION_DAYS)
    except ApiError as error:
        alert = dbc.Alert(f"The suggestion figures could not be loaded. {error}", color="danger")
        return alert, charts.empty_figure("", "—")
    return anchoring_table(figures["anchoring"]), charts.suggestions_per_day(figures)
