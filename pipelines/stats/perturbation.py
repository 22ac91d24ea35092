"""Cell-key perturbation of shown counts, by the ONS method with a perturbation table of our design.

The method (ONS, "Cell key perturbation" for the 2021 Census flexible tables; the ABS uses the same for
TableBuilder; the ONS's own Python implementation is the `cell-key-perturbation` package):
- every record carries a fixed random **record key**, an integer 0–255 (`RECORD_KEYS`), assigned at load
  (per person for people-based counts, per record otherwise) and kept in the warehouse;
- a cell's **cell key** is the sum of its records' keys modulo 256, so the same set of records always has
  the same cell key, however it was asked for;
- the shown count is the true count n plus the **perturbation value** the table gives for (pcv, cell key),
  where pcv = n for n ≤ 750 and ((n − 1) mod 250) + 501 above (the table's rows 501–750 repeat).
So repeating a query, or asking for the same people another way, gives the same noise: it cannot be
averaged away, and two views differing by a few records have independent noise.

The ONS package ships only an illustrative table (`ptable_10_5_rule`: a threshold of 10 and rounding to
base 5, the same for every cell key, so it adds no noise; the Census table itself is not published).
Rounding is what this product did before, and overlapping views defeated it. So the table here is of
our own design, built from one rule (`perturbed_outcomes`) with these guarantees:
- **zero stays zero** (an empty cell has no records, and nothing to protect);
- **no shown count is 1–4**: a true count of 1–4 shows as 0 or 5, and so may a true 5–7;
- **bounded**: a count of 8 or more moves by at most 3; a shown count s ≥ 6 means a true count in
  s − 3 … s + 3, a shown 5 means 1 … 8, a shown 0 means 0 … 7 (`possible_true_counts`);
- **unbiased** to within 0.008 for every count (the mean perturbation over the 256 cell keys, computed
  exactly in the tests), with a variance of 2.125 for counts of 8 or more (standard deviation 1.46) and at
  most 6.0 for 1–7 (a count of 2 or 3 shows as 0 or 5);
- every outcome's probability is a whole number of 256ths, so the table is exact over the 256 cell keys.
Noise for a count of 8 or more: −3, −2, −1, 0, +1, +2, +3 with weights 13, 26, 51, 76, 51, 26, 13 (of 256).
A true count of 1–4 shows 5 with probability n/5 (else 0); an outcome v of 2–4 from the noise on a count
of 5–7 is likewise sent to 5 with probability v/5, else to 0, which keeps every count unbiased.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd

RECORD_KEYS = 256
"""Record and cell keys are integers 0 … RECORD_KEYS − 1."""
PTABLE_ROWS = 750
"""The table has rows pcv = 1 … 750; larger counts reuse rows 501 … 750."""
NOISE = (-3, -2, -1, 0, 1, 2, 3)
NOISE_WEIGHTS = (13, 26, 51, 76, 51, 26, 13)
"""Weights (out of RECORD_KEYS) of each perturbation value of `NOISE`, for a count of 8 or more."""
SMALLEST_SHOWN = 5
"""No shown count lies in 1 … SMALLEST_SHOWN − 1."""


def _split_small(value: int, weight: int) -> list[tuple[int, int]]:
    """An outcome `value` of 1–4 (with `weight` keys) sent to 5 with probability value/5, else to 0."""
    to_five = round(weight * value / SMALLEST_SHOWN)
    return [(0, weight - to_five), (SMALLEST_SHOWN, to_five)]


def perturbed_outcomes(pcv: int) -> list[tuple[int, int]]:
    """The outcomes of a true count `pcv` (1 … 750) with their weights (numbers of cell keys, summing to
    256), in the order the cell keys take them: key 0 gets the first outcome's keys, and so on."""
    if not 1 <= pcv <= PTABLE_ROWS:
        raise ValueError(f"pcv must be 1 … {PTABLE_ROWS}, got {pcv}")
    if pcv < SMALLEST_SHOWN:
        return _split_small(pcv, RECORD_KEYS)
    outcomes: dict[int, int] = {}
    for noise, weight in zip(NOISE, NOISE_WEIGHTS, strict=True):
        value = pcv + noise
        parts = _split_small(value, weight) if value < SMALLEST_SHOWN else [(value, weight)]
        for shown, keys in parts:
            outcomes[shown] = outcomes.get(shown, 0) + keys
    return sorted(outcomes.items())


