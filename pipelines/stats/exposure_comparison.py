"""Outcome shares with and without an exposure (peer support): crude and case-mix-adjusted differences.

docs/metrics.md v2, "peer support and outcomes (observational)": on the landmark cohort the metric layer
builds, compare the share of records with the outcome among the exposed and the unexposed.

- **Crude**: difference in shares, exposed − unexposed, with Newcombe's hybrid score interval (method 10
  of Newcombe 1998, Statistics in Medicine 17:873–890): it is built from the two Wilson intervals the
  product already reports for every proportion, keeps within [−1, 1], and has close to nominal coverage
  for small groups and shares near 0 or 1, where the Wald interval fails (Newcombe 1998; Fagerland,
  Lydersen & Laake 2015, Stat Methods Med Res 24:224–254).
- **Adjusted**: logistic regression of the outcome on the exposure and case mix, then marginal
  standardisation (Lane & Nelder 1982, Biometrics 38:613–621; Muller & MacLehose 2014, Int J Epidemiol
  43:962–970): the average predicted outcome with every record set to exposed minus the average with
  every record set to unexposed, over the cohort's own case mix. The 95% interval is Wald on the
  difference with a delta-method standard error from the stacked estimating equations (Stefanski &
  Boos 2002, Am Stat 56:29–38), clustered by person: it counts both the uncertainty of the coefficients
  and that of the case mix being averaged over (Stata's ``margins, vce(unconditional)``), and allows a
  person's several episodes to be correlated. Being closed-form it is deterministic and fast enough for
  a dashboard callback, where a bootstrap over people would refit the model hundreds of times.

Where the model cannot be fitted (see `pipelines.stats.case_mix`) the adjusted row carries a reason and
no number. Dose and timing breakdowns are crude shares per group (`outcome_shares_by_group`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from pipelines.stats.case_mix import (
    CASE_MIX_COVARIATES,
    DEFAULT_MIN_EVENTS_PER_PARAMETER,
    ModelFailure,
    cluster_sum,
    fit_logistic,
    outcome_as_binary,
)
from pipelines.stats.wilson import wilson_interval, z_for_level

ESTIMATE_COLUMNS = [
    "estimate",
    "exposed_n",
    "unexposed_n",
    "exposed_value",
    "unexposed_value",
    "difference",
    "ci_low",
    "ci_high",
    "method",
    "exposed_numerator",
    "unexposed_numerator",
    "adjusted_for",
    "reason",
    "notes",
]
"""Columns of `compare_by_exposure`: the CLI's first nine, then the raw counts (for disclosure control),
the covariates adjusted for (``;``-separated), why a number is missing, and notes."""

CRUDE_METHOD = "difference in shares; Newcombe hybrid score interval (Newcombe 1998, method 10)"
ADJUSTED_METHOD = (
    "logistic regression and marginal standardisation; delta-method interval clustered by person"
)

PEER_DOSE_BANDS = ("0", "1-2", "3+")
"""Dose groups of attended peer contacts in the landmark window (issue 13)."""

SHARE_COLUMNS = ["group", "numerator", "denominator", "value", "ci_low", "ci_high"]


@dataclass(frozen=True)
class DifferenceEstimate:
    """One estimate of exposed − unexposed outcome share.

    ``exposed_n``/``unexposed_n`` count records and ``*_numerator`` those with the outcome (raw counts,
    for disclosure control). For the crude estimate ``exposed_value``/``unexposed_value`` are the two
    observed shares; for the adjusted one they are the standardised shares (everyone exposed, no one
    exposed). The numbers are NaN exactly when ``reason`` says why they could not be computed.
    """

    estimate: str
    exposed_n: int
    unexposed_n: int
    exposed_numerator: int
    unexposed_numerator: int
    exposed_value: float
    unexposed_value: float
    difference: float
    ci_low: float
    ci_high: float
    method: str
    adjusted_for: tuple[str, ...] = ()
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def estimable(self) -> bool:
        """True when the estimate has a number."""
        return self.reason is None

    def as_row(self) -> dict[str, object]:
        """The estimate as one row with the `ESTIMATE_COLUMNS`."""
        return {
            "estimate": self.estimate,
            "exposed_n": self.exposed_n,
            "unexposed_n": self.unexposed_n,
            "exposed_value": self.exposed_value,
            "unexposed_value": self.unexposed_value,
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "method": self.method,
            "exposed_numerator": self.exposed_numerator,
            "unexposed_numerator": self.unexposed_numerator,
            "adjusted_for": ";".join(self.adjusted_for),
            "reason": self.reason,
            "notes": " ".join(self.notes) if self.notes else None,
        }


def newcombe_difference_interval(
    numerator_1: float, denominator_1: float, numerator_2: float, denominator_2: float, level: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 − p2 (Newcombe 1998, method 10, no continuity correction).

    With p_k = x_k / n_k and (l_k, u_k) the Wilson score interval of p_k at the same level::

        low  = (p1 − p2) − sqrt((p1 − l1)² + (u2 − p2)²)
        high = (p1 − p2) + sqrt((u1 − p1)² + (p2 − l2)²)

    Returns NaN bounds if either denominator is 0.
    """
    if denominator_1 <= 0 or denominator_2 <= 0:
        return float("nan"), float("nan")
    z = z_for_level(level)
    p1, p2 = numerator_1 / denominator_1, numerator_2 / denominator_2
    l1, u1 = wilson_interval(numerator_1, denominator_1, z=z)
    l2, u2 = wilson_interval(numerator_2, denominator_2, z=z)
    difference = p1 - p2
    low = difference - float(np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    high = difference + float(np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    return low, high


def _counts(
    records: pd.DataFrame, outcome: str, exposed: str
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    y = outcome_as_binary(records[outcome], outcome)
    e = outcome_as_binary(records[exposed], exposed)
    counts = (
        int((e == 1).sum()),
        int((e == 0).sum()),
        int(y[e == 1].sum()),
        int(y[e == 0].sum()),
    )
    return y, e, counts


def _repeated_people_note(records: pd.DataFrame, person: str | None) -> tuple[str, ...]:
    if person is None:
        return ()
    per_person = records[person].value_counts()
    repeated = int((per_person > 1).sum())
    if repeated == 0:
        return ()
    return (
        f"{repeated} people contribute more than one record; the crude interval treats records as "
        "independent.",
    )


def crude_difference(
    records: pd.DataFrame,
    *,
    outcome: str = "outcome",
    exposed: str = "exposed",
    person: str | None = "person_id",
    level: float = 0.95,
) -> DifferenceEstimate:
    """Crude difference in outcome share, exposed − unexposed, with Newcombe's hybrid score interval.

    ``records`` has one row per record (episode or person) with 0/1 columns ``outcome`` and ``exposed``.
    ``person`` (optional) names the person column: if someone contributes several records the result
    notes it, since the interval assumes independent records. If either group is empty the result has a
    reason and NaN numbers.
    """
    _, _, (n1, n0, x1, x0) = _counts(records, outcome, exposed)
    notes = _repeated_people_note(records, person)
    if n1 == 0 or n0 == 0:
        empty = "exposed" if n1 == 0 else "unexposed"
        nan = float("nan")
        return DifferenceEstimate(
            "crude",
            n1,
            n0,
            x1,
            x0,
            nan if n1 == 0 else x1 / n1,
            nan if n0 == 0 else x0 / n0,
            nan,
            nan,
            nan,
            CRUDE_METHOD,
            reason=f"no {empty} records, so there is no difference to estimate",
            notes=notes,
        )
    low, high = newcombe_difference_interval(x1, n1, x0, n0, level)
    return DifferenceEstimate(
        "crude", n1, n0, x1, x0, x1 / n1, x0 / n0, x1 / n1 - x0 / n0, low, high, CRUDE_METHOD, notes=notes
    )


def adjusted_difference(
    records: pd.DataFrame,
    *,
    outcome: str = "outcome",
    exposed: str = "exposed",
    covariates: Sequence[str] = CASE_MIX_COVARIATES,
    person: str = "person_id",
    level: float = 0.95,
    min_events_per_parameter: float = DEFAULT_MIN_EVENTS_PER_PARAMETER,
) -> DifferenceEstimate:
    """Case-mix-adjusted difference in outcome share by logistic regression and marginal standardisation.

    Model: logit P(y_i = 1) = x_i β, with x_i the intercept, the exposure e_i and indicators of each
    covariate's non-reference levels (`pipelines.stats.case_mix.fit_logistic`). With x_i(e) the record's
    covariates with its exposure set to e, p_i(e) = expit(x_i(e) β̂) and n records::

        exposed_value   = (1/n) Σ p_i(1)        unexposed_value = (1/n) Σ p_i(0)
        difference      = exposed_value − unexposed_value

    Interval: difference ± z · SE, clipped to [−1, 1]. The SE is the delta method on the stacked
    estimating equations, clustered by ``person``: each record's influence is

        φ_i = (p_i(1) − p_i(0) − difference) / n + g' B x_i (y_i − p_i)

    with g = (1/n) Σ [p_i(1)(1 − p_i(1)) x_i(1) − p_i(0)(1 − p_i(0)) x_i(0)] and B = (X'WX)⁻¹; the
    variance is G/(G − 1) · Σ_people (Σ_{i of the person} φ_i)² over the G people.

    When the model cannot be fitted the result has NaN numbers and ``reason`` says why (too few
    events, a level without outcome variation, separation, collinearity, no convergence).
    """
    covariates = list(covariates)
    if person not in records.columns:
        raise ValueError(f"records lack the person column {person!r} the interval is clustered by")
    _, _, (n1, n0, x1, x0) = _counts(records, outcome, exposed)
    nan = float("nan")
    fit = fit_logistic(
        records, outcome, covariates, exposure=exposed, min_events_per_parameter=min_events_per_parameter
    )
    if isinstance(fit, ModelFailure):
        return DifferenceEstimate(
            "adjusted",
            n1,
            n0,
            x1,
            x0,
            nan,
            nan,
            nan,
            nan,
            nan,
            ADJUSTED_METHOD,
            adjusted_for=tuple(covariates),
            reason=f"not estimable: {fit.reason}",
            notes=fit.notes,
        )
    adjusted_for = tuple(c for c in covariates if c not in fit.dropped)
    n = len(records)
    # Everything below is per covariate pattern (rows of fit.design), weighted by its records.
    exposure_column = fit.columns.index(exposed)
    design_exposed = fit.design.copy()
    design_exposed[:, exposure_column] = 1.0
    design_unexposed = fit.design.copy()
    design_unexposed[:, exposure_column] = 0.0
    p1 = expit(design_exposed @ fit.params)
    p0 = expit(design_unexposed @ fit.params)
    weights = fit.records_per_pattern
    exposed_value = float(weights @ p1 / n)
    unexposed_value = float(weights @ p0 / n)
    difference = exposed_value - unexposed_value

    gradient = ((weights * p1 * (1 - p1)) @ design_exposed - (weights * p0 * (1 - p0)) @ design_unexposed) / n
    # g' B x_i (y_i − p_i) = (x_i · B g)(y_i − p_i), with x_i · B g computed once per pattern
    leverage = fit.design @ (fit.bread @ gradient)
    influence = (p1 - p0 - difference)[fit.pattern] / n + leverage[fit.pattern] * fit.residuals
    per_person = cluster_sum(influence, records[person])
    people = len(per_person)
    if people < 2:
        return DifferenceEstimate(
            "adjusted",
            n1,
            n0,
            x1,
            x0,
            exposed_value,
            unexposed_value,
            difference,
            nan,
            nan,
            ADJUSTED_METHOD,
            adjusted_for=adjusted_for,
            reason="not estimable: a clustered interval needs at least two people",
            notes=fit.notes,
        )
    variance = people / (people - 1) * float(per_person @ per_person)
    z = z_for_level(level)
    half = z * float(np.sqrt(variance))
    return DifferenceEstimate(
        "adjusted",
        n1,
        n0,
        x1,
        x0,
        exposed_value,
        unexposed_value,
        difference,
        max(-1.0, difference - half),
        min(1.0, difference + half),
        ADJUSTED_METHOD,
        adjusted_for=adjusted_for,
        notes=fit.notes,
    )


def compare_by_exposure(
    records: pd.DataFrame,
    *,
    outcome: str = "outcome",
    exposed: str = "exposed",
    covariates: Sequence[str] = CASE_MIX_COVARIATES,
    person: str = "person_id",
    level: float = 0.95,
    min_events_per_parameter: float = DEFAULT_MIN_EVENTS_PER_PARAMETER,
) -> pd.DataFrame:
    """The crude and the adjusted estimate as two rows with the `ESTIMATE_COLUMNS`.

    See `crude_difference` and `adjusted_difference` for the definitions. This is the table `rosc
    compare peer-support` prints: ``estimate`` is ``crude`` or ``adjusted``.
    """
    crude = crude_difference(records, outcome=outcome, exposed=exposed, person=person, level=level)
    adjusted = adjusted_difference(
        records,
        outcome=outcome,
        exposed=exposed,
        covariates=covariates,
        person=person,
        level=level,
        min_events_per_parameter=min_events_per_parameter,
    )
    return pd.DataFrame([crude.as_row(), adjusted.as_row()], columns=ESTIMATE_COLUMNS)


def dose_band(contacts: pd.Series | Sequence[int] | np.ndarray) -> pd.Series:
    """Peer-contact count → dose band ``"0"``, ``"1-2"`` or ``"3+"`` (`PEER_DOSE_BANDS`), as strings.

    Raises ValueError on a missing or negative count.
    """
    counts = pd.Series(contacts)
    if counts.isna().any() or (counts < 0).any():
        raise ValueError("contact counts must be non-negative and not missing")
    labels = np.select(
        [counts == 0, counts <= 2], [PEER_DOSE_BANDS[0], PEER_DOSE_BANDS[1]], PEER_DOSE_BANDS[2]
    )
    return pd.Series(labels, index=counts.index, name="dose", dtype=object)


def outcome_shares_by_group(
    records: pd.DataFrame,
    group: str,
    *,
    outcome: str = "outcome",
    order: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Crude outcome share per group (dose band, timing, ...) with Wilson intervals.

    Returns `SHARE_COLUMNS`: ``group``, ``numerator`` (records with the outcome), ``denominator``
    (records), ``value`` and the Wilson score interval (`pipelines.stats.wilson.wilson_interval`). With
    ``order`` the rows follow it and a listed group with no records appears with denominator 0 and NaN
    value and interval; a group present in the records but not listed raises ValueError (it would
    otherwise be dropped silently). Without ``order`` groups are sorted. Missing group values raise.
    """
    if records[group].isna().any():
        raise ValueError(f"column {group!r} has missing values")
    y = outcome_as_binary(records[outcome], outcome)
    table = (
        pd.DataFrame({"group": records[group].astype(str).to_numpy(), "y": y})
        .groupby("group", sort=True)["y"]
        .agg(numerator="sum", denominator="size")
    )
    if order is not None:
        unlisted = sorted(set(table.index) - {str(g) for g in order})
        if unlisted:
            raise ValueError(f"groups {unlisted} are not in the given order")
        table = table.reindex([str(g) for g in order], fill_value=0)
    table = table.reset_index()
    numerator = table["numerator"].to_numpy(dtype=float)
    denominator = table["denominator"].to_numpy(dtype=float)
    low, high = wilson_interval(numerator, denominator, z=z_for_level(level))
    value = np.divide(numerator, denominator, out=np.full_like(numerator, np.nan), where=denominator > 0)
    return pd.DataFrame(
        {
            "group": table["group"],
            "numerator": table["numerator"].astype(int),
            "denominator": table["denominator"].astype(int),
            "value": value,
            "ci_low": low,
            "ci_high": high,
        },
        columns=SHARE_COLUMNS,
    )
