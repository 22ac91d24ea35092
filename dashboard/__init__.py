"""The ROSC outcomes dashboard: a multi-page Plotly Dash app over the metric layer.

`dashboard.app.create_app(db_path)` builds the app; `dashboard.wsgi.server` is the WSGI entry point
for gunicorn. Figure builders (`dashboard.figures`) are plain functions with no Dash import.
"""
