"""The error boundary: a failing callback shows a message on the page and is logged, and the rest of
the app keeps working.

Chart callbacks catch their own errors (`guarded`) so the message sits on the chart that failed; the
app-wide ``on_error`` handler (`report_callback_error`) catches anything else and shows it in the
banner under the filters. A callback refused for lack of access (`PermissionError`, which the sign-in
module's `AccessDenied` is) says so instead of "something went wrong".

A request to the callback endpoint that no browser would send (a body of the wrong shape, an output or
inputs that do not match any callback) fails inside Dash before any callback runs;
`install_request_errors` answers it with a 400 and a generic JSON body instead of a bare 500, and a
request for a script or file Dash does not serve (an unknown package or path under
``/_dash-component-suites/``) with a 404, never a 500.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, html, set_props
from dash.exceptions import CallbackException, DependencyException, InvalidCallbackReturnValue, PreventUpdate
from flask import jsonify, request

from dashboard import ids

log = logging.getLogger("dashboard")

#: What a reader without access to the data a view needs is told (no names, no reason beyond that).
NO_ACCESS_MESSAGE = "You do not have access to this programme's data."


def error_alert(error: BaseException, where: str = "") -> dbc.Alert:
    """A short, non-technical message with a reference that matches the server log line."""
    reference = uuid.uuid4().hex[:8]
    place = f" in {where}" if where else ""
    if isinstance(error, PermissionError):  # includes dashboard.auth.AccessDenied
        log.warning("access refused %s%s: %s", reference, place, error)
        message = [html.Strong(NO_ACCESS_MESSAGE + " "), f"Reference {reference}."]
    else:
        log.exception("callback error %s%s", reference, place, exc_info=error)
        message = [
            html.Strong("Something went wrong drawing this view. "),
            f"The rest of the dashboard still works; try other filters or reload. Reference {reference}.",
        ]
    return dbc.Alert(
        message,
        color="danger",
        className="small mb-0 py-2",
        dismissable=True,
    )


def guarded(fallback: Callable[[dbc.Alert], Any], where: str = "") -> Callable:
    """Decorate a callback so an exception becomes ``fallback(alert)`` instead of a broken app.

    ``fallback`` receives the alert component and returns the callback's outputs.
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except PreventUpdate:
                raise
            except Exception as error:  # noqa: BLE001 - the boundary: every error becomes a message
                return fallback(error_alert(error, where or func.__name__))

        return wrapper

    return decorate


def report_callback_error(error: Exception) -> None:
    """The app's ``on_error``: log the error and show it in the page's banner; outputs stay as they were."""
    set_props(ids.GLOBAL_ERROR, {"children": error_alert(error)})


#: Errors Dash raises while it routes a callback request it cannot make sense of. A callback's own
#: errors never get here (`guarded` and ``on_error`` catch them).
MALFORMED_REQUEST_ERRORS: tuple[type[Exception], ...] = (
    CallbackException,
    KeyError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,  # a body that is a JSON list or string, not an object
)


def install_request_errors(app: Dash) -> None:
    """Answer a malformed request to the callback endpoint with a 400 ``{"error": "malformed callback
    request"}`` and a log line (no traceback, in the log or the answer).

    Only that route: the same errors anywhere else still propagate as before (a 500). Dash's own
    `PreventUpdate` handler (a 204) is more specific and keeps winning; an `InvalidCallbackReturnValue` is
    a callback returning the wrong thing, a fault of the server's, so it stays a 500 too.
    """
    endpoint = app.config.routes_pathname_prefix + "_dash-update-component"

    def malformed(error: Exception) -> Any:
        if request.path != endpoint or isinstance(error, (PreventUpdate, InvalidCallbackReturnValue)):
            raise error  # not ours: handled as if this handler did not exist
        log.warning("malformed callback request refused: %s: %.200r", type(error).__name__, str(error))
        return jsonify(error="malformed callback request"), 400

    for kind in MALFORMED_REQUEST_ERRORS:
        app.server.register_error_handler(kind, malformed)

    suites = app.config.routes_pathname_prefix + "_dash-component-suites/"

    def not_served(error: Exception) -> Any:
        if not request.path.startswith(suites):
            raise error
        log.info("no such component file: %.200r", request.path)
        return jsonify(error="not found"), 404

    # Dash raises DependencyException for a package or path it has not registered, and reading a
    # registered file that is not there raises OSError.
    app.server.register_error_handler(DependencyException, not_served)
    app.server.register_error_handler(OSError, not_served)
