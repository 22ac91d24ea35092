"""Logistic case-mix models with the checks that decide whether a model can be fitted at all.

METRICS.md v2 adjusts two comparisons for case mix: outcomes with and without peer support
(`pipelines.stats.exposure_comparison`) and programmes against each other by indirect standardisation
(`pipelines.stats.indirect_standardisation`). Both fit a logistic regression of a 0/1 outcome on
categorical case-mix covariates (plus, for the first, a 0/1 exposure). This module builds the design
matrix, refuses a model that has no finite maximum-likelihood estimate or too little information
(returning a `ModelFailure` that says why, never a number), fits the rest with statsmodels and gives
the per-record pieces a sandwich variance needs.

Checks, in order (the first that fails is reported):

1. ``no_records`` – nothing to fit.
2. ``no_outcome_variation`` – every record has the same outcome.
3. ``no_exposure_contrast`` – (with an exposure) every record is exposed, or none is.
4. ``too_few_events`` – the smaller outcome group has fewer than ``min_events_per_parameter`` records
   per model parameter (intercept not counted). Default 10, the rule of Peduzzi et al. (1996), J Clin
   Epidemiol 49:1373–1379; Vittinghoff & McCulloch (2007), Am J Epidemiol 165:710–718 found 5–9
   often adequate, so the threshold is a parameter.
5. ``level_without_outcome_variation`` – a covariate level (or the exposed or unexposed group) in which
   every record has the same outcome: quasi-complete separation on one variable, so that level's
   coefficient has no finite estimate.
6. ``collinear`` – the design matrix is rank deficient (one covariate's levels nest in another's), so
   the coefficients are not identified; the aliased columns are named.
7. ``separation`` – complete or quasi-complete separation by a combination of variables (Albert &
   Anderson 1984, Biometrika 71:1–10): some direction β ≠ 0 has (2y − 1)·xβ ≥ 0 for every record. It is
   found exactly by the linear programme of Konis (2007, DPhil thesis, Oxford; R package
   ``safeBinaryRegression``).
8. ``not_converged`` – Newton–Raphson did not converge, or statsmodels warned while fitting.

A covariate with a single level among the records is constant, carries no case-mix information and is
left out of the model with a note (it is not a failure).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.optimize
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationWarning,
)

CASE_MIX_COVARIATES = (
    "substance_group",
    "age_band",
    "sex",
    "injecting_status",
    "referral_source",
    "setting",
    "earlier_episode",
)
"""The case-mix covariates of METRICS.md v2, as column names: substance group, age band, sex, injecting
status, referral source, setting and whether the person had any earlier episode (yes/no)."""

DEFAULT_MIN_EVENTS_PER_PARAMETER = 10.0
"""Peduzzi et al. (1996): at least 10 of the less frequent outcome per model parameter."""

INTERCEPT = "intercept"

FAILURE_CODES = (
    "no_records",
    "no_outcome_variation",
    "no_exposure_contrast",
    "too_few_events",
    "level_without_outcome_variation",
    "collinear",
    "separation",
    "not_converged",
)


@dataclass(frozen=True)
class ModelFailure:
    """A case-mix model that was not fitted: ``code`` is one of `FAILURE_CODES`, ``reason`` a sentence."""

    code: str
    reason: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic case-mix model and what the variance calculations need.

    ``design`` is the n × p matrix (intercept first, then the exposure if any, then one indicator per
    non-reference covariate level), ``columns`` its column names (``covariate[level]``), ``params`` the
    maximum-likelihood coefficients and ``fitted`` the predicted probabilities of the records, in the
    order of the input frame. ``bread`` is the inverse of the observed information X'WX, so that record
    i's influence on the coefficients is ``bread @ x_i (y_i − p_i)``. ``reference_levels`` gives each
    modelled covariate's reference (its most frequent level); ``dropped`` the constant covariates left
    out.
    """

    design: np.ndarray
    columns: tuple[str, ...]
    outcome: np.ndarray
    params: np.ndarray
    fitted: np.ndarray
    bread: np.ndarray
    reference_levels: dict[str, str]
    dropped: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def n_parameters(self) -> int:
        """Number of coefficients, intercept included."""
        return len(self.columns)

    def scores(self) -> np.ndarray:
        """Per-record score contributions x_i (y_i − p_i), an n × p array."""
        return self.design * (self.outcome - self.fitted)[:, None]

    def influence(self) -> np.ndarray:
        """Per-record influence on the coefficients, n × p: row i is ``bread @ x_i (y_i − p_i)``."""
        return self.scores() @ self.bread.T


