"""Logistic case-mix models with the checks that decide whether a model can be fitted at all.

docs/metrics.md v2 adjusts two comparisons for case mix: outcomes with and without peer support
(`pipelines.stats.exposure_comparison`) and programmes against each other by indirect standardisation
(`pipelines.stats.indirect_standardisation`). Both fit a logistic regression of a 0/1 outcome on
categorical case-mix covariates (plus, for the first, a 0/1 exposure). This module builds the design
matrix, refuses a model that has no finite maximum-likelihood estimate or too little information
(returning a `ModelFailure` that says why, never a number), fits the rest with statsmodels and gives
the per-record pieces a sandwich variance needs. Records are grouped by covariate pattern first, so a
cohort of 200,000 episodes costs about as much as its few thousand distinct patterns.

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
8. ``not_converged`` – the fit did not converge, or statsmodels warned while fitting.

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
"""The case-mix covariates of docs/metrics.md v2, as column names: substance group, age band, sex, injecting
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

    The likelihood depends on the records only through their covariate patterns (the distinct
    combinations of exposure and covariate levels) and the outcome counts in each, so the model is held
    per pattern: ``design`` is the K × p matrix of the K patterns (intercept first, then the exposure if
    any, then one indicator per non-reference covariate level, named ``covariate[level]`` in
    ``columns``); ``pattern`` maps each record, in the order of the input frame, to its row of
    ``design``; ``records_per_pattern`` and ``events_per_pattern`` are the counts. ``params`` are the
    maximum-likelihood coefficients, ``pattern_probability`` the fitted probability of each pattern and
    ``bread`` the inverse of the information X'WX, so that record i's influence on the coefficients is
    ``bread @ x_i (y_i − p_i)``. ``reference_levels`` gives each modelled covariate's reference (its most
    frequent level); ``dropped`` the constant covariates left out.
    """

    design: np.ndarray
    columns: tuple[str, ...]
    pattern: np.ndarray
    records_per_pattern: np.ndarray
    events_per_pattern: np.ndarray
    outcome: np.ndarray
    params: np.ndarray
    pattern_probability: np.ndarray
    bread: np.ndarray
    reference_levels: dict[str, str]
    dropped: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def n_parameters(self) -> int:
        """Number of coefficients, intercept included."""
        return len(self.columns)

    @property
    def fitted(self) -> np.ndarray:
        """Predicted probability of each record."""
        return self.pattern_probability[self.pattern]

    @property
    def residuals(self) -> np.ndarray:
        """y_i − p_i for each record."""
        return self.outcome - self.fitted

    def record_design(self) -> np.ndarray:
        """The n × p design matrix of the records (pattern rows repeated)."""
        return self.design[self.pattern]

    def scores(self) -> np.ndarray:
        """Per-record score contributions x_i (y_i − p_i), an n × p array."""
        return self.record_design() * self.residuals[:, None]


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


def reference_level(counts: pd.Series) -> str:
    """The most frequent level (ties broken by sort order), from records per level: the estimates do
    not depend on it, and a well-populated reference keeps the information matrix well conditioned."""
    top = counts[counts == counts.max()].index
    return str(sorted(top)[0])


def aliased_columns(design: np.ndarray, columns: Sequence[str]) -> list[str]:
    """Columns (intercept aside) taking part in an exact linear dependency of the design's columns.

    From the right singular vectors of the design whose singular values are numerically zero: a column
    with a non-negligible weight in one of them is a linear combination of the others listed.
    """
    # The triangular factor of a QR decomposition has the design's right singular vectors and is at most
    # p × p, however many rows the design has; a design with fewer rows than columns is rank deficient.
    triangular = np.linalg.qr(design, mode="r")
    _, singular, right = np.linalg.svd(triangular, full_matrices=True)
    singular = np.concatenate([singular, np.zeros(design.shape[1] - len(singular))])
    tolerance = singular.max() * max(design.shape) * np.finfo(float).eps
    null_space = right[singular <= tolerance]
    if len(null_space) == 0:
        return []
    involved = np.abs(null_space).max(axis=0) > 1e-8
    return [name for name, flag in zip(columns, involved, strict=True) if flag and name != INTERCEPT]


def separating_direction(
    design: np.ndarray, events: np.ndarray, non_events: np.ndarray | None = None
) -> np.ndarray | None:
    """A direction β ≠ 0 with (2y − 1)·xβ ≥ 0 for every record, or None if there is none.

    ``design`` has one row per record, or per covariate pattern when ``non_events`` is given: then
    ``events`` and ``non_events`` count the records of each pattern with outcome 1 and 0; otherwise
    ``events`` is the 0/1 outcome of each row.

    Konis (2007): maximise Σ (2y_i − 1) x_i β subject to (2y_i − 1) x_i β ≥ 0 and −1 ≤ β ≤ 1. For a
    full-rank design the optimum is 0 exactly when the data are not separated (then the only feasible β
    is 0) and positive otherwise. Records sharing a pattern and outcome give one constraint, weighted by
    their count in the objective, which leaves the programme unchanged.
    """
    if non_events is None:
        events, non_events = np.asarray(events, dtype=float), 1.0 - np.asarray(events, dtype=float)
    has_events, has_non_events = events > 0, non_events > 0
    rows = np.vstack([design[has_events], -design[has_non_events]])
    weights = np.concatenate([events[has_events], non_events[has_non_events]])
    objective = -(weights[:, None] * rows).sum(axis=0)
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
    docstring run first; a model that passes them is fitted by maximum likelihood in statsmodels, as a
    binomial GLM (IRLS) with one row per covariate pattern and outcome weighted by its number of records,
    which has the same likelihood and estimates as a logistic regression on the records. Returns a
    `LogisticFit`, or a `ModelFailure` naming the first check that failed.
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

    keys = pd.DataFrame({name: covariate_levels(frame[name], name).to_numpy() for name in covariates})
    if exposure is not None:
        exposed = outcome_as_binary(frame[exposure], exposure)
        keys.insert(0, exposure, exposed)
    pattern = (
        keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
        if len(keys.columns)
        else np.zeros(n, int)
    )
    n_patterns = int(pattern.max()) + 1
    records_per_pattern = np.bincount(pattern, minlength=n_patterns).astype(float)
    events_per_pattern = np.bincount(pattern, weights=y, minlength=n_patterns)
    non_events_per_pattern = records_per_pattern - events_per_pattern
    first_record = np.full(n_patterns, n)
    np.minimum.at(first_record, pattern, np.arange(n))
    patterns = keys.iloc[first_record].reset_index(drop=True)

    columns: list[str] = [INTERCEPT]
    blocks: list[np.ndarray] = [np.ones((n_patterns, 1))]
    groups: list[tuple[str, np.ndarray]] = []
    notes: list[str] = []
    if exposure is not None:
        if exposed.min() == exposed.max():
            state = "exposed" if exposed[0] == 1 else "unexposed"
            return ModelFailure("no_exposure_contrast", f"all {n} records are {state}")
        columns.append(exposure)
        blocks.append(patterns[exposure].to_numpy(dtype=float)[:, None])
        groups += [(f"{exposure} = 1", blocks[-1][:, 0] == 1), (f"{exposure} = 0", blocks[-1][:, 0] == 0)]
    references: dict[str, str] = {}
    dropped: list[str] = []
    for name in covariates:
        level_of_pattern = patterns[name]
        per_level = pd.Series(records_per_pattern).groupby(level_of_pattern.to_numpy()).sum()
        if len(per_level) < 2:
            dropped.append(name)
            notes.append(
                f"covariate {name!r} has one level ({per_level.index[0]!r}) among these records and is left "
                "out of the model"
            )
            continue
        references[name] = reference_level(per_level)
        for level in sorted(per_level.index):
            member = (level_of_pattern == level).to_numpy()
            groups.append((f"{name} = {level}", member))
            if level != references[name]:
                columns.append(f"{name}[{level}]")
                blocks.append(member.astype(float)[:, None])
    design = np.hstack(blocks)
    notes_tuple = tuple(notes)

    smaller = min(events, n - events)
    parameters = len(columns) - 1
    if parameters > 0 and smaller < min_events_per_parameter * parameters:
        which = "outcome 1" if events <= n - events else "outcome 0"
        return ModelFailure(
            "too_few_events",
            f"the smaller outcome group ({which}) has {smaller} records, fewer than "
            f"{min_events_per_parameter:g} per model parameter ({parameters} parameters need "
            f"{min_events_per_parameter * parameters:g})",
            notes_tuple,
        )

    for label, member in groups:
        with_outcome, without = events_per_pattern[member].sum(), non_events_per_pattern[member].sum()
        if with_outcome == 0 or without == 0:
            return ModelFailure(
                "level_without_outcome_variation",
                f"every one of the {int(with_outcome + without)} records with {label} has outcome "
                f"{int(with_outcome > 0)}, so that level's coefficient has no finite estimate "
                "(quasi-complete separation)",
                notes_tuple,
            )

    aliased = aliased_columns(design, columns)
    if aliased:
        return ModelFailure(
            "collinear",
            "the case-mix columns are collinear (a covariate's levels are determined by others'), so the "
            f"model is not identified; linearly dependent: {', '.join(aliased)}",
            notes_tuple,
        )

    direction = separating_direction(design, events_per_pattern, non_events_per_pattern)
    if direction is not None:
        involved = [columns[j] for j in np.flatnonzero(np.abs(direction) > 1e-9)]
        return ModelFailure(
            "separation",
            "the outcome is separated by a combination of "
            f"{', '.join(involved)}: the maximum-likelihood estimate does not exist",
            notes_tuple,
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # One row per pattern and outcome, weighted by its records: the record-level likelihood.
            has_events, has_non_events = events_per_pattern > 0, non_events_per_pattern > 0
            result = sm.GLM(
                np.concatenate([np.ones(has_events.sum()), np.zeros(has_non_events.sum())]),
                np.vstack([design[has_events], design[has_non_events]]),
                family=sm.families.Binomial(),
                freq_weights=np.concatenate(
                    [events_per_pattern[has_events], non_events_per_pattern[has_non_events]]
                ),
            ).fit(maxiter=100, tol=1e-10)
        except (np.linalg.LinAlgError, ValueError) as error:
            return ModelFailure("not_converged", f"the logistic fit failed: {error}", notes_tuple)
    problems = [
        str(w.message)
        for w in caught
        if issubclass(
            w.category,
            ConvergenceWarning | HessianInversionWarning | PerfectSeparationWarning | RuntimeWarning,
        )
    ]
    if not result.converged or problems:
        detail = "; ".join(problems) if problems else "IRLS did not converge in 100 iterations"
        return ModelFailure("not_converged", f"the logistic fit did not converge: {detail}", notes_tuple)

    params = np.asarray(result.params, dtype=float)
    probability = np.asarray(result.predict(design), dtype=float)
    weights = records_per_pattern * probability * (1.0 - probability)
    bread = np.linalg.inv(design.T @ (design * weights[:, None]))
    return LogisticFit(
        design=design,
        columns=tuple(columns),
        pattern=pattern,
        records_per_pattern=records_per_pattern,
        events_per_pattern=events_per_pattern,
        outcome=y,
        params=params,
        pattern_probability=probability,
        bread=bread,
        reference_levels=references,
        dropped=tuple(dropped),
        notes=notes_tuple,
    )


DEFAULT_MIN_LEVEL_RECORDS = 50
"""A covariate level with fewer records than this gets no coefficient of its own (`pool_sparse_levels`)."""


def pool_sparse_levels(
    frame: pd.DataFrame, covariates: Sequence[str], min_records: int = DEFAULT_MIN_LEVEL_RECORDS
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The records with each sparse covariate level modelled with its covariate's most frequent level.

    A level held by fewer than ``min_records`` records would get a coefficient estimated from a handful
    of records, often with no outcome variation at all, which makes the whole model fail check 5
    (`level_without_outcome_variation`: six inpatient-detox episodes, all retained, stop a model of ten
    thousand). Such a level is recoded to the covariate's most frequent level (`reference_level`), so its
    records stay in the model and are adjusted for every other covariate, but not for this one's small
    level. The rule counts records only, never outcomes, so it cannot be steered by the result. Returns a
    copy of ``frame`` and one note per recoded covariate naming the levels and their records; a
    covariate left with a single level is then constant and `fit_logistic` leaves it out, saying so.
    """
    pooled = frame.copy()
    notes: list[str] = []
    for name in covariates:
        levels = covariate_levels(frame[name], name)
        counts = levels.value_counts()
        sparse = sorted(str(level) for level in counts.index[counts < min_records])
        if not sparse or len(sparse) == len(counts):
            pooled[name] = levels
            continue
        reference = reference_level(counts)
        pooled[name] = levels.where(~levels.isin(sparse), reference)
        described = ", ".join(f"{level} ({int(counts[level])})" for level in sparse)
        notes.append(
            f"{name}: levels with fewer than {min_records} records are modelled with {reference!r}: "
            f"{described}"
        )
    return pooled, tuple(notes)


def cluster_sum(values: np.ndarray, clusters: pd.Series | np.ndarray) -> np.ndarray:
    """Sum the rows of ``values`` (n or n × k) within each cluster; one row per distinct cluster."""
    codes, _ = pd.factorize(np.asarray(clusters), use_na_sentinel=False)
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values)
    return np.stack([np.bincount(codes, weights=values[:, j]) for j in range(values.shape[1])], axis=1)
