"""Security headers on every response (Flask-Talisman): a content security policy that Dash runs under,
no framing, no MIME sniffing, a same-origin referrer policy, HSTS behind HTTPS, and no caching of
signed-in pages and data.

The policy allows scripts only from the app itself plus the exact inline scripts Dash writes into its
index page (their hashes, `dash.Dash.csp_hashes`, taken after every callback is registered); no eval.
Styles may be inline because Plotly and Dash's components set them at run time; images may be
``data:`` and ``blob:`` URLs because Plotly draws its PNG downloads that way. Checked in Chromium with
no console errors (tests/browser).
"""

from __future__ import annotations

from typing import Any

from dash import Dash
from flask import Response, request
from flask_talisman import Talisman

#: Paths whose responses are the same for everyone (Dash's scripts, the app's stylesheets): cacheable.
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")


def content_security_policy(app: Dash) -> dict[str, Any]:
    """The policy for ``app`` (call after every clientside callback is registered)."""
    return {
        "default-src": "'self'",
        "script-src": ["'self'", *app.csp_hashes()],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def install_security_headers(
    app: Dash, *, https: bool = False, secure_cookie: bool = False, no_store: bool = False
) -> None:
    """Add the headers to every response of ``app``. With ``https`` (served behind TLS), plain-HTTP
    requests are redirected to HTTPS and HSTS is sent; with ``no_store`` (sign-in on), every response
    except static files says ``Cache-Control: no-store``."""
    Talisman(
        app.server,
        force_https=https,
        strict_transport_security=https,
        session_cookie_secure=https or secure_cookie,
        content_security_policy=content_security_policy(app),
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy={"browsing-topics": "()", "camera": "()", "microphone": "()", "geolocation": "()"},
    )
    if no_store:

        def never_cache(response: Response) -> Response:
            if not request.path.startswith(STATIC_PREFIXES):
                response.headers["Cache-Control"] = "no-store"
            return response

        app.server.after_request(never_cache)
