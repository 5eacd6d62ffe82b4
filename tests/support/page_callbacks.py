"""The review page's callbacks posted over HTTP as a browser posts them, with whatever headers a
visitor may write: what the container tests send through the web port (or a proxy in front)."""

from __future__ import annotations

from typing import Any

import requests


def dash_callback(
    url: str,
    output: str,
    inputs: dict[str, Any],
    state: dict[str, Any],
    headers: dict[str, str],
    verify: str | bool = True,
) -> requests.Response:
    """Post the page's callback whose outputs include `output` ("id.property") as a browser does
    (the request built from `/_dash-dependencies`), with whatever headers a visitor may write."""
    dependencies = requests.get(f"{url}/_dash-dependencies", timeout=10, verify=verify).json()

    def outputs_of(name: str) -> list[str]:
        return name[2:-2].split("...") if name.startswith("..") else [name]

    dependency = next(
        dep
        for dep in dependencies
        if output in [part.split("@")[0] for part in outputs_of(dep["output"])]
        and f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}" in inputs
    )
    values = {**inputs, **state}

    def entries(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "id": item["id"],
                "property": item["property"],
                "value": values.get(f"{item['id']}.{item['property']}"),
            }
            for item in items
        ]

    name = dependency["output"]
    parts = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]} for part in outputs_of(name)]
    body = {
        "output": name,
        "outputs": parts if name.startswith("..") else parts[0],
        "inputs": entries(dependency["inputs"]),
        "changedPropIds": list(inputs),
        "state": entries(dependency["state"]),
    }
    return requests.post(
        f"{url}/_dash-update-component", json=body, headers=headers, timeout=30, verify=verify
    )


def submit_through_the_page(
    url: str, brand: str, text: str, headers: dict[str, str], verify: str | bool = True
) -> str:
    """Submit a review with the review page's Submit callback; the message the page shows."""
    response = dash_callback(
        url,
        "review-alert.children",
        {"submit-review.n_clicks": 1},
        {
            "review-text.value": text,
            "rating-input.value": 4,
            "brand-store.data": {"name": brand},
            "score-shown.data": {"seq": 0},
            "suggestion-group.data": "suggested",
            "rating-touched.data": True,
        },
        headers,
        verify,
    )
    assert response.status_code == 200, response.text[:2000]
    return str(response.json()["response"]["review-alert"]["children"])
