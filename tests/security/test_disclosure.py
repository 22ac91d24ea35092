"""Disclosure control attacked from outside: every filter combination on a small warehouse.

METRICS.md, "Disclosure control": no count of 1–4 (numerator, denominator or denominator − numerator)
may be read from, or worked out of, what the dashboard shows and exports. The attacker here can set any
combination of the dashboard's filters and reads every number the app shows for it.

What the attacker enumerates (warehouse of ``PEOPLE`` people, so small counts are common):

* Periods: the two presets a user reaches first, the default twelve whole months and its last quarter
  (tiles that need follow-up move their period back exactly as the Overview does, `tile_period`).
* Filters: every combination of "all" or one value of each of area, provider, programme, setting,
  substance_group, sex and age_band (the dropdown options). The only pruning is provable equivalence:
  area, provider and setting are attributes of the programme (area is the provider's area), so a
  combination of those four filters selects exactly a set of programmes; combinations selecting the
  same set are one view (its representative is the combination with fewest filters), and those
  selecting none show only zeros. Every one of the 10,440 structural combinations is reduced this way,
  so nothing is sampled for the headline sweep: every view × 11 metrics × 2 periods.
* What is shown per view: the headline of every metric with counts on screen or in a CSV (Overview
  tiles and the programme page's "whole system"/programme rows: the union of HEADLINE_METRICS and
  FUNNEL_METRICS); the one-way breakdowns (funnel and support mix by programme, abstinence by substance
  group, peer contact share and peer reach by setting) and the 24-month series of the episode- and
  contact-based SPC charts. Tables and series are checked on every view with at most one filter plus
  a fixed-seed sample of ``SAMPLED_VIEWS`` further views and all their one-step-wider views (a per-view
  secondary suppression for 10⁴ views × 11 tables would not fit the time budget).

How the numbers are obtained: each view's unsuppressed counts come from the metric layer's own query
(`compute_metric(..., by=<the view's filter dimensions>, suppress=False)`, whose cells are by
definition the metric with those filters, CONVENTIONS), once for all regimes (`TrueCounts`), and are
then turned into what the app shows by `disclosure_regimes.shown_table` (the metric layer's own
suppression rule of each regime, then rounding or perturbation, as `finish_metric` does for the dashboard).
`test_sweep_is_what_the_dashboard_shows` proves that emulation equal to `DashboardData` on a sample of
views (including non-representative filter combinations) and `test_exports_through_the_callback_endpoint`
to the CSV the browser downloads, for the regime the app is in.

What a shown number tells the attacker depends on the disclosure regime, and the attacker is the same
for each (`tests/security/disclosure_regimes.py`): ``exact`` (suppression only: the control),
``rounding`` (main before issue 16: every shown count rounded to the nearest 5 after suppression was
decided on the true counts; rates and intervals come from the rounded counts, so they tell nothing
more) and ``perturbation`` (issue 16: every count perturbed by the cell-key table, whole months only).
Rounded, a shown R ≥ 10 means R − 2 … R + 2, a shown 5 means 5 … 7 and a shown 0 means 0 (1–4 would be
suppressed), and a shown row's complement is not 1–4 either; perturbed, a shown s ≥ 6 means s − 3 …
s + 3, a 5 means 1 … 8 and a 0 means 0 … 7, and nothing is known of the complement
(`Regime.count_range`, `Regime.shown_ranges`). The app's output is emulated through one function,
`disclosure_regimes.shown_table`, from the metric layer's unsuppressed counts (and, for perturbation,
their key sums). Every derivation below is an equation between true counts; the attacker solves it
over these ranges (interval arithmetic, exact for one equation with independent unknowns; linear
programming where hidden rows must be non-empty) and a count is "worked out" when its range is one
value of 1–4. Each derivation also asserts that the truth lies in its range, so the attacker is never
wrong, only sometimes unsure. Against exact counts the same checks find thousands of leaks
(`test_against_exact_counts_the_attacker_finds_leaks`); against rounding and perturbation they must
find none (the perturbation regime's tests are xfail, strict, until the metric layer perturbs).

Checks:
1. Read: no shown numerator, denominator or complement is 1–4.
2. Within a table: with the table's total shown (the headline of the same view), no hidden cell of an
   episode/contact/pair-based table is pinned (its range from the line equation, `hidden_ranges`),
   also when the attacker uses that a suppressed row is never empty. People-based tables are not
   additive (a person counts in every programme they were in), so they give no equation.
3. Across views (differencing): (a) headlines of two views that differ by one filter, both shown,
   pin their difference to 1–4; (b) the same table cell in a view and its one-filter-wider view does, or a
   cell hidden by secondary suppression is shown as the headline of the view with that cell's filter
   added (the programme page, the setting/substance filter), which pins the primary cell it protected;
   (c) the months of an SPC series that make up a period, with that period's headline shown, pin a
   hidden month; (d) the headlines of each value of one more filter, with the view's own headline,
   pin a hidden one.
Out of scope here: minutes (peer_minutes_share shows minutes, not people). The four techniques of
issue 16 (whole-number constraints on means, linear programming over overlapping periods, emptiness as
a signal, integer models over Kaplan–Meier steps) are `test_disclosure_techniques.py`, on the
3,000-person sample. `rosc metric` and notebooks need the warehouse file itself, i.e. record-level
access, so they are not a disclosure boundary.
"""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from dashboard import ids
from dashboard.callback_requests import find_callback
from dashboard.filters import FILTER_DIMENSIONS, FilterState, default_state
from dashboard.pages.overview import HEADLINE_METRICS, tile_period
from dashboard.pages.programmes import FUNNEL_METRICS
from dashboard.periods import DataSpan, Month, month_end
from dashboard.queries import DashboardData, month_range
from pipelines.metrics import compute_metric
from pipelines.metrics.registry import get_metric
from tests.security.disclosure_regimes import (
    KEY_COLUMNS,
    REGIMES,
    SMALL,
    Regime,
    require_perturbing,
    shown_table,
    small,
)

PEOPLE = 200
SEED = 7
SAMPLED_VIEWS = 40

#: The regimes under which the attacker must find nothing: main's today, and issue 16's as soon as the
#: metric layer perturbs. The control, "exact", must find leaks.
SAFE_REGIMES = ["perturbation"]

STRUCTURAL = ("area", "provider", "programme", "setting")
DEMOGRAPHIC = ("substance_group", "sex", "age_band")
assert STRUCTURAL + DEMOGRAPHIC == FILTER_DIMENSIONS

