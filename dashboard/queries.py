"""What the dashboard asks of the warehouse: metric tables through the metric layer, plus a few
aggregates of the warehouse's own bookkeeping (load history, rejected rows, completeness).

Everything returned is aggregated: counts, proportions with their numerators and denominators,
Kaplan-Meier tables, option lists from the dimension tables. No function here returns a row per
person, episode or contact, so nothing record-level can reach the browser. Every count shown is
perturbed by the metric layer (cell-key perturbation: no shown count is 1–4), with rates and intervals
computed from the perturbed counts and rows suppressed where a perturbed complement is small, including
the exit-reason mix (`pipelines.metrics.compute_mix`). The Data page's bookkeeping counts (loads,
rejected rows, completeness) are perturbed the same way, through `shown_counts`.

A `DashboardData` is made once per app and shared by its callbacks. Its cache holds aggregated
tables keyed by the warehouse file's identity and the query (with the signed-in person's scope already
applied to the filters), so it is the same for every user and a new load (an atomic file swap) is never
served stale. It has two levels: a small LRU in the process, then the file every worker shares
(`dashboard.result_cache`), so a view one worker answered is not computed again by another.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard.auth import check_programme, scoped_filters, scoped_options, scoped_rows, scoped_state
from dashboard.filters import FilterState
from dashboard.periods import (
    DataSpan,
    Month,
    Period,
    financial_quarter,
    financial_year_name,
    financial_year_of,
    is_whole_months,
    month_end,
)
from dashboard.result_cache import MISSING, ResultCache, default_path, open_result_cache
from pipelines.contract import OPTIONAL_TABLES, SEXES, SUBSTANCE_GROUPS, TABLE_ORDER, TABLES
from pipelines.metrics.labels import CODE_LABELS, code_label, with_names
from pipelines.metrics.registry import AGE_BANDS
from pipelines.stats import xmr
from pipelines.warehouse import Warehouse, file_identity, open_warehouse

log = logging.getLogger(__name__)

SUPPRESSION_THRESHOLD = 5
#: How a count that is not shown reads in a table.
SUPPRESSED = "suppressed"
#: Months on an SPC chart (Making Data Count advises at least 15 points; two years shows seasonality).
SPC_MONTHS = 24


@dataclass(frozen=True)
class MetricInfo:
    """What the page needs to know about a metric to show it."""

    id: str
    label: str
    kind: str  # count, proportion, continuous, survival
    direction: str | None  # "up", "down" or None
    definition: str
    unit: str = ""


def shown_counts(data: DashboardData, counts: pd.Series, labels: Sequence[str]) -> pd.Series:
    """Counts as the dashboard shows them, for tables that are not metric results (the Data page):
    perturbed like every other count (`pipelines.metrics.labelled_counts`, each cell keyed by its label),
    so no shown count is 1–4. Missing stays missing. Returns an object Series of ints and None, aligned
    with ``counts``."""
    from pipelines.metrics import labelled_counts

    disclosed = labelled_counts(data.warehouse, counts.tolist(), labels)
    shown = [None if np.isnan(value) else int(value) for value in disclosed]
    return pd.Series(shown, index=counts.index, dtype=object, name=counts.name)


class _LRU:
    """A small thread-safe least-recently-used cache of aggregated tables."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]) -> object:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()  # outside the lock: two threads may compute the same thing once each
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def _frozen_filters(filters: dict[str, Sequence[str]] | None) -> tuple:
    return tuple(sorted((k, tuple(v)) for k, v in (filters or {}).items()))


def _copy_with_attrs(table: pd.DataFrame) -> pd.DataFrame:
    """A copy a caller may change without touching the cache (``attrs`` deep-copied too)."""
    out = table.copy()
    out.attrs = copy.deepcopy(table.attrs)
    return out


