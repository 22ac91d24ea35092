"""Cross-view suppression consistency (issue 12): no cell hidden on one page is shown, for the same period
and filters, on another.

A cell is one metric for one period and one set of filters. The same cell reaches the reader in several
places: a programme's row of the Programmes page's funnel is the headline tile of the view filtered to
that programme; a breakdown chart's bar for a sex, a setting, an age band or a substance group is the
headline of the view filtered to it; a month of an SPC chart is the headline of that month; the exit
mix's "successful" part of a programme is successful_completion's numerator for that programme. Every
place must hide it, or every place show the same numbers. The views are every page's default view (the
latest complete financial year, no filters) and a fixed-seed sample of filter states of the kind the
dashboard answers (one value or all per filter).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from dashboard.filters import FilterState
from dashboard.pages.overview import tile_period
from dashboard.periods import DataSpan, month_end
from dashboard.queries import DashboardData

#: The breakdowns the pages draw (Programmes page and the breakdown charts).
BREAKDOWNS = ("programme", "setting", "substance_group", "sex", "age_band")
FILTERS = ("programme", "provider", "area", "setting", "substance_group", "sex", "age_band")
SHOWN_ROWS_CHECKED = 3


def _metrics(data: DashboardData) -> list[str]:
    return [
        name
        for name, info in data.metrics().items()
        if info.kind in ("proportion", "count", "continuous") and name != "exit_reason_mix"
    ]


def _states(data: DashboardData, default: FilterState) -> list[FilterState]:
    """The default view and a fixed-seed sample of one-value filter states."""
    rng = random.Random(20261201)
    options = data.filter_options()
    states = [default]
    while len(states) < 5:
        dims = rng.sample([d for d in FILTERS if options.get(d)], rng.choice([1, 2]))
        chosen = {d: (rng.choice(options[d])["value"],) for d in dims}
        states.append(replace(default, **chosen))
    return states


def _cell(table: pd.DataFrame) -> tuple[bool, object, object]:
    (row,) = table.itertuples()
    return bool(row.suppressed), _number(row.numerator), _number(getattr(row, "denominator", None))


def _number(value: object) -> object:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _rows_to_check(table: pd.DataFrame) -> pd.DataFrame:
    hidden = table[table["suppressed"]]
    shown = table[~table["suppressed"]].head(SHOWN_ROWS_CHECKED)
    return pd.concat([hidden, shown])


def _assert_same(where: str, hidden: bool, numerator: object, denominator: object, cell: tuple) -> None:
    assert hidden == cell[0], f"{where}: hidden={hidden} here, hidden={cell[0]} as the headline of its view"
    if not hidden:
        assert (numerator, denominator) == (cell[1], cell[2]), where


@pytest.fixture(scope="module")
def views(data: DashboardData, state: FilterState) -> list[FilterState]:
    return _states(data, state)


def test_a_breakdown_row_is_hidden_exactly_where_its_own_view_hides_it(
    data: DashboardData, views: list[FilterState]
) -> None:
    checked = hidden_seen = 0
    span = DataSpan.of(*data.dates())
    for chosen in views:
        for name in _metrics(data):
            view, _ = tile_period(name, chosen, span)  # as the pages move a metric needing follow-up
            if view is None:
                continue
            for dim in BREAKDOWNS:
                if getattr(view, dim):
                    continue  # already filtered to one value: the breakdown is that one row
                table = data.metric_for(name, view, by=[dim])
                for row in _rows_to_check(table).itertuples():
                    alone = data.metric_for(name, replace(view, **{dim: (str(getattr(row, dim)),)}))
                    where = f"{name} by {dim}={getattr(row, dim)} in {view}"
                    denominator = _number(getattr(row, "denominator", None))
                    _assert_same(
                        where, bool(row.suppressed), _number(row.numerator), denominator, _cell(alone)
                    )
                    checked += 1
                    hidden_seen += bool(row.suppressed)
    # The sample must hold hidden rows, or the test proves nothing.
    assert checked > 300 and hidden_seen > 20, (checked, hidden_seen)


def test_a_month_of_a_trend_is_hidden_exactly_where_that_months_headline_is(
    data: DashboardData, views: list[FilterState]
) -> None:
    checked = hidden_seen = 0
    first = data.dates()[0]
    for view in views[:3]:
        for name in _metrics(data):
            series = data.monthly(name, view, months=12)
            if series.empty:
                continue
            for row in _rows_to_check(series).itertuples():
                start = date.fromisoformat(str(row.period) + "-01")
                if start < date(first.year, first.month, 1):
                    continue
                month = replace(view, start=start, end=month_end(start))
                where = f"{name} in {row.period} of {view}"
                denominator = _number(getattr(row, "denominator", None))
                _assert_same(
                    where,
                    bool(row.suppressed),
                    _number(row.numerator),
                    denominator,
                    _cell(data.metric_for(name, month)),
                )
                checked += 1
                hidden_seen += bool(row.suppressed)
    assert checked > 100 and hidden_seen > 10, (checked, hidden_seen)


def test_the_exit_mix_hides_a_programmes_successful_discharges_exactly_where_completion_does(
    data: DashboardData, views: list[FilterState]
) -> None:
    hidden_seen = 0
    for view in views:
        if view.programme:
            continue
        mix = data.exit_mix(view)
        successful = mix[mix["outcome_group"] == "successful"].set_index("unit")
        completion = data.metric_for("successful_completion", view, by=["programme"]).set_index("programme")
        assert set(successful.index) <= set(completion.index)
        for programme, part in successful.iterrows():
            row = completion.loc[programme]
            assert bool(part["suppressed"]) == bool(row["suppressed"]), (programme, view)
            if not part["suppressed"]:
                assert (part["count"], part["total"]) == (row["numerator"], row["denominator"]), programme
            hidden_seen += bool(part["suppressed"])
    assert hidden_seen >= 3, hidden_seen