SHOWN_METRICS = tuple(dict.fromkeys([*HEADLINE_METRICS, *FUNNEL_METRICS]))
#: One-way breakdowns on screen: (metric, dimension).
TABLES = (
    *[(m, "programme") for m in FUNNEL_METRICS],
    ("abstinence_at_review", "substance_group"),
    ("peer_contact_share", "setting"),
    ("peer_reach", "setting"),
)
#: SPC series of episode/contact/pair metrics (tiles, Retention, Support mix).
SERIES_METRICS = tuple(
    m
    for m in dict.fromkeys(
        [*HEADLINE_METRICS, "retention_12wk", "early_unplanned_exit", "peer_contact_share"]
    )
    if get_metric(m).grain != "person"
)

View = tuple  # one value or None ("all") per FILTER_DIMENSIONS


# -- what a shown count says about the true count (the regime's part is in disclosure_regimes) --------


def nested_difference(
    wide: dict[str, tuple[np.ndarray, np.ndarray]], narrow: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Range of wide − narrow for each quantity. Not clipped at 0: for people-based metrics a person's
    "latest discharge" can differ between the views, so the difference can be negative (and clipping
    could only ever pin a 0, which is not disclosive)."""
    return {name: (wide[name][0] - narrow[name][1], wide[name][1] - narrow[name][0]) for name in wide}


def pinned_small(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Ranges that leave exactly one value, of 1–4."""
    return (lo == hi) & small(lo)


# -- the warehouse and the filter space --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("disclosure-warehouse")
    generate_extract(root / "extract", people=PEOPLE, seed=SEED)
    load_extracts([root / "extract"], root / "rosc.duckdb", quiet=True)
    return root / "rosc.duckdb"


@dataclass
class FilterSpace:
    """The filter combinations up to provable equivalence, and the one-filter-wider relation."""

    options: dict[str, list[str]]
    programme_attrs: pd.DataFrame  # programme → area, provider, setting
    key_of: dict[tuple, frozenset] = field(default_factory=dict)  # structural combination → programmes
    rep_of: dict[frozenset, tuple] = field(default_factory=dict)  # programmes → fewest-filter combination
    struct_pairs: set[tuple[tuple, tuple, str]] = field(default_factory=set)  # (wider, narrower, dim)

    @classmethod
    def build(cls, data: DashboardData) -> FilterSpace:
        options = {d: [o["value"] for o in opts] for d, opts in data.filter_options().items()}
        attrs = data.warehouse.sql(
            "SELECT programme_id AS programme, area_code AS area, provider_id AS provider, setting "
            "FROM stg_programmes"
        ).set_index("programme")
        space = cls(options, attrs)
        for combo in itertools.product(*[[None, *options[d]] for d in STRUCTURAL]):
            selected = attrs.index.to_numpy()
            keep = np.ones(len(attrs), dtype=bool)
            for d, v in zip(STRUCTURAL, combo, strict=True):
                if v is not None:
                    keep &= (selected == v) if d == "programme" else (attrs[d].to_numpy() == v)
            key = frozenset(selected[keep].tolist())
            space.key_of[combo] = key
            if key and (key not in space.rep_of or _width(combo) < _width(space.rep_of[key])):
                space.rep_of[key] = combo
        for combo, key in space.key_of.items():
            if not key:
                continue
            for i, d in enumerate(STRUCTURAL):
                if combo[i] is None:
                    continue
                wider = space.key_of[(*combo[:i], None, *combo[i + 1 :])]
                if wider != key:
                    space.struct_pairs.add((space.rep_of[wider], space.rep_of[key], d))
        return space

    def canonical(self, view: Iterable) -> View | None:
        """The representative of a view, or None when its filters select nothing."""
        view = tuple(view)
        key = self.key_of[view[:4]]
        return (*self.rep_of[key], *view[4:]) if key else None

    def with_filter(self, view: View, dim: str, value: str) -> View | None:
        """The view with ``dim`` set to ``value`` (None when that contradicts the view)."""
        i = FILTER_DIMENSIONS.index(dim)
        if view[i] is not None and view[i] != value:
            return None
        return self.canonical((*view[:i], value, *view[i + 1 :]))

    def views(self) -> list[View]:
        demo = itertools.product(*[[None, *self.options[d]] for d in DEMOGRAPHIC])
        return [(*s, *t) for t in demo for s in self.rep_of.values()]

    def headline_pairs(self) -> list[tuple[View, View, str]]:
        """(wider, narrower, dimension) for every pair of views that differ in exactly one filter."""
        pairs = []
        demo_combos = list(itertools.product(*[[None, *self.options[d]] for d in DEMOGRAPHIC]))
        for wide, narrow, d in self.struct_pairs:
            pairs += [((*wide, *t), (*narrow, *t), d) for t in demo_combos]
        for s in self.rep_of.values():
            for t in demo_combos:
                for i, d in enumerate(DEMOGRAPHIC):
                    if t[i] is not None:
                        pairs.append(((*s, *t[:i], None, *t[i + 1 :]), (*s, *t), d))
        return pairs

    def wider(self, view: View) -> list[tuple[View, str]]:
        """The views one filter wider than ``view`` (over every combination equivalent to it)."""
        out = {}
        for wide, narrow, d in self.struct_pairs:
            if narrow == view[:4]:
                out[(*wide, *view[4:])] = d
        for i, d in enumerate(DEMOGRAPHIC):
            if view[4 + i] is not None:
                out[(*view[:4], *view[4 : 4 + i], None, *view[5 + i :])] = d
        return list(out.items())


def _width(combo: tuple) -> tuple[int, str]:
    return (sum(v is not None for v in combo), repr(combo))


def state_of(view: View, start: date, end: date) -> FilterState:
    return FilterState(start, end, **{d: (v,) for d, v in zip(FILTER_DIMENSIONS, view, strict=True) if v})


# -- what the app shows, for every view --------------------------------------------------------------


def count_pair(metric: str) -> tuple[list[str], list[tuple[str, str]]]:
    if get_metric(metric).statistic == "count":
        return ["numerator"], []
    return ["numerator", "denominator"], [("numerator", "denominator")]


def _key_columns(table: pd.DataFrame) -> list[str]:
    """The key-sum columns an unsuppressed metric result carries (none before the metric layer
    perturbs)."""
    return [c for c in KEY_COLUMNS[:2] if c in table]


@dataclass
class Shown:
    """One metric and period over every view: its true counts and what the app shows under a regime
    (shown counts are missing where the view is suppressed)."""

    index: dict[View, int]
    numerator: np.ndarray
    denominator: np.ndarray
    shown_numerator: np.ndarray
    shown_denominator: np.ndarray
    suppressed_rows: np.ndarray
    is_count: bool

    def cell(self, view: View | None) -> tuple[float, float]:
        """The true (numerator, denominator); (0, 0) for a view with no records or none at all."""
        i = self.index.get(view) if view is not None else None
        return (0.0, 0.0) if i is None else (float(self.numerator[i]), float(self.denominator[i]))

    def shown_cell(self, view: View | None) -> tuple[float, float]:
        """What the app shows as (numerator, denominator): zero stays zero under every regime."""
        i = self.index.get(view) if view is not None else None
        if i is None:
            return 0.0, 0.0
        num = float(self.shown_numerator[i])
        return num, num if self.is_count else float(self.shown_denominator[i])

    def hidden(self, view: View | None) -> bool:
        i = self.index.get(view) if view is not None else None
        return i is not None and bool(self.suppressed_rows[i])

    def items(self) -> Iterable[tuple[View, bool]]:
        return ((view, bool(self.suppressed_rows[i])) for view, i in self.index.items())

    def arrays(self, views: list[View]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True (numerator, denominator, suppressed) aligned with ``views`` (0 where a view is empty)."""
        rows = np.array([self.index.get(v, -1) for v in views])
        present = rows >= 0
        num = np.where(present, self.numerator[rows], 0.0)
        den = num.copy() if self.is_count else np.where(present, self.denominator[rows], 0.0)
        return num, den, np.where(present, self.suppressed_rows[rows], False)

    def shown_arrays(self, views: list[View]) -> tuple[np.ndarray, np.ndarray]:
        """Shown (numerator, denominator) aligned with ``views`` (0 where a view is empty)."""
        rows = np.array([self.index.get(v, -1) for v in views])
        present = rows >= 0
        num = np.where(present, self.shown_numerator[rows], 0.0)
        den = num.copy() if self.is_count else np.where(present, self.shown_denominator[rows], 0.0)
        return num, den


@dataclass
class ViewCounts:
    """The true counts of every view of one metric and period (and their key sums when the metric layer
    gives them): what every regime starts from."""

    frame: pd.DataFrame  # numerator, denominator[, numerator_key, denominator_key], one row per view
    index: dict[View, int]

    def __post_init__(self) -> None:
        self._values = self.frame.to_numpy(dtype=float)
        self._columns = list(self.frame.columns)

    def cell_row(self, view: View | None) -> dict[str, float]:
        i = self.index.get(view) if view is not None else None
        if i is None:
            return dict.fromkeys(self._columns, 0.0)
        return dict(zip(self._columns, self._values[i].tolist(), strict=True))


class TrueCounts:
    """Collects every view's true counts from the metric layer, once for all regimes."""

    def __init__(self, data: DashboardData, space: FilterSpace) -> None:
        self.data, self.space = data, space
        self.as_of = data.as_of()
        default = default_state(self.as_of)
        quarter_start = Month.of(default.end).plus(-2).first_day  # the default's last three months
        self.periods = {
            "12 months": (default.start, default.end),
            "last quarter": (quarter_start, default.end),
        }
        self._views: dict[tuple[str, str], ViewCounts] = {}
        self._leaves: dict[tuple, dict[str, np.ndarray]] = {}

    def period(self, metric: str, preset: str) -> tuple[date, date]:
        start, end = self.periods[preset]
        shifted, note = tile_period(metric, FilterState(start, end), DataSpan.of(*self.data.dates()))
        assert shifted is not None, note
        return shifted.start, shifted.end

    def views(self, metric: str, preset: str) -> ViewCounts:
        if (metric, preset) not in self._views:
            self._views[(metric, preset)] = self._sweep(metric, *self.period(metric, preset))
        return self._views[(metric, preset)]

    def _sweep(self, metric: str, start: date, end: date) -> ViewCounts:
        """Every view's counts: one query per (structural representative dims × demographic dims)."""
        grain = get_metric(metric).grain
        struct_dims = sorted(
            {tuple(d for d, v in zip(STRUCTURAL, r, strict=True) if v) for r in self.space.rep_of.values()}
        )
        leaf = None
        if grain != "person":  # units belong to one programme × sex × age band × substance: additive
            leaf = compute_metric(
                self.data.warehouse,
                metric,
                start,
                end,
                by=["programme", *DEMOGRAPHIC],
                suppress=False,
                keys=True,
            )
            leaf.attrs = {}  # attrs are deep-copied by every pandas operation: drop them
            leaf = leaf.join(self.space.programme_attrs, on="programme")
        columns_of: list[str] = []
        rows: dict[View, np.ndarray] = {}
        for s_dims in struct_dims:
            for k in range(len(DEMOGRAPHIC) + 1):
                for t_dims in itertools.combinations(DEMOGRAPHIC, k):
                    by = [d for d in FILTER_DIMENSIONS if d in s_dims or d in t_dims]
                    if leaf is not None:
                        summed = ["numerator", "denominator", *_key_columns(leaf)]
                        table = (
                            leaf.groupby(by, dropna=False)[summed].sum().reset_index()
                            if by
                            else leaf[summed].sum().to_frame().T
                        )
                    else:
                        table = compute_metric(
                            self.data.warehouse, metric, start, end, by=by or None, suppress=False, keys=True
                        )
                        table.attrs = {}
                    columns_of = ["numerator", "denominator", *_key_columns(table)]
                    columns = [
                        table[d].to_numpy(object) if d in by else [None] * len(table)
                        for d in FILTER_DIMENSIONS
                    ]
                    values = np.column_stack(
                        [table[c].to_numpy(dtype=float, na_value=np.nan) for c in columns_of]
                    )
                    for *labels, row in zip(*columns, values, strict=True):
                        view = self.space.canonical(labels)
                        if view is None:
                            continue
                        if view in rows:  # reached through two filter forms: they must agree
                            assert np.array_equal(rows[view][:2], row[:2], equal_nan=True), (metric, view)
                        rows[view] = row
        views = list(rows)
        frame = pd.DataFrame([rows[v] for v in views], columns=columns_of)
        return ViewCounts(frame, {v: i for i, v in enumerate(views)})

    def series_leaf(self, metric: str) -> dict[str, np.ndarray]:
        """Unsuppressed counts by programme × demographics × month over the SPC window, as arrays."""
        key = ("series", metric)
        if key not in self._leaves:
            end = month_end(self.periods["12 months"][1])
            months = month_range(end, 24)
            start = date.fromisoformat(months[0] + "-01")
            leaf = compute_metric(
                self.data.warehouse,
                metric,
                start,
                end,
                by=["programme", *DEMOGRAPHIC, "month"],
                suppress=False,
                keys=True,
            )
            arrays = {d: leaf[d].to_numpy(object) for d in ["programme", *DEMOGRAPHIC]}
            arrays["month"] = np.array([months.index(str(m)) for m in leaf["month"]], dtype=int)
            for column in ["numerator", "denominator", *_key_columns(leaf)]:
                arrays[column] = leaf[column].to_numpy(dtype=float)
            arrays["labels"] = np.array(months, dtype=object)
            self._leaves[key] = arrays
        return self._leaves[key]


class Attacker:
    """What the app shows for every view under one regime (from the shared true counts); tables and
    series on request."""

    def __init__(self, truth: TrueCounts, regime: Regime) -> None:
        self.truth, self.regime = truth, regime
        self.space = truth.space
        self.periods = truth.periods
        self._shown: dict[tuple[str, str], Shown] = {}
        self._tables: dict[tuple, pd.DataFrame] = {}

    def period(self, metric: str, preset: str) -> tuple[date, date]:
        return self.truth.period(metric, preset)

    def shown(self, metric: str, preset: str) -> Shown:
        if (metric, preset) not in self._shown:
            counts = self.truth.views(metric, preset)
            table = shown_table(metric, counts.frame, [], self.regime)  # every view a headline of its own
            self._shown[(metric, preset)] = Shown(
                counts.index,
                counts.frame["numerator"].to_numpy(dtype=float),
                counts.frame["denominator"].to_numpy(dtype=float),
                table["numerator"].to_numpy(dtype=float),
                table["denominator"].to_numpy(dtype=float),
                table["suppressed"].to_numpy(dtype=bool),
                get_metric(metric).statistic == "count",
            )
        return self._shown[(metric, preset)]

    def table(self, metric: str, dim: str, view: View, preset: str = "12 months") -> pd.DataFrame:
        """The breakdown of ``metric`` by ``dim`` as `DashboardData.metric_for(by=[dim])` shows it: the
        true ``numerator``/``denominator`` of each row beside the ``shown_`` ones and ``suppressed``."""
        key = (metric, dim, view, preset)
        if key not in self._tables:
            self._tables[key] = self._table(metric, dim, view, preset)
        return self._tables[key]

    def _table(self, metric: str, dim: str, view: View, preset: str) -> pd.DataFrame:
        counts = self.truth.views(metric, preset)
        labels, cells, rows = [], [], []
        # Every category the view's filters allow (as the metric layer lists them; shown_table picks the
        # rows shown), not those that contradict it, such as a programme of another provider.
        for value in sorted(self.space.options[dim]):
            cell = self.space.with_filter(view, dim, value)
            if cell is None:
                continue
            labels.append(value)
            cells.append(cell)
            rows.append(list(counts.cell_row(cell).values()))
        values = np.array(rows, dtype=float).reshape(len(rows), len(counts.frame.columns))
        columns = {c: values[:, i] for i, c in enumerate(counts.frame.columns)}
        return self._finish(metric, {dim: pd.array(labels, dtype=object), **columns}, dim, cells)

    def _finish(
        self, metric: str, columns: dict[str, object], dim: str, cells: list[View | None] | None = None
    ) -> pd.DataFrame:
        """The rows of the table of true counts by ``dim`` (``columns``) that the app shows, with what it
        shows beside them."""
        table = pd.DataFrame(
            {**columns, **({} if cells is None else {"view": pd.array(cells, dtype=object)})}
        )
        shown = shown_table(metric, table, [dim], self.regime)
        table = table[table[dim].isin(shown[dim])].reset_index(drop=True)  # shown rows keep their order
        shown_num = shown["numerator"].to_numpy(dtype=float)
        is_count = get_metric(metric).statistic == "count"
        return table.assign(
            shown_numerator=shown_num,
            shown_denominator=shown_num if is_count else shown["denominator"].to_numpy(dtype=float),
            suppressed=shown["suppressed"].to_numpy(dtype=bool),
        )

    def series(self, metric: str, view: View) -> pd.DataFrame:
        """The 24-month series of an episode/contact metric as `DashboardData.monthly` shows it."""
        key = (metric, "month", view, "series")
        if key not in self._tables:
            self._tables[key] = self._series(metric, view)
        return self._tables[key]

    def _series(self, metric: str, view: View) -> pd.DataFrame:
        leaf = self.truth.series_leaf(metric)
        keep = np.isin(leaf["programme"], list(self.space.key_of[view[:4]]))
        for d, v in zip(DEMOGRAPHIC, view[4:], strict=True):
            if v is not None:
                keep &= leaf[d] == v
        size = len(leaf["labels"])
        summed = [c for c in ("numerator", "denominator", *KEY_COLUMNS[:2]) if c in leaf]
        sums = {c: np.bincount(leaf["month"][keep], leaf[c][keep], minlength=size) for c in summed}
        # Every month: the app shows months with nothing as zeros. Under rounding that zero is exact and
        # shown_table leaves such months out (the attacker knows them as 0, and the comparison with the
        # app drops them); under perturbation a shown 0 is a range like any other.
        return self._finish(metric, {"month": leaf["labels"], **sums}, "month")


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(small_warehouse: Path) -> DashboardData:
    dashboard_data = DashboardData(small_warehouse)
    yield dashboard_data
    dashboard_data.close()


@pytest.fixture(scope="module")
def space(data: DashboardData) -> FilterSpace:
    return FilterSpace.build(data)


@pytest.fixture(scope="module")
def truth(data: DashboardData, space: FilterSpace) -> TrueCounts:
    return TrueCounts(data, space)


@pytest.fixture(scope="module")
def attackers(data: DashboardData, truth: TrueCounts) -> Callable[[str], Attacker]:
    """The attacker under a named regime (one per regime, sharing the true counts). The perturbation
    regime first needs the metric layer to perturb (`require_perturbing`)."""
    made: dict[str, Attacker] = {}

    def attacker_for(name: str) -> Attacker:
        if name == "perturbation":
            require_perturbing(data.warehouse, *truth.periods["12 months"])
        if name not in made:
            made[name] = Attacker(truth, REGIMES[name])
        return made[name]

    return attacker_for


@pytest.fixture(scope="module")
def attacker(attackers: Callable[[str], Attacker]) -> Attacker:
    """The attacker against main's regime today (rounding)."""
    return attackers("rounding")


@pytest.fixture(scope="module")
def table_views(space: FilterSpace) -> list[View]:
    """Every view with at most one filter, a fixed-seed sample of others, and their wider views."""
    views = space.views()
    base = [v for v in views if sum(x is not None for x in v) <= 1]
    rest = [v for v in views if sum(x is not None for x in v) > 1]
    chosen = set(base) | set(random.Random(SEED).sample(rest, min(SAMPLED_VIEWS, len(rest))))
    for view in list(chosen):
        chosen.update(w for w, _ in space.wider(view))
    return sorted(chosen, key=repr)


# -- the checks --------------------------------------------------------------------------------------


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts (faster than DataFrame.to_dict for the many small tables here)."""
    columns = list(table.columns)
    return [
        dict(zip(columns, row, strict=True))
        for row in zip(*(table[c].to_numpy() for c in columns), strict=True)
    ]


def describe(view: View | None) -> str:
    if view is None:
        return "(nothing)"
    parts = [f"{d}={v}" for d, v in zip(FILTER_DIMENSIONS, view, strict=True) if v is not None]
    return ",".join(parts) or "all"


def quantities(num: float, den: float, is_count: bool) -> dict[str, float]:
    return {"numerator": num} if is_count else {"numerator": num, "denominator": den, "complement": den - num}


def read_violations(attacker: Attacker, table_views: list[View]) -> list[str]:
    found = []
    for metric in SHOWN_METRICS:
        for preset in attacker.periods:
            shown = attacker.shown(metric, preset)
            for view, hidden in shown.items():
                if not hidden:
                    for name, q in quantities(*shown.shown_cell(view), shown.is_count).items():
                        if SMALL[0] <= q <= SMALL[1]:
                            found.append(f"{metric} {preset} {describe(view)}: {name} {q:g}")
    for view in table_views:
        for metric, dim in TABLES:
            t = attacker.table(metric, dim, view)
            for r in records(t):
                if r["suppressed"]:
                    continue
                for name, q in quantities(
                    r["shown_numerator"], r["shown_denominator"], get_metric(metric).statistic == "count"
                ).items():
                    if SMALL[0] <= q <= SMALL[1]:
                        found.append(f"{metric} by {dim} {describe(view)}: {name} {q:g}")
    return found


#: A total as (true numerator, denominator) and (shown numerator, denominator).
Total = tuple[tuple[float, float], tuple[float, float]]


def pinned_rows(
    values: pd.DataFrame,
    hidden: np.ndarray,
    total: Total | None,
    is_count: bool,
    regime: Regime,
    presence: bool = False,
) -> list[tuple[int, str, float]]:
    """Hidden rows of a one-way table whose numerator, denominator or complement the shown rows and the
    shown total pin to one value, as (row, quantity, true value) for positive values (a pinned zero is
    not disclosive). ``values`` holds each row's true ``numerator``/``denominator`` and the
    ``shown_numerator``/``shown_denominator`` the attacker sees; ``total`` the same of the total. The
    attacker uses only the shown ones (and ``presence`` only where the regime makes it knowledge).

    Unknowns: each hidden row's numerator x and complement y (a count metric has only x), all ≥ 0. The
    shown rows and total give, for each quantity, the range of the hidden rows' sum: [total lo − Σ shown
    hi, total hi − Σ shown lo] (interval arithmetic, exact for one equation). See `hidden_ranges`.
    """
    rows = np.flatnonzero(hidden)
    if total is None or len(rows) == 0:
        return []
    num = values["numerator"].to_numpy(dtype=float)
    den = num if is_count else values["denominator"].to_numpy(dtype=float)
    shown_num = values["shown_numerator"].to_numpy(dtype=float)
    shown_den = shown_num if is_count else values["shown_denominator"].to_numpy(dtype=float)
    visible = ~hidden
    parts = regime.shown_ranges(shown_num[visible], shown_den[visible], is_count)
    (_, (total_num, total_den)) = total
    whole = regime.shown_ranges(np.array([total_num]), np.array([total_den]), is_count)
    sums = {
        name: (max(whole[name][0][0] - parts[name][1].sum(), 0.0), whole[name][1][0] - parts[name][0].sum())
        for name in whole
    }
    ranges = hidden_ranges(len(rows), sums, is_count, presence and regime.structure_tells)
    found = []
    for row in rows:
        for name, truth in quantities(num[row], den[row], is_count).items():
            low, high = ranges[name]
            assert low - 1e-6 <= truth <= high + 1e-6, (name, truth, ranges, sums)  # the attacker is sound
            if truth > 0 and high - low <= 1e-9:
                found.append((int(row), name, float(truth)))
    return found


def hidden_ranges(
    n: int, sums: dict[str, tuple[float, float]], is_count: bool, presence: bool
) -> dict[str, tuple[float, float]]:
    """[min, max] of one hidden row's numerator x, denominator x + y and complement y, given the range of
    the hidden rows' sums (``sums``: numerator, denominator, complement) and n hidden rows (all alike, so
    one row's range is every row's). With ``presence`` the attacker also uses that a suppressed row is
    never empty (x + y ≥ 1, "shown as suppressed, never as 0"). Without it, two or more hidden rows can
    each be 0 (another takes the rest): nothing positive is pinned. Otherwise by linear programming."""
    if n >= 2 and not presence:
        return {name: (0.0, hi) for name, (_, hi) in sums.items()}
    if is_count:
        lo, hi = sums["numerator"]
        if n == 1:
            return {"numerator": (max(lo, 1.0 if presence else 0.0), hi)}
        return {"numerator": (1.0, hi - (n - 1))}  # each other hidden row holds at least 1
    # Variables x_1..x_n, y_1..y_n; the sums of x, y and x + y each in their range.
    a_ub, b_ub = [], []
    for columns, (lo, hi) in (
        (range(n), sums["numerator"]),
        (range(n, 2 * n), sums["complement"]),
        (range(2 * n), sums["denominator"]),
    ):
        row = np.zeros(2 * n)
        row[list(columns)] = 1
        a_ub += [row, -row]
        b_ub += [hi, -lo]
    if presence:
        for i in range(n):
            row = np.zeros(2 * n)
            row[[i, n + i]] = -1
            a_ub.append(row)
            b_ub.append(-1.0)
    out = {}
    for name, columns in {"numerator": [0], "denominator": [0, n], "complement": [n]}.items():
        objective = np.zeros(2 * n)
        objective[columns] = 1
        low, high = (
            sign
            * linprog(
                sign * objective, A_ub=np.array(a_ub), b_ub=b_ub, bounds=[(0, None)] * (2 * n), method="highs"
            ).fun
            for sign in (1, -1)
        )
        out[name] = (low, high)
    return out


def headline_total(attacker: Attacker, metric: str, view: View, preset: str) -> Total | None:
    shown = attacker.shown(metric, preset)
    return None if shown.hidden(view) else (shown.cell(view), shown.shown_cell(view))


def within_table_pins(attacker: Attacker, table_views: list[View], presence: bool = False) -> list[str]:
    """Check 2 on every shown breakdown whose rows add up to its total (not people-based ones); SPC
    series show no total of their own (their sums with the headlines are check 3c)."""
    found = []
    for view in table_views:
        for metric, dim in TABLES:
            if get_metric(metric).grain == "person":
                continue
            t = attacker.table(metric, dim, view)
            total = headline_total(attacker, metric, view, "12 months")
            is_count = get_metric(metric).statistic == "count"
            hidden = t["suppressed"].to_numpy(bool)
            for row, name, truth in pinned_rows(t, hidden, total, is_count, attacker.regime, presence):
                found.append(f"{metric} by {dim} {describe(view)}: {t.iloc[row][dim]} {name}={truth:g}")
    return found


def difference_pins(wide: Total, narrow: Total, is_count: bool, regime: Regime) -> dict[str, float]:
    """The quantities of wide − narrow (true values) that the two shown cells pin to one value of 1–4
    (each cell as its true and its shown (numerator, denominator))."""
    (wide_true, wide_shown), (narrow_true, narrow_shown) = wide, narrow
    w = regime.shown_ranges(np.array([wide_shown[0]]), np.array([wide_shown[1]]), is_count)
    n = regime.shown_ranges(np.array([narrow_shown[0]]), np.array([narrow_shown[1]]), is_count)
    truth = {
        name: w_q - n_q
        for (name, w_q), n_q in zip(
            quantities(*wide_true, is_count).items(), quantities(*narrow_true, is_count).values(), strict=True
        )
    }
    found = {}
    for name, (lo, hi) in nested_difference(w, n).items():
        assert lo[0] <= truth[name] <= hi[0], (name, wide, narrow, regime.name)  # the attacker is sound
        if pinned_small(lo, hi)[0]:
            found[name] = truth[name]
    return found


def pair_of(row: dict | None) -> Total:
    """A table row's true and shown (numerator, denominator); an absent row is 0 and shows 0."""
    if row is None:
        return (0.0, 0.0), (0.0, 0.0)
    return (row["numerator"], row["denominator"]), (row["shown_numerator"], row["shown_denominator"])