def month_range(end: date, months: int) -> list[str]:
    """Labels ``YYYY-MM`` of the ``months`` calendar months ending with the month of ``end``."""
    y, m = end.year, end.month
    labels = []
    for _ in range(months):
        labels.append(f"{y:04d}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return labels[::-1]


class ViewRefused(ValueError):
    """A view the dashboard does not answer (`DashboardData.check_view`): only a crafted request asks
    for one, since the filter bar and links are settled to views it answers (`dashboard.filters`)."""


class DashboardData:
    """The dashboard's read-only view of one warehouse file."""

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        cache_size: int = 512,
        benchmarks: str | os.PathLike[str] | None = None,
        shared_cache: str | os.PathLike[str] | None | bool = True,
    ) -> None:
        """``shared_cache``: the shared result cache's file (`dashboard.result_cache`), True for its
        default place (``ROSC_RESULT_CACHE`` or beside the warehouse), None or False for none."""
        from pipelines.benchmarks import load_benchmarks
        from pipelines.metrics import available_metrics

        self.path = Path(db_path)
        self.warehouse: Warehouse = open_warehouse(self.path)  # raises WarehouseNotFound
        self._cache = _LRU(cache_size)
        # England's published values (the shipped file, or ``benchmarks``): checked now, so a bad file
        # stops the app at start-up with the file, line and column of the problem.
        self.benchmarks = load_benchmarks(benchmarks, known_indicators=available_metrics())
        if shared_cache is True:
            shared_cache = default_path(self.path)
        self.shared: ResultCache | None = open_result_cache(shared_cache or None)

    # -- plumbing ------------------------------------------------------------------------------------

    def cached(self, key: tuple, compute: Callable[[], object]) -> object:
        """``compute()``, or its answer for the same warehouse file and ``key`` from this process's
        LRU or the shared result cache. ``key`` must hold everything the answer depends on, the
        signed-in person's scope included (the metric methods key by the filters after scoping)."""
        identity = file_identity(self.path)
        shared = self.shared if identity is not None else None

        def compute_or_share() -> object:
            if shared is None:
                return compute()
            found = shared.get(repr(identity), key)
            if found is not MISSING:
                return found
            value = compute()
            shared.put(repr(identity), key, value)
            return value

        return self._cache.get_or_compute((identity, *key), compute_or_share)

    def close(self) -> None:
        self.warehouse.close()
        if self.shared is not None:
            self.shared.close()

    # -- metadata ------------------------------------------------------------------------------------

    def metrics(self) -> dict[str, MetricInfo]:
        """Every metric the metric layer offers, by id, in the order of docs/metrics.md."""
        from pipelines.metrics import available_metrics, describe_metric

        def compute() -> dict[str, MetricInfo]:
            out: dict[str, MetricInfo] = {}
            for name in available_metrics():
                d = describe_metric(name)
                out[name] = MetricInfo(
                    id=name,
                    label=str(d["label"]),
                    kind=str(d["kind"]),
                    direction=d.get("improvement", d.get("direction")),  # type: ignore[arg-type]
                    definition=str(d["definition"]),
                    unit=str(d.get("unit") or ""),
                )
            return out

        return self.cached(("metrics",), compute)  # type: ignore[return-value]

    def metric_info(self, name: str) -> MetricInfo:
        return self.metrics()[name]

    def dates(self) -> tuple[date, date]:
        """(first date, as_of): the span of the data and the default extract date."""

        from pipelines.metrics import extract_dates

        return self.cached(("dates",), lambda: extract_dates(self.warehouse))  # type: ignore[return-value]

    def as_of(self) -> date:
        return self.dates()[1]

    def table_rows(self) -> dict[str, int]:
        """Rows held in each contract table (counts of whole tables, nothing record-level)."""

        from pipelines.metrics import warehouse_contents

        return self.cached(("table_rows",), lambda: warehouse_contents(self.warehouse))  # type: ignore[return-value]

    def filter_options(self) -> dict[str, list[dict[str, str]]]:
        """Dropdown options per filter dimension, from the dimension tables (no record-level data)."""

        def compute() -> dict[str, list[dict[str, str]]]:
            programmes = self.warehouse.sql(
                "SELECT programme_id, programme_name, setting, provider_id, provider_name, "
                "area_code, area_name "
                "FROM stg_programmes ORDER BY programme_name"
            )

            def options(value: str, label: str) -> list[dict[str, str]]:
                pairs = programmes[[value, label]].drop_duplicates().sort_values(label)
                return [{"value": str(v), "label": str(lab)} for v, lab in pairs.itertuples(index=False)]

            return {
                "area": options("area_code", "area_name"),
                "provider": options("provider_id", "provider_name"),
                "programme": options("programme_id", "programme_name"),
                "setting": [
                    {"value": s, "label": code_label("setting", s)}
                    for s in sorted(programmes["setting"].dropna().unique())
                ],
                "substance_group": [
                    {"value": s, "label": code_label("substance_group", s)} for s in SUBSTANCE_GROUPS
                ],
                "sex": [{"value": s, "label": code_label("sex", s)} for s in SEXES],
                "age_band": [{"value": s, "label": code_label("age_band", s)} for s in AGE_BANDS],
            }

        return scoped_options(self.cached(("options",), compute))  # type: ignore[arg-type]

    def labels(self) -> dict[str, dict[str, str]]:
        """Code → label per dimension, from `pipelines.metrics.labels` (the one place labels come from):
        the filter dimensions' (programme id → programme name, ... as the signed-in person may see
        them) and every other labelled dimension's (outcome group, peer support, delivered by, ...)."""
        options = {d: {o["value"]: o["label"] for o in opts} for d, opts in self.filter_options().items()}
        return {**{d: dict(codes) for d, codes in CODE_LABELS.items()}, **options}

    def named(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with a ``<dimension>_name`` column of labels after each code column
        (`pipelines.metrics.with_names`)."""
        return with_names(table, labels=self.labels())

    def programme(self, programme_id: str) -> dict[str, str] | None:
        """The programme's name, setting, provider and area, or None if there is no such programme.
        `AccessDenied` for a programme outside the signed-in person's scope."""
        check_programme(programme_id)  # the signed-in person's access (dashboard.auth)
        table = self.warehouse.sql(
            "SELECT programme_id, programme_name, setting, provider_name, area_name FROM stg_programmes "
            "WHERE programme_id = $id",
            {"id": programme_id},
        )
        return None if table.empty else {k: str(v) for k, v in table.iloc[0].items()}

    # -- the views the dashboard answers ------------------------------------------------------------

    def check_view(
        self, start: date, end: date, filters: dict[str, Sequence[str]] | None, *, period: bool = True
    ) -> None:
        """Refuse (`ViewRefused`) a view the dashboard does not answer, however the request arrived:
        more than one value of a dimension, or (with ``period``) a period that is not whole months or
        not of a shape `dashboard.periods.DataSpan.allows` (a month, a financial-year quarter, a
        financial year, the rolling 12 months or the 12 months before). Checked before the signed-in
        person's scope is applied, which may restrict a view to several programmes at once.

        Why (issue 16): with free unions of values or free runs of months, differences of perturbed
        views give many independent noisy copies of one small count, and their average is the count.
        """
        many = [d for d, values in (filters or {}).items() if len(values) > 1]
        if many:
            raise ViewRefused(f"the dashboard answers one value of {', '.join(many)} at a time, or all")
        if not period:
            return
        if not is_whole_months(start, end):
            raise ViewRefused(f"{start} to {end} is not whole months")
        if not DataSpan.of(*self.dates()).allows(Period.of_days(start, end)):
            raise ViewRefused(f"{start} to {end} is not a month, quarter, financial year or 12 months")

    # -- metrics -------------------------------------------------------------------------------------

    def metric(
        self,
        name: str,
        start: date,
        end: date,
        by: Sequence[str] = (),
        filters: dict[str, Sequence[str]] | None = None,
        *,
        adjust: bool = False,
    ) -> pd.DataFrame:
        """`pipelines.metrics.compute_metric` (shared: perturbed and suppressed, threshold 5), cached.
        ``adjust`` (by programme, for `pipelines.metrics.ADJUSTABLE_METRICS`) adds the case-mix columns
        (expected, ratio and its interval, adjusted_value, significance) and ``attrs["warnings"]``."""
        from pipelines.metrics import compute_metric

        self.check_view(start, end, filters)
        filters = scoped_filters(filters, by)  # the signed-in person's access (dashboard.auth)
        key = ("metric", name, start, end, tuple(by), _frozen_filters(filters), adjust)

        def compute() -> pd.DataFrame:
            t0 = time.perf_counter()
            table = compute_metric(
                self.warehouse,
                name,
                start,
                end,
                by=list(by) or None,
                filters={k: list(v) for k, v in (filters or {}).items()} or None,
                suppress=True,
                threshold=SUPPRESSION_THRESHOLD,
                adjust=adjust,
            )
            log.debug("metric %s by %s: %.0f ms", name, by, 1000 * (time.perf_counter() - t0))
            return table

        return scoped_rows(_copy_with_attrs(self.cached(key, compute)), by)  # type: ignore[arg-type]

    def metric_for(
        self,
        name: str,
        state: FilterState,
        by: Sequence[str] = (),
        extra_filters: dict[str, Sequence[str]] | None = None,
        *,
        adjust: bool = False,
    ) -> pd.DataFrame:
        filters = state.metric_filters()
        filters.update(extra_filters or {})
        return self.metric(name, state.start, state.end, by, filters, adjust=adjust)

    def monthly(
        self,
        name: str,
        state: FilterState,
        months: int = SPC_MONTHS,
        extra_filters: dict[str, Sequence[str]] | None = None,
    ) -> pd.DataFrame:
        """`pipelines.metrics.metric_series` over the ``months`` months ending with the period's last
        month: one row per month (a month with nothing in it has zero counts and no value; months
        without the follow-up a metric needs are absent), with a ``period`` column for plotting."""

        labels = month_range(state.end, months)
        start = date.fromisoformat(labels[0] + "-01")
        end = month_end(state.end)
        filters = {**state.metric_filters(), **(extra_filters or {})}
        self.check_view(start, end, filters, period=False)  # monthly cells: any month is answered
        filters = scoped_filters(filters)  # access (dashboard.auth)
        key = ("series", name, start, end, _frozen_filters(filters))

        def compute() -> pd.DataFrame:
            table = self._series(name, start, end, filters)
            table["month"] = table["month"].astype(str)
            table.insert(0, "period", table["month"])
            return table

        return self.cached(key, compute).copy()  # type: ignore[union-attr]

    def _series(self, name: str, start: date, end: date, filters: dict[str, list[str]]) -> pd.DataFrame:
        from pipelines.metrics import metric_series

        return metric_series(
            self.warehouse,
            name,
            start,
            end,
            filters=filters or None,
            suppress=True,
            threshold=SUPPRESSION_THRESHOLD,
        )

    def quarterly(
        self,
        name: str,
        state: FilterState,
        quarters: int = SPC_MONTHS // 3,
        extra_filters: dict[str, Sequence[str]] | None = None,
    ) -> pd.DataFrame:
        """The metric financial-year quarter by quarter: the ``quarters`` complete quarters ending with
        the one holding the period's last month, each the headline of that quarter as its own period (a
        view the dashboard answers), with a ``period`` column ('2025-26 Q1'). Quarters before the data's
        first month, or without the follow-up the metric needs by as_of, are left out."""
        from pipelines.metrics import describe_metric

        follow_up = int(describe_metric(name).get("needs_follow_up_days") or 0)
        first, as_of = self.dates()
        year = financial_year_of(Month.of(state.end))
        quarter = (Month.of(state.end).month - 4) % 12 // 3 + 1
        periods = []
        while len(periods) < quarters:
            periods.append((year, quarter))
            year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
        rows = []
        for year, quarter in reversed(periods):
            period = financial_quarter(year, quarter)
            if (
                period.start < first.replace(day=1)
                or period.end > as_of
                or (follow_up and period.end + timedelta(days=follow_up) > as_of)
            ):
                continue
            row = self.metric(
                name, period.start, period.end, (), {**state.metric_filters(), **(extra_filters or {})}
            )
            rows.append(row.assign(period=f"{financial_year_name(year)} Q{quarter}"))
        if not rows:
            return pd.DataFrame(columns=["period", "numerator", "denominator", "value", "suppressed"])
        table = pd.concat(rows, ignore_index=True)
        return table[["period", *[c for c in table.columns if c != "period"]]]

    def spc(
        self,
        name: str,
        state: FilterState,
        months: int = SPC_MONTHS,
        extra_filters: dict[str, Sequence[str]] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(monthly series, its XmR table) for a metric, improvement direction from the registry.

        Months of the period's end that are not yet complete, or whose cohort cannot be followed up
        by as_of, simply have no value.
        """
        series = self.monthly(name, state, months, extra_filters)
        info = self.metric_info(name)
        chart = xmr(series["value"].astype(float).to_numpy(), improvement=info.direction)
        return series, chart

    # -- fair comparisons (issue 13) ----------------------------------------------------------------

    def benchmark(self, metric: str, state: FilterState) -> dict[str, object] | None:
        """England's published value to show beside ``metric`` for the view, or None: the latest row
        of the benchmarks file whose definition matches or is close to ours
        (`pipelines.benchmarks.reference_benchmark`), for the substance group the view is filtered to
        (else ``all``). None under a sex or age-band filter: England's value is for all adults."""
        from pipelines.benchmarks import reference_benchmark

        if state.sex or state.age_band:
            return None
        population = state.substance_group[0] if len(state.substance_group) == 1 else "all"
        return reference_benchmark(self.benchmarks, metric, population)

    def peer_comparison(
        self, metric: str, start: date, end: date, filters: dict[str, Sequence[str]] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Peer support and ``metric``'s outcome on its landmark cohort (docs/metrics.md v2), as shared:
        ``comparison`` (`pipelines.metrics.compare_peer_support`: the crude and the case-mix-adjusted
        difference with 95% intervals), ``dose`` (`peer_support_dose`) and, for representation_6m,
        ``timing`` (`peer_support_timing`). Counts perturbed and small groups suppressed by the metric
        layer (threshold 5), cached; the view is checked (`check_view`) and scoped to the signed-in
        person's programmes like every other. Each table keeps the metric layer's ``attrs`` (cohort,
        exposure, outcome, covariates, warnings)."""
        from pipelines.metrics import (
            compare_peer_support,
            peer_support_dose,
            peer_support_records,
            peer_support_timing,
        )

        self.check_view(start, end, filters)
        filters = scoped_filters(filters)  # the signed-in person's access (dashboard.auth)
        key = ("peer_comparison", metric, start, end, _frozen_filters(filters))

        def compute() -> dict[str, pd.DataFrame]:
            shared = {
                "filters": {k: list(v) for k, v in (filters or {}).items()} or None,
                "suppress": True,
                "threshold": SUPPRESSION_THRESHOLD,
            }
            # One query of the cohort serves the three tables.
            records = peer_support_records(self.warehouse, metric, start, end, filters=shared["filters"])
            shared["records"] = records
            tables = {
                "comparison": compare_peer_support(self.warehouse, metric, start, end, **shared),
                "dose": peer_support_dose(self.warehouse, metric, start, end, **shared),
            }
            if metric == "representation_6m":
                tables["timing"] = peer_support_timing(self.warehouse, metric, start, end, **shared)
            return tables

        cached: dict[str, pd.DataFrame] = self.cached(key, compute)  # type: ignore[assignment]
        return {name: _copy_with_attrs(table) for name, table in cached.items()}

    # -- distributions ------------------------------------------------------------------------------

    def exit_mix(self, state: FilterState, by: str = "programme") -> pd.DataFrame:
        """How episodes discharged in the period ended, by ``by`` and outcome group: the metric layer's
        ``exit_reason_mix`` through `pipelines.metrics.compute_mix` (full grid, every count and total
        perturbed; a row is hidden only for its own perturbed counts, as everywhere).
        Columns: unit, label, outcome_group, count, total, share, suppressed."""
        if by not in ("programme", "setting", "substance_group"):
            raise ValueError(by)
        self.check_view(state.start, state.end, state.metric_filters())
        state = scoped_state(state, (by,))  # the signed-in person's access (dashboard.auth)
        key = ("exit_mix", by, state)

        def compute() -> pd.DataFrame:
            from pipelines.metrics import compute_mix

            mix = compute_mix(
                self.warehouse,
                "exit_reason_mix",
                state.start,
                state.end,
                part="outcome_group",
                by=[by],
                filters=state.metric_filters() or None,
                suppress=True,
                threshold=SUPPRESSION_THRESHOLD,
            )
            names = self.labels().get(by, {})
            mix = mix.rename(columns={by: "unit"})
            mix.insert(1, "label", [names.get(str(u), str(u)) for u in mix["unit"]])
            mix = mix.sort_values(["label", "outcome_group"], kind="stable").reset_index(drop=True)
            return mix[["unit", "label", "outcome_group", "count", "total", "share", "suppressed"]]

        return self.cached(key, compute).copy()  # type: ignore[union-attr]

    # -- the Data page -------------------------------------------------------------------------------

    def load_history(self) -> pd.DataFrame:
        """The latest loads: when, which extract date, rows loaded and rejected (as `shown_counts`),
        status (no file paths)."""
        wanted = (
            "load_id",
            "loaded_at",
            "as_of",
            "rows_loaded",
            "rows_rejected",
            "strict",
            "status",
            "contract_version",
        )

        def compute() -> pd.DataFrame:
            present = self._columns("load_history")
            columns = ", ".join(c for c in wanted if c in present) or "*"
            return self.warehouse.sql(f"SELECT {columns} FROM load_history ORDER BY 1 DESC LIMIT 50")

        history = self.cached(("load_history",), compute).copy()  # type: ignore[union-attr]
        for column in ("rows_loaded", "rows_rejected"):
            if column in history:
                labels = [f"load {load} {column}" for load in history["load_id"]]
                history[column] = shown_counts(self, history[column], labels)
        return history

    def latest_load_by_table(self) -> pd.DataFrame:
        """The latest load's rows per table: read, loaded, rejected, and rows now held (as `shown_counts`)."""

        def compute() -> pd.DataFrame:
            held = self.table_rows()
            files = self.warehouse.sql("SELECT files FROM load_history ORDER BY load_id DESC LIMIT 1")
            records = json.loads(files["files"].iloc[0]) if len(files) else []
            rows = []
            for table in TABLE_ORDER:
                mine = [r for r in records if r.get("table") == table]
                rows.append(
                    {
                        "table": table,
                        "rows read": sum(r["rows_read"] for r in mine),
                        "loaded": sum(r["rows_loaded"] for r in mine),
                        "rejected": sum(r["rows_rejected"] for r in mine),
                        "rows held now": held[table],
                    }
                )
            return pd.DataFrame(rows)

        table = self.cached(("latest_load_by_table",), compute).copy()  # type: ignore[union-attr]
        for column in ("rows read", "loaded", "rejected", "rows held now"):
            table[column] = shown_counts(
                self, table[column], [f"latest load {t} {column}" for t in table["table"]]
            )
        return table

    def _columns(self, table: str) -> set[str]:
        return set(
            self.warehouse.sql(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = $t", {"t": table}
            )["column_name"]
        )

    def rejected_by_rule(self) -> pd.DataFrame:
        """Rows rejected at load, counted by table, column and rule (never the rows or their values;
        the counts as `shown_counts`)."""

        def compute() -> pd.DataFrame:
            present = self._columns("quarantine")
            if not {"table_name", "rule"} <= present:
                return pd.DataFrame(columns=["table", "column", "rule", "rows"])
            column = "coalesce(column_name, '')" if "column_name" in present else "''"
            return self.warehouse.sql(
                f'SELECT table_name AS "table", {column} AS "column", rule, count(*) AS rows '
                "FROM quarantine GROUP BY ALL ORDER BY rows DESC, 1, 2, 3"
            )

        rejected = self.cached(("rejected",), compute).copy()  # type: ignore[union-attr]
        labels = [
            f"quarantine {t} {c} {r}" for t, c, r in rejected[["table", "column", "rule"]].itertuples(False)
        ]
        rejected["rows"] = shown_counts(self, rejected["rows"], labels)
        return rejected

    def completeness(self) -> pd.DataFrame:
        """Share of non-missing values in each optional contract column, by table: rows and filled
        values as `shown_counts`, the share computed from them (missing where either is suppressed).
        An optional table (drug_tests) the warehouse holds no rows of is left out."""

        def compute() -> pd.DataFrame:
            rows = []
            for name in TABLE_ORDER:
                table = TABLES[name]
                optional = [c.name for c in table.columns if not c.required]
                selects = ", ".join(f'count("{c}") AS "{c}"' for c in optional)
                counts = self.warehouse.sql(
                    f"SELECT count(*) AS n_rows{', ' + selects if selects else ''} FROM {name}"
                ).iloc[0]
                n = int(counts["n_rows"])
                if n == 0 and name in OPTIONAL_TABLES:
                    continue  # an optional table this warehouse holds none of: nothing to be complete
                rows.append({"table": name, "column": "(all rows)", "rows": n, "filled": n, "share": 1.0})
                for c in optional:
                    filled = int(counts[c])
                    rows.append(
                        {
                            "table": name,
                            "column": c,
                            "rows": n,
                            "filled": filled,
                            "share": filled / n if n else np.nan,
                        }
                    )
            return pd.DataFrame(rows)

        exact: pd.DataFrame = self.cached(("completeness",), compute)  # type: ignore[assignment]
        shown = exact.copy()
        cells = [f"{t} {c}" for t, c in exact[["table", "column"]].itertuples(index=False)]
        shown["rows"] = shown_counts(self, exact["rows"], [f"rows {t}" for t in exact["table"]])
        filled = shown_counts(self, exact["filled"], [f"filled {cell}" for cell in cells])
        # Each count has its own noise: more filled values than rows is shown as every row filled.
        shown["filled"] = [
            min(f, r) if isinstance(f, int) and isinstance(r, int) else f
            for f, r in zip(filled, shown["rows"], strict=True)
        ]
        numbers = [
            f / r if isinstance(r, int) and isinstance(f, int) and r > 0 else np.nan
            for r, f in zip(shown["rows"], shown["filled"], strict=True)
        ]
        shown["share"] = pd.Series(numbers, index=shown.index, dtype=float)
        return shown
