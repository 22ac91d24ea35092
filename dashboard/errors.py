"""The error boundary: a failing callback shows a message on the page and is logged, and the rest of
the app keeps working.

Chart callbacks catch their own errors (`guarded`) so the message sits on the chart that failed; the
app-wide ``on_error`` handler (`report_callback_error`) catches anything else and shows it in the
banner under the filters.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
from dash import html, set_props
from dash.exceptions import PreventUpdate

from dashboard import ids

log = logging.getLogger("dashboard")


def error_alert(error: BaseException, where: str = "") -> dbc.Alert:
    """A short, non-technical message with a reference that matches the server log line."""
    reference = uuid.uuid4().hex[:8]
    log.exception("callback error %s%s", reference, f" in {where}" if where else "", exc_info=error)
    return dbc.Alert(
        [
            html.Strong("Something went wrong drawing this view. "),
            f"The rest of the dashboard still works; try other filters or reload. Reference {reference}.",
        ],
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