@dataclass
class Leak:
    family: str
    metric: str
    dim: str
    detail: str
    quantity: str
    amount: float


def headline_leaks(attacker: Attacker, space: FilterSpace) -> list[Leak]:
    views = space.views()
    index = {v: i for i, v in enumerate(views)}
    pairs = space.headline_pairs()
    wide = np.array([index[w] for w, _, _ in pairs])
    narrow = np.array([index[n] for _, n, _ in pairs])
    found = []
    regime = attacker.regime
    for metric in SHOWN_METRICS:
        for preset in attacker.periods:
            shown = attacker.shown(metric, preset)
            num, den, hidden = shown.arrays(views)
            shown_num, shown_den = shown.shown_arrays(views)
            both = ~hidden[wide] & ~hidden[narrow]
            is_count = get_metric(metric).statistic == "count"
            # Suppressed views are left out; their (missing) shown counts stand in as 0 meanwhile.
            shown_num, shown_den = np.nan_to_num(shown_num), np.nan_to_num(shown_den)
            ranges = nested_difference(
                regime.shown_ranges(shown_num[wide], shown_den[wide], is_count),
                regime.shown_ranges(shown_num[narrow], shown_den[narrow], is_count),
            )
            truth = {"numerator": num[wide] - num[narrow], "denominator": den[wide] - den[narrow]}
            truth["complement"] = truth["denominator"] - truth["numerator"]
            for name, (lo, hi) in ranges.items():
                assert ((lo <= truth[name]) & (truth[name] <= hi))[both].all(), name  # the attacker is sound
                for k in np.flatnonzero(both & pinned_small(lo, hi)):
                    w, n, dim = pairs[k]
                    detail = f"{preset}: {describe(w)} − {describe(n)}"
                    found.append(Leak("3a", metric, dim, detail, name, float(truth[name][k])))
    return found


