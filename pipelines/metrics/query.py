"""SQL for a metric: its template, parameterised by period, as_of, breakdown and filters.

Each metric's units (episodes, people, contacts or assessment pairs, with a ``cohort_date``, their
record key ``rkey`` and their numerator/denominator contributions, a value, or a time and event flag)
are defined once in
``pipelines/sql/metrics/<template>.sql``. This module wraps that template in one aggregation per kind of
statistic: sums of numerator and denominator, a mean or median with its count, or event and censoring
counts per time for Kaplan–Meier, grouped by the breakdown; beside each count, ``<count>_key`` is the sum
of the record keys of the units it counts (for cell-key perturbation).

Dimensions come in three kinds: static ones (columns of the fact tables, grouped and filtered inside the
template through ``{{dims}}`` and ``{{filters}}``), time ones (labels of the units' cohort date) and unit
ones (columns a metric's units carry, such as peer_support; only metrics that list them accept them).
Time and unit dimensions are grouped and filtered after the units are formed.

The contact metrics read pre-aggregated marts built at load time (contact_months, contact_person_months:
one row per month and cell, or per person, month and cell), which hold whole calendar months. A template
marks the SQL that adds a period's partial months from the contact-level facts with
``{{partial_months:<fragment>}}``: it is left out when every period the query answers is whole months
(``whole_months``: always, for the dashboard), so such a query never scans the contacts.

A monthly series of a people-based metric (``series=True``) is one query: the template's period bounds
``$period_start`` / ``$period_end`` become the columns of a ``series_periods`` relation (one row per
month) joined to every fact table at ``{{periods}}``, and ``period_start`` travels with the breakdown
columns through every GROUP BY and join of the template, so each month is still its own period.

Safety: breakdown and filter dimension names are checked against `DIMENSIONS` before they reach the SQL
text; filter values only ever travel as DuckDB parameters (``$filter_<dimension>``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from pipelines.derived import read_sql, render
from pipelines.metrics.registry import (
    DIMENSIONS,
    METRICS,
    STATIC_DIMENSIONS,
    TIME_DIMENSIONS,
    UNIT_DIMENSIONS,
    Metric,
    get_metric,
)

#: SQL label of each time dimension, computed from a unit's cohort date.
TIME_LABELS: dict[str, str] = {
    "month": "strftime(cohort_date, '%Y-%m')",
    "quarter": "CAST(year(cohort_date) AS VARCHAR) || '-Q' || CAST(quarter(cohort_date) AS VARCHAR)",
}

_FRAGMENT = re.compile(r"\{\{\s*fragment:([a-z_0-9]+)\s*\}\}")
_PARTIAL_MONTHS = re.compile(r"\{\{\s*partial_months:([a-z_0-9]+)\s*\}\}")
_PARAMETER = re.compile(r"\$([a-z_][a-z_0-9]*)")
_PERIOD_BOUND = re.compile(r"\$(period_start|period_end)\b")

#: In a monthly series, a fact table is first narrowed to the records some month of the series can use
#: (a superset: each template still applies its own month's bounds), so that its date-range scan still
#: skips row groups; here ``$period_start`` / ``$period_end`` are the bounds of the whole series.
SERIES_SCOPES: dict[str, str] = {
    "contact_facts": "contact_date BETWEEN $period_start AND $period_end",
    "contact_months": "month_start BETWEEN $period_start AND $period_end",
    "contact_person_months": "month_start BETWEEN $period_start AND $period_end",
}


@dataclass(frozen=True)
class MetricQuery:
    """A rendered metric query: the SQL text and the names of its breakdown columns."""

    sql: str
    group_columns: tuple[str, ...]

    def parameters(self, values: Mapping[str, object]) -> dict[str, object]:
        """The subset of ``values`` this query's text uses (DuckDB refuses unused named parameters)."""
        used = set(_PARAMETER.findall(self.sql))
        missing = used - set(values)
        if missing:
            raise KeyError(f"no value for SQL parameters {sorted(missing)}")
        return {name: values[name] for name in used}


def validate_breakdown(by: str | Iterable[str] | None) -> tuple[str, ...]:
    """The breakdown as a tuple of known, distinct dimension names."""
    if by is None:
        return ()
    columns = (by,) if isinstance(by, str) else tuple(by)
    for column in columns:
        if column not in DIMENSIONS:
            raise ValueError(f"unknown breakdown dimension {column!r}; choose from {', '.join(DIMENSIONS)}")
    if len(set(columns)) != len(columns):
        raise ValueError(f"a breakdown dimension is repeated in {list(columns)}")
    return columns


