"""The averaging attack on cell-key perturbation, and why the dashboard answers only one value or all of
each dimension and a month, quarter, financial year or rolling 12 months (issue 16).

Perturbation gives the same records the same noise however they are asked for, so repeating a query
averages nothing away. Differences can: with every union of programmes on offer, the count of
programme p is also s(p ∪ q) − s(q) for every other q, each an independent noisy copy, and 26 of them
average to nearly the exact count. The attacker here is the strongest *linear* one: from every view the
dashboard answers it takes the best linear unbiased estimate (least squares) of every cell, the
estimate a statistician would make, over the whole lattice at once. Its views are products of one
choice per factor (the programmes a combination of area, provider, programme and setting filters
selects; one sex or all; one age band or all; one substance group or all; one period of an answered
shape), so the least-squares estimate is the per-factor projection applied along each axis of the
tensor of shown counts, and its variance for a cell is σ² × the product of the per-factor leverages
(σ² = 2.125, the perturbation's variance).

Checked on the committed 3,000-person sample, for discharges (the successful-completion denominator,
additive over programme × sex × age band × substance group × month):
- the emulated shown counts are what `DashboardData` shows for sampled views;
- every view of the lattice is one the dashboard answers, and a union of two programmes is refused;
- against the dashboard's lattice no cell's estimate has a standard error under 0.45 counts, and on the
  cells whose true count is 1–4 the estimate rounds to the truth less often than 40% of the time,
  below what guessing "1" for every such cell achieves;
- the control: with unions of two programmes also on offer, the same attacker's standard error falls
  under 0.2 and it finds the exact count of 45% of the coarse 1–4 cells (no factor a single leaf),
  against 16% on the dashboard's lattice, so the test can tell.

The attacker that reasons with certainty (ranges that must hold the truth) is `test_disclosure.py` and
`test_disclosure_techniques.py`; this one measures what is left to a statistical guess.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dashboard.periods import DataSpan, Month, Period
from dashboard.queries import DashboardData, ViewRefused
from pipelines.metrics import compute_metric
from pipelines.stats.perturbation import perturb, perturbation_variance

#: The perturbation's variance for counts of 8 or more (2.125).
VARIANCE = perturbation_variance(100)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
METRIC = "successful_completion"
DIMENSIONS = ("sex", "age_band", "substance_group")
STRUCTURAL = ("area", "provider", "programme", "setting")


@dataclass
class Lattice:
    """The leaf counts and key sums (programme × sex × age band × substance group × month) and, per
    factor, the 0/1 matrix of its views over its leaves (one row per distinct set of leaves)."""

    counts: np.ndarray
    keys: np.ndarray
    factors: list[np.ndarray]
    labels: list[list[str]]
    view_filters: list[list[dict[str, str] | Period | None]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> DashboardData:
    if not (SAMPLE / "episodes.csv").exists():
        pytest.skip("the committed sample extract is not in data/sample")
    from pipelines.load import load_extracts

    db = tmp_path_factory.mktemp("averaging") / "rosc.duckdb"
    load_extracts([SAMPLE], db, quiet=True)
    data = DashboardData(db)
    yield data
    data.close()


def _structural_views(data: DashboardData) -> tuple[np.ndarray, list[str], list[dict[str, str]]]:
    """Every distinct set of programmes one value (or all) of each of area, provider, programme and
    setting selects, with the filters that select it."""
    programmes = data.warehouse.sql(
        "SELECT programme_id AS programme, provider_id AS provider, area_code AS area, setting "
        "FROM stg_programmes ORDER BY programme_id"
    )
    ids = programmes["programme"].tolist()
    rows: dict[tuple[int, ...], dict[str, str]] = {}
    choices = [[None, *sorted(programmes[d].unique())] for d in STRUCTURAL]
    for combination in itertools.product(*choices):
        chosen = {d: v for d, v in zip(STRUCTURAL, combination, strict=True) if v is not None}
        mask = np.ones(len(ids), dtype=bool)
        for d, v in chosen.items():
            mask &= (programmes[d] == v).to_numpy()
        if mask.any():
            rows.setdefault(tuple(mask.astype(int)), chosen)
    return np.array(list(rows)), ids, list(rows.values())


def _value_views(values: list[str]) -> np.ndarray:
    return np.vstack([np.eye(len(values), dtype=int), np.ones((1, len(values)), dtype=int)])


def _period_views(span: DataSpan) -> tuple[np.ndarray, list[str], list[Period]]:
    """Each period the dashboard answers (its choices, and the 12 months before the rolling 12 it
    compares with), over the months of the data."""
    months = span.months_newest_first()[::-1]
    index = {m: i for i, m in enumerate(months)}
    rows: dict[tuple[int, ...], Period] = {}
    for period in [p.period for p in span.choices()] + [span.rolling(12).previous()]:
        row = np.zeros(len(months), dtype=int)
        month: Month = period.first
        while month <= period.last:
            if month in index:
                row[index[month]] = 1
            month = month.plus(1)
        if row.any():
            rows.setdefault(tuple(row), period)
    return np.array(list(rows)), [str(m) for m in months], list(rows.values())


@pytest.fixture(scope="module")
def lattice(sample: DashboardData) -> Lattice:
    span = DataSpan.of(*sample.dates())
    structural, programmes, structural_filters = _structural_views(sample)
    periods, months, period_list = _period_views(span)
    leaf = compute_metric(
        sample.warehouse,
        METRIC,
        span.period.start,
        span.period.end,
        by=["programme", *DIMENSIONS, "month"],
        suppress=False,
        keys=True,
    )
    labels = [programmes, *[sorted(leaf[d].astype(str).unique()) for d in DIMENSIONS], months]
    shape = [len(v) for v in labels]
    counts, keys = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    columns = ["programme", *DIMENSIONS, "month"]
    index = tuple(
        leaf[c].astype(str).map({v: i for i, v in enumerate(values)}).to_numpy(dtype=int)
        for c, values in zip(columns, labels, strict=True)
    )
    np.add.at(counts, index, leaf["denominator"].to_numpy(dtype=np.int64))
    np.add.at(keys, index, leaf["denominator_key"].to_numpy(dtype=np.int64))
    factors = [structural, *[_value_views(v) for v in labels[1:4]], periods]
    view_filters = [structural_filters, *[[*v, None] for v in labels[1:4]], period_list]
    return Lattice(counts, keys, factors, labels, view_filters)


def along(tensor: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """``matrix`` applied to ``tensor`` along ``axis`` (a mode product)."""
    return np.moveaxis(np.tensordot(matrix, tensor, axes=([1], [axis])), 0, axis)


def views(lattice: Lattice, factors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every view's true count and the count it shows (perturbed by its records' key sum)."""
    true, keys = lattice.counts, lattice.keys
    for axis, factor in enumerate(factors):
        true, keys = along(true, factor, axis), along(keys, factor, axis)
    shown = perturb(true.ravel(), keys.ravel()).reshape(true.shape).astype(float)
    return true, shown