def table_leaks(
    attacker: Attacker, space: FilterSpace, table_views: list[View], presence: bool = False
) -> list[Leak]:
    found = []
    in_sample = set(table_views)
    for view in table_views:
        for metric, dim in TABLES:
            shown = attacker.shown(metric, "12 months")
            t = attacker.table(metric, dim, view)
            cells = {r[dim]: r for r in records(t)}
            for wide, wdim in space.wider(view):
                if wide not in in_sample:
                    continue
                for r in records(attacker.table(metric, dim, wide)):
                    mine = cells.get(r[dim])
                    if r["suppressed"] or (mine is not None and mine["suppressed"]):
                        continue
                    pins = difference_pins(pair_of(r), pair_of(mine), shown.is_count, attacker.regime)
                    for name, diff in pins.items():
                        detail = f"cell {dim}={r[dim]}: {describe(wide)} − {describe(view)}"
                        found.append(Leak("3b-diff", metric, wdim, detail, name, diff))
            # A cell hidden by secondary suppression but shown as the headline of the narrower view.
            hidden = t["suppressed"].to_numpy(dtype=bool).copy()
            revealed = [i for i, cell in enumerate(t["view"]) if hidden[i] and not shown.hidden(cell)]
            if revealed and get_metric(metric).grain != "person":
                hidden[revealed] = False
                t = t.copy()
                for i in revealed:  # the cell's records are the narrower view's: the same shown counts
                    t.loc[i, ["shown_numerator", "shown_denominator"]] = shown.shown_cell(t["view"][i])
                total = headline_total(attacker, metric, view, "12 months")
                regime = attacker.regime
                for row, name, truth in pinned_rows(t, hidden, total, shown.is_count, regime, presence):
                    detail = f"{describe(view)}: {dim}={t.iloc[row][dim]} via headline of {dim}=" + ",".join(
                        str(t.iloc[i][dim]) for i in revealed
                    )
                    found.append(Leak("3b-unmask", metric, dim, detail, name, truth))
    return found