def validate_filters(filters: Mapping[str, object] | None) -> dict[str, list[str]]:
    """Filters as {dimension: [allowed values as strings]}, with dimension names checked.

    A single value is taken as a one-value list; an empty list allows nothing.
    """
    if not filters:
        return {}
    checked: dict[str, list[str]] = {}
    for dimension, values in filters.items():
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown filter dimension {dimension!r}; choose from {', '.join(DIMENSIONS)}")
        if values is None:
            continue
        if isinstance(values, str) or not isinstance(values, Iterable):
            values = [values]
        checked[dimension] = [str(v) for v in values]
    return checked


def _filter_clause(dimensions: Sequence[str]) -> str:
    return "".join(
        f"\n  AND {dimension} IN (SELECT unnest($filter_{dimension}::VARCHAR[]))" for dimension in dimensions
    )


def _key_sum(condition: str) -> str:
    """The sum of the record keys (``rkey``) of the units meeting ``condition`` (a fixed SQL predicate):
    with a count, the cell key of `pipelines.stats.perturbation` is this modulo 256."""
    return f"coalesce(sum(rkey) FILTER (WHERE {condition}), 0)::BIGINT"


def check_unit_dimensions(metric: Metric, dimensions: Iterable[str]) -> None:
    """Refuse a unit dimension (e.g. peer_support) the metric does not define."""
    for dimension in dimensions:
        if dimension in UNIT_DIMENSIONS and dimension not in metric.unit_dimensions:
            offering = [m.id for m in METRICS.values() if dimension in m.unit_dimensions]
            raise ValueError(
                f"{metric.id} has no {dimension!r} dimension; it is defined for {', '.join(offering)}"
            )


def units_sql(
    metric: Metric,
    static_by: Sequence[str],
    static_filters: Sequence[str],
    *,
    series: bool = False,
    whole_months: bool = False,
) -> str:
    """The metric's units query with fragments, dims and filters filled in (for a monthly series, with
    each unit tagged by the ``period_start`` of its month: see the module docstring). With
    ``whole_months`` the SQL for partial months is left out: the query then answers only periods (every
    month of a series) that start on a month's first day and end on a month's last day."""
    text = read_sql("metrics", f"{metric.sql_template}.sql")
    while (match := _FRAGMENT.search(text) or _PARTIAL_MONTHS.search(text)) is not None:
        wanted = match.re is _FRAGMENT or not whole_months
        fragment = read_sql("metrics", f"{match.group(1)}.sql") if wanted else ""
        text = text[: match.start()] + fragment + text[match.end() :]
    dims = "".join(f", {d}" for d in static_by)
    if series:
        text = _PERIOD_BOUND.sub(lambda m: f"series_periods.{m.group(1)}", text)
        dims = ", period_start" + dims
    values = {
        "dims": dims,
        "filters": _filter_clause(static_filters),
        "periods": "\n  CROSS JOIN series_periods" if series else "",
        **metric.template_values,
    }
    return render(text, values)


def build_metric_query(
    metric: Metric,
    by: Sequence[str] = (),
    filter_dimensions: Sequence[str] = (),
    *,
    series: bool = False,
    whole_months: bool = False,
) -> MetricQuery:
    """The full aggregation query of ``metric`` (see `_build_metric_query`), cached by its arguments."""
    return _build_metric_query(metric.id, tuple(by), tuple(filter_dimensions), series, whole_months)


def is_whole_months(start: date, end: date) -> bool:
    """True when [start, end] starts on a month's first day and ends on a month's last day."""
    return start.day == 1 and (end + timedelta(days=1)).day == 1