def least_squares(shown: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
    """The best linear unbiased estimate of every view's count from every view shown."""
    leaves = shown
    for axis, factor in enumerate(factors):
        leaves = along(leaves, np.linalg.pinv(factor.T @ factor) @ factor.T, axis)
    for axis, factor in enumerate(factors):
        leaves = along(leaves, factor, axis)
    return leaves


def best_standard_error(factors: list[np.ndarray]) -> float:
    """The smallest standard error of the least-squares estimate of any view, in counts."""
    leverage = 1.0
    for factor in factors:
        inverse = np.linalg.pinv(factor.T @ factor)
        leverage *= float(np.min(np.einsum("ij,jk,ik->i", factor, inverse, factor)))
    return float(np.sqrt(VARIANCE * leverage))


def with_programme_pairs(factors: list[np.ndarray]) -> list[np.ndarray]:
    structural = factors[0]
    size = structural.shape[1]
    pairs = np.zeros((size * (size - 1) // 2, size), dtype=int)
    for row, (i, j) in enumerate(itertools.combinations(range(size), 2)):
        pairs[row, [i, j]] = 1
    return [np.unique(np.vstack([structural, pairs]), axis=0), *factors[1:]]


def coarseness(factors: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Per view, how many of its factors are a single leaf (0: every factor a group)."""
    grid = np.zeros(shape, dtype=int)
    for axis, factor in enumerate(factors):
        single = (factor.sum(axis=1) == 1).astype(int)
        grid = grid + single.reshape([-1 if a == axis else 1 for a in range(len(shape))])
    return grid


def test_the_emulated_views_are_what_the_dashboard_shows(sample: DashboardData, lattice: Lattice) -> None:
    true, shown = views(lattice, lattice.factors)
    rng = random.Random(16)
    checked = 0
    for _ in range(40):
        position = tuple(rng.randrange(n) for n in shown.shape)
        structural = lattice.view_filters[0][position[0]]
        filters = {d: [v] for d, v in structural.items()}
        for axis, dimension in enumerate(DIMENSIONS, start=1):
            value = lattice.view_filters[axis][position[axis]]
            if value is not None:
                filters[dimension] = [value]
        period = lattice.view_filters[4][position[4]]
        table = sample.metric(METRIC, period.start, period.end, (), filters)
        assert int(table["denominator"].fillna(0).iloc[0]) == shown[position], (filters, period)
        assert (
            int(
                compute_metric(
                    sample.warehouse, METRIC, period.start, period.end, filters=filters, suppress=False
                )["denominator"].iloc[0]
            )
            == true[position]
        )
        checked += 1
    assert checked == 40


def test_every_view_of_the_lattice_is_one_the_dashboard_answers_and_unions_are_refused(
    sample: DashboardData, lattice: Lattice
) -> None:
    span = DataSpan.of(*sample.dates())
    for period in lattice.view_filters[4]:
        assert span.allows(period)
        sample.check_view(period.start, period.end, {})
    for structural in lattice.view_filters[0]:
        sample.check_view(span.default().start, span.default().end, {d: [v] for d, v in structural.items()})
    two = lattice.labels[0][:2]
    default = span.default()
    with pytest.raises(ViewRefused):
        sample.metric(METRIC, default.start, default.end, (), {"programme": two})
    with pytest.raises(ViewRefused):
        sample.monthly(METRIC, sample_state(default, programme=two))
    first = default.first
    with pytest.raises(ViewRefused):  # two months: a run the dashboard does not answer
        sample.metric(METRIC, first.first_day, first.plus(1).last_day)


def sample_state(period: Period, **values: list[str]):
    from dashboard.filters import state_of

    return state_of(period, **values)


def test_least_squares_over_the_dashboard_views_cannot_find_small_counts(lattice: Lattice) -> None:
    factors = lattice.factors
    assert best_standard_error(factors) >= 0.45
    true, shown = views(lattice, factors)
    estimate = least_squares(shown, factors)
    small = (true >= 1) & (true <= 4)
    assert small.sum() > 50_000  # most views of a sample this size are small
    hits = np.round(estimate) == true
    assert hits[small].mean() < 0.40
    assert hits[small].mean() < (true[small] == 1).mean()  # worse than guessing 1 for every such cell
    assert np.abs(estimate - true)[small].mean() > 0.9
    # Unbiased: over every view the errors average out (the estimate is not skewed to hide anything).
    assert abs(float((estimate - true).mean())) < 0.05


def test_the_control_with_unions_of_two_programmes_finds_coarse_small_counts(lattice: Lattice) -> None:
    dashboard, unions = lattice.factors, with_programme_pairs(lattice.factors)
    assert best_standard_error(unions) < 0.2 < 0.45 <= best_standard_error(dashboard)
    rates = []
    for factors in (dashboard, unions):
        true, shown = views(lattice, factors)
        estimate = least_squares(shown, factors)
        coarse = (true >= 1) & (true <= 4) & (coarseness(factors, true.shape) == 0)
        rates.append(((np.round(estimate) == true)[coarse].mean(), coarse.sum()))
    (on_dashboard, _), (with_unions, coarse_cells) = rates
    assert coarse_cells > 500
    # On this sample: 16% of the dashboard's 50 coarse 1-4 cells, 45% of the 983 with unions.
    assert with_unions > 0.4 and with_unions > on_dashboard + 0.2