@lru_cache(maxsize=1)
def ptable() -> np.ndarray:
    """The perturbation table: an array (751 × 256) of perturbation values, row pcv, column cell key
    (row 0, for an empty cell, is all zeros)."""
    table = np.zeros((PTABLE_ROWS + 1, RECORD_KEYS), dtype=np.int16)
    for pcv in range(1, PTABLE_ROWS + 1):
        key = 0
        for shown, keys in perturbed_outcomes(pcv):
            table[pcv, key : key + keys] = shown - pcv
            key += keys
        if key != RECORD_KEYS:  # pragma: no cover - the weights are checked by the tests
            raise AssertionError(f"row {pcv} covers {key} keys")
    table.setflags(write=False)
    return table


def ptable_frame() -> pd.DataFrame:
    """The perturbation table in the ONS package's long form: columns pcv, ckey, pvalue."""
    table = ptable()
    pcv, ckey = np.meshgrid(np.arange(1, PTABLE_ROWS + 1), np.arange(RECORD_KEYS), indexing="ij")
    return pd.DataFrame({"pcv": pcv.ravel(), "ckey": ckey.ravel(), "pvalue": table[1:].ravel().astype(int)})


def pcv_of(counts: npt.ArrayLike) -> np.ndarray:
    """The table row of each count: itself up to 750, else ((n − 1) mod 250) + 501 (0 for 0)."""
    n = np.asarray(counts, dtype=np.int64)
    return np.where(n <= PTABLE_ROWS, n, (n - 1) % 250 + 501)


def cell_keys(key_sums: npt.ArrayLike) -> np.ndarray:
    """Cell keys from sums of record keys: the sum modulo 256."""
    return np.asarray(key_sums, dtype=np.int64) % RECORD_KEYS


def perturb(counts: npt.ArrayLike, key_sums: npt.ArrayLike) -> np.ndarray:
    """The shown counts: each count plus the table's perturbation value for its row and cell key.

    ``counts`` are true, non-negative whole counts (a sum of minutes is treated as a count); ``key_sums``
    the sums of their records' keys (any non-negative integers; taken modulo 256). Missing counts stay
    missing. Returns floats.
    """
    values = np.asarray(counts, dtype=float)
    keys = np.asarray(key_sums, dtype=float)
    shown = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    if np.any(values[present] < 0) or np.any(values[present] != np.floor(values[present])):
        raise ValueError("perturbation needs whole, non-negative counts")
    if np.any(np.isnan(keys[present])):
        raise ValueError("every count needs the sum of its records' keys")
    n = values[present].astype(np.int64)
    ckey = cell_keys(keys[present].astype(np.int64))
    shown[present] = n + ptable()[pcv_of(n), ckey]
    return shown


@lru_cache(maxsize=1)
def _possible_by_shown() -> dict[int, tuple[int, int]]:
    """For each shown count of the table's rows, the (smallest, largest) true count that can show it."""
    table = ptable()
    found: dict[int, list[int]] = {0: [0, 0]}
    for n in range(1, PTABLE_ROWS + 1):
        for shown in np.unique(n + table[n]).tolist():
            low_high = found.setdefault(shown, [n, n])
            low_high[0], low_high[1] = min(low_high[0], n), max(low_high[1], n)
    return {shown: (low, high) for shown, (low, high) in found.items()}


def possible_true_counts(shown: int) -> tuple[int, int]:
    """The smallest and largest true count that can show as `shown` (what a shown count tells anyone
    who knows this table, as an attacker would): e.g. 0 → (0, 7), 5 → (1, 8), 20 → (17, 23).

    Every count between the two can show it too (checked for the whole table in the tests). Counts above
    the table's rows follow the same ±3 rule.
    """
    if shown < 0:
        raise ValueError("a shown count is never negative")
    table = _possible_by_shown()
    if shown in table and shown <= PTABLE_ROWS - max(NOISE):
        return table[shown]
    return shown - max(NOISE), shown - min(NOISE)


def mean_perturbation(pcv: int) -> float:
    """The average perturbation of a true count over the 256 cell keys (its bias)."""
    return float(ptable()[pcv].mean())


def perturbation_variance(pcv: int) -> float:
    """The variance of the perturbation of a true count over the 256 cell keys."""
    return float(ptable()[pcv].astype(float).var())
