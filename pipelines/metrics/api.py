"""The metric API: one function per question, shared by notebooks, the command line and the dashboard.

``compute_metric(warehouse, "retention_12wk", "2024-04-01", "2025-03-31", by=["programme", "quarter"])``
returns a DataFrame of the breakdown columns then ``numerator, denominator, value, ci_low, ci_high,
suppressed`` (Kaplan–Meier metrics return the survival table per group instead). Counts are aggregated in
DuckDB; intervals and disclosure control are applied afterwards in numpy by `pipelines.stats`.

Conventions where docs/metrics.md is silent are listed in `CONVENTIONS` (and the README).
"""

from __future__ import annotations

import calendar
import hashlib
import itertools
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from pipelines.contract import SEXES, SUBSTANCE_GROUPS, TABLE_ORDER
from pipelines.metrics.query import (
    build_metric_query,
    is_whole_months,
    validate_breakdown,
    validate_filters,
)
from pipelines.metrics.registry import (
    AGE_BANDS,
    METRICS,
    STRUCTURAL_DIMENSIONS,
    UNIT_DIMENSION_VALUES,
    Metric,
    get_metric,
    resolve_parameters,
)
from pipelines.record_keys import read_salt
from pipelines.stats import (
    DEFAULT_THRESHOLD,
    KM_COLUMNS,
    Z95,
    kaplan_meier_from_counts,
    perturb,
    primary_suppress,
    survival_from_risk_sets,
    wilson_interval,
)
from pipelines.warehouse import LOAD_HISTORY_TABLE, Warehouse, file_identity

DateLike = date | datetime | str | pd.Timestamp

RESULT_COLUMNS = ["numerator", "denominator", "value", "ci_low", "ci_high", "suppressed", "suppressed_reason"]
KM_RESULT_COLUMNS = [*KM_COLUMNS, "suppressed", "suppressed_reason"]

CONVENTIONS = """\
- Breakdown cells: each cell is the metric computed with the cell's values as filters. For people-based
  metrics a person is counted once per cell (so a person in two programmes counts in both programme
  rows, and the rows need not add up to the total); "latest successful discharge D" is the latest within
  the cell. Filters restrict the records (episodes, contacts, pairs) before people are counted; the
  re-presentation episode after D may be in any programme.
- month/quarter labels are 'YYYY-MM' and 'YYYY-Qn' of the cohort date: start_date (retention, early exit,
  waiting, abstinence, TOP changes, median wait, time in treatment), discharge_date (successful
  completion), D (re-presentation, time to re-presentation), contact_date (peer contacts/minutes). For
  in_treatment the cohort date is the first day of the period the person was in treatment,
  greatest(start_date, from) of their earliest qualifying episode; for deaths_in_treatment and
  completion_no_representation it is the death / latest successful discharge date for people in the
  numerator, otherwise the in_treatment cohort date; for peer_reach the first attended peer contact
  (numerator) or first attended contact.
- Contacts: age_band from year(contact_date) − birth_year; substance_group of the linked episode, else of
  the person's latest episode referred on or before the contact date, else 'unknown'.
- Assessment pair: the episode's first start assessment and its latest review/exit assessment dated
  strictly after it (ties: exit before review). A missing days value at the latest assessment counts as not
  abstinent. TOP / BARC-10 changes use the same pairs without the substance condition, keeping pairs with
  both scores recorded.
- Continuous measures: numerator = sum of the values, denominator = number of records. Mean: normal
  interval mean ± z·sd/√n (missing for n < 2). Median: distribution-free order-statistic interval
  (Campbell & Gardner 1988, ranks round(n/2 − z√n/2) and round(1 + n/2 + z√n/2); missing when a rank
  falls outside 1…n).
- Time to event: discharges or referrals after as_of count as not yet happened (censored at as_of).
- Disclosure control (shared outputs, the default): every count shown (numerators, denominators, numbers
  of records, sums of minutes, Kaplan–Meier numbers at risk and events) is perturbed by the cell-key
  method (`pipelines.stats.perturbation`): the count plus the noise the perturbation table gives for its
  cell key, the sum of its records' keys (people's keys for people-based counts, the records' own
  otherwise) modulo 256. The same records always get the same noise, however they are asked for; no
  shown count is 1–4 (a true 1–4 shows as 0 or 5); a count of 8 or more moves by at most 3. Rates and
  their Wilson intervals are computed from the perturbed counts (a perturbed numerator above its
  perturbed denominator is taken as the denominator). Then every decision is made on the perturbed
  counts, never the true ones, so what is hidden says nothing either: a row is suppressed when its
  perturbed numerator, denominator or denominator − numerator is 1…threshold−1 (in practice only a
  complement can be; peer_minutes_share: the contacts behind the minutes). There is no secondary
  suppression: each count carries its own noise, fixed by its records, so a hidden row cannot be had
  back from a total, and a row hidden only to protect another would be shown anyway as the headline of
  the view filtered to it. A row's fate is thus a function of its own perturbed counts, the same on
  every page and in every breakdown that shows it. The column ``suppressed_reason`` says why a row is
  hidden ("small count", "fewer than 10 records", "tail of the curve").
- Means and medians are shown only where the perturbed number of records is at least
  `MIN_RECORDS_FOR_AVERAGE` (10): a mean and its standard deviation rounded to 1 decimal, a median to a
  whole number, and the mean's interval computed from the rounded mean and standard deviation and the
  perturbed n, so no whole-number constraint (mean × n, (n − 1)·sd² + n·mean²) gives n away; the sum of
  the values is never shown.
- Kaplan–Meier tables (shared): times are put on a 28-day grid (t = 0, 28, 56, ...: an exit on days
  1–28 counts at 28) running to the longest time in the table for every group, so a row exists whether
  or not anyone left; each row's number at risk and its events so far are perturbed as cells of their
  own (the people at risk at t, the people who had the event by t), a step's events are the rise of the
  events so far (so noise does not add up along the curve), and the survival and band come from those.
  A shared table shows the numbers at risk and the curve; its events and censored columns are empty (a
  difference of two perturbed counts could read as a 1–4 nobody had). The tail is cut from the first row with
  fewer than `MIN_AT_RISK` (10) perturbed at risk, and in a breakdown a group with fewer than
  `MIN_CURVE_GROUP` (20) perturbed at the start is left out, rows and all, as an empty group is, so the
  shown curves never add up to another shown curve with a small one among them, and a small group is
  never told from an empty one.
- Two-way breakdowns (and 3+, as first column × the observed combinations of the rest) are completed to
  the full grid of the categories they show, with or without suppression: an empty combination is a row
  with zero counts and a missing value (0/0; a count metric shows 0). Zeros are not disclosive, and
  a missing row would tell 0 from a 1–4 perturbed to 0.
- Every result's DataFrame.attrs holds metric, start, end, as_of, by, filters, suppressed_threshold and
  disclosure ("perturbation" for shared outputs, None for exact counts).
- peer_support (with_peer_support / without_peer_support) is a breakdown and filter of retention_12wk,
  early_unplanned_exit and time_in_treatment (episodes: the person had ≥1 attended peer contact, in any
  programme or none, dated on days 0–27 of the episode, i.e. start_date ≤ contact_date < start_date + 28
  and not after its discharge), and of representation_6m and time_to_representation (people: ≥1
  attended peer contact dated from the start to the discharge D of the episode ending at D; on a tie,
  of any episode ending at D). The metrics' cohorts and definitions are unchanged; only the grouping is
  new. The 28-day landmark limits immortal-time bias (staying longer gives more chances to meet a peer)
  without removing it: an episode that ends before day 28 had less time to meet one, so the
  without-peer-support group holds more early exits. Exposure is not assigned at random either
  (programme, setting, substance, severity, motivation): these are observational associations, not
  effects of peer support.
- relapse_tests and time_to_relapse (v2 of the definitions, after the X:BOT trial) count weeks from
  referral_date (week k = days 7(k−1) … 7k−1) over the person's drug tests by date, whatever episode a
  test names, so a never-started episode is followed too (intention to treat). Opioid tests are of
  opiates or fentanyl; a methadone or buprenorphine result, positive or negative, is not an opioid test,
  so a week whose only valid tests are of those has no valid opioid test and is a use week. An invalid
  sample is no test. The grace weeks (3), run length (4) and window (24 weeks) are parameters; the
  relapse_tests cohort needs 7 × window_weeks days of follow-up by as_of. time_to_relapse follows every
  episode referred in the period but counts only weeks complete by as_of (a run must lie wholly within
  them), and censors at day 7 × window_weeks or at as_of. month/quarter: of referral_date.
- new_presentations counts people, in any programme the filters allow, with an episode starting in the
  period and no episode (of any programme) open on the day before: started by then and not discharged
  before it (an episode discharged on that day was still open, as in_treatment counts its discharge
  day, so a transfer is not a new presentation). month/quarter: of the person's first such start.
- exit_reason_mix counts discharges in the period; its unit dimensions outcome_group and
  discharge_reason give the mix of how episodes ended. `compute_mix` returns each category's count with
  its cell's total (the metric broken down without the category) and its share of it; counts and totals
  are each suppressed by the rule above, and a share is shown only when both are.
"""


