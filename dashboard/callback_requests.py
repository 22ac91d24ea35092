"""The JSON body the browser posts to ``/_dash-update-component`` for one of the app's callbacks: built
here for the tests and the benchmark, and checked here for every request the app receives.

Dash's renderer builds these bodies in JavaScript; the tests (through Flask's test client) and the
speed benchmark (through HTTP) build the same bodies with `callback_body`, so they exercise the exact
callbacks a browser would call.

Dash hands a callback its inputs by position, whatever ids they carry, so a body naming one callback
with renamed inputs would reach it with values no check had looked at. `mismatch` therefore requires a
request to match the callback it names exactly: the same number of inputs and states, each with the id
(pattern-matching ids: the same keys, wildcards filled consistently) and property the callback
declares, outputs likewise, and triggers only among its inputs. `install_callback_checks` answers any
other body with 400, and then refuses one naming a programme outside the signed-in person's scope
with 403 (`dashboard.auth.refusal`); both are logged.
"""

from __future__ import annotations

import json
from typing import Any

from dash import Dash
from flask import jsonify, request

from dashboard import auth

_WILDCARDS = ("MATCH", "ALL", "ALLSMALLER")


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
            ident = item["id"]
            # A dict id is declared as its JSON text; the browser sends it as the object itself.
            ident = json.loads(ident) if isinstance(ident, str) and ident.startswith("{") else ident
            out.append({"id": ident, "property": item["property"], "value": values.get(name)})
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


# -- checking what arrives ---------------------------------------------------------------------------


def _declared_id(ident: Any) -> Any:
    """A declared id as a string, or a pattern dict whose wildcard values are "MATCH", "ALL", ..."""
    if isinstance(ident, str) and ident.startswith("{"):
        parsed = json.loads(ident)
        return {
            k: v[0] if isinstance(v, list) and len(v) == 1 and v[0] in _WILDCARDS else v
            for k, v in parsed.items()
        }
    return ident


def _is_plain(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _id_matches(declared: Any, sent: Any, match: dict[str, Any]) -> bool:
    if not isinstance(declared, dict):
        return isinstance(sent, str) and sent == declared
    if not isinstance(sent, dict) or set(sent) != set(declared):
        return False
    for key, want in declared.items():
        got = sent[key]
        if want in _WILDCARDS:
            if not _is_plain(got):
                return False
            if want == "MATCH" and match.setdefault(key, got) != got:
                return False
        elif got != want:
            return False
    return True


def _item_problem(declared: dict[str, Any], sent: Any, match: dict[str, Any], where: str) -> str | None:
    ident, prop = _declared_id(declared["id"]), str(declared["property"]).split("@", 1)[0]
    multi = isinstance(ident, dict) and any(v in ("ALL", "ALLSMALLER") for v in ident.values())
    items = sent if multi else [sent]
    if multi and not isinstance(sent, list):
        return f"{where} must be a list for a pattern-matching id"
    for item in items:
        if (
            not isinstance(item, dict)
            or not {"id", "property"} <= set(item)
            or set(item) - {"id", "property", "value"}
        ):
            return f"{where} is not an id, property and value"
        if str(item["property"]).split("@", 1)[0] != prop or not _id_matches(ident, item["id"], match):
            got = f"{_key_id(item['id'])[:100]}.{str(item['property'])[:50]}"
            return f"{where} is {got}, not {declared['id']}.{prop}"
    return None


def _outputs_of(key: str) -> list[dict[str, Any]]:
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    return [_component(p) for p in parts]


def _prop_id(item: dict[str, Any]) -> str:
    return f"{_key_id(item['id'])}.{str(item['property']).split('@', 1)[0]}"


def mismatch(app: Dash, body: Any) -> str | None:
    """Why a callback request does not match the callback it names (None when it does exactly).

    The body must be a JSON object naming a server-side callback of ``app`` by its ``output`` key; its
    ``inputs``, ``state`` and ``outputs`` must list exactly the callback's declared ids and properties in
    order (a pattern-matching id: the same keys and fixed values, its MATCH values one and the same
    throughout the request; ALL and ALLSMALLER a list of such items), and ``changedPropIds`` only name
    its inputs."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    key = body.get("output")
    spec = app.callback_map.get(key) if isinstance(key, str) else None
    if spec is None or "callback" not in spec:
        return f"no server callback has the output {str(key)[:200]!r}"
    match: dict[str, Any] = {}
    sent_inputs: list[Any] = []
    for part in ("inputs", "state"):
        declared, sent = spec[part], body.get(part, [] if part == "state" else None)
        if not isinstance(sent, list) or len(sent) != len(declared):
            count = len(sent) if isinstance(sent, list) else "no list of"
            return f"{count} {part} sent, the callback declares {len(declared)}"
        for position, (want, got) in enumerate(zip(declared, sent, strict=True)):
            problem = _item_problem(want, got, match, f"{part}[{position}]")
            if problem:
                return problem
        if part == "inputs":
            sent_inputs = [i for item in sent for i in (item if isinstance(item, list) else [item])]
    declared_outputs = _outputs_of(key)
    outputs = body.get("outputs")
    outputs = outputs if key.startswith("..") else [outputs]
    if not isinstance(outputs, list) or len(outputs) != len(declared_outputs):
        return f"the outputs sent are not the {len(declared_outputs)} the callback declares"
    for position, (want, got) in enumerate(zip(declared_outputs, outputs, strict=True)):
        ident = want["id"]
        want = {
            "id": json.dumps(ident, sort_keys=True, separators=(",", ":"))
            if isinstance(ident, dict)
            else ident,
            "property": want["property"],
        }
        problem = _item_problem(want, got, match, f"outputs[{position}]")
        if problem:
            return problem
    changed = body.get("changedPropIds", [])
    triggers = {_prop_id(item) for item in sent_inputs}
    if not isinstance(changed, list) or any(not isinstance(c, str) or c not in triggers for c in changed):
        return "changedPropIds names something that is not an input of the callback"
    return None


def install_callback_checks(app: Dash) -> None:
    """Check every request to the callback endpoint before Dash sees it: 400 unless it matches its
    callback exactly (`mismatch`), 403 if it names a programme, provider or area outside the scope of
    the person signed in (`dashboard.auth.refusal`). Each refusal is logged with who asked and what."""
    endpoint = app.config.routes_pathname_prefix + "_dash-update-component"

    def check() -> Any:
        if request.path != endpoint or request.method != "POST":
            return None
        body = request.get_json(silent=True)
        problem = mismatch(app, body)
        if problem:
            auth.log_refusal(
                400,
                f"malformed callback request, not as its callback declares: {problem}",
                auth.describe_body(body),
            )
            return jsonify(error="malformed callback request"), 400
        reason = auth.refusal(body, auth.current_scope())
        if reason:
            auth.log_refusal(403, "callback request outside the scope", auth.describe_body(body))
            return jsonify(error="forbidden", message=reason), 403
        return None

    funcs = app.server.before_request_funcs.setdefault(None, [])
    # After the sign-in guard (first, when sign-in is on), before Dash's own first-request set-up.
    funcs.insert(1 if app.server.config.get("ROSC_SIGN_IN") else 0, check)
