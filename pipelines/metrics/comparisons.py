"""Peer support and outcomes, compared fairly (docs/metrics.md v2, "peer support and outcomes").

The `peer_support` dimension groups a metric's own cohort by a peer contact in its first 28 days,
which limits but does not remove immortal-time bias, and adjusts for nothing. This module builds the
**landmark cohort** of docs/metrics.md v2 in SQL, from the metric's own template (so the cohort and the
outcome are the metric's, defined once) and compares the exposed with the unexposed:

- ``retention_12wk``: the metric's episodes still in treatment on day 28 (no discharge before
  start_date + 28); exposed = an attended peer contact on days 0–27; outcome = the metric's numerator
  (no discharge before day 84, or a successful one).
- ``representation_6m``: the metric's people (latest successful discharge D in the period, D + 182 ≤
  as_of) not re-presented by D + 28; exposed = an attended peer contact in (D, D + 28]; outcome = the
  numerator, which for them is a referral in (D + 28, D + 182].

Both groups have survived the same 28 days before the outcome is counted, so no one is credited with
time they had to stay to be exposed. Confounding is not removed by the landmark; the adjusted estimate
deals with the measured part of it.

`compare_peer_support` returns two rows: the **crude** difference in the outcome share (exposed −
unexposed) with Newcombe's hybrid score interval, and the **adjusted** one by logistic regression on
the case-mix covariates and marginal standardisation with a delta-method interval clustered by person
(`pipelines.stats.exposure_comparison`). The covariates (`CASE_MIX_COVARIATES`) are the record's
substance group, age band, sex, injecting status, referral source, setting and whether the person had
an earlier episode (all in the data contract; for re-presentation, those of the episode that ended at
D). A covariate level held by fewer than ``min_level_records`` records is modelled with the covariate's
most frequent level (`pipelines.stats.case_mix.pool_sparse_levels`, said in the notes); a covariate with
one level among the records is left out (said too). Where the model cannot be fitted (too few events,
separation, ...) the adjusted row carries the reason and no number.

`peer_support_dose` gives the outcome share by the number of peer contacts in the landmark window (0,
1–2, 3+); `peer_support_timing` (re-presentation) by when the peer contact was: during the episode that
ended at D, after discharge (the landmark window), both, or neither. These are crude shares.

Disclosure control (shared outputs, the default, as `compute_metric`): the group counts are perturbed
by the cell-key method from the records' key sums, and each table is suppressed on the perturbed counts
(`pipelines.metrics.api.finish_metric`). The crude estimate is computed from the perturbed counts. Both
estimates are suppressed unless each group shows at least `MIN_GROUP_RECORDS` records and passes the
small-count rule; a shared adjusted estimate is rounded to `ADJUSTED_DECIMALS` decimals, and none is
given when no covariate varies (it would then be the exact crude shares). ``suppress=False`` gives
exact counts and unrounded estimates, for analysts with record-level access.

Observational, always: nobody was assigned peer support at random, and what the covariates do not
measure (motivation, severity, support at home) is not adjusted for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from pipelines.derived import read_sql, render
from pipelines.metrics.api import (
    MIN_RECORDS_FOR_AVERAGE,
    DateLike,
    _as_date,
    _cursor,
    _disclosure_of,
    extract_as_of,
    finish_metric,
)
from pipelines.metrics.query import MetricQuery, _filter_clause, units_sql, validate_filters
from pipelines.metrics.registry import STATIC_DIMENSIONS, Metric, get_metric
from pipelines.stats import (
    CASE_MIX_COVARIATES,
    DEFAULT_MIN_EVENTS_PER_PARAMETER,
    DEFAULT_THRESHOLD,
    PEER_DOSE_BANDS,
    adjusted_difference,
    dose_band,
    newcombe_difference_interval,
)
from pipelines.stats.case_mix import DEFAULT_MIN_LEVEL_RECORDS, pool_sparse_levels
from pipelines.stats.exposure_comparison import ADJUSTED_METHOD, CRUDE_METHOD

#: The metrics whose outcomes are compared with and without peer support.
PEER_SUPPORT_METRICS: tuple[str, ...] = ("retention_12wk", "representation_6m")
#: Days from the cohort's time zero (the episode's start, or the discharge D) to the landmark.
LANDMARK_DAYS = 28
#: Each group must show at least this many records for an estimate to be shared (as means are).
MIN_GROUP_RECORDS = MIN_RECORDS_FOR_AVERAGE
#: Decimal places of a shared adjusted estimate (0.1 percentage point).
ADJUSTED_DECIMALS = 3

#: Columns of `compare_peer_support`: the nine `rosc compare peer-support` prints first, then what was
#: adjusted for (``;``-separated), whether the row is suppressed, why a number is missing, and notes.
COMPARISON_COLUMNS = [
    "estimate",
    "exposed_n",
    "unexposed_n",
    "exposed_value",
    "unexposed_value",
    "difference",
    "ci_low",
    "ci_high",
    "method",
    "adjusted_for",
    "suppressed",
    "reason",
    "notes",
]
#: Timing groups of `peer_support_timing`, in display order, with their labels.
TIMING_GROUPS: dict[str, str] = {
    "neither": "no peer contact",
    "during_only": "during treatment only",
    "after_only": "after discharge only",
    "both": "during treatment and after discharge",
}
#: What each metric's landmark cohort is, in words (for captions and attrs).
LANDMARKS: dict[str, dict[str, str]] = {
    "retention_12wk": {
        "cohort": "episodes of the retention_12wk cohort still in treatment on day 28",
        "exposure": "an attended peer contact on days 0–27 of the episode",
        "outcome": "retained at 12 weeks (no discharge before day 84, or a successful one)",
        "records": "episodes",
    },
    "representation_6m": {
        "cohort": "people of the representation_6m cohort (latest successful discharge D) not "
        "re-presented by D + 28",
        "exposure": "an attended peer contact in the 28 days after discharge, (D, D + 28]",
        "outcome": "re-presented: a referral in (D + 28, D + 182]",
        "records": "people",
    },
}

_RECORD_SQL = {
    "retention_12wk": "peer_landmark_retention_12wk",
    "representation_6m": "peer_landmark_representation_6m",
}


def _peer_metric(name: str) -> Metric:
    if name not in PEER_SUPPORT_METRICS:
        raise ValueError(
            f"the peer-support comparison is defined for {', '.join(PEER_SUPPORT_METRICS)}, not {name!r}"
        )
    return get_metric(name)


def static_filters(filters: Mapping[str, object] | None) -> dict[str, list[str]]:
    """Filters as `validate_filters` gives them, refusing the time and unit dimensions (a comparison or
    standardisation is over a whole cohort of programme-level and personal dimensions)."""
    allowed = validate_filters(filters)
    refused = [d for d in allowed if d not in STATIC_DIMENSIONS]
    if refused:
        raise ValueError(
            f"cannot filter a comparison by {', '.join(refused)}; filter by {', '.join(STATIC_DIMENSIONS)}"
        )
    return allowed


def cohort_records(
    cursor: duckdb.DuckDBPyConnection,
    metric: Metric,
    wrapper: str,
    start: date,
    end: date,
    as_of: date,
    allowed: Mapping[str, Sequence[str]],
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows of the packaged SQL ``comparisons/<wrapper>.sql`` over the metric's units (its template,
    broken down by ``by`` and filtered by ``allowed``, as `compute_metric` forms them), as a DataFrame.

    Record-level: one row per unit of the cohort. Filter values travel as DuckDB parameters only.
    """
    filters = list(allowed)
    units = units_sql(metric, list(by), filters)
    unit = by[0] if by else ""
    body = render(
        read_sql("comparisons", f"{wrapper}.sql"), {"filters": _filter_clause(filters), "unit": unit}
    )
    query = MetricQuery(sql=f"-- {wrapper}\nWITH units AS (\n{units}\n)\n{body}", group_columns=tuple(by))
    values: dict[str, object] = {
        "period_start": start,
        "period_end": end,
        "as_of": as_of,
        **{f"filter_{d}": list(v) for d, v in allowed.items()},
    }
    return cursor.execute(query.sql, query.parameters(values)).df()


