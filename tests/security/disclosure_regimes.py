"""What the app shows under each disclosure regime, and what a shown number tells an attacker.

The disclosure attacker (`test_disclosure.py`, `test_disclosure_techniques.py`) runs unchanged against
three regimes, named in `REGIMES`:

- ``exact``: true counts under METRICS.md's suppression rule alone (a numerator, denominator or
  complement of 1–4 blanks the row; breakdowns get secondary suppression), neither rounded nor
  perturbed. The control: an attacker that finds nothing here is not looking.
- ``rounding``: what main shows before issue 16. Suppression is decided on the true counts, then every
  shown count is rounded to the nearest 5 (halves up); a mean is shown at full precision with the
  rounded n, its interval from the true standard deviation and the rounded n; Kaplan–Meier tables are on
  a 28-day grid with the number at risk rounded and events and censored from rounded running totals,
  rows only where someone left and the rows with 1–4 at risk blanked; any day range is a period.
- ``perturbation``: what main shows after issue 16. Every count is perturbed by the cell-key table
  (`pipelines.stats.perturbation`: the same records always get the same noise), so no shown count is
  1–4; suppression then only hides rows whose perturbed complement (denominator − numerator) is 1–4,
  with no secondary suppression (a row's fate is its own, the same on every page); every category of
  a breakdown is a row, empty ones as zeros; means are
  shown only where the shown n ≥ 10, the mean and its standard deviation rounded to one decimal and the
  interval computed from the rounded figures; Kaplan–Meier curves are on the 28-day grid running to the
  table's longest time, from perturbed numbers at risk and events so far, the tail cut from the first
  row whose shown number at risk is below 10, a curve under 20 at the start left out; a mix shows
  every category of every unit, its counts and totals perturbed, a part hidden where the shown total
  less the shown count is 1–4; the dashboard answers one value or
  all of each filter and a month, quarter, financial year or rolling 12 months only.

Two things per regime live here, kept apart on purpose:

1. **What the app shows** (`shown_table`): from the true counts the metric layer computes without
   suppression (and, for perturbation, the sums of record keys per cell), the table the app shows. The
   sweep emulates the app through this one function because asking the app for 10⁴ views would not fit
   the time budget; each test module proves it equal to `DashboardData` on a fixed-seed sample of views
   for the regime the app is in.
2. **What a shown number tells** (`Regime.count_range`, `Regime.shown_ranges`, ...): the range of true
   counts a shown count can stand for, from the published rule alone (rounding base, perturbation
   table, thresholds), never from the true counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from pipelines.contract import OUTCOME_GROUPS
from pipelines.metrics import compute_metric
from pipelines.metrics.api import SURVIVAL_GRID_DAYS, complete_breakdown
from pipelines.metrics.registry import get_metric
from pipelines.stats import Z95, primary_suppress, survival_from_risk_sets
from pipelines.stats.perturbation import perturb, possible_true_counts
from pipelines.stats.suppression import suppress_labelled

SUPPRESSION_THRESHOLD = 5
"""METRICS.md's threshold: counts of 1 … SUPPRESSION_THRESHOLD − 1 are never shown."""
SMALL = (1, SUPPRESSION_THRESHOLD - 1)
"""The counts that must never be read or worked out."""
MEANS_FROM_N = 10
"""Under perturbation a mean or median is shown only where the shown n is at least this."""
KM_MIN_CURVE = 20
"""Under perturbation a curve of a breakdown whose shown number at risk at t = 0 is below this is left out."""
KM_TAIL_FROM = 10
"""Under perturbation a Kaplan–Meier curve is cut from the first row whose shown number at risk is
below this."""
KEY_COLUMNS = ("numerator_key", "denominator_key", "events_key", "censored_key")
"""Sums of record keys per cell that the perturbation regime's emulation needs beside the true counts
(unsuppressed metric results: numerator_key, denominator_key; unsuppressed Kaplan–Meier tables:
events_key and censored_key, the keys of each time's events and censored records)."""
OUTCOME_GROUP_ORDER = tuple(dict.fromkeys(sorted(OUTCOME_GROUPS.values())))
"""The outcome groups of the exit mix, in the order a full grid shows them."""


def small(values: np.ndarray | float) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return (values >= SMALL[0]) & (values <= SMALL[1])


