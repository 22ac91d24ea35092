"""A programme's trend at the finest grain at which most points can be shown, and saying which (issue 12)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.pages import programme as page
from dashboard.pages.common import SPC_COLUMNS
from dashboard.periods import financial_quarter
from dashboard.queries import DashboardData


def series(periods: list[str], shown: list[bool], suppressed: list[bool] | None = None) -> pd.DataFrame:
    suppressed = suppressed or [False] * len(periods)
    values = [0.5 if s and not h else np.nan for s, h in zip(shown, suppressed, strict=True)]
    frame = pd.DataFrame(
        {
            "period": periods,
            "numerator": [10 if v == v else 0 for v in values],
            "denominator": [20 if v == v else 0 for v in values],
            "value": values,
            "suppressed": suppressed,
        }
    )
    for column in SPC_COLUMNS:
        frame[column] = np.nan
    return frame


MONTHS = [
    f"{y}-{m:02d}" for y, m in [(2024, m) for m in range(4, 13)] + [(2025, m) for m in range(1, 13)]
] + [
    "2026-01",
    "2026-02",
    "2026-03",
]
QUARTERS = [f"{y}-{(y + 1) % 100:02d} Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]


def test_shown_share_leaves_out_points_not_yet_followed_up() -> None:
    frame = series(MONTHS[-4:], [True, False, False, False], [False, True, False, False])
    # as_of 31 Mar 2026 with 84 days of follow-up: Dec 2025 (ends 31 Dec, +84 = 24 Mar) is eligible,
    # Jan-Mar 2026 are not; Dec is shown.
    assert page.shown_share(frame, date(2026, 3, 31), 84) == (1, 1)
    assert page.shown_share(frame, date(2026, 3, 31), 0) == (1, 4)  # the suppressed month counts as not shown
    quarters = series(QUARTERS[-2:], [True, True])
    assert page.shown_share(quarters, date(2026, 3, 31), 0) == (2, 2)
    assert financial_quarter(2025, 4).end == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("months_shown", "quarters_shown", "grain", "words"),
    [
        (12, 0, "month", "By month: 12 of 24 months show a value."),
        (
            11,
            4,
            "quarter",
            "only 11 of 24 months show a value, too few for a monthly chart; 4 of 8 quarters do (most",
        ),
        (6, 3, "quarter", "3 of 8 quarters do (a larger share than by month)"),
        (6, 2, "quarter", "2 of 8 quarters do (as large a share as by month)"),
        (9, 2, "month", "By month: 9 of 24 months show a value, and quarters do no better (2 of 8)"),
    ],
)
def test_the_finest_grain_where_most_points_show(
    data: DashboardData, state, monkeypatch: pytest.MonkeyPatch, months_shown, quarters_shown, grain, words
) -> None:
    monthly = series(MONTHS, [i < months_shown for i in range(24)])
    quarterly = series(QUARTERS, [i < quarters_shown for i in range(8)])
    monkeypatch.setattr(page, "spc_table", lambda *a, **k: monthly.copy())
    monkeypatch.setattr(data, "quarterly", lambda *a, **k: quarterly.drop(columns=SPC_COLUMNS))
    monkeypatch.setattr(data, "as_of", lambda: date(2026, 12, 31))  # every point followed up
    table = page.choose_grain(data, "successful_completion", state, "PG01")
    assert set(table["grain"]) == {grain}
    assert words in table["grain_note"].iloc[0]
    assert len(table) == (24 if grain == "month" else 8)


def test_a_small_programme_is_drawn_by_quarter_from_each_quarters_own_view(
    data: DashboardData, state
) -> None:
    """On the sample warehouse: a programme whose months mostly show nothing is drawn by quarter; each
    quarter's numbers are the headline of that quarter as its own view, and the chart says which grain."""
    found = None
    for option in data.filter_options()["programme"]:
        table = page.trend_table(
            data,
            state,
            {ids.PROGRAMME_ID: option["value"], ids.PROGRAMME_TREND_METRIC: "successful_completion"},
        )
        if table["grain"].iloc[0] == "quarter":
            found = option["value"], table
            break
    assert found is not None, "no programme of the sample needs quarters"
    programme, table = found
    for row in table.itertuples():
        year, quarter = int(row.period[:4]), int(row.period[-1])
        q = financial_quarter(year, quarter)
        alone = data.metric("successful_completion", q.start, q.end, (), {"programme": [programme]}).iloc[0]
        assert bool(alone["suppressed"]) == bool(row.suppressed)
        if not row.suppressed:
            assert (alone["numerator"], alone["denominator"]) == (row.numerator, row.denominator)
    figure = page.trend_figure(
        data, table, state, {ids.PROGRAMME_ID: programme, ids.PROGRAMME_TREND_METRIC: "successful_completion"}
    )
    assert figure.layout.title.text.startswith("By financial-year quarter")
    drawn = next(trace for trace in figure.data if trace.name == "quarterly value")
    assert list(drawn.x) == list(table["period"]) and all(" Q" in x for x in drawn.x)