def outcome_as_binary(values: pd.Series, name: str) -> np.ndarray:
    """The 0/1 outcome or exposure column as floats; raises ValueError on missing or other values."""
    if values.isna().any():
        raise ValueError(f"column {name!r} has {int(values.isna().sum())} missing values; it must be 0/1")
    as_float = values.astype(float).to_numpy()
    if not np.isin(as_float, (0.0, 1.0)).all():
        raise ValueError(f"column {name!r} must hold only 0/1 (or False/True)")
    return as_float


def covariate_levels(values: pd.Series, name: str) -> pd.Series:
    """A covariate column as strings; raises ValueError if any value is missing."""
    if values.isna().any():
        raise ValueError(
            f"covariate {name!r} has {int(values.isna().sum())} missing values; code them as a level "
            "(for example 'unknown') before modelling"
        )
    return values.astype(str)


def reference_level(levels: pd.Series) -> str:
    """The most frequent level (ties broken by sort order): the estimates do not depend on it, and a
    well-populated reference keeps the information matrix well conditioned."""
    counts = levels.value_counts()
    top = counts[counts == counts.max()].index
    return str(sorted(top)[0])


def build_design(
    frame: pd.DataFrame, covariates: Sequence[str], exposure: str | None = None
) -> tuple[np.ndarray, tuple[str, ...], dict[str, str], tuple[str, ...], dict[str, pd.Series]]:
    """Intercept, exposure (if given) and treatment-coded indicators of the covariates.

    Returns the design matrix, its column names, the reference level of each modelled covariate, the
    covariates dropped because they are constant, and each covariate's levels as strings.
    """
    columns: list[str] = [INTERCEPT]
    blocks: list[np.ndarray] = [np.ones((len(frame), 1))]
    if exposure is not None:
        columns.append(exposure)
        blocks.append(outcome_as_binary(frame[exposure], exposure)[:, None])
    references: dict[str, str] = {}
    dropped: list[str] = []
    levels_of: dict[str, pd.Series] = {}
    for covariate in covariates:
        levels = covariate_levels(frame[covariate], covariate)
        levels_of[covariate] = levels
        distinct = sorted(levels.unique())
        if len(distinct) < 2:
            dropped.append(covariate)
            continue
        reference = reference_level(levels)
        references[covariate] = reference
        for level in distinct:
            if level == reference:
                continue
            columns.append(f"{covariate}[{level}]")
            blocks.append((levels == level).to_numpy(dtype=float)[:, None])
    return np.hstack(blocks), tuple(columns), references, tuple(dropped), levels_of


def aliased_columns(design: np.ndarray, columns: Sequence[str]) -> list[str]:
    """Columns (intercept aside) taking part in an exact linear dependency of the design's columns.

    From the right singular vectors of the design whose singular values are numerically zero: a column
    with a non-negligible weight in one of them is a linear combination of the others listed.
    """
    _, singular, right = np.linalg.svd(design, full_matrices=False)
    tolerance = singular.max() * max(design.shape) * np.finfo(float).eps
    null_space = right[singular <= tolerance]
    if len(null_space) == 0:
        return []
    involved = np.abs(null_space).max(axis=0) > 1e-8
    return [name for name, flag in zip(columns, involved, strict=True) if flag and name != INTERCEPT]


def separating_direction(design: np.ndarray, outcome: np.ndarray) -> np.ndarray | None:
    """A direction β ≠ 0 with (2y − 1)·xβ ≥ 0 for every record, or None if there is none.

    Konis (2007): maximise Σ (2y_i − 1) x_i β subject to (2y_i − 1) x_i β ≥ 0 and −1 ≤ β ≤ 1. For a
    full-rank design the optimum is 0 exactly when the data are not separated (then the only feasible β
    is 0) and positive otherwise. Duplicate signed rows are merged first, with their counts as weights,
    which leaves the programme unchanged.
    """
    signed = design * (2.0 * outcome - 1.0)[:, None]
    rows, counts = np.unique(signed, axis=0, return_counts=True)
    objective = -(counts[:, None] * rows).sum(axis=0)
    result = scipy.optimize.linprog(
        objective,
        A_ub=-rows,
        b_ub=np.zeros(len(rows)),
        bounds=[(-1.0, 1.0)] * design.shape[1],
        method="highs",
    )
    if result.status != 0:  # pragma: no cover - the programme is always feasible (β = 0) and bounded
        raise RuntimeError(f"separation check failed: {result.message}")
    scale = float(np.abs(objective).sum()) or 1.0
    if -result.fun <= 1e-9 * scale:
        return None
    return np.asarray(result.x)