@lru_cache(maxsize=512)
def _build_metric_query(
    metric_id: str,
    by: tuple[str, ...],
    filter_dimensions: tuple[str, ...],
    series: bool = False,
    whole_months: bool = False,
) -> MetricQuery:
    """The full aggregation query of ``metric`` for a breakdown and the dimensions being filtered.

    Parameters of the returned SQL: ``$period_start``, ``$period_end``, ``$as_of``, ``$z`` (medians) and
    ``$filter_<dimension>`` (a VARCHAR[] of allowed values) for each filtered dimension. With ``series``
    the query computes every month of a monthly series at once: it also takes ``$series_starts`` and
    ``$series_ends`` (DATE[], the months' bounds), ``$period_start`` / ``$period_end`` are the bounds
    of the whole series, and its first group column is ``period_start`` (the month's first day). With
    ``whole_months`` the query is valid only for periods of whole months (every month of a series, with
    a series), and a metric reading pre-aggregated months then never reads the contacts themselves.
    """
    metric = get_metric(metric_id)
    by = validate_breakdown(by)
    for dimension in filter_dimensions:
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown filter dimension {dimension!r}")
    check_unit_dimensions(metric, (*by, *filter_dimensions))
    static_by = [d for d in by if d in STATIC_DIMENSIONS]
    static_filters = [d for d in filter_dimensions if d in STATIC_DIMENSIONS]
    time_needed = [d for d in TIME_DIMENSIONS if d in by or d in filter_dimensions]
    outer_filters = [d for d in filter_dimensions if d not in STATIC_DIMENSIONS]

    units = units_sql(metric, static_by, static_filters, series=series, whole_months=whole_months)
    time_columns = "".join(f", {TIME_LABELS[d]} AS {d}" for d in time_needed)
    source = f"(SELECT *{time_columns} FROM units) AS units" if time_needed else "units"
    where = f"\nWHERE TRUE{_filter_clause(outer_filters)}" if outer_filters else ""
    if series:
        by = ("period_start", *by)
    group_select = "".join(f"{d}, " for d in by)
    group_by = f"\nGROUP BY {', '.join(by)}" if by else ""
    order_by = f"\nORDER BY {', '.join(by)}" if by else ""

    if metric.statistic in ("proportion", "count"):
        sums = ",\n  ".join(
            f"coalesce(sum({c}), 0)::BIGINT AS {c},\n  {_key_sum(f'{c} <> 0')} AS {c}_key"
            for c in metric.sum_columns
        )
        body = f"SELECT {group_select}\n  {sums}\nFROM {source}{where}{group_by}{order_by}"
    elif metric.statistic == "mean":
        body = (
            f"SELECT {group_select}\n"
            "  count(value)::BIGINT AS denominator,\n"
            f"  {_key_sum('value IS NOT NULL')} AS denominator_key,\n"
            "  coalesce(sum(value), 0)::BIGINT AS numerator,\n"
            "  avg(value)::DOUBLE AS value,\n"
            "  stddev_samp(value)::DOUBLE AS sd\n"
            f"FROM {source}{where}{group_by}{order_by}"
        )
    elif metric.statistic == "median":
        # Distribution-free interval for the median (Campbell & Gardner 1988): the order statistics of
        # ranks round(n/2 − z√n/2) and round(1 + n/2 + z√n/2); missing where a rank falls outside 1…n.
        body = (
            "SELECT " + group_select + "denominator, denominator_key, value,\n"
            "  CASE WHEN low_rank >= 1 THEN sorted_values[low_rank] END::DOUBLE AS ci_low,\n"
            "  CASE WHEN high_rank <= denominator THEN sorted_values[high_rank] END::DOUBLE AS ci_high\n"
            "FROM (\n"
            "  SELECT *,\n"
            "    round(denominator / 2 - $z * sqrt(denominator) / 2)::BIGINT AS low_rank,\n"
            "    round(1 + denominator / 2 + $z * sqrt(denominator) / 2)::BIGINT AS high_rank\n"
            "  FROM (\n"
            f"    SELECT {group_select}count(value)::BIGINT AS denominator, median(value)::DOUBLE AS value,\n"
            f"      {_key_sum('value IS NOT NULL')} AS denominator_key,\n"
            "      list_sort(list(value) FILTER (WHERE value IS NOT NULL)) AS sorted_values\n"
            f"    FROM {source}{where}{group_by}\n"
            "  )\n"
            f"){order_by}"
        )
    elif metric.statistic == "kaplan_meier":
        body = (
            f"SELECT {group_select}t,\n"
            "  count(*) FILTER (WHERE event)::BIGINT AS events,\n"
            "  count(*) FILTER (WHERE NOT event)::BIGINT AS censored,\n"
            f"  {_key_sum('event')} AS events_key,\n"
            f"  {_key_sum('NOT event')} AS censored_key\n"
            f"FROM {source}{where}\nGROUP BY {', '.join([*by, 't'])}\nORDER BY {', '.join([*by, 't'])}"
        )
    else:  # pragma: no cover - the registry only holds the kinds above
        raise ValueError(f"unknown statistic {metric.statistic!r}")

    ctes = [f"units AS (\n{units}\n)"]
    if series:
        scopes = [
            f"{table} AS (\n  SELECT * FROM main.{table}\n  WHERE {scope}\n)"
            for table, scope in SERIES_SCOPES.items()
            if re.search(rf"\bFROM {table}\b", units)
        ]
        periods = (
            "series_periods AS (\n"
            "  SELECT unnest($series_starts::DATE[]) AS period_start,\n"
            "    unnest($series_ends::DATE[]) AS period_end\n)"
        )
        ctes = [periods, *scopes, *ctes]
    title = f"-- metric {metric.id}" + (" (monthly series)" if series else "")
    with_clause = ",\n".join(ctes)
    sql = f"{title}\nWITH {with_clause}\n{body}"
    return MetricQuery(sql=sql, group_columns=tuple(by))