def _as_date(value: DateLike, name: str) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a date in YYYY-MM-DD form") from None
    raise TypeError(f"{name} must be a date or an ISO date string, got {type(value).__name__}")


def _cursor(source: object) -> duckdb.DuckDBPyConnection:
    """A DuckDB cursor from a `Warehouse` or a DuckDB connection."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source
    cursor = getattr(source, "cursor", None)
    if callable(cursor):
        return cursor()
    raise TypeError("expected a Warehouse or a DuckDB connection")


def extract_dates(source: object) -> tuple[date, date]:
    """(first date, as_of): the earliest and the latest date anywhere in the warehouse (table
    ``extract_dates``); as_of is docs/metrics.md's default extract date.

    A warehouse whose records carry no date (nothing loaded, or only providers, programmes and people)
    falls back to the as_of of its latest load, for both, so every reader still has an extract date;
    ValueError when there is none either. For a `Warehouse` the answer is kept per warehouse file (path
    and file identity, as the Warehouse uses to notice a load's swap), so a new file is read afresh; a
    bare connection is always asked.
    """
    key = _file_key(source)
    if key is not None:
        with _AS_OF_LOCK:
            cached = _AS_OF_CACHE.get(key)
        if cached is not None:
            return cached
    cursor = _cursor(source)
    rows = cursor.execute("SELECT first_date, as_of FROM extract_dates").fetchall()
    first, as_of = rows[0] if rows else (None, None)
    if as_of is None:
        try:
            loaded = cursor.execute(f"SELECT max(as_of) FROM {LOAD_HISTORY_TABLE}").fetchall()[0]
        except duckdb.CatalogException:
            loaded = None
        if loaded is None or loaded[0] is None:
            raise ValueError("the warehouse holds no dates; load an extract first")
        first = as_of = loaded[0]
    dates = (first, as_of)
    if key is not None and _file_key(source) == key:  # the file was not swapped while we read it
        with _AS_OF_LOCK:
            while len(_AS_OF_CACHE) >= _AS_OF_CACHE_SIZE:
                del _AS_OF_CACHE[next(iter(_AS_OF_CACHE))]
            _AS_OF_CACHE[key] = dates
    return dates


def extract_as_of(source: object) -> date:
    """The default as_of: the latest date anywhere in the warehouse (see `extract_dates`)."""
    return extract_dates(source)[1]


_AS_OF_CACHE: dict[tuple[str, tuple[int, int, int]], tuple[date, date]] = {}
_AS_OF_CACHE_SIZE = 64
_AS_OF_LOCK = threading.Lock()


def _file_key(source: object) -> tuple[str, tuple[int, int, int]] | None:
    """(absolute path, file identity) of a Warehouse's file; None for anything else or no file."""
    if not isinstance(source, Warehouse):
        return None
    identity = file_identity(source.path)
    return None if identity is None else (os.path.abspath(source.path), identity)


def available_metrics() -> list[str]:
    """Ids of every metric of docs/metrics.md, in the order of the spec."""
    return list(METRICS)


def describe_metric(name: str) -> dict[str, object]:
    """id, label, kind, improvement ("up"/"down"/None), one-line definition, unit, grain and statistic."""
    return get_metric(name).describe()


def metric_catalogue() -> pd.DataFrame:
    """Every metric's description as a table, one row per metric."""
    return pd.DataFrame([m.describe() for m in METRICS.values()])


def check_period(metric: Metric, start: date, end: date, as_of: date) -> None:
    """Refuse a period the metric is not defined for."""
    if start > end:
        raise ValueError(f"the period starts ({start}) after it ends ({end})")
    if metric.needs_follow_up_days and end + timedelta(days=metric.needs_follow_up_days) > as_of:
        raise ValueError(
            f"{metric.id} is only defined when to + {metric.needs_follow_up_days} days ≤ as_of: "
            f"{end} + {metric.needs_follow_up_days} = {end + timedelta(days=metric.needs_follow_up_days)} "
            f"is after as_of {as_of}; choose a period ending on or before "
            f"{as_of - timedelta(days=metric.needs_follow_up_days)}"
        )


def metric_sql(
    name: str, *, by: Iterable[str] | str | None = None, filters: Mapping[str, object] | None = None
) -> str:
    """The SQL text compute_metric runs for this metric, breakdown and filter dimensions (for reading)."""
    filters = validate_filters(filters)
    return build_metric_query(get_metric(name), validate_breakdown(by), tuple(filters)).sql


def compute_metric(
    source: object,
    name: str,
    start: DateLike,
    end: DateLike,
    *,
    as_of: DateLike | None = None,
    by: Iterable[str] | str | None = None,
    filters: Mapping[str, object] | None = None,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
    keys: bool = False,
    parameters: Mapping[str, int] | None = None,
    adjust: bool = False,
) -> pd.DataFrame:
    """Compute a metric of docs/metrics.md for the period [start, end] (inclusive) as at ``as_of``.

    ``source`` is a `pipelines.warehouse.Warehouse` or a DuckDB connection to a warehouse. ``by`` lists
    breakdown dimensions (programme, provider, area, setting, substance_group, sex, age_band, month,
    quarter); ``filters`` maps a dimension to its allowed values. ``as_of`` defaults to the latest date
    anywhere in the warehouse.

    Returns the breakdown columns then ``numerator, denominator, value, ci_low, ci_high, suppressed``:
    proportions with a 95% Wilson interval; counts with value = numerator = the count and no denominator;
    continuous measures with numerator = sum of values, denominator = number of records and the interval
    described in `CONVENTIONS`. Survival metrics return the breakdown columns then ``t, n_at_risk, events,
    censored, survival, ci_low, ci_high, suppressed`` (Kaplan–Meier with a log(−log) Greenwood band).

    A breakdown by two or more dimensions is completed to the full grid of the categories it shows
    (first dimension × the observed combinations of the others) before disclosure control: an empty
    combination is a row with zero counts (value missing where it is 0/0), so a missing row never
    tells 0 from a 1–4 perturbed to 0.

    With ``suppress`` (the default: safe to share) every count shown is perturbed by the cell-key
    method and small perturbed counts are suppressed, with proportions and intervals computed from the
    perturbed counts: see `CONVENTIONS`. ``suppress=False`` gives the exact counts, for analysts with
    record-level access. For survival metrics a suppressed row (the tail of each curve) keeps its
    breakdown columns and ``t`` and shows every count and estimate as missing, so a survival_at-style
    lookup past the last visible row finds a missing value, not the last survival; a small group is left
    out, as an empty one is.

    ``keys`` (with ``suppress=False`` only) adds beside each exact count the sum of its records' keys
    (``numerator_key``, ``denominator_key``; ``events_key`` and ``censored_key`` for survival), from
    which the shared table's perturbation follows: for checking the disclosure control from outside
    (``tests/security``), never for sharing.

    The frame's ``attrs`` carry its context: ``metric``, ``start``, ``end``, ``as_of`` (dates), ``by``
    (list), ``filters`` ({dimension: [values]}), ``suppressed_threshold`` (the threshold, or None
    without suppression), ``disclosure`` ("perturbation", or None for exact counts) and ``parameters``
    (the values of the metric's parameters used, defaults included; {} for a metric without any).

    ``parameters`` sets parameters of the metric's definition (relapse_tests and time_to_relapse:
    ``grace_weeks``, ``run_length``, ``window_weeks``; `describe_metric` lists each metric's with their
    defaults). A name the metric does not declare, or a value out of its bounds, is a ValueError; the
    values reach DuckDB only as query parameters.

    ``adjust`` (retention_12wk, early_unplanned_exit, successful_completion, representation_6m, by
    programme only) compares the programmes on case mix by indirect standardisation and adds the columns
    ``expected, ratio, ratio_ci_low, ratio_ci_high, adjusted_value, significance, adjustment_note``
    (`pipelines.metrics.adjustment`): observed counts are the table's (perturbed when shared), expected
    counts model sums shown to one decimal. Where the model cannot be fitted those columns are missing
    and ``attrs["warnings"]`` says why. A sibling flag rather than a sibling function, because the
    adjusted table is the crude one with columns added: the same counts, the same disclosure control.
    """
    if keys and suppress:
        raise ValueError("keys=True is for exact results: pass suppress=False as well")
    metric = get_metric(name)
    if adjust:
        from pipelines.metrics.adjustment import check_adjustable

        if keys:
            raise ValueError("keys=True and adjust=True do not go together")
        check_adjustable(metric, validate_breakdown(by))
    settings = resolve_parameters(metric, parameters)
    cursor = _cursor(source)
    start_date, end_date = _as_date(start, "start"), _as_date(end, "end")
    as_of_date = extract_as_of(source) if as_of is None else _as_date(as_of, "as_of")
    check_period(metric, start_date, end_date, as_of_date)
    by_columns = validate_breakdown(by)
    allowed = validate_filters(filters)

    query = build_metric_query(
        metric, by_columns, tuple(allowed), whole_months=is_whole_months(start_date, end_date)
    )
    values: dict[str, object] = {
        "period_start": start_date,
        "period_end": end_date,
        "as_of": as_of_date,
        "z": Z95,
        **settings,
        **{f"filter_{d}": v for d, v in allowed.items()},
    }
    counts = cursor.execute(query.sql, query.parameters(values)).df()
    if suppress and by_columns and metric.statistic != "kaplan_meier":
        counts = every_category(cursor, counts, list(by_columns), allowed, start_date, end_date)
    result = finish_metric(metric, counts, list(by_columns), suppress=suppress, threshold=threshold)
    if keys:
        result = _with_key_sums(metric, counts, list(by_columns), result)
    result.attrs = result_context(
        name,
        start_date,
        end_date,
        as_of_date,
        list(by_columns),
        allowed,
        threshold if suppress else None,
        _disclosure_of(suppress),
        settings,
    )
    if adjust:
        from pipelines.metrics.adjustment import adjust_table

        result = adjust_table(
            cursor, metric, result, start_date, end_date, as_of_date, allowed, suppress=suppress
        )
    return result


def category_universe(
    cursor: duckdb.DuckDBPyConnection,
    by: list[str],
    filters: Mapping[str, Sequence[str]],
    start: date,
    end: date,
) -> list[tuple[object, ...]]:
    """Every combination of categories (tuples in the order of ``by``) a shared breakdown by ``by``
    shows, whether or not anyone falls in it: the programmes the filters allow (with their provider,
    area and setting, as stg_programmes holds them), each sex, age band, substance group and unit
    dimension's value the filters allow, and each month or quarter of the period."""
    structural = [d for d in by if d in STRUCTURAL_DIMENSIONS]
    axes: list[list[tuple[object, ...]]] = []
    if structural:
        where = [
            f"{_PROGRAMME_COLUMNS[d]} IN (SELECT unnest(${d}))" for d in STRUCTURAL_DIMENSIONS if d in filters
        ]
        sql = (
            "SELECT DISTINCT "
            + ", ".join(f"{_PROGRAMME_COLUMNS[d]} AS {d}" for d in structural)
            + " FROM stg_programmes"
            + (" WHERE " + " AND ".join(where) if where else "")
        )
        parameters = {d: list(filters[d]) for d in STRUCTURAL_DIMENSIONS if d in filters}
        axes.append(cursor.execute(sql, parameters).fetchall())
    others = []
    for dimension in by:
        if dimension in structural:
            continue
        values = list(_category_values(dimension, start, end))
        if dimension in filters:
            wanted = set(filters[dimension])
            values = [v for v in values if v in wanted]
        axes.append([(v,) for v in values])
        others.append(dimension)
    order = [*structural, *others]
    position = [order.index(d) for d in by]
    combos = (sum(parts, ()) for parts in itertools.product(*axes))
    return [tuple(combo[i] for i in position) for combo in combos]


_PROGRAMME_COLUMNS = {
    "programme": "programme_id",
    "provider": "provider_id",
    "area": "area_code",
    "setting": "setting",
}


def _category_values(dimension: str, start: date, end: date) -> Sequence[str]:
    if dimension == "sex":
        return SEXES
    if dimension == "age_band":
        return AGE_BANDS
    if dimension == "substance_group":
        return SUBSTANCE_GROUPS
    if dimension in UNIT_DIMENSION_VALUES:
        return UNIT_DIMENSION_VALUES[dimension]
    months = pd.period_range(start, end, freq="M")
    if dimension == "month":
        return [str(m) for m in months]
    if dimension == "quarter":
        return list(dict.fromkeys(f"{m.year}-Q{m.quarter}" for m in months))
    raise ValueError(f"no list of categories for {dimension!r}")


def every_category(
    cursor: duckdb.DuckDBPyConnection,
    counts: pd.DataFrame,
    by: list[str],
    filters: Mapping[str, Sequence[str]],
    start: date,
    end: date,
) -> pd.DataFrame:
    """The SQL's counts with a row (zero counts, zero key sums) for every category of the breakdown
    (`category_universe`), so a shared table's rows are the same whoever is in them: a programme with
    nobody in the period shows as a row of zeros, as a programme whose 1–4 perturbs to 0 does, never
    as a missing row. A category the SQL returns outside the list is kept."""
    wanted = category_universe(cursor, by, filters, start, end)
    have = set(zip(*(counts[d].to_numpy(dtype=object) for d in by), strict=True))
    missing = [combo for combo in wanted if combo not in have]
    if not missing:  # the common case at any real size: every category has someone in it
        return counts
    zeros = pd.DataFrame(missing, columns=by, dtype=object)
    for column in counts.columns:
        if column in by:
            continue
        if column in _COUNT_COLUMNS:
            zeros[column] = np.zeros(len(zeros), dtype=counts[column].dtype)
        else:  # a mean, median or interval of nothing
            zeros[column] = pd.Series(np.nan, index=zeros.index).astype(
                counts[column].dtype if counts[column].dtype.kind == "f" else float
            )
    full = pd.concat([counts.astype({d: object for d in by}), zeros], ignore_index=True)
    # Ordered as the SQL orders its rows: by the breakdown columns, missing categories last.
    return full.sort_values(by, na_position="last", kind="stable").reset_index(drop=True)


def _with_key_sums(metric: Metric, counts: pd.DataFrame, by: list[str], result: pd.DataFrame) -> pd.DataFrame:
    """An exact result with each count's key sum beside it (`compute_metric`'s ``keys``)."""
    if metric.statistic == "kaplan_meier":
        on = [*by, "t"]
        sums = counts[[*on, "events_key", "censored_key"]]
        return result.merge(sums, on=on, how="left", validate="one_to_one")
    completed = complete_breakdown(counts, by).reset_index(drop=True)
    out = result.copy()
    for column in _COUNT_COLUMNS[4:]:
        if column in completed:
            out[column] = completed[column].to_numpy()
    return out


def compute_mix(
    source: object,
    name: str,
    start: DateLike,
    end: DateLike,
    *,
    part: str,
    by: Iterable[str] | str | None = None,
    as_of: DateLike | None = None,
    filters: Mapping[str, object] | None = None,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """The distribution of a count metric over the categories of ``part`` within each cell of ``by``.

    E.g. ``compute_mix(w, "exit_reason_mix", ..., part="outcome_group", by="programme")``: how each
    programme's discharges ended. Returns the ``by`` columns, ``part``, then ``count`` (the metric for the
    cell and category), ``total`` (the metric for the cell, i.e. broken down by ``by`` only), ``share`` =
    count / total, ``suppressed`` and ``suppressed_reason``. Counts come from `compute_metric` broken
    down by ``[*by, part]`` (full grid) and totals from `compute_metric` broken down by ``by``, both
    perturbed; shared, a part is also hidden when its unit's perturbed total less its perturbed count
    is 1–4, the rule of a proportion's complement, so the part is hidden exactly where a proportion
    metric of the same records hides it (the successful part and successful_completion). A category's
    share is missing when its count or its total is suppressed. ``attrs`` as for `compute_metric`,
    ``by`` ending with ``part``.
    """
    metric = get_metric(name)
    if metric.statistic != "count":
        raise ValueError(f"{name} is not a count metric; a mix is a distribution of counts")
    by_columns = list(validate_breakdown(by))
    if part in by_columns:
        raise ValueError(f"{part!r} is both the part and a breakdown column")
    options = dict(as_of=as_of, filters=filters, suppress=suppress, threshold=threshold)
    counts = compute_metric(source, name, start, end, by=[*by_columns, part], **options)
    counts = _every_category(counts, by_columns, part, suppress)
    totals = compute_metric(source, name, start, end, by=by_columns or None, **options)
    table = counts[[*by_columns, part]].copy()
    table["count"] = counts["numerator"]
    if by_columns:
        total_of = totals.set_index(by_columns)["numerator"]
        keys = pd.MultiIndex.from_frame(table[by_columns]) if len(by_columns) > 1 else table[by_columns[0]]
        table["total"] = pd.array(total_of.reindex(keys).to_numpy(), dtype="Int64")
    else:
        table["total"] = pd.array([totals["numerator"].iloc[0]] * len(table), dtype="Int64")
    count = table["count"].to_numpy(dtype=float, na_value=np.nan)
    total = table["total"].to_numpy(dtype=float, na_value=np.nan)
    hidden = counts["suppressed"].to_numpy(dtype=bool).copy()
    reasons = counts["suppressed_reason"].to_numpy(dtype=object).copy()
    if suppress:
        # A part is a numerator over its unit's total: the rule of every proportion applies, so a part
        # whose perturbed rest of the total (total - count, the count taken as the total where the noise
        # puts it above) is 1-4 is hidden, exactly as the same cell is where a proportion metric shows
        # it (the successful part is successful_completion's numerator, the total its denominator).
        small_rest = primary_suppress(np.minimum(count, total), total, threshold=threshold) & ~hidden
        hidden |= small_rest
        reasons[small_rest] = "small count"
        count = np.where(hidden, np.nan, count)
        table["count"] = pd.array(count, dtype="Float64").round().astype("Int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        table["share"] = np.where(total > 0, count / np.where(total > 0, total, 1), np.nan)
    table["suppressed"] = hidden
    table["suppressed_reason"] = pd.Series(np.where(hidden, reasons, None), dtype=object)
    table.attrs = {**counts.attrs}
    return table


def _every_category(counts: pd.DataFrame, by: list[str], part: str, suppress: bool) -> pd.DataFrame:
    """A mix's counts with a row for every category of ``part`` in each ``by`` cell: a category nobody
    fell into shows as a count of 0, so an empty category is never told apart by a missing row."""
    categories = UNIT_DIMENSION_VALUES.get(part)
    if categories is None or len(counts) == 0 and not by:
        return counts
    cells = counts[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    grid = cells.merge(pd.DataFrame({part: list(categories)}), how="cross")
    full = grid.merge(counts, on=[*by, part], how="left")
    for column in ("numerator", "value"):
        full[column] = full[column].astype("Float64").fillna(0)
    full["numerator"] = full["numerator"].astype("Int64")
    full["suppressed"] = full["suppressed"].astype("boolean").fillna(False).astype(bool)
    order = {c: i for i, c in enumerate(categories)}
    full = full.sort_values(
        [*by, part], key=lambda col: col.map(order) if col.name == part else col, kind="stable"
    )
    full.attrs = counts.attrs
    return full.reset_index(drop=True)


def result_context(
    name: str,
    start: date,
    end: date,
    as_of: date,
    by: list[str],
    filters: Mapping[str, list[str]],
    threshold: int | None,
    disclosure: str | None = None,
    parameters: Mapping[str, int] | None = None,
) -> dict[str, object]:
    """The ``attrs`` of a metric result: what was asked, as at when, the suppression threshold, the
    disclosure control applied ("perturbation", or None for exact counts) and the values of the metric's
    parameters."""
    return {
        "metric": name,
        "start": start,
        "end": end,
        "as_of": as_of,
        "by": list(by),
        "filters": {dimension: list(values) for dimension, values in filters.items()},
        "suppressed_threshold": threshold,
        "disclosure": disclosure,
        "parameters": dict(parameters or {}),
    }


def _disclosure_of(suppress: bool) -> str | None:
    """What was done to the counts shown: "perturbation" for shared outputs, None for exact counts."""
    return "perturbation" if suppress else None


#: Count columns a metric's SQL may return, and beside each the sum of its records' keys; an empty
#: breakdown cell has 0 in each.
_COUNT_COLUMNS = ("numerator", "denominator", "numerator_records", "denominator_records")
_COUNT_COLUMNS = (*_COUNT_COLUMNS, *(f"{c}_key" for c in _COUNT_COLUMNS))
#: Means and medians are shown only where the perturbed number of records is at least this.
MIN_RECORDS_FOR_AVERAGE = 10
#: Decimal places of a shown mean and of the standard deviation its interval is computed from.
MEAN_DECIMALS = 1


def complete_breakdown(counts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The breakdown with every combination of its shown categories, empty ones as zero counts.

    For two breakdown columns the grid is every observed category of the first × every observed
    category of the second; with more, the first × the observed combinations of the others (the
    two-way table disclosure control works on). Added rows have 0 in the count columns and missing
    values elsewhere (a mean or median of nothing). One-way and unbroken tables are returned as they are.
    Rows are sorted by the breakdown columns, missing categories last, as the SQL orders them.
    """
    if len(by) < 2 or len(counts) == 0:
        return counts
    first, rest = by[0], by[1:]
    if len(rest) == 1:  # the common case, checked cheaply: GROUP BY gives each combination once
        sizes = [len(pd.unique(counts[column].to_numpy(dtype=object))) for column in by]
        if sizes[0] * sizes[1] == len(counts):
            return counts
    firsts = counts[[first]].drop_duplicates()
    others = counts[rest].drop_duplicates()
    if len(firsts) * len(others) == len(counts):
        return counts
    grid = firsts.merge(others, how="cross")
    completed = grid.merge(counts, on=by, how="left")
    for column in _COUNT_COLUMNS:
        if column in completed:
            completed[column] = completed[column].fillna(0).astype(counts[column].dtype)
    return completed.sort_values(by, na_position="last", kind="stable").reset_index(drop=True)


def finish_metric(
    metric: Metric,
    counts: pd.DataFrame,
    by: list[str],
    *,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Turn the SQL counts into the published table: values, intervals and disclosure control.

    With ``suppress`` every count is perturbed first (`pipelines.stats.perturb`, by the sums of record keys
    the SQL gives beside each count), and everything after (the statistics shown, which rows are
    suppressed, and why) is decided on the perturbed counts alone: see `CONVENTIONS`. Without, the exact
    counts are used and nothing is hidden.
    """
    if metric.statistic == "kaplan_meier":
        return _finish_survival(counts, by, suppress=suppress, threshold=threshold)
    counts = complete_breakdown(counts, by)
    rows = len(counts)
    missing = np.full(rows, np.nan)
    shown_counts = counts.copy()
    if suppress:
        for column in _COUNT_COLUMNS[:4]:
            if column in counts and f"{column}_key" in counts:
                shown_counts[column] = perturb(counts[column], counts[f"{column}_key"])
    for numerator, denominator in (
        ("numerator", "denominator"),
        ("numerator_records", "denominator_records"),
    ):
        if suppress and metric.statistic == "proportion" and numerator in shown_counts:
            # Each count has its own noise: a numerator above its denominator is taken as the denominator.
            shown_counts[numerator] = np.minimum(shown_counts[numerator], shown_counts[denominator])

    def shown(column: str) -> np.ndarray:
        return shown_counts[column].to_numpy(dtype=float)

    reasons = np.full(rows, None, dtype=object)
    if metric.statistic == "proportion":
        numerator, denominator = shown("numerator"), shown("denominator")
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)
        ci_low, ci_high = wilson_interval(numerator, denominator)
        count_cols = list(metric.suppression_pair)
    elif metric.statistic == "count":
        numerator = shown("numerator")
        denominator, value, ci_low, ci_high = missing, numerator, missing, missing
        count_cols = ["numerator"]
    else:  # mean or median: shown only with enough records, at a stated precision
        denominator = shown("denominator")
        value = counts["value"].to_numpy(dtype=float)
        if metric.statistic == "mean":
            # The sum of values with the mean would give the number of records: never shown when shared.
            numerator = missing if suppress else counts["numerator"].to_numpy(dtype=float)
            sd = counts["sd"].to_numpy(dtype=float)
            if suppress:
                value, sd = np.round(value, MEAN_DECIMALS), np.round(sd, MEAN_DECIMALS)
            with np.errstate(invalid="ignore", divide="ignore"):
                half = np.where(denominator >= 2, Z95 * sd / np.sqrt(np.maximum(denominator, 1)), np.nan)
            ci_low, ci_high = value - half, value + half
        else:  # median: the interval comes from the SQL's order statistics
            numerator = missing
            ci_low = counts["ci_low"].to_numpy(dtype=float)
            ci_high = counts["ci_high"].to_numpy(dtype=float)
            if suppress:
                value, ci_low, ci_high = np.round(value), np.floor(ci_low), np.ceil(ci_high)
        count_cols = ["denominator"]
        if suppress:
            reasons[denominator < MIN_RECORDS_FOR_AVERAGE] = "fewer than 10 records"

    if suppress:
        primary = primary_suppress(
            shown(count_cols[0]), shown(count_cols[1]) if len(count_cols) > 1 else None, threshold=threshold
        )
        # No secondary suppression: under perturbation a hidden row cannot be had back from its total
        # (every count carries its own noise, fixed by its records), and a row hidden only to protect
        # another would be shown anyway as the headline of the view filtered to it. Each row's fate is
        # then a function of its own perturbed counts, the same on every page that shows it.
        reasons[primary & (reasons == None)] = "small count"  # noqa: E711 - an object array
        mask = primary | (reasons != None)  # noqa: E711
    else:
        mask = np.zeros(rows, dtype=bool)
    # The published frame is built once: suppressed rows blanked (NaN, never 0) as `apply_suppression`
    # does, counts as nullable integers.
    columns: dict[str, object] = {column: counts[column].reset_index(drop=True) for column in by}
    blank = mask.any()
    for column, array in (
        ("numerator", numerator),
        ("denominator", denominator),
        ("value", value),
        ("ci_low", ci_low),
        ("ci_high", ci_high),
    ):
        array = np.where(mask, np.nan, array) if blank else np.array(array, dtype=float)
        columns[column] = pd.array(np.round(array), dtype="Int64") if column in _INTEGER else array
    columns["suppressed"] = np.array(mask, dtype=bool)
    columns["suppressed_reason"] = pd.Series(np.where(mask, reasons, None), dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False)


_INTEGER = ("numerator", "denominator")


def kaplan_meier_by_group(counts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Kaplan–Meier tables for every group of ``by`` at once (`pipelines.stats.kaplan_meier_from_counts`).

    ``counts`` has one row per (group, t), as the metric SQL's GROUP BY gives.
    """
    if len(counts) == 0:
        return pd.DataFrame(columns=[*by, *KM_COLUMNS])
    return kaplan_meier_from_counts(counts, Z95, by=by)


#: Shared Kaplan–Meier tables are on a grid of this many days (see `_finish_survival`).
SURVIVAL_GRID_DAYS = 28
#: A shared curve's tail is cut from the first grid row with fewer than this many perturbed at risk.
MIN_AT_RISK = 10
#: In a shared breakdown, a group with fewer than this many perturbed at risk at t = 0 is not drawn.
MIN_CURVE_GROUP = 20
_SURVIVAL_COUNTS = ("events", "censored", "events_key", "censored_key")


def shared_survival(counts: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """The Kaplan–Meier table a shared output shows, from per-time counts of a cohort an analyst built
    (record-level work, as notebook 03's landmark curves): one row per (``by`` groups, ``t``) with
    ``events``, ``censored`` and their key sums ``events_key``, ``censored_key`` (the sums of the records'
    keys, e.g. episode_facts.record_key). The rules of every shared survival table apply (`CONVENTIONS`:
    the 28-day grid, perturbed numbers at risk and events so far, the tail under 10 at risk cut, a group
    under 20 left out), so the curve is as safe to share as the dashboard's."""
    missing = [c for c in ("t", *_SURVIVAL_COUNTS) if c not in counts]
    if missing:
        raise ValueError(f"shared_survival needs the columns {', '.join(missing)}")
    return _finish_survival(counts, list(by), suppress=True, threshold=DEFAULT_THRESHOLD)


def _finish_survival(counts: pd.DataFrame, by: list[str], *, suppress: bool, threshold: int) -> pd.DataFrame:
    """The published Kaplan–Meier tables.

    Without ``suppress``: the exact estimate at every event or censoring time. Shared (``suppress``):
    the exact curve would give its counts away (its first step is 1 − d/n), so, as `CONVENTIONS` says,
    times are put on a 28-day grid running to the table's longest time for every group; at each grid
    time t the number at risk (everyone whose time is ≥ t) and the events so far (everyone who had the
    event by t) are perturbed as cells of their own, a step's events are the rise of the events so far,
    the survival and its band come from those (`stats.survival_from_risk_sets`), and the tail (from the
    first row under `MIN_AT_RISK`) is suppressed; a group under `MIN_CURVE_GROUP` at t = 0 is left out,
    rows and all, as an empty group is.
    The events and censored of a step are not shown (missing): as differences of perturbed counts they
    could read as a count of 1–4 that nobody had. ``threshold`` is not used: no perturbed count is
    1–4, and the tail rule is stricter.
    """
    if not suppress:
        result = kaplan_meier_by_group(counts, by).reset_index(drop=True)
        return _survival_frame(result, by, np.zeros(len(result), dtype=bool), np.full(len(result), None))
    if len(counts) == 0:
        return pd.DataFrame(columns=[*by, *KM_RESULT_COLUMNS])
    step = SURVIVAL_GRID_DAYS
    gridded = counts.assign(t=(np.ceil(counts["t"].to_numpy(dtype=float) / step) * step).astype("int64"))
    per_step = (
        gridded.groupby([*by, "t"], dropna=False, sort=False)[list(_SURVIVAL_COUNTS)].sum().reset_index()
    )
    times = pd.DataFrame({"t": np.arange(0, int(per_step["t"].max()) + step, step, dtype="int64")})
    groups = per_step[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    grid = groups.merge(times, how="cross").merge(per_step, on=[*by, "t"], how="left")
    grid[list(_SURVIVAL_COUNTS)] = grid[list(_SURVIVAL_COUNTS)].fillna(0).astype("int64")
    grid = grid.sort_values([*by, "t"], kind="stable", na_position="last").reset_index(drop=True)
    curve = grid.groupby(by, sort=False, dropna=False).ngroup().to_numpy() if by else np.zeros(len(grid), int)

    def from_here_on(
        values: np.ndarray,
    ) -> np.ndarray:  # the sum over this row and the later ones of its curve
        return pd.Series(values[::-1]).groupby(curve[::-1]).cumsum().to_numpy()[::-1]

    leaving = grid["events"].to_numpy() + grid["censored"].to_numpy()
    at_risk = from_here_on(leaving)
    at_risk_key = from_here_on(grid["events_key"].to_numpy() + grid["censored_key"].to_numpy())
    n_shown = perturb(at_risk, at_risk_key)

    # Events as the steps of their perturbed running total (everyone who had the event by t, a cell of
    # its own), kept from falling: the noise of one step is not added to the next, so the curve stays
    # within a few events of the truth however long it runs.
    def so_far(values: np.ndarray) -> np.ndarray:
        return pd.Series(values).groupby(curve).cumsum().to_numpy()

    running = perturb(so_far(grid["events"].to_numpy()), so_far(grid["events_key"].to_numpy()))
    running = pd.Series(running).groupby(curve).cummax().to_numpy()
    steps = running - pd.Series(running).groupby(curve).shift(1).fillna(0).to_numpy()
    events = np.minimum(steps, n_shown)
    survival, ci_low, ci_high = survival_from_risk_sets(n_shown, events, curve, Z95)

    reasons = np.full(len(grid), None, dtype=object)
    below = pd.Series(n_shown < MIN_AT_RISK).groupby(curve).cummax().to_numpy(dtype=bool)
    reasons[below] = "tail of the curve"
    small = np.zeros(len(grid), dtype=bool)
    if by:
        start = (
            pd.Series(np.where(grid["t"].to_numpy() == 0, n_shown, np.nan)).groupby(curve).transform("max")
        )
        small = start.to_numpy() < MIN_CURVE_GROUP
    # A step's events and censored are differences of perturbed counts, which could read as a 1–4 that
    # no one counted: a shared table shows the numbers at risk and the curve, not the steps.
    result = grid[[*by, "t"]].assign(
        n_at_risk=n_shown, events=np.nan, censored=np.nan, survival=survival, ci_low=ci_low, ci_high=ci_high
    )
    # A small group is left out altogether, as a group with nobody in it is: a suppressed curve under
    # its name would say it holds someone.
    keep = ~small
    hidden = reasons != None  # noqa: E711 - an object array
    return _survival_frame(result[keep].reset_index(drop=True), by, hidden[keep], reasons[keep])


def _survival_frame(
    result: pd.DataFrame, by: list[str], mask: np.ndarray, reasons: np.ndarray
) -> pd.DataFrame:
    """The published Kaplan–Meier frame: suppressed rows keep their breakdown columns and t, counts are
    nullable integers (missing where suppressed), estimates floats."""
    columns: dict[str, object] = {column: result[column].reset_index(drop=True) for column in [*by, "t"]}
    for column in ("n_at_risk", "events", "censored"):
        shown_counts = np.where(mask, np.nan, result[column].to_numpy(dtype=float))
        columns[column] = pd.array(np.round(shown_counts), dtype="Int64")
    for column in ("survival", "ci_low", "ci_high"):
        values = result[column]
        if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            values = values.astype(float)
        columns[column] = np.where(mask, np.nan, values.to_numpy(dtype=float))
    columns["suppressed"] = np.asarray(mask, dtype=bool)
    columns["suppressed_reason"] = pd.Series(np.where(mask, reasons, None), dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(result)), copy=False)


def _month_windows(start: date, end: date) -> list[tuple[date, date]]:
    windows = []
    first = date(start.year, start.month, 1)
    while first <= end:
        last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        windows.append((max(first, start), min(last, end)))
        first = last + timedelta(days=1)
    return windows


def _person_series(
    cursor: duckdb.DuckDBPyConnection,
    metric: Metric,
    windows: list[tuple[date, date]],
    as_of: date,
    by: list[str],
    filters: Mapping[str, object] | None,
    suppress: bool,
    threshold: int,
    parameters: Mapping[str, int],
) -> pd.DataFrame:
    """A people-based metric for each month of ``windows`` as its own period, from one query.

    Equal to `compute_metric` run on each window with the same breakdown and filters (a month with
    nothing in it gives zero rows: one without a breakdown, every category's when shared, none when
    exact), then concatenated.
    """
    allowed = validate_filters(filters)
    whole = all(is_whole_months(first, last) for first, last in windows)
    query = build_metric_query(metric, by, tuple(allowed), series=True, whole_months=whole)
    values: dict[str, object] = {
        "period_start": windows[0][0],
        "period_end": windows[-1][1],
        "series_starts": [first for first, _ in windows],
        "series_ends": [last for _, last in windows],
        "as_of": as_of,
        "z": Z95,
        **parameters,
        **{f"filter_{d}": v for d, v in allowed.items()},
    }
    counts = cursor.execute(query.sql, query.parameters(values)).df()
    months = pd.to_datetime(counts.pop("period_start")).dt.strftime("%Y-%m").to_numpy(dtype=object)
    labels = [first.strftime("%Y-%m") for first, _ in windows]
    if not by:
        # One row per month; primary suppression is row by row, so all months can be finished at once.
        counts.index = pd.Index(months)
        counts = counts.reindex(labels)
        for column in counts.columns:
            counts[column] = counts[column].fillna(0).astype("int64")
        counts = counts.reset_index(drop=True)
        result = finish_metric(metric, counts, [], suppress=suppress, threshold=threshold)
        result.insert(0, "month", labels)
        return result
    parts = []
    for label, (first, last) in zip(labels, windows, strict=True):
        rows = counts[months == label].reset_index(drop=True)
        if suppress:  # every category of every month, as `compute_metric` shares a month's table
            rows = every_category(cursor, rows, by, allowed, first, last)
        elif rows.empty:
            continue
        part = finish_metric(metric, rows, by, suppress=suppress, threshold=threshold)
        part.insert(0, "month", label)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["month", *by, *RESULT_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def metric_series(
    source: object,
    name: str,
    start: DateLike,
    end: DateLike,
    *,
    as_of: DateLike | None = None,
    by: Iterable[str] | str | None = None,
    filters: Mapping[str, object] | None = None,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
    parameters: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The metric month by month over [start, end], for XmR charts: a ``month`` column ('YYYY-MM') first.

    Each month is the metric for that month as its own period. For episode, contact and assessment-pair
    metrics this equals one query broken down by month. People-based metrics treat each month as its own
    period (a person in treatment in three months counts in each; "latest discharge D" is the latest in
    the month), all months in one query (see `pipelines.metrics.query`), with disclosure control applied
    to each month's table on its own, exactly as `compute_metric` month by month would; for
    ``completion_no_representation`` only months with 182 days of follow-up by as_of are returned.
    Without a further breakdown, months with no records appear with zero counts. Survival metrics have
    no series. ``attrs`` as for `compute_metric`, with ``by`` starting with "month"; ``parameters`` as
    for `compute_metric`.
    """
    metric = get_metric(name)
    settings = resolve_parameters(metric, parameters)
    if metric.kind == "survival":
        raise ValueError(f"{name} is a time-to-event metric; it has no monthly series")
    cursor = _cursor(source)
    start_date, end_date = _as_date(start, "start"), _as_date(end, "end")
    as_of_date = extract_as_of(source) if as_of is None else _as_date(as_of, "as_of")
    by_columns = [c for c in validate_breakdown(by) if c not in ("month", "quarter")]
    if len(by_columns) != len(validate_breakdown(by)):
        raise ValueError("a monthly series cannot also be broken down by month or quarter")
    options = dict(
        as_of=as_of_date, filters=filters, suppress=suppress, threshold=threshold, parameters=settings
    )
    windows = _month_windows(start_date, end_date)

    if metric.grain == "person":
        if metric.needs_follow_up_days:
            follow_up = timedelta(days=metric.needs_follow_up_days)
            windows = [(first, last) for first, last in windows if last + follow_up <= as_of_date]
        if not windows:
            return pd.DataFrame(columns=["month", *by_columns, *RESULT_COLUMNS])
        series = _person_series(
            cursor, metric, windows, as_of_date, by_columns, filters, suppress, threshold, settings
        )
    else:
        check_period(metric, start_date, end_date, as_of_date)
        series = compute_metric(cursor, name, start_date, end_date, by=["month", *by_columns], **options)

    if not by_columns:
        months = [first.strftime("%Y-%m") for first, last in windows]
        if metric.needs_follow_up_days:
            months = [m for m in months if m in set(series["month"])]
        series = series.set_index("month").reindex(months).reset_index()
        empty = series["suppressed"].isna().to_numpy()
        if metric.statistic in ("proportion", "mean", "median"):
            series.loc[empty, "denominator"] = 0
        if metric.statistic in ("proportion", "count", "mean"):
            series.loc[empty, "numerator"] = 0
        if metric.statistic == "count":
            series.loc[empty, "value"] = 0.0
        series["suppressed"] = np.where(empty, False, series["suppressed"].to_numpy(dtype=object)).astype(
            bool
        )
    series = series.reset_index(drop=True)
    series.attrs = result_context(
        name,
        start_date,
        end_date,
        as_of_date,
        ["month", *by_columns],
        validate_filters(filters),
        threshold if suppress else None,
        _disclosure_of(suppress),
        settings,
    )
    return series


def labelled_counts(source: object, counts: Sequence[object], labels: Sequence[str]) -> np.ndarray:
    """Bookkeeping counts (rows loaded, rejected, filled) as shared outputs show them, perturbed like
    every other count: each cell's key is a keyed hash (the warehouse's record-key salt) of the cell's
    label, e.g. "load 3 rows_rejected" or "quarantine episodes referral_date date_format", so the same
    cell always shows the same noise. Missing counts stay missing; returns floats."""
    salt = read_salt(_cursor(source))
    keys = [
        int.from_bytes(hashlib.sha256(f"{salt}\0{label}".encode()).digest()[:4], "big") for label in labels
    ]
    values = pd.to_numeric(pd.Series(list(counts), dtype=object), errors="coerce").to_numpy(dtype=float)
    return perturb(values, np.where(np.isnan(values), np.nan, np.asarray(keys, dtype=float)))


def warehouse_contents(source: object) -> dict[str, int]:
    """Rows held in each contract table, in load order: what a reader can say is missing before it
    computes anything (a warehouse may hold people but no contacts, or nothing at all)."""
    selects = ", ".join(f"(SELECT count(*) FROM {table}) AS {table}" for table in TABLE_ORDER)
    row = _cursor(source).execute(f"SELECT {selects}").fetchall()[0]
    return {table: int(n) for table, n in zip(TABLE_ORDER, row, strict=True)}


def missing_tables(source: object, needs: Iterable[str]) -> list[str]:
    """The tables of `needs` the warehouse holds no rows of."""
    contents = warehouse_contents(source)
    return [table for table in needs if contents.get(table, 0) == 0]
