"""The dashboard's pages, one module each: ``PATH``, ``NAME``, ``CHARTS``, ``layout(data, **kw)`` and
``register(app, data)``. `NAV_PAGES` is the order of the navigation bar."""

from dashboard.pages import data, overview, programme, programmes, relapse, retention, support_mix

NAV_PAGES = (overview, retention, relapse, support_mix, programmes, data)
ALL_PAGES = (*NAV_PAGES, programme)

__all__ = ["ALL_PAGES", "NAV_PAGES"]