def drop_small(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Narrow [lo, hi] of a count known not to be 1–4 (a shown count under a regime that decides
    suppression on the true counts, or a shown row's complement)."""
    lo = np.where(small(lo), SUPPRESSION_THRESHOLD, lo)
    hi = np.where(small(hi), 0, hi)
    return lo, hi


@lru_cache(maxsize=4096)
def _perturbation_range(shown: int) -> tuple[int, int]:
    return possible_true_counts(shown)


@lru_cache(maxsize=1)
def _perturbation_ranges() -> np.ndarray:
    """`possible_true_counts` of every shown count up to `_TABULATED` as an array (rows: shown count),
    1–4 (never shown) as missing; above it the table's ±3 rule."""
    table = np.full((_TABULATED + 1, 2), np.nan)
    for shown in range(_TABULATED + 1):
        if not small(shown):
            table[shown] = possible_true_counts(shown)
    return table


_TABULATED = 2000


@dataclass(frozen=True)
class Regime:
    """One disclosure regime: how the app turns true counts into shown ones, and so what a shown one
    tells.

    ``rounding_base`` is 1 for exact counts, 5 for rounding and None for cell-key perturbation.
    ``structure_tells``: suppression is decided on the true counts and tables show a row only where
    something was counted, so a blank row holds a count of 1–4 (or hides one, secondary), a shown row's
    counts and complement are not 1–4, and an absent row is 0. Under perturbation none of this holds.
    ``period_grain``: the smallest period the dashboard accepts (a day, or a whole month).
    ``mean_half_step``: a shown mean and standard deviation are within this of the true ones (0: shown
    at full precision; 0.05: rounded to one decimal).
    """

    name: str
    rounding_base: int | None
    structure_tells: bool
    period_grain: Literal["day", "month"]
    mean_half_step: float

    @property
    def perturbed(self) -> bool:
        return self.rounding_base is None

    # -- what the app shows ---------------------------------------------------------------------------

    def shown_counts(self, counts: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
        """Each true count as the app shows it: rounded to the base (halves up), as main did before
        issue 16, or perturbed by its cell key."""
        values = np.asarray(counts, dtype=float)
        if self.perturbed:
            if keys is None:
                raise ValueError("perturbation needs the sums of record keys of every count")
            return perturb(values, np.asarray(keys, dtype=float))
        base = self.rounding_base
        return np.floor(values / base + 0.5) * base if base > 1 else values.copy()

    # -- what a shown number tells --------------------------------------------------------------------

    def count_range(self, shown: np.ndarray | float, governed: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi] of the true counts a shown count can stand for. ``governed``: the count is one the
        suppression rule applies to (a numerator, denominator, number of records, number at risk), so
        under a regime that suppresses on true counts a shown one is not 1–4; Kaplan–Meier running
        totals and censored are not governed. Rounding to base b: R − ⌊b/2⌋ … R + ⌈b/2⌉ − 1 (exact: R);
        perturbation: `possible_true_counts`, the table's own answer."""
        values = np.atleast_1d(np.asarray(shown, dtype=float))
        if self.perturbed:
            if small(values).any():
                raise ValueError(f"a perturbed count is never 1–4: {values[small(values)]}")
            table = _perturbation_ranges()
            inside = values <= _TABULATED
            rows = np.where(inside, values, 0).astype(int)
            lo = np.where(inside, table[rows, 0], values - 3)
            hi = np.where(inside, table[rows, 1], values + 3)
            return lo, hi
        base = self.rounding_base
        lo = np.maximum(values - base // 2, 0)
        hi = values + (base + 1) // 2 - 1
        if governed:
            return drop_small(lo, hi)
        return lo, hi

    def shown_ranges(
        self, num: np.ndarray, den: np.ndarray, is_count: bool
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What the attacker knows of each true quantity of shown rows with shown counts ``num``/``den``:
        the range of the numerator and denominator, and of the complement den − num (also not 1–4 where
        suppression is decided on true counts; under perturbation the app suppresses on the perturbed
        complement, which says nothing of the true one)."""
        ranges = {"numerator": self.count_range(num)}
        if not is_count:
            ranges["denominator"] = self.count_range(den)
            (n_lo, n_hi), (d_lo, d_hi) = ranges["numerator"], ranges["denominator"]
            lo, hi = np.maximum(d_lo - n_hi, 0), d_hi - n_lo
            ranges["complement"] = drop_small(lo, hi) if self.structure_tells else (lo, hi)
        return ranges

    def hidden_count_range(self) -> tuple[float, float]:
        """[lo, hi] of a single count a suppressed one-count row hides (a count metric's headline, a
        Kaplan–Meier row's number at risk, a mix total): 1–4 where suppression is decided on the true
        count; anything under perturbation."""
        return (float(SMALL[0]), float(SMALL[1])) if self.structure_tells else (0.0, np.inf)

    def km_cut_range(self) -> tuple[float, float]:
        """[lo, hi] of the true number at risk at the first row a perturbed curve cuts (its shown number
        at risk is below `KM_TAIL_FROM`)."""
        highs = [_perturbation_range(s)[1] for s in range(KM_TAIL_FROM) if not small(s)]
        return 0.0, float(max(highs))

    def mean_range(self, shown: float) -> tuple[float, float]:
        """[lo, hi] of a true mean or standard deviation shown as ``shown``. At full precision the shown
        float is the true one up to the last bits; the whole-number checks allow for those."""
        return shown - self.mean_half_step, shown + self.mean_half_step


EXACT = Regime("exact", rounding_base=1, structure_tells=True, period_grain="day", mean_half_step=0.0)
ROUNDING = Regime("rounding", rounding_base=5, structure_tells=True, period_grain="day", mean_half_step=0.0)
PERTURBATION = Regime(
    "perturbation", rounding_base=None, structure_tells=False, period_grain="month", mean_half_step=0.05
)
REGIMES: dict[str, Regime] = {r.name: r for r in (EXACT, ROUNDING, PERTURBATION)}


# -- the metric layer's regime ---------------------------------------------------------------------------


def require_perturbing(warehouse: object, start: date, end: date) -> None:
    """Fail (the perturbation regime's tests are marked xfail until then) unless the metric layer
    perturbs: a suppressed result says ``attrs["disclosure"] == "perturbation"`` and an unsuppressed
    one carries the key-sum columns the emulation needs (`KEY_COLUMNS`)."""
    shown = compute_metric(warehouse, "successful_completion", start, end)
    unsuppressed = compute_metric(warehouse, "successful_completion", start, end, suppress=False, keys=True)
    disclosure = shown.attrs.get("disclosure")
    assert disclosure == "perturbation", f"metric layer not yet perturbing (disclosure={disclosure!r})"
    missing = [c for c in ("numerator_key", "denominator_key") if c not in unsuppressed]
    assert not missing, f"unsuppressed metric results lack the key sums {missing}"


# -- what the app shows ----------------------------------------------------------------------------------


def shown_table(
    metric: str,
    counts: pd.DataFrame,
    by: list[str],
    regime: Regime,
    *,
    part: str | None = None,
    units: list[str] | None = None,
) -> pd.DataFrame:
    """What the app shows for ``metric`` broken down by ``by``, from the true counts.

    ``counts`` holds the true, unsuppressed cells as the metric SQL gives them: the ``by`` columns, then
    ``numerator`` and ``denominator`` (proportions; a count metric has only ``numerator``), or
    ``denominator`` (n), ``numerator`` (sum of values), ``value`` (mean) and ``sd`` for a mean, or the
    metric layer's unsuppressed Kaplan–Meier table (``t, n_at_risk, events, censored`` per curve and
    exact time). For the perturbation regime each count also needs the sum of its records' keys
    (`KEY_COLUMNS`). With ``by == []`` every row is a headline of its own (one view each), so a whole
    sweep of views is emulated in one call. A breakdown's ``counts`` may hold every category, empty ones
    as zeros: this function decides which rows the app shows (exact and rounding: those with records;
    perturbation: all), so the table's structure is settled here too.

    Returns, per kind of table:
    - counts and proportions: the ``by`` columns, ``numerator``, ``denominator`` (the shown counts,
      missing where suppressed) and ``suppressed``;
    - means: the ``by`` columns, ``denominator`` (the shown n), ``value``, ``ci_low``, ``ci_high``,
      ``suppressed``;
    - Kaplan–Meier (`statistic == "kaplan_meier"`): the ``by`` columns, ``t`` (the 28-day grid),
      ``n_at_risk``, ``events``, ``censored``, ``suppressed``, one row per grid time the app shows;
    - a mix (``part`` given, ``by`` = [unit, part]): the ``by`` columns, ``count``, ``total``,
      ``suppressed``, as `pipelines.metrics.compute_mix` shows it; ``units`` lists the units the view
      is filtered to (under perturbation each shows its full grid of categories even when it has no
      records; otherwise a unit without records has no rows).

    The rounding and exact branches follow main's metric layer (`finish_metric`, `_finish_survival`,
    `compute_mix`); the perturbation branch follows the description of issue 16's design in this
    module's docstring, and `test_*_emulation_is_what_the_app_shows[perturbation]` checks it against
    the app as soon as the metric layer perturbs.
    """
    statistic = get_metric(metric).statistic
    if statistic == "kaplan_meier":
        return _shown_survival(counts, by, regime)
    if part is not None:
        return _shown_mix(counts, by, part, regime, units)
    if statistic == "mean":
        return _shown_means(counts, by, regime)
    if statistic == "median":
        raise ValueError("medians are not emulated: the attacker does not use them")
    return _shown_counts(metric, counts, by, regime)


def _keys(counts: pd.DataFrame, column: str, regime: Regime) -> np.ndarray | None:
    if not regime.perturbed:
        return None
    if column not in counts:
        raise KeyError(f"the perturbation regime needs {column!r} (the sum of the records' keys)")
    return counts[column].to_numpy(dtype=float)


def suppression_mask(
    table: pd.DataFrame,
    by: list[str],
    count_cols: list[str],
    pairs: list[tuple[str, str]],
    threshold: int,
) -> np.ndarray:
    """The definitions' rule (docs/metrics.md) for a table of exact counts, as the metric layer applied it
    before perturbation: primary suppression, plus secondary suppression across the breakdown
    (stats.suppress_table). The regimes without perturbation (exact, rounding) are emulated with it; the
    metric layer's shared outputs, perturbed, use primary suppression alone (its `CONVENTIONS`)."""
    if not by or len(table) <= 1:
        numerators = table[count_cols[0]].to_numpy(dtype=float)
        denominators = table[count_cols[1]].to_numpy(dtype=float) if len(count_cols) > 1 else None
        return primary_suppress(numerators, denominators, threshold=threshold)
    groups = list(by[:2])
    for numerator, denominator in pairs:
        if not {numerator, denominator} <= {*count_cols, *groups}:
            raise ValueError(f"pair ({numerator!r}, {denominator!r}) is not in the table")
    labels = [table[column].astype(str).to_numpy() for column in groups]
    if len(by) > 2:
        rest = zip(*(table[column].astype(str).to_numpy() for column in by[1:]), strict=True)
        labels[1] = np.array([" | ".join(values) for values in rest], dtype=object)
    counts = np.column_stack([table[column].to_numpy(dtype=float) for column in count_cols])
    complements = [table[d].to_numpy(dtype=float) - table[n].to_numpy(dtype=float) for n, d in pairs]
    return suppress_labelled(counts, complements, labels, group_cols=groups, threshold=threshold)


def _mask(
    counts: pd.DataFrame,
    by: list[str],
    values: dict[str, np.ndarray],
    pairs: list[tuple[str, str]],
    secondary: bool = True,
) -> np.ndarray:
    """The suppression (`suppression_mask`) of the table of ``counts``' ``by`` columns and
    the count columns ``values`` (the first a numerator, the second, if any, its denominator), without
    its slower secondary search when no row is primarily suppressed (secondary suppression only ever
    starts from a primary one). Under perturbation (``secondary`` False) the metric layer suppresses
    primarily only."""
    columns = list(values)
    first = values[columns[0]]
    if len(first) == 0:
        return np.zeros(0, dtype=bool)
    second = values[columns[1]] if len(columns) > 1 else None
    primary = primary_suppress(first, second, SUPPRESSION_THRESHOLD)
    if not by or not primary.any() or not secondary:
        return primary
    basis = pd.DataFrame({**{d: counts[d].to_numpy() for d in by}, **values})
    return suppression_mask(basis, by, columns, pairs, SUPPRESSION_THRESHOLD)


def _with_records(counts: pd.DataFrame, column: str, by: list[str], regime: Regime) -> pd.DataFrame:
    """The rows of a breakdown the app shows: where suppression is decided on the true counts, only the
    categories with records (as the metric SQL's GROUP BY gives them); under perturbation every one."""
    if not by or regime.perturbed:
        return counts
    return counts[counts[column].to_numpy(dtype=float) > 0]


def _shown_counts(metric: str, counts: pd.DataFrame, by: list[str], regime: Regime) -> pd.DataFrame:
    is_count = get_metric(metric).statistic == "count"
    counts = _with_records(counts, "numerator" if is_count else "denominator", by, regime)
    num = counts["numerator"].to_numpy(dtype=float)
    den = np.full(len(counts), np.nan) if is_count else counts["denominator"].to_numpy(dtype=float)
    shown_num = regime.shown_counts(num, _keys(counts, "numerator_key", regime))
    shown_den = den if is_count else regime.shown_counts(den, _keys(counts, "denominator_key", regime))
    # Suppression is decided on the true counts, except under perturbation, on the shown ones; there a
    # numerator the noise puts above its denominator is shown as the denominator (the metric layer's
    # `finish_metric`).
    if regime.perturbed and not is_count:
        shown_num = np.minimum(shown_num, shown_den)
    basis_num, basis_den = (shown_num, shown_den) if regime.perturbed else (num, den)
    if is_count:
        hidden = _mask(counts, by, {"numerator": basis_num}, [], not regime.perturbed)
    else:
        values = {"numerator": basis_num, "denominator": basis_den}
        hidden = _mask(counts, by, values, [("numerator", "denominator")], not regime.perturbed)
    return pd.DataFrame(
        {
            **{d: counts[d].to_numpy() for d in by},
            "numerator": np.where(hidden, np.nan, shown_num),
            "denominator": np.where(hidden, np.nan, shown_den),
            "suppressed": hidden,
        }
    )


def _shown_means(counts: pd.DataFrame, by: list[str], regime: Regime) -> pd.DataFrame:
    counts = _with_records(counts, "denominator", by, regime)
    n = counts["denominator"].to_numpy(dtype=float)
    mean = counts["value"].to_numpy(dtype=float)
    sd = counts["sd"].to_numpy(dtype=float)
    shown_n = regime.shown_counts(n, _keys(counts, "denominator_key", regime))
    hidden = _mask(counts, by, {"denominator": shown_n if regime.perturbed else n}, [], not regime.perturbed)
    if regime.perturbed:
        # Shown only where the shown n is at least MEANS_FROM_N (else the row is suppressed, n and all),
        # rounded, the interval from the rounded figures.
        hidden = hidden | (shown_n < MEANS_FROM_N)
        mean, sd = np.round(mean, 1), np.round(sd, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.where(shown_n >= 2, Z95 * sd / np.sqrt(np.maximum(shown_n, 1)), np.nan)
    out = counts[by].reset_index(drop=True)
    out["denominator"] = np.where(hidden, np.nan, shown_n)
    out["value"] = np.where(hidden, np.nan, mean)
    out["ci_low"] = np.where(hidden, np.nan, mean - half)
    out["ci_high"] = np.where(hidden, np.nan, mean + half)
    out["suppressed"] = hidden
    return out


def survival_grid(counts: pd.DataFrame, by: list[str], full: bool) -> pd.DataFrame:
    """An unsuppressed Kaplan–Meier table (exact times) put on the 28-day grid: t = the interval's last
    day (0, 28, 56, …; an exit on days 1–28 counts at 28), events, censored (and their keys) summed, and
    the number at risk (and its key) as the reverse running total of those leaving, per curve. With
    ``full`` every grid time from 0 to the curve's last is a row, also where nobody left."""
    columns = [c for c in ("events", "censored", "events_key", "censored_key") if c in counts]
    table = counts[[*by, "t", *columns]].copy()
    table["t"] = (np.ceil(table["t"].to_numpy(dtype=float) / SURVIVAL_GRID_DAYS) * SURVIVAL_GRID_DAYS).astype(
        int
    )
    table = table.groupby([*by, "t"], sort=True, dropna=False, as_index=False)[columns].sum()
    if full and len(table):
        curves = table[by].drop_duplicates() if by else pd.DataFrame(index=[0])
        last = table.groupby(by, dropna=False)["t"].max() if by else pd.Series([table["t"].max()])
        rows = []
        for (_, curve), end in zip(curves.iterrows(), last.to_numpy(), strict=True):
            for t in range(0, int(end) + 1, SURVIVAL_GRID_DAYS):
                rows.append({**curve.to_dict(), "t": t} if by else {"t": t})
        grid = pd.DataFrame(rows)
        table = grid.merge(table, on=[*by, "t"], how="left").fillna({c: 0 for c in columns})
    group = (
        table.groupby(by, sort=False, dropna=False).ngroup().to_numpy() if by else np.zeros(len(table), int)
    )
    leaving = (table["events"] + table["censored"]).to_numpy(dtype=float)
    table["n_at_risk"] = pd.Series(leaving[::-1]).groupby(group[::-1]).cumsum().to_numpy()[::-1]
    if "events_key" in table:
        keys = (table["events_key"] + table["censored_key"]).to_numpy(dtype=float)
        table["n_at_risk_key"] = pd.Series(keys[::-1]).groupby(group[::-1]).cumsum().to_numpy()[::-1]
    table["curve"] = group
    return table.reset_index(drop=True)


def _shown_survival(counts: pd.DataFrame, by: list[str], regime: Regime) -> pd.DataFrame:
    if regime.perturbed:
        return _perturbed_survival(counts, by)
    grid = survival_grid(counts, by, full=False)
    n = grid["n_at_risk"].to_numpy(dtype=float)
    groups = grid["curve"].to_numpy()
    hidden = small(n)
    shown = {"n_at_risk": regime.shown_counts(n)}
    for column in ("events", "censored"):
        running = pd.Series(grid[column].to_numpy(dtype=float)).groupby(groups).cumsum().to_numpy()
        rounded = pd.Series(regime.shown_counts(running))
        shown[column] = (rounded - rounded.groupby(groups).shift(1).fillna(0)).to_numpy()
    out = grid[[*by, "t"]].copy()
    for column, values in shown.items():
        out[column] = np.where(hidden, np.nan, values)
    out["suppressed"] = hidden
    survival, _, _ = survival_from_risk_sets(
        shown["n_at_risk"], np.minimum(shown["events"], shown["n_at_risk"]), groups, Z95
    )
    out["survival"] = np.where(hidden, np.nan, survival)
    return out


def _perturbed_survival(counts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The shared Kaplan–Meier table under perturbation, as issue 16's design draws it: a 28-day grid
    running to the table's longest time for every curve; at each grid time the number at risk and the
    events so far perturbed as cells of their own (their records' key sums), the events so far kept
    from falling, a step's events the rise of the events so far; the survival from those; the tail
    blanked from the first row with fewer than `KM_TAIL_FROM` shown at risk; a curve with fewer than
    `KM_MIN_CURVE` shown at risk at t = 0 left out. Events and censored are not shown; the attacker gets
    the events so far (``events_so_far``) from the survival and the numbers at risk, as anyone can
    (d = n (1 − S(t) / S(t − 28))), and the emulation checks confirm it."""
    columns = ["events", "censored", "events_key", "censored_key"]
    table = counts[[*by, "t", *columns]].copy()
    step = SURVIVAL_GRID_DAYS
    table["t"] = (np.ceil(table["t"].to_numpy(dtype=float) / step) * step).astype(int)
    table = table.groupby([*by, "t"], sort=False, dropna=False, as_index=False)[columns].sum()
    if table.empty:
        return pd.DataFrame(columns=[*by, "t", "n_at_risk", "events", "censored", "survival", "suppressed"])
    times = pd.DataFrame({"t": np.arange(0, int(table["t"].max()) + step, step)})
    curves = table[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    grid = curves.merge(times, how="cross").merge(table, on=[*by, "t"], how="left")
    grid[columns] = grid[columns].fillna(0)
    grid = grid.sort_values([*by, "t"], kind="stable").reset_index(drop=True)
    curve = grid.groupby(by, sort=False, dropna=False).ngroup().to_numpy() if by else np.zeros(len(grid), int)

    def from_here_on(values: np.ndarray) -> np.ndarray:
        return pd.Series(values[::-1]).groupby(curve[::-1]).cumsum().to_numpy()[::-1]

    def so_far(values: np.ndarray) -> np.ndarray:
        return pd.Series(values).groupby(curve).cumsum().to_numpy()

    leaving = (grid["events"] + grid["censored"]).to_numpy(dtype=float)
    keys = (grid["events_key"] + grid["censored_key"]).to_numpy(dtype=float)
    n_shown = perturb(from_here_on(leaving), from_here_on(keys)).astype(float)
    running = perturb(so_far(grid["events"].to_numpy(dtype=float)), so_far(grid["events_key"].to_numpy()))
    running = pd.Series(running.astype(float)).groupby(curve).cummax().to_numpy()
    steps = running - pd.Series(running).groupby(curve).shift(1).fillna(0).to_numpy()
    survival, _, _ = survival_from_risk_sets(n_shown, np.minimum(steps, n_shown), curve, Z95)
    tail = pd.Series(n_shown < KM_TAIL_FROM).groupby(curve).cummax().to_numpy(dtype=bool)
    out = grid[[*by, "t"]].copy()
    out["n_at_risk"] = np.where(tail, np.nan, n_shown)
    out["events"] = np.nan
    out["censored"] = np.nan
    out["survival"] = np.where(tail, np.nan, survival)
    out["suppressed"] = tail
    out["events_so_far"] = np.where(tail, np.nan, running)
    keep = np.ones(len(out), dtype=bool)
    if by:
        first = (
            pd.Series(np.where(grid["t"].to_numpy() == 0, n_shown, np.nan)).groupby(curve).transform("max")
        )
        keep = first.to_numpy() >= KM_MIN_CURVE
    return out[keep].reset_index(drop=True)


def events_so_far_from(table: pd.DataFrame, by: list[str]) -> np.ndarray:
    """The events so far at each shown row of a shared Kaplan–Meier table, from its survival and
    numbers at risk alone: a step's events are n (1 − S(t) / S(t − 28))."""
    out = np.full(len(table), np.nan)
    groups = table.groupby(by, sort=False, dropna=False).indices if by else {None: np.arange(len(table))}
    for rows in groups.values():
        rows = np.sort(rows)
        previous, total = 1.0, 0.0
        for i in rows:
            n, survival = table["n_at_risk"].iloc[i], table["survival"].iloc[i]
            if pd.isna(n) or pd.isna(survival):
                break
            if previous > 0:
                total += float(n) * (1.0 - float(survival) / previous)
            out[i], previous = round(total, 6), float(survival)
    return out


def _shown_mix(
    counts: pd.DataFrame, by: list[str], part: str, regime: Regime, units: list[str] | None
) -> pd.DataFrame:
    if len(by) != 2 or by[1] != part:
        raise ValueError("a mix is emulated for one unit column followed by the part")
    unit = by[0]
    summed = ["numerator", *(["numerator_key"] if regime.perturbed else [])]
    cells = counts[[*by, *summed]].reset_index(drop=True)
    if regime.perturbed:
        # The full grid of categories for every unit of the view, empty cells as zeros.
        shown_units = sorted(set(cells[unit])) if units is None else sorted(units)
        grid = pd.MultiIndex.from_product([shown_units, OUTCOME_GROUP_ORDER], names=by)
        cells = cells.groupby(by).sum().reindex(grid, fill_value=0).reset_index()
    else:
        cells = complete_breakdown(cells, by)  # the observed categories, as the metric layer completes them
    totals = cells.groupby(unit, sort=True)[summed].sum()
    of_unit = cells[unit].to_numpy(dtype=object)
    count = cells["numerator"].to_numpy(dtype=float)
    shown_count = regime.shown_counts(count, _keys(cells, "numerator_key", regime))
    shown_totals = pd.Series(
        regime.shown_counts(
            totals["numerator"].to_numpy(dtype=float), _keys(totals, "numerator_key", regime)
        ),
        index=totals.index,
    )
    shown_total = shown_totals.reindex(of_unit).to_numpy(dtype=float)
    if regime.perturbed:
        # Every category of every unit, each count and each total perturbed by its own records' keys;
        # none is then 1-4, and a part is hidden where the shown total less the shown count (the count
        # taken as the total where the noise puts it above) is 1-4, as a proportion's complement is
        # (the metric layer's `compute_mix`).
        rest = shown_total - np.minimum(shown_count, shown_total)
        hidden = (rest >= 1) & (rest <= SUPPRESSION_THRESHOLD - 1)
        return pd.DataFrame(
            {
                unit: of_unit,
                part: cells[part].to_numpy(dtype=object),
                "count": np.where(hidden, np.nan, shown_count),
            }
        ).assign(total=shown_total, suppressed=hidden)
    hidden = _mask(cells, by, {"numerator": count}, [])
    totals_frame = totals.reset_index()
    total_hidden = pd.Series(
        _mask(totals_frame, [unit], {"numerator": totals["numerator"].to_numpy(dtype=float)}, []),
        index=totals.index,
    )
    return pd.DataFrame(
        {
            unit: of_unit,
            part: cells[part].to_numpy(dtype=object),
            "count": np.where(hidden, np.nan, shown_count),
            "total": np.where(total_hidden.reindex(of_unit).to_numpy(dtype=bool), np.nan, shown_total),
            "suppressed": hidden,
        }
    )
