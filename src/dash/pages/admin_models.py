"""The admin page's Models section: the registry (promote, roll back, each after a confirmation),
the version served, anchoring, suggestions per day.

Each version explains itself (`admin_model_cards`). Which version the API serves is asked every
`SERVED_POLL_SECONDS` (`GET /readyz`): when it changes (a promotion or a rollback reached the API,
from this page, a command or `retrain`), the list is drawn again, so the "(served)" mark moves
without a reload. Promote and Roll back open a dialog naming the version and its figures; nothing
changes until it is confirmed. Below: the anchoring table (agreement with the model with the
suggestion shown vs. the control group) and each version's suggestions per day.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from brandpulse.dash import charts
from brandpulse.dash.api_client import ApiError, get_client
from brandpulse.dash.pages.admin_figures import percent
from brandpulse.dash.pages.admin_model_cards import confirmation, models_list

SUGGESTIONS_GRAPH = "chart-model-suggestions"
SUGGESTION_DAYS = 30  # how far back the per-day chart of the suggestions goes
# How often the page asks the API which version it serves. An API worker swaps within its
# MODEL_POLL_SECONDS (10 s by default), so the mark follows within that plus this.
SERVED_POLL_SECONDS = 5
LEARNING_LOOP = (
    "How a model gets here: each retrain round fine-tunes a challenger from the champion on the "
    "corpus plus the stored reviews (flagged ones never), holding out the newest reviews. The gate "
    "promotes it only if it beats the champion on those recent reviews and has forgotten nothing on "
    "a fixed test; otherwise it is recorded as rejected, with the reason. An admin can promote any "
    "version or roll back to the previous champion; every API worker follows within seconds."
)


def models_section() -> Any:
    """The section: how a model gets here, the version served, Roll back, the versions, the dialog."""
    children = [
        html.H2("Models", className="h5 mt-4", id="models-heading"),
        html.P(LEARNING_LOOP, className="small text-body-secondary mb-2"),
        dcc.Store(id="models-listing"),  # the last listing: what the dialog describes
        dcc.Store(id="models-served"),  # the version the API said it serves, last time it was asked
        dcc.Store(id="models-reload", data=0),  # bumped after a change: draw the list again
        dcc.Store(id="model-pending"),  # the promotion or rollback awaiting confirmation
        dcc.Interval(id="served-poll", interval=SERVED_POLL_SECONDS * 1000, disabled=True),
        html.Div(
            [
                html.P(id="models-served-line", className="small mb-0 me-auto", **{"aria-live": "polite"}),
                dbc.Button("Roll back", id="model-rollback", color="secondary", outline=True, size="sm"),
            ],
            className="d-flex flex-wrap gap-2 align-items-center mb-2",
        ),
        html.Div(id="model-status", className="small mb-2", **{"aria-live": "polite"}),
        html.Div(id="models-table"),
        dbc.Modal(
            [
                dbc.ModalHeader(dbc.ModalTitle(id="model-confirm-title", tag="h2", class_name="h5")),
                dbc.ModalBody(id="model-confirm-body"),
                dbc.ModalFooter(
                    [
                        dbc.Button("Cancel", id="model-confirm-no", color="secondary", outline=True),
                        dbc.Button("Confirm", id="model-confirm-yes", color="primary"),
                    ]
                ),
            ],
            id="model-confirm",
            is_open=False,
            labelledby="model-confirm-title",
            scrollable=True,
            size="lg",
        ),
    ]
    return html.Section(children, id="models-section", **{"aria-labelledby": "models-heading"})


@callback(
    Output("models-table", "children"),
    Output("models-listing", "data"),
    Output("model-rollback", "children"),
    Output("model-rollback", "disabled"),
    Input("admin-token", "data"),
    Input("admin-refresh", "n_clicks"),
    Input("models-reload", "data"),
    Input("models-served", "data"),
    State("models-listing", "data"),
)
def models(
    token: str | None, _refresh: int | None, _reload: int | None, served: str | None, drawn: dict | None
) -> tuple[Any, ...]:
    """The registry, drawn again after a change and whenever the version served changes.

    The "(served)" mark follows `served`, what `/readyz` last said (the "Served now" line says the
    same), or before its first answer the listing's own `served`: one source for both, so they
    never disagree. A first answer that only repeats what the list shows draws nothing again (no
    redraw under the admin's pointer).
    """
    if not token:
        return None, None, "Roll back", True
    if drawn and drawn.get("marked") == served and ctx.triggered_id == "models-served":
        return (dash.no_update,) * 4
    try:
        listing = get_client().model_versions(token)
    except ApiError as error:
        alert = dbc.Alert(f"The models could not be loaded. {error}", color="danger")
        return alert, None, "Roll back", True
    marked = served or listing.get("served")
    target = listing.get("rollback_to")
    label = f"Roll back to {target}" if target else "Roll back (no earlier champion)"
    return models_list(listing, marked), {**listing, "marked": marked}, label, target is None


@callback(
    Output("served-poll", "disabled"),
    Input("admin-token", "data"),
)
def poll_while_signed_in(token: str | None) -> bool:
    """Ask which version is served only while signed in."""
    return not token


@callback(
    Output("models-served", "data"),
    Output("models-served-line", "children"),
    Input("admin-token", "data"),
    Input("served-poll", "n_intervals"),
    State("models-served", "data"),
    State("models-served-line", "children"),
)
def served_version(token: str | None, _ticks: int | None, known: str | None, line: Any) -> tuple[Any, Any]:
    """Which version the API serves (`/readyz`); the store changes only when the version does."""
    if not token:
        return None, ""
    try:
        version = get_client().ready().get("model_version")
    except ApiError as error:
        text = f"The API did not say which model it serves. {error}"
        return dash.no_update, text if text != line else dash.no_update
    text = f"Served now: {version}"
    return (version if version != known else dash.no_update), (text if text != line else dash.no_update)


@callback(
    Output("model-confirm", "is_open"),
    Output("model-confirm-title", "children"),
    Output("model-confirm-body", "children"),
    Output("model-confirm-yes", "children"),
    Output("model-pending", "data"),
    Input({"type": "model-promote", "version": ALL}, "n_clicks"),
    Input("model-rollback", "n_clicks"),
    State("models-listing", "data"),
    prevent_initial_call=True,
)
def ask_to_confirm(
    _promotes: list[int | None], _rollback: int | None, listing: dict | None
) -> tuple[Any, ...]:
    """Promote or Roll back clicked: open the dialog naming the version and its figures."""
    trigger = ctx.triggered_id
    clicked = bool(ctx.triggered and ctx.triggered[0]["value"])  # not a button just drawn
    if not clicked or not listing:
        return (dash.no_update,) * 5
    if isinstance(trigger, dict) and trigger.get("type") == "model-promote":
        pending = {"action": "promote", "version": trigger["version"]}
    elif trigger == "model-rollback" and listing.get("rollback_to"):
        pending = {"action": "rollback", "version": listing["rollback_to"]}
    else:
        return (dash.no_update,) * 5
    title, body, button = confirmation(pending, listing)
    return True, title, body, button, pending


@callback(
    Output("model-confirm", "is_open", allow_duplicate=True),
    Output("model-status", "children"),
    Output("models-reload", "data"),
    Input("model-confirm-yes", "n_clicks"),
    Input("model-confirm-no", "n_clicks"),
    State("model-pending", "data"),
    State("admin-token", "data"),
    State("models-reload", "data"),
    prevent_initial_call=True,
)
def confirmed(
    _yes: int | None, _no: int | None, pending: dict | None, token: str | None, reloads: int | None
) -> tuple[Any, str, Any]:
    """The dialog answered: promote or roll back (then draw the list again), or change nothing."""
    if ctx.triggered_id != "model-confirm-yes" or not pending or not token:
        return False, "Nothing was changed.", dash.no_update
    return False, change_champion(token, pending), (reloads or 0) + 1


def change_champion(token: str, pending: dict[str, Any]) -> str:
    """Promote a version or roll back through the API; what happened, in words."""
    client = get_client()
    try:
        if pending["action"] == "rollback":
            row = client.rollback_model(token)
            return f"Rolled back: {row['version']} is the champion; the API serves it within seconds."
        row = client.promote_model(token, pending["version"])
    except ApiError as error:
        return f"Not done. {error}"
    return f"{row['version']} is the champion; the API serves it within seconds."


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
            html.Th("Version", rowSpan=2, scope="col", className="align-bottom"),
            html.Th("Suggestion shown", colSpan=3, scope="colgroup", className="text-center"),
            html.Th("Control group (not shown)", colSpan=3, scope="colgroup", className="text-center"),
            html.Th("Anchoring effect", colSpan=2, scope="colgroup", className="text-center"),
        ]
    )
    names = ["Reviews", "Agree", "Mean |error|"] * 2 + ["Agree", "Mean |error|"]
    header = html.Thead([groups, html.Tr([html.Th(name, scope="col") for name in names])])
    body = []
    for row in rows:
        cells = [html.Td("All versions" if row["version"] is None else html.Code(row["version"]))]
        for side in (row["shown"] or {}, row["control"] or {}):
            cells += [
                html.Td(side.get("reviews", 0)),
                html.Td(percent(side.get("kept_suggestion"))),
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
