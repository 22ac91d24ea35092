"""Every Dash component id in the app, in one place.

Pages and callbacks import their ids from here, so a renamed component cannot leave a callback
pointing at nothing. Ids that repeat once per chart or per tile are pattern-matching dictionaries
built by the small functions at the end.
"""

from __future__ import annotations

# The shell: URL, filter state, navigation, page slot, global messages.
URL = "url"
FILTER_STATE = "filter-state"  # dcc.Store: the filter values only, never records
PAGE = "page-content"
NAV = "nav"
AS_AT = "data-as-at"
ACTIVE_FILTERS = "active-filters"
GLOBAL_ERROR = "global-error"
RESET_FILTERS = "reset-filters"
BOARD_PACK = "board-pack"  # the Board pack (PDF) link of the view on screen
FILTER_NOTICE = "filter-notice"  # what of a link or the controls was changed or left out, and why

# Global filters (values mirror the query string; see dashboard.filters). The period is one of the
# periods the dashboard answers (dashboard.periods.DataSpan.choices: "fy2025", "fy2025q3", "m2025-06",
# "rolling12"); each dimension is one value or all.
PERIOD = "filter-period"  # the period's group of controls
PERIOD_PRESET = "filter-period-preset"
AREA = "filter-area"
PROVIDER = "filter-provider"
PROGRAMME = "filter-programme"
SETTING = "filter-setting"
SUBSTANCE_GROUP = "filter-substance-group"
SEX = "filter-sex"
AGE_BAND = "filter-age-band"

# Page controls.
OVERVIEW_TILES = "overview-tiles"
RETENTION_KM_BY = "retention-km-by"
RELAPSE_KM_BY = "relapse-km-by"
RELAPSE_TESTS_KM_BY = "relapse-tests-km-by"
PROGRAMME_TREND_METRIC = "programme-trend-metric"
PROGRAMMES_INDICATOR = "programmes-indicator"
PROGRAMMES_TABLE = "programmes-table"
PROGRAMMES_SORT = "programmes-sort"
PROGRAMMES_COMPARISON = "programmes-comparison"
PROGRAMME_ID = "programme-id"  # dcc.Store on the per-programme page: the programme shown
DATA_LOADS = "data-loads"
DATA_LATEST_LOAD = "data-latest-load"
DATA_REJECTED = "data-rejected"
DATA_COMPLETENESS = "data-completeness"
DATA_DEFINITIONS = "data-definitions"

# Pattern-matching types: one of each per chart card.
CHART_GRAPH = "chart-graph"
CHART_MESSAGE = "chart-message"
CHART_SPEC = "chart-spec"  # dcc.Store: which chart and its parameters (never records)
CHART_CSV = "chart-csv"
CHART_PNG = "chart-png"
CHART_SVG = "chart-svg"
CHART_SIDECAR = "chart-sidecar"  # dcc.Download of the CSV's metadata sidecar
CHART_DOWNLOAD = "chart-download"
TILE = "tile"


def chart(kind: str, name: str) -> dict[str, str]:
    """Pattern-matching id of one part (`kind`) of the chart card `name`."""
    return {"type": kind, "chart": name}


def tile(metric: str) -> dict[str, str]:
    """Pattern-matching id of an overview tile."""
    return {"type": TILE, "metric": metric}
