"""The JSON body the browser posts to ``/_dash-update-component`` for one of the app's callbacks.

Dash's renderer builds these bodies in JavaScript; the tests (through Flask's test client) and the
speed benchmark (through HTTP) build the same bodies here, so they exercise the exact callbacks a
browser would call.
"""

from __future__ import annotations

import json
from typing import Any

from dash import Dash


def _component(text: str) -> dict[str, Any]:
    text = text.split("@", 1)[0]  # allow_duplicate outputs carry a hash suffix
    ident, prop = text.rsplit(".", 1)
    return {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop}


def _key_id(ident: Any) -> str:
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) if isinstance(ident, dict) else str(ident)


def find_callback(app: Dash, output_contains: str) -> str:
    """The callback-map key of the one callback whose outputs mention ``output_contains``."""
    keys = [k for k in app.callback_map if output_contains in k]
    if len(keys) != 1:
        raise KeyError(f"{len(keys)} callbacks match {output_contains!r}")
    return keys[0]


def callback_body(app: Dash, key: str, values: dict[str, Any], changed: list[str] | None = None) -> dict:
    """The request body for callback ``key`` with input and state ``values`` keyed by
    ``"<id>.<property>"`` (a dict id written as Dash writes it, JSON with sorted keys). Inputs not
    given are sent as None. ``changed`` names the inputs that triggered the call (default: all given)."""
    spec = app.callback_map[key]
    multi = key.startswith("..")
    parts = key[2:-2].split("...") if multi else [key]
    outputs = [_component(p) for p in parts]

    def filled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            name = f"{_key_id(item['id'])}.{item['property']}"
            out.append({"id": item["id"], "property": item["property"], "value": values.get(name)})
        return out

    inputs = filled(spec["inputs"])
    changed_ids = (
        changed
        if changed is not None
        else [f"{_key_id(i['id'])}.{i['property']}" for i in inputs if i["value"] is not None]
    )
    return {
        "output": key,
        "outputs": outputs if multi else outputs[0],
        "inputs": inputs,
        "state": filled(spec["state"]),
        "changedPropIds": changed_ids,
    }
