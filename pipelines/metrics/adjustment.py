"""Programmes compared on case mix: indirect standardisation in the metric layer (docs/metrics.md v2).

``compute_metric(..., by=["programme"], adjust=True)`` adds to a binary metric's table, for each
programme, the count its case mix leads one to expect and the ratio of the observed count to it:

- A logistic model of the metric's outcome (its numerator) on the case-mix covariates (not the
  programme) is fitted over the records of every programme in the table (the cohort the filters
  select: `pipelines.stats.indirect_standardisation`). The covariates are those of
  `pipelines.stats.CASE_MIX_COVARIATES`: substance group, age band, sex, injecting status, referral
  source, setting and any earlier episode of the person, of the episode the record is (for
  representation_6m, of the episode ending at the discharge D). Sparse levels are modelled with their
  covariate's most frequent level (`pipelines.stats.case_mix.pool_sparse_levels`).
- ``expected`` E = the sum of the predicted probabilities of the programme's records; ``ratio`` = O/E
  with O the table's numerator; ``ratio_ci_low``/``ratio_ci_high`` its 95% interval for a Poisson O
  (exact below 10, Byar's from 10, E fixed: PHEindicatormethods' ``calculate_ISRatio``);
  ``adjusted_value`` = ratio × pooled value (Σ O / Σ denominators of the programmes shown);
  ``significance`` the ratio's place against the Poisson funnel limits around 1 at 95% and 99.8%
  (`pipelines.stats.ratio_funnel_significance`), labelled as the crude funnel labels.

Only metrics whose outcome is a 0/1 per record fit this (`ADJUSTABLE_METRICS`).

Disclosure control (shared, the default): O and the denominators are the table's perturbed counts, as
ever, and the ratio, its interval, the adjusted value and the label are computed from them. E is a
model sum, shown to one decimal. The maximum-likelihood fit makes the expected counts add up to the
exact observed total of the cohort (and of every covariate level), which would give exact counts away
(the difference of two views' exact totals can be a count of 1–4), so the shared expected counts are
rescaled to add up, over the programmes shown, to the shown (perturbed) observed total: the ratios
keep their defining property (over the programmes shown they average to 1) in the numbers shown. A
programme whose row is suppressed, or which shows fewer than `MIN_RECORDS_FOR_AVERAGE` records, gets no
expected count (E would tell its size), and ``adjustment_note`` says so. Where the model cannot be
fitted (too few events per parameter, separation, ...) every model column is missing, ``attrs``
``warnings`` says why, and so does each row's ``adjustment_note``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from pipelines.metrics.api import MIN_RECORDS_FOR_AVERAGE
from pipelines.metrics.comparisons import cohort_records, static_filters
from pipelines.metrics.registry import Metric
from pipelines.stats import (
    CASE_MIX_COVARIATES,
    DEFAULT_MIN_EVENTS_PER_PARAMETER,
    indirect_standardisation,
    standardise,
)
from pipelines.stats.case_mix import DEFAULT_MIN_LEVEL_RECORDS, pool_sparse_levels

#: Binary metrics a programme can be compared on against its expected count.
ADJUSTABLE_METRICS: tuple[str, ...] = (
    "retention_12wk",
    "early_unplanned_exit",
    "successful_completion",
    "representation_6m",
)
#: The breakdown an adjusted table is by: the units compared.
ADJUSTED_BY = ("programme",)
#: Columns `adjust_table` adds, in order.
ADJUSTMENT_COLUMNS = [
    "expected",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "adjusted_value",
    "significance",
    "adjustment_note",
]
#: Decimal places of a shared expected count.
EXPECTED_DECIMALS = 1

_RECORD_SQL = {
    "retention_12wk": "case_mix_episodes",
    "early_unplanned_exit": "case_mix_episodes",
    "successful_completion": "case_mix_episodes",
    "representation_6m": "case_mix_representation_6m",
}


def check_adjustable(metric: Metric, by: Sequence[str]) -> None:
    """Refuse ``adjust=True`` for a metric or breakdown it is not defined for."""
    if metric.id not in ADJUSTABLE_METRICS:
        raise ValueError(
            f"case-mix adjustment is defined for {', '.join(ADJUSTABLE_METRICS)}, not {metric.id!r}"
        )
    if tuple(by) != ADJUSTED_BY:
        raise ValueError(f"case-mix adjustment compares programmes: use by=['programme'] (got {list(by)})")


def case_mix_records(
    cursor: duckdb.DuckDBPyConnection,
    metric: Metric,
    start: date,
    end: date,
    as_of: date,
    allowed: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """The metric's records by programme with their case-mix covariates: ``unit`` (programme),
    ``outcome`` (the numerator, 0/1), ``person_id`` and `CASE_MIX_COVARIATES`; one row per unit of the
    metric as it counts them by programme. Record-level: used to fit the model, never shared."""
    return cohort_records(cursor, metric, _RECORD_SQL[metric.id], start, end, as_of, allowed, by=ADJUSTED_BY)


def adjust_table(
    cursor: duckdb.DuckDBPyConnection,
    metric: Metric,
    table: pd.DataFrame,
    start: date,
    end: date,
    as_of: date,
    allowed: Mapping[str, Sequence[str]],
    *,
    suppress: bool,
    covariates: Sequence[str] = CASE_MIX_COVARIATES,
    min_events_per_parameter: float = DEFAULT_MIN_EVENTS_PER_PARAMETER,
    min_level_records: int = DEFAULT_MIN_LEVEL_RECORDS,
) -> pd.DataFrame:
    """``table`` (a `compute_metric` result by programme) with `ADJUSTMENT_COLUMNS` added: see the module
    docstring. Its ``attrs`` gain ``adjusted`` (True), ``covariates``, ``adjusted_for``, ``notes`` and
    ``warnings`` (each a list of sentences)."""
    records = case_mix_records(cursor, metric, start, end, as_of, static_filters(allowed))
    used = [c for c in covariates if c in records]
    pooled, pooling_notes = pool_sparse_levels(records, used, min_level_records)
    fit = indirect_standardisation(
        pooled,
        unit="unit",
        outcome="outcome",
        covariates=used,
        min_events_per_parameter=min_events_per_parameter,
    )
    warnings: list[str] = []
    if not fit.estimable:
        warnings.append(f"{metric.id}: case-mix adjustment {fit.reason}")
    expected_of = fit.table.set_index(fit.table["unit"].astype(str))["expected"]

    out = table.copy()
    programmes = out["programme"].astype(str)
    numerator = out["numerator"].to_numpy(dtype=float, na_value=np.nan)
    denominator = out["denominator"].to_numpy(dtype=float, na_value=np.nan)
    suppressed = out["suppressed"].to_numpy(dtype=bool)
    expected = expected_of.reindex(programmes).to_numpy(dtype=float)
    notes = np.full(len(out), None, dtype=object)
    eligible = ~suppressed & (denominator > 0)
    notes[suppressed] = "row suppressed: no expected count"
    notes[~suppressed & ~(denominator > 0)] = "no records: no expected count"
    if suppress:
        small = eligible & (denominator < MIN_RECORDS_FOR_AVERAGE)
        notes[small] = (
            f"fewer than {MIN_RECORDS_FOR_AVERAGE} records: no expected count (it would tell the size)"
        )
        eligible &= ~small
    if not fit.estimable:
        notes[eligible] = f"no expected count: {fit.reason}"
        eligible[:] = False
    eligible &= np.isfinite(expected)

    shown_expected = np.full(len(out), np.nan)
    if eligible.any():
        raw = expected[eligible]
        if suppress:
            # Rescaled to the shown observed total: the fit's exact sum would be the exact count.
            total = raw.sum()
            scale = numerator[eligible].sum() / total if total > 0 else 1.0
            raw = np.round(raw * scale, EXPECTED_DECIMALS)
        shown_expected[eligible] = raw
    shown_rows = ~suppressed & (denominator > 0)
    pooled_value = (
        float(numerator[shown_rows].sum() / denominator[shown_rows].sum()) if shown_rows.any() else np.nan
    )
    units = pd.DataFrame(
        {
            "unit": programmes.to_numpy()[eligible],
            "denominator": denominator[eligible],
            "observed": numerator[eligible],
            "expected": shown_expected[eligible],
        }
    )
    standardised = standardise(units, pooled_value=pooled_value)
    out["expected"] = shown_expected
    for column in ("ratio", "ratio_ci_low", "ratio_ci_high", "adjusted_value"):
        values = np.full(len(out), np.nan)
        values[eligible] = standardised[column].to_numpy(dtype=float)
        out[column] = values
    significance = np.full(len(out), None, dtype=object)
    significance[eligible] = standardised["significance"].to_numpy(dtype=object)
    out["significance"] = pd.Series(significance, index=out.index, dtype=object)
    out["adjustment_note"] = pd.Series(notes, index=out.index, dtype=object)
    # The fit's own note on adjusted values above 1 is about its exact counts; say it of the shown ones.
    model_notes = [note for note in fit.notes if not note.startswith("adjusted values above 1")]
    above_one = out.loc[out["adjusted_value"] > 1, "programme"].astype(str).tolist()
    if above_one:
        model_notes.append(
            f"adjusted values above 1 for {', '.join(above_one)}: O/E × pooled value is not bounded by 1 "
            "under indirect standardisation"
        )
    out.attrs = {
        **table.attrs,
        "adjusted": True,
        "covariates": list(used),
        "adjusted_for": list(fit.adjusted_for) if fit.estimable else [],
        "pooled_value": pooled_value,
        "notes": [*pooling_notes, *model_notes],
        "warnings": warnings,
    }
    return out