def series_leaks(
    attacker: Attacker, space: FilterSpace, table_views: list[View], presence: bool = False
) -> list[Leak]:
    found = []
    in_sample = set(table_views)
    for view in table_views:
        for metric in SERIES_METRICS:
            s = attacker.series(metric, view)
            months = {r["month"]: r for r in records(s)}
            for wide, wdim in space.wider(view):
                if wide not in in_sample:
                    continue
                for r in records(attacker.series(metric, wide)):
                    mine = months.get(r["month"])
                    if r["suppressed"] or (mine is not None and mine["suppressed"]):
                        continue
                    for name, diff in difference_pins(
                        pair_of(r), pair_of(mine), False, attacker.regime
                    ).items():
                        detail = f"month {r['month']}: {describe(wide)} − {describe(view)}"
                        found.append(Leak("3c-diff", metric, wdim, detail, name, diff))
            for preset, (start, end) in attacker.periods.items():
                total = headline_total(attacker, metric, view, preset)
                labels = month_range(end, (end.year - start.year) * 12 + end.month - start.month + 1)
                part = s[s["month"].isin(labels)].reset_index(drop=True)
                hidden = part["suppressed"].to_numpy(bool)
                for row, name, truth in pinned_rows(part, hidden, total, False, attacker.regime, presence):
                    detail = f"{describe(view)}: month {part.iloc[row]['month']} from the {preset} headline"
                    found.append(Leak("3c-subsum", metric, "period", detail, name, truth))
    return found


