"""The ROSC outcomes dashboard: a multi-page Plotly Dash app over the metric layer.

`dashboard.app.create_app(db_path)` builds the app; `dashboard.wsgi.server` is the WSGI entry point
for gunicorn. Its figures come from `charts`, the figure builders it shares with the board pack.
"""
