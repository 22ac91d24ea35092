"""The perturbation table and its application: the guarantees its docstring states, checked over the whole
table, and the application checked against the ONS's own implementation (the `cell-key-perturbation`
package, MIT) run with our table on random microdata."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pipelines.stats.perturbation import (
    NOISE_WEIGHTS,
    PTABLE_ROWS,
    RECORD_KEYS,
    SMALLEST_SHOWN,
    mean_perturbation,
    pcv_of,
    perturb,
    perturbation_variance,
    perturbed_outcomes,
    possible_true_counts,
    ptable,
    ptable_frame,
)


def test_every_row_covers_every_cell_key_once() -> None:
    assert sum(NOISE_WEIGHTS) == RECORD_KEYS
    for pcv in range(1, PTABLE_ROWS + 1):
        assert sum(keys for _, keys in perturbed_outcomes(pcv)) == RECORD_KEYS
    assert ptable().shape == (PTABLE_ROWS + 1, RECORD_KEYS)
    assert not ptable()[0].any()  # an empty cell is not perturbed


def test_no_shown_count_is_small_and_none_is_negative() -> None:
    shown = np.arange(PTABLE_ROWS + 1)[:, None] + ptable()
    assert shown.min() == 0
    assert not ((shown >= 1) & (shown < SMALLEST_SHOWN)).any()


def test_bounded_unbiased_and_of_the_stated_variance() -> None:
    for pcv in range(1, PTABLE_ROWS + 1):
        assert abs(mean_perturbation(pcv)) <= 0.008, pcv
        assert perturbation_variance(pcv) <= 6.0, pcv
        if pcv >= 8:
            assert set(np.unique(ptable()[pcv])) <= set(range(-3, 4))
            assert perturbation_variance(pcv) == pytest.approx(2 * (51 * 1 + 26 * 4 + 13 * 9) / 256)
    # The hand-worked small rows: a count of 2 shows 5 on 102 of the 256 keys (2/5 of 256, rounded).
    assert perturbed_outcomes(2) == [(0, 154), (5, 102)]
    assert perturbed_outcomes(5) == [(0, 28), (5, 138), (6, 51), (7, 26), (8, 13)]


@pytest.mark.parametrize(("shown", "expected"), [(0, (0, 7)), (5, (1, 8)), (6, (5, 9)), (20, (17, 23))])
def test_what_a_shown_count_says(shown: int, expected: tuple[int, int]) -> None:
    assert possible_true_counts(shown) == expected


def test_possible_true_counts_is_exact_and_contiguous_over_the_table() -> None:
    reach: dict[int, set[int]] = {}
    for n in range(0, PTABLE_ROWS + 1):
        for shown in set((n + ptable()[n]).tolist()):
            reach.setdefault(shown, set()).add(n)
    for shown, truths in reach.items():
        if shown > PTABLE_ROWS - 3:
            continue  # the true counts above 750 that also show it are not in this loop
        low, high = possible_true_counts(shown)
        assert truths == set(range(low, high + 1)), shown


def test_rows_above_750_repeat_rows_501_to_750() -> None:
    assert pcv_of([1, 750, 751, 1000, 1001, 1250, 1251]).tolist() == [1, 750, 501, 750, 501, 750, 501]


def test_the_same_set_always_gets_the_same_noise_and_keys_are_modulo_256() -> None:
    counts = np.array([12, 12, 3, 0])
    assert (
        perturb(counts, [700, 700 % 256, 9, 0]).tolist() == perturb(counts, [700, 188, 9 + 256, 5]).tolist()
    )


def test_perturb_refuses_what_is_not_a_count() -> None:
    with pytest.raises(ValueError, match="whole, non-negative"):
        perturb([2.5], [1])
    with pytest.raises(ValueError, match="keys"):
        perturb([2], [np.nan])
    assert np.isnan(perturb([np.nan], [np.nan])).all()


def test_agrees_with_the_ons_implementation_on_random_microdata() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cell_key_perturbation.create_perturbed_table import create_perturbed_table

    rng = np.random.default_rng(20261201)
    rows = 40_000
    micro = pd.DataFrame(
        {
            "area": rng.choice(
                [f"A{i}" for i in range(30)],
                rows,
                p=np.geomspace(1, 200, 30) / np.geomspace(1, 200, 30).sum(),
            ),
            "group": rng.choice(["x", "y", "z", "w"], rows),
            "record_key": rng.integers(0, RECORD_KEYS, rows),
        }
    )
    theirs = create_perturbed_table(
        micro, ptable_frame(), geog=[], tab_vars=["area", "group"], record_key="record_key", threshold=0
    )
    cells = (
        micro.groupby(["area", "group"])
        .agg(n=("record_key", "size"), keys=("record_key", "sum"))
        .reset_index()
    )
    ours = cells.assign(shown=perturb(cells["n"], cells["keys"]))
    merged = ours.merge(theirs, on=["area", "group"])
    assert len(merged) == len(cells) and merged["n"].max() > 750 and merged["n"].min() < 10
    assert (merged["shown"] == merged["count"].astype(float)).all()
    assert (merged["n"] == merged["pre_sdc_count"]).all()