def partition_leaks(attacker: Attacker, space: FilterSpace, presence: bool = False) -> list[Leak]:
    """3d: the headlines of a view with each value of one more filter partition the view's units
    (episode, contact and pair metrics: every unit has one value of each dimension), so they and the
    view's own headline form a one-way table with its total, which per-view suppression never sees."""
    views = space.views()
    index = {v: i for i, v in enumerate(views)}
    pairs = space.headline_pairs()
    wide = np.array([index[w] for w, _, _ in pairs])
    narrow = np.array([index[n] for _, n, _ in pairs])
    dims = np.array([d for _, _, d in pairs], dtype=object)
    found = []
    for metric in SHOWN_METRICS:
        if get_metric(metric).grain == "person":
            continue
        for preset in attacker.periods:
            shown = attacker.shown(metric, preset)
            num, den, hidden = shown.arrays(views)
            shown_num, shown_den = shown.shown_arrays(views)
            # Only sibling groups with a hidden, non-empty member can pin anything.
            exists = den[narrow] > 0
            keys = pd.Series(list(zip(wide, dims, strict=True)))
            interesting = set(keys[exists & hidden[narrow]])
            groups: dict[tuple, list[int]] = {}
            for k in np.flatnonzero(exists):
                if keys[k] in interesting:
                    groups.setdefault(keys[k], []).append(k)
            for (w, dim), members in groups.items():
                if hidden[w]:
                    continue
                cells = narrow[members]
                t = pd.DataFrame(
                    {
                        "numerator": num[cells],
                        "denominator": den[cells],
                        "shown_numerator": shown_num[cells],
                        "shown_denominator": shown_den[cells],
                    }
                )
                total = ((num[w], den[w]), (shown_num[w], shown_den[w]))
                regime = attacker.regime
                for row, name, truth in pinned_rows(
                    t, hidden[cells], total, shown.is_count, regime, presence
                ):
                    detail = (
                        f"{preset}: {describe(views[cells[row]])} from {describe(views[w])}, other {dim}s"
                    )
                    found.append(Leak("3d", metric, dim, detail, name, truth))
    return found