def fit_logistic(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    *,
    exposure: str | None = None,
    min_events_per_parameter: float = DEFAULT_MIN_EVENTS_PER_PARAMETER,
) -> LogisticFit | ModelFailure:
    """Fit logit P(outcome = 1) = β0 [+ β_e · exposure] + Σ covariate-level effects, or say why not.

    ``frame`` has one row per record: ``outcome`` (and ``exposure``) 0/1 or boolean, each covariate a
    categorical column with no missing values (ValueError otherwise). The checks of this module's
    docstring run first; a model that passes them is fitted by Newton–Raphson in statsmodels
    (``sm.Logit``). Returns a `LogisticFit`, or a `ModelFailure` naming the first check that failed.
    """
    covariates = list(covariates)
    missing = {outcome, *covariates, *([exposure] if exposure else [])} - set(frame.columns)
    if missing:
        raise ValueError(f"records lack columns {sorted(missing)}")
    y = outcome_as_binary(frame[outcome], outcome)
    n = len(y)
    if n == 0:
        return ModelFailure("no_records", "there are no records to model")
    events = int(y.sum())
    if events in (0, n):
        return ModelFailure(
            "no_outcome_variation", f"all {n} records have outcome {int(y[0])}, so there is nothing to model"
        )
    design, columns, references, dropped, levels_of = build_design(frame, covariates, exposure)
    notes = tuple(
        f"covariate {name!r} has one level ({levels_of[name].iloc[0]!r}) among these records and is left "
        "out of the model"
        for name in dropped
    )
    if exposure is not None:
        exposed = design[:, 1]
        if exposed.min() == exposed.max():
            state = "exposed" if exposed[0] == 1 else "unexposed"
            return ModelFailure("no_exposure_contrast", f"all {n} records are {state}", notes)

    smaller = min(events, n - events)
    parameters = len(columns) - 1
    if parameters > 0 and smaller < min_events_per_parameter * parameters:
        which = "outcome 1" if events <= n - events else "outcome 0"
        return ModelFailure(
            "too_few_events",
            f"the smaller outcome group ({which}) has {smaller} records, fewer than "
            f"{min_events_per_parameter:g} per model parameter ({parameters} parameters need "
            f"{min_events_per_parameter * parameters:g})",
            notes,
        )

    groups: list[tuple[str, np.ndarray]] = []
    if exposure is not None:
        groups += [(f"{exposure} = 1", design[:, 1] == 1), (f"{exposure} = 0", design[:, 1] == 0)]
    for name, levels in levels_of.items():
        if name in dropped:
            continue
        for level in sorted(levels.unique()):
            groups.append((f"{name} = {level}", (levels == level).to_numpy()))
    for label, members in groups:
        values = y[members]
        if values.min() == values.max():
            return ModelFailure(
                "level_without_outcome_variation",
                f"every one of the {int(members.sum())} records with {label} has outcome {int(values[0])}, "
                "so that level's coefficient has no finite estimate (quasi-complete separation)",
                notes,
            )

    aliased = aliased_columns(design, columns)
    if aliased:
        return ModelFailure(
            "collinear",
            "the case-mix columns are collinear (a covariate's levels are determined by others'), so the "
            f"model is not identified; linearly dependent: {', '.join(aliased)}",
            notes,
        )

    direction = separating_direction(design, y)
    if direction is not None:
        involved = [columns[j] for j in np.flatnonzero(np.abs(direction) > 1e-9)]
        return ModelFailure(
            "separation",
            "the outcome is separated by a combination of "
            f"{', '.join(involved)}: the maximum-likelihood estimate does not exist",
            notes,
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.Logit(y, design).fit(method="newton", maxiter=100, disp=False)
        except np.linalg.LinAlgError as error:
            return ModelFailure("not_converged", f"the logistic fit failed: {error}", notes)
    problems = [
        str(w.message)
        for w in caught
        if issubclass(
            w.category,
            ConvergenceWarning | HessianInversionWarning | PerfectSeparationWarning | RuntimeWarning,
        )
    ]
    converged = bool(result.mle_retvals.get("converged", False))
    if not converged or problems:
        detail = "; ".join(problems) if problems else "Newton–Raphson did not converge in 100 iterations"
        return ModelFailure("not_converged", f"the logistic fit did not converge: {detail}", notes)

    params = np.asarray(result.params, dtype=float)
    fitted = np.asarray(result.predict(design), dtype=float)
    weights = fitted * (1.0 - fitted)
    information = design.T @ (design * weights[:, None])
    bread = np.linalg.inv(information)
    return LogisticFit(
        design=design,
        columns=columns,
        outcome=y,
        params=params,
        fitted=fitted,
        bread=bread,
        reference_levels=references,
        dropped=dropped,
        notes=notes,
    )


def cluster_sum(values: np.ndarray, clusters: pd.Series | np.ndarray) -> np.ndarray:
    """Sum the rows of ``values`` (n or n × k) within each cluster; one row per distinct cluster."""
    codes, _ = pd.factorize(np.asarray(clusters), use_na_sentinel=False)
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values)
    return np.stack([np.bincount(codes, weights=values[:, j]) for j in range(values.shape[1])], axis=1)