def peer_support_records(
    source: object,
    metric: str,
    start: DateLike,
    end: DateLike,
    *,
    as_of: DateLike | None = None,
    filters: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The landmark cohort of ``metric`` (retention_12wk or representation_6m): one row per record.

    Columns: ``record_id`` (episode id, or person id for re-presentation), ``person_id``, ``rkey`` (the
    record key its counts are perturbed by), ``outcome`` (0/1), ``exposed`` (0/1: a peer contact in the
    landmark window), ``peer_contacts`` (how many), ``dose`` (`PEER_DOSE_BANDS`), the case-mix covariates
    (`CASE_MIX_COVARIATES`), and for representation_6m ``peer_during_episode`` (0/1) and ``timing``
    (`TIMING_GROUPS`). See the module docstring for the cohorts. ``filters`` take the static dimensions
    (programme, provider, area, setting, substance_group, sex, age_band).

    Record-level, for analysts with record-level access (notebooks): never share it; share the tables of
    `compare_peer_support`, `peer_support_dose` and `peer_support_timing`.
    """
    definition = _peer_metric(metric)
    start_date, end_date = _as_date(start, "start"), _as_date(end, "end")
    if start_date > end_date:
        raise ValueError(f"the period starts ({start_date}) after it ends ({end_date})")
    as_of_date = extract_as_of(source) if as_of is None else _as_date(as_of, "as_of")
    allowed = static_filters(filters)
    records = cohort_records(
        _cursor(source), definition, _RECORD_SQL[metric], start_date, end_date, as_of_date, allowed
    )
    records["dose"] = dose_band(records["peer_contacts"].astype(int)).to_numpy()
    if "peer_during_episode" in records:
        during = records["peer_during_episode"].astype(bool).to_numpy()
        after = records["exposed"].astype(bool).to_numpy()
        records["timing"] = np.select(
            [during & after, during, after], ["both", "during_only", "after_only"], default="neither"
        )
    records.attrs = _context(metric, start_date, end_date, as_of_date, allowed, suppress=False)
    return records


def _records(
    source: object,
    metric: str,
    start: DateLike,
    end: DateLike,
    as_of: DateLike | None,
    filters: Mapping[str, object] | None,
    records: pd.DataFrame | None,
) -> pd.DataFrame:
    """`peer_support_records` for these arguments, or `records` when given (one query serving the
    comparison, the dose and the timing tables), after checking they are the cohort asked for."""
    if records is None:
        return peer_support_records(source, metric, start, end, as_of=as_of, filters=filters)
    wanted = {
        "metric": metric,
        "start": _as_date(start, "start"),
        "end": _as_date(end, "end"),
        "filters": {d: list(v) for d, v in static_filters(filters).items()},
    }
    if as_of is not None:
        wanted["as_of"] = _as_date(as_of, "as_of")
    given = {k: records.attrs.get(k) for k in wanted}
    if given != wanted:
        raise ValueError(f"records are the cohort of {given}, not of {wanted}")
    return records.copy()  # the caller's frame is left as it was


def _context(
    metric: str, start: date, end: date, as_of: date, allowed: Mapping[str, Sequence[str]], *, suppress: bool
) -> dict[str, object]:
    return {
        "metric": metric,
        "start": start,
        "end": end,
        "as_of": as_of,
        "filters": {d: list(v) for d, v in allowed.items()},
        "disclosure": _disclosure_of(suppress),
        "landmark_days": LANDMARK_DAYS,
        **LANDMARKS[metric],
        "observational": True,
    }


def group_table(
    metric: Metric,
    records: pd.DataFrame,
    column: str,
    groups: Sequence[str],
    *,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """The outcome share of each group of ``records[column]`` (every group of ``groups``, empty ones
    as zeros), as the metric layer publishes a proportion broken down one way: the breakdown column,
    then numerator (records with the outcome), denominator (records), value, 95% Wilson interval,
    suppressed and suppressed_reason; perturbed and suppressed when shared (`finish_metric`), each
    count keyed by its records' key sum. A value of ``column`` not in ``groups`` is a ValueError."""
    labels = records[column].astype(str).to_numpy()
    unknown = sorted(set(labels) - set(groups))
    if unknown:
        raise ValueError(f"{column} has values {unknown} outside {list(groups)}")
    outcome = records["outcome"].astype(int).to_numpy()
    keys = records["rkey"].astype("int64").to_numpy()
    rows = []
    for group in groups:
        member = labels == group
        rows.append(
            {
                column: group,
                "numerator": int(outcome[member].sum()),
                "numerator_key": int(keys[member & (outcome == 1)].sum()),
                "denominator": int(member.sum()),
                "denominator_key": int(keys[member].sum()),
            }
        )
    counts = pd.DataFrame(rows).astype({column: object})
    return finish_metric(metric, counts, [column], suppress=suppress, threshold=threshold)


def compare_peer_support(
    source: object,
    metric: str,
    start: DateLike,
    end: DateLike,
    *,
    as_of: DateLike | None = None,
    filters: Mapping[str, object] | None = None,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
    covariates: Sequence[str] = CASE_MIX_COVARIATES,
    min_events_per_parameter: float = DEFAULT_MIN_EVENTS_PER_PARAMETER,
    min_level_records: int = DEFAULT_MIN_LEVEL_RECORDS,
    records: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Crude and case-mix-adjusted difference in ``metric``'s outcome share, exposed − unexposed, on its
    landmark cohort (see the module docstring), each with a 95% interval.

    Returns two rows with `COMPARISON_COLUMNS`: ``estimate`` ``crude`` (shares of the two groups, their
    difference and Newcombe's hybrid score interval, `pipelines.stats.crude_difference`) and
    ``adjusted`` (logistic regression of the outcome on exposure and ``covariates``, then marginal
    standardisation: the average predicted outcome with everyone exposed minus with no one exposed, and
    a delta-method interval clustered by person: `pipelines.stats.adjusted_difference`). ``exposed_n``
    and ``unexposed_n`` count the records of each group (episodes or people), in both rows.

    Shared (``suppress``, the default): counts perturbed, the crude estimate from the perturbed counts,
    the adjusted one rounded to `ADJUSTED_DECIMALS`; both suppressed (``suppressed`` True, numbers
    missing, ``reason`` saying why) unless each group shows `MIN_GROUP_RECORDS` or more records and no
    small count. An adjusted row that cannot be estimated (too few events per parameter, separation, no
    covariate that varies, ...) has no number and its ``reason``. ``notes`` name covariates left out
    and levels pooled. ``attrs``: metric, start, end, as_of, filters, disclosure, landmark_days, cohort,
    exposure, outcome, records, observational, covariates and ``warnings`` (the reasons, as sentences).
    """
    definition = _peer_metric(metric)
    records = _records(source, metric, start, end, as_of, filters, records)
    context = dict(records.attrs)
    groups = group_table(definition, records, "exposed", ("1", "0"), suppress=suppress, threshold=threshold)
    exposed, unexposed = groups.iloc[0], groups.iloc[1]
    shown_n = [exposed["denominator"], unexposed["denominator"]]
    counts_shown = not groups["suppressed"].any()
    hidden_reason = None
    if suppress:
        if not counts_shown:
            hidden_reason = "suppressed: a group's count or its complement is small"
        elif min(int(n) for n in shown_n) < MIN_GROUP_RECORDS:
            hidden_reason = f"suppressed: a group has fewer than {MIN_GROUP_RECORDS} records"

    def count(value: object) -> object:
        return pd.NA if pd.isna(value) else int(value)

    base = {"exposed_n": count(shown_n[0]), "unexposed_n": count(shown_n[1])}
    nan = float("nan")
    crude = {"estimate": "crude", **base, "method": CRUDE_METHOD, "adjusted_for": ""}
    adjusted = {"estimate": "adjusted", **base, "method": ADJUSTED_METHOD}
    numbers = ("exposed_value", "unexposed_value", "difference", "ci_low", "ci_high")
    used = [c for c in covariates if c in records]

    pooled, pooling_notes = pool_sparse_levels(records, used, min_level_records)
    estimate = adjusted_difference(
        pooled,
        outcome="outcome",
        exposed="exposed",
        covariates=used,
        person="person_id",
        min_events_per_parameter=min_events_per_parameter,
    )
    adjusted_for = list(estimate.adjusted_for)
    adjusted["adjusted_for"] = ";".join(adjusted_for)
    notes = [*pooling_notes, *estimate.notes]

    if hidden_reason is not None:
        crude.update({k: nan for k in numbers}, suppressed=True, reason=hidden_reason, notes=None)
        adjusted.update({k: nan for k in numbers}, suppressed=True, reason=hidden_reason, notes=None)
    else:
        x1, n1 = float(exposed["numerator"]), float(exposed["denominator"])
        x0, n0 = float(unexposed["numerator"]), float(unexposed["denominator"])
        p1 = x1 / n1 if n1 > 0 else nan
        p0 = x0 / n0 if n0 > 0 else nan
        low, high = newcombe_difference_interval(x1, n1, x0, n0)
        crude_reason = None
        if n1 == 0 or n0 == 0:
            crude_reason = f"no {'exposed' if n1 == 0 else 'unexposed'} records, so no difference to estimate"
        crude.update(
            exposed_value=p1,
            unexposed_value=p0,
            difference=p1 - p0,
            ci_low=low,
            ci_high=high,
            suppressed=False,
            reason=crude_reason,
            notes=None,
        )
        reason = estimate.reason
        if reason is None and not adjusted_for:
            reason = (
                "not estimable: no case-mix covariate varies among these records, so there is nothing to "
                "adjust for"
            )
        values = {
            "exposed_value": estimate.exposed_value,
            "unexposed_value": estimate.unexposed_value,
            "difference": estimate.difference,
            "ci_low": estimate.ci_low,
            "ci_high": estimate.ci_high,
        }
        if reason is not None:
            values = {k: nan for k in numbers}
        elif suppress:
            values = {k: round(float(v), ADJUSTED_DECIMALS) for k, v in values.items()}
        adjusted.update(values, suppressed=False, reason=reason, notes=" ".join(notes) or None)

    table = pd.DataFrame([crude, adjusted], columns=COMPARISON_COLUMNS)
    for column in ("exposed_n", "unexposed_n"):
        table[column] = pd.array(table[column].tolist(), dtype="Int64")
    table["suppressed"] = table["suppressed"].astype(bool)
    warnings = [f"{row.estimate}: {row.reason}" for row in table.itertuples() if isinstance(row.reason, str)]
    table.attrs = {
        **_context(
            metric, context["start"], context["end"], context["as_of"], context["filters"], suppress=suppress
        ),
        "covariates": list(used),
        "adjusted_for": adjusted_for,
        "suppressed_threshold": threshold if suppress else None,
        "warnings": warnings,
    }
    return table


def peer_support_dose(
    source: object,
    metric: str,
    start: DateLike,
    end: DateLike,
    *,
    as_of: DateLike | None = None,
    filters: Mapping[str, object] | None = None,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
    records: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The outcome share of ``metric``'s landmark cohort by dose: the number of attended peer contacts in
    the landmark window, in `PEER_DOSE_BANDS` (0, 1–2, 3+). Crude (not adjusted) shares: ``dose``,
    numerator, denominator, value, 95% Wilson interval, suppressed, suppressed_reason, as `group_table`
    (perturbed and suppressed when shared). ``attrs`` as for `compare_peer_support`, without warnings.
    ``records``: the cohort `peer_support_records` gave for the same arguments, to reuse its query."""
    definition = _peer_metric(metric)
    records = _records(source, metric, start, end, as_of, filters, records)
    table = group_table(definition, records, "dose", PEER_DOSE_BANDS, suppress=suppress, threshold=threshold)
    table.attrs = {**records.attrs, "disclosure": _disclosure_of(suppress)}
    return table


def peer_support_timing(
    source: object,
    metric: str,
    start: DateLike,
    end: DateLike,
    *,
    as_of: DateLike | None = None,
    filters: Mapping[str, object] | None = None,
    suppress: bool = True,
    threshold: int = DEFAULT_THRESHOLD,
    records: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Re-presentation by when the peer contact was, on representation_6m's landmark cohort: during the
    episode that ended at D (from its start to D), after discharge (in (D, D + 28], the landmark
    window), both, or neither (`TIMING_GROUPS`). Crude shares: ``timing``, ``timing_label``, numerator,
    denominator, value, 95% Wilson interval, suppressed, suppressed_reason (as `group_table`).

    Only representation_6m has a timing: retention's exposure window (days 0–27) is during treatment by
    construction, so ValueError for another metric. ``records`` as for `peer_support_dose`.
    """
    if metric != "representation_6m":
        raise ValueError(
            "peer-support timing (during treatment against after discharge) is defined for "
            f"representation_6m only, not {metric!r}: retention's landmark window is during treatment"
        )
    definition = _peer_metric(metric)
    records = _records(source, metric, start, end, as_of, filters, records)
    table = group_table(
        definition, records, "timing", tuple(TIMING_GROUPS), suppress=suppress, threshold=threshold
    )
    table.insert(1, "timing_label", table["timing"].map(TIMING_GROUPS))
    table.attrs = {**records.attrs, "disclosure": _disclosure_of(suppress)}
    return table


__all__ = [
    "ADJUSTED_DECIMALS",
    "COMPARISON_COLUMNS",
    "LANDMARKS",
    "LANDMARK_DAYS",
    "MIN_GROUP_RECORDS",
    "PEER_SUPPORT_METRICS",
    "TIMING_GROUPS",
    "cohort_records",
    "compare_peer_support",
    "group_table",
    "peer_support_dose",
    "peer_support_records",
    "peer_support_timing",
    "static_filters",
]