def summarise(leaks: list[Leak]) -> str:
    frame = pd.DataFrame([vars(leak) for leak in leaks])
    by = frame.groupby(["family", "metric", "dim"]).size().rename("leaks").reset_index()
    examples = "\n".join(
        f"  {x.family} {x.metric}: {x.detail}: {x.quantity} {x.amount:g}" for x in leaks[:15]
    )
    return f"{len(leaks)} leaks\n{by.to_string(index=False)}\nfor example\n{examples}"


# -- the emulation is what the dashboard shows -------------------------------------------------------


def _frame_counts(table: pd.DataFrame) -> list[tuple]:
    out = []
    for r in records(table):
        hidden = bool(r["suppressed"])
        num = None if hidden or pd.isna(r["numerator"]) else float(r["numerator"])
        den = None if hidden or pd.isna(r.get("denominator")) else float(r["denominator"])
        out.append((hidden, num, den))
    return out


def _emulated(t: pd.DataFrame, is_count: bool) -> list[tuple]:
    """The rows as the emulation says the app shows them: suppressed rows blank, the others' shown
    counts."""
    return [
        (bool(h), None if h else float(n), None if h or is_count else float(d))
        for h, n, d in zip(t["suppressed"], t["shown_numerator"], t["shown_denominator"], strict=True)
    ]


def _emulated_cell(shown: Shown, view: View | None) -> list[tuple]:
    hidden = shown.hidden(view)
    num, den = shown.shown_cell(view)
    return [(hidden, None if hidden else num, None if hidden or shown.is_count else den)]


def test_hidden_ranges_match_brute_force() -> None:
    """`hidden_ranges` equals enumerating every integer table that fits the sums, on random small tables."""
    rng = np.random.default_rng(SEED)
    for _ in range(80):
        n = int(rng.integers(1, 4))
        is_count = bool(rng.integers(0, 2))
        presence = bool(rng.integers(0, 2))
        x = rng.integers(0, 4, n)
        y = np.zeros(n, dtype=int) if is_count else rng.integers(0, 4, n)
        x = np.where(x + y == 0, 1, x)  # every hidden row present
        true_sums = {"numerator": x.sum(), "complement": y.sum(), "denominator": x.sum() + y.sum()}
        sums = {
            name: (float(max(v - rng.integers(0, 3), 0)), float(v + rng.integers(0, 3)))
            for name, v in true_sums.items()
            if name == "numerator" or not is_count  # a count metric shows only its count
        }
        top = int(sums["numerator" if is_count else "denominator"][1])
        seen: dict[str, list[int]] = {"numerator": [], "denominator": [], "complement": []}
        for xs in itertools.product(range(top + 1), repeat=n):
            for ys in itertools.product(*([[0]] * n if is_count else [range(top + 1)] * n)):
                if presence and any(a + b < 1 for a, b in zip(xs, ys, strict=True)):
                    continue
                totals = {"numerator": sum(xs), "complement": sum(ys), "denominator": sum(xs) + sum(ys)}
                if all(sums[k][0] <= totals[k] <= sums[k][1] for k in sums):
                    seen["numerator"].append(xs[0])
                    seen["complement"].append(ys[0])
                    seen["denominator"].append(xs[0] + ys[0])
        got = hidden_ranges(n, sums, is_count, presence)
        for name, (low, high) in got.items():
            if n >= 2 and not presence:
                assert low == 0 and high >= max(seen[name]), (name, n, sums)  # nothing positive pinned
                continue
            assert (low, high) == pytest.approx((min(seen[name]), max(seen[name]))), (name, n, sums, presence)


