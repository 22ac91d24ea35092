"""The sign-in and sign-out pages: one small self-contained HTML page (no Dash, no scripts), so it
loads under the strictest part of the app's content security policy."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template_string

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · ROSC outcomes</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f5f6f7;color:#212529;
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:2rem;width:100%;max-width:22rem}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;font-size:.9rem;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.45rem;font-size:1rem;
border:1px solid #adb5bd;border-radius:4px}
button,.button{display:block;box-sizing:border-box;text-align:center;text-decoration:none;margin-top:1.25rem;
width:100%;padding:.5rem;font-size:1rem;border:0;border-radius:4px;background:#0b5394;color:#fff;cursor:pointer}
.or{text-align:center;color:#6c757d;font-size:.85rem;margin:1.25rem 0 0}
.message{background:#fbe9e7;border:1px solid #e0b4ad;border-radius:4px;padding:.5rem;font-size:.9rem}
</style></head>
<body><main>
<h1>{{ title }}</h1>
{% if message %}<p class="message" role="alert">{{ message }}</p>{% endif %}
{% if signing_out %}
<form method="post" action="{{ url_for('rosc_logout') }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<p>Sign out of the ROSC outcomes dashboard?</p>
<button type="submit">Sign out</button>
</form>
{% elif sign_in %}
{% if oidc_label %}
<a class="button" id="sign-in-oidc" href="{{ url_for('rosc_login_oidc', next=next) }}">
Sign in with {{ oidc_label }}</a>
{% endif %}
{% if password_form %}
{% if oidc_label %}<p class="or">or with a dashboard account</p>{% endif %}
<form method="post" action="{{ url_for('rosc_login', next=next) }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" required
{%- if not oidc_label %} autofocus{% endif %}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{% endif %}
{% else %}
<p><a href="{{ url_for('rosc_login') }}">Back to sign-in</a></p>
{% endif %}
</main></body></html>
"""


def sign_in_page(title: str, *, message: str = "", status: int = 200, **context: Any) -> Response:
    """The page, never cached."""
    html = render_template_string(_PAGE, title=title, message=message, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