def test_filter_space_pruning_is_exact(data: DashboardData, space: FilterSpace, attacker: Attacker) -> None:
    """Structural filter combinations that select the same programmes show the same numbers."""
    assert len(space.key_of) == np.prod([len(space.options[d]) + 1 for d in STRUCTURAL])
    start, end = attacker.periods["12 months"]
    rng = random.Random(SEED)
    combos = [c for c, key in space.key_of.items() if key and space.rep_of[key] != c]
    for combo in rng.sample(combos, 6):
        demo = tuple(rng.choice([None, *space.options[d]]) for d in DEMOGRAPHIC)
        for metric in ("in_treatment", "peer_reach", "retention_12wk"):
            given = data.metric_for(metric, state_of((*combo, *demo), start, end))
            canonical = data.metric_for(metric, state_of(space.canonical((*combo, *demo)), start, end))
            assert _frame_counts(given) == _frame_counts(canonical), (metric, combo, demo)


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_sweep_is_what_the_dashboard_shows(
    data: DashboardData, attackers: Callable[[str], Attacker], table_views: list[View], regime: str
) -> None:
    """Headlines, breakdowns and SPC series of the emulation equal `DashboardData` on sampled views, for
    the regime the app is in (rounding today; perturbation once the metric layer perturbs, when the
    rounding case becomes history and fails here)."""
    attacker = attackers(regime)
    rng = random.Random(SEED + 1)
    views = rng.sample(table_views, 8)
    for view in views[:6]:
        for metric in SHOWN_METRICS:
            for preset in attacker.periods:
                shown = attacker.shown(metric, preset)
                real = data.metric_for(metric, state_of(view, *attacker.period(metric, preset)))
                assert _frame_counts(real) == _emulated_cell(shown, view), (metric, preset, describe(view))
    for view in views:
        state = state_of(view, *attacker.periods["12 months"])
        for metric, dim in TABLES:
            real = data.metric_for(metric, state, by=[dim])
            t = attacker.table(metric, dim, view)
            assert real[dim].astype(str).tolist() == t[dim].tolist(), (metric, dim, describe(view))
            assert _frame_counts(real) == _emulated(t, False), (metric, dim, describe(view))
        for metric in SERIES_METRICS:
            real = data.monthly(metric, state)
            if attacker.regime.structure_tells:  # the emulation leaves out the months shown as exact zeros
                real = real[real["suppressed"] | (real["denominator"].fillna(0) > 0)]
            s = attacker.series(metric, view)
            assert real["month"].tolist() == s["month"].tolist(), (metric, describe(view))
            assert _frame_counts(real) == _emulated(s, False), (metric, describe(view))


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_exports_through_the_callback_endpoint(
    small_warehouse: Path, attackers: Callable[[str], Attacker], space: FilterSpace, regime: str
) -> None:
    """The CSV the browser downloads for the funnel and a programme's page holds the sweep's numbers."""
    from dashboard.app import create_app

    attacker = attackers(regime)
    app = create_app(small_warehouse)
    client = app.server.test_client()

    def download(chart: str, state: FilterState, spec: dict) -> pd.DataFrame:
        def cid(kind: str) -> dict:
            return {"chart": chart, "type": kind}

        def text(ident: dict) -> str:
            return json.dumps(ident, sort_keys=True, separators=(",", ":"))

        body = {
            "output": find_callback(app, "chart-download"),
            "outputs": [
                {"id": cid("chart-download"), "property": "data"},
                {"id": cid("chart-message"), "property": "children"},
            ],
            "inputs": [{"id": cid("chart-csv"), "property": "n_clicks", "value": 1}],
            "state": [
                {"id": ids.FILTER_STATE, "property": "data", "value": state.to_store()},
                {"id": cid("chart-spec"), "property": "data", "value": spec},
            ],
            "changedPropIds": [f"{text(cid('chart-csv'))}.n_clicks"],
        }
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        content = response.get_json()["response"][text(cid("chart-download"))]["data"]["content"]
        return pd.read_csv(io.StringIO(content), dtype={"programme": str})

    try:
        start, end = attacker.periods["12 months"]
        views = [(None,) * 7, space.canonical(("E08000032", None, None, None, None, "male", None))]
        for view in [v for v in views if v is not None]:
            state = state_of(view, start, end)
            for metric in ("retention_12wk", "peer_reach"):
                csv = download("programme_funnel", state, {ids.PROGRAMMES_INDICATOR: metric})
                t = attacker.table(metric, "programme", view)
                assert csv["programme"].tolist() == t["programme"].tolist()
                assert _frame_counts(csv) == _emulated(t, False), (metric, describe(view))
            programme = next(iter(space.key_of[view[:4]]))
            csv = download("programme_vs_system", state, {ids.PROGRAMME_ID: programme})
            for r in records(csv):
                cell = (
                    view if r["group"] == "whole system" else space.with_filter(view, "programme", programme)
                )
                expected = _emulated_cell(attacker.shown(r["metric"], "12 months"), cell)
                assert _frame_counts(pd.DataFrame([r])) == expected, (r["metric"], r["group"])
    finally:
        app.dashboard_data.close()


# -- checks 1 and 2: reading and working out within a table -----------------------------------------


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_no_count_of_1_to_4_is_shown(
    attackers: Callable[[str], Attacker], table_views: list[View], regime: str
) -> None:
    violations = read_violations(attackers(regime), table_views)
    assert not violations, "\n".join(violations[:20])


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_no_hidden_cell_is_pinned_within_a_table(
    attackers: Callable[[str], Attacker], table_views: list[View], regime: str
) -> None:
    pins = within_table_pins(attackers(regime), table_views)
    assert not pins, "\n".join(pins[:20])


def test_no_hidden_cell_is_pinned_knowing_suppressed_rows_are_not_empty(
    attacker: Attacker, table_views: list[View]
) -> None:
    """Rounding only: under perturbation a suppressed row may be empty, so it is no knowledge there."""
    pins = within_table_pins(attacker, table_views, presence=True)
    assert not pins, f"{len(pins)} pinned\n" + "\n".join(pins[:20])


# -- check 3: differencing across views --------------------------------------------------------------


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_headlines_one_filter_apart_do_not_differ_by_1_to_4(
    attackers: Callable[[str], Attacker], space: FilterSpace, regime: str
) -> None:
    leaks = headline_leaks(attackers(regime), space)
    assert not leaks, summarise(leaks)


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_headlines_of_a_filter_s_values_do_not_pin_a_hidden_one(
    attackers: Callable[[str], Attacker], space: FilterSpace, regime: str
) -> None:
    leaks = partition_leaks(attackers(regime), space)
    assert not leaks, summarise(leaks)


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_breakdowns_one_filter_apart_do_not_leak(
    attackers: Callable[[str], Attacker], space: FilterSpace, table_views: list[View], regime: str
) -> None:
    leaks = table_leaks(attackers(regime), space, table_views)
    assert not leaks, summarise(leaks)


@pytest.mark.parametrize("regime", SAFE_REGIMES)
def test_spc_series_do_not_leak_against_views_or_headlines(
    attackers: Callable[[str], Attacker], space: FilterSpace, table_views: list[View], regime: str
) -> None:
    leaks = series_leaks(attackers(regime), space, table_views)
    assert not leaks, summarise(leaks)


def test_against_exact_counts_the_attacker_finds_leaks(
    attackers: Callable[[str], Attacker], space: FilterSpace
) -> None:
    """The control: the same attacker against exact (suppressed, neither rounded nor perturbed) counts
    finds the differencing leaks per-view suppression leaves, so the checks above pass because of the
    rounding (or the perturbation), not because the attacker is blind."""
    attacker = attackers("exact")
    headline, partition = headline_leaks(attacker, space), partition_leaks(attacker, space)
    assert len(headline) > 100 and len(partition) > 100, (len(headline), len(partition))
    assert all(SMALL[0] <= leak.amount <= SMALL[1] for leak in headline)
    assert any(SMALL[0] <= leak.amount <= SMALL[1] for leak in partition)  # and hidden cells pinned
