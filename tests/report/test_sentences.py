"""The board pack's sentences, from constructed SPC and funnel outcomes: XmR charts of series built to
show improvement, concern, common-cause variation and a suppressed latest month (`pipelines.stats.xmr`,
checked against NHSRplotthedots in tests/stats), and funnel tables whose programmes sit above or below
the 95% and 99.8% limits by construction (`pipelines.stats.funnel_significance`, checked in
tests/stats), or inside them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.stats import funnel_limits, funnel_significance, xmr
from report.sentences import (
    HeadlineFacts,
    funnel_outcome,
    funnel_phrase,
    indicator_sentence,
    spc_outcome,
    spc_phrase,
)

#: A steady series alternating about 0.60 (moving range 0.02: limits 0.547 to 0.653).
STEADY = [0.59, 0.61] * 9


def series(values: list[float | None], suppressed: list[bool] | None = None) -> pd.DataFrame:
    months = [f"{2024 + (i + 3) // 12}-{(i + 3) % 12 + 1:02d}" for i in range(len(values))]
    hidden = suppressed or [False] * len(values)
    return pd.DataFrame(
        {
            "period": months,
            "value": [np.nan if v is None else v for v in values],
            "suppressed": hidden,
        }
    )


def outcome_of(values: list[float | None], direction: str | None, suppressed: list[bool] | None = None):
    frame = series(values, suppressed)
    return spc_outcome(frame, xmr(frame["value"].astype(float), improvement=direction))


@pytest.mark.parametrize(
    ("last", "direction", "signal", "phrase"),
    [
        (0.75, "up", "improving", "special-cause improvement"),
        (0.45, "up", "concerning", "special-cause concern"),
        (0.45, "down", "improving", "special-cause improvement"),
        (0.75, None, "special_cause", "special-cause variation"),
        (0.60, "up", "common_cause", "common-cause variation"),
    ],
)
def test_the_spc_phrase_is_the_latest_points_signal(last, direction, signal, phrase) -> None:
    outcome = outcome_of([*STEADY, last], direction)
    assert outcome.signal == signal
    assert spc_phrase(outcome) == phrase


def test_a_suppressed_latest_month_is_named_and_the_signal_is_of_the_month_before() -> None:
    values = [*STEADY, 0.75, None]
    outcome = outcome_of(values, "up", [False] * (len(values) - 1) + [True])
    assert outcome.latest_month == "2025-10" and outcome.suppressed_after == ("2025-11",)
    assert spc_phrase(outcome) == (
        "special-cause improvement to 2025-10, the latest month shown (2025-11 is suppressed)"
    )


def test_no_monthly_value_is_said_so() -> None:
    outcome = outcome_of([None, None], "up", [True, True])
    assert spc_phrase(outcome) == "no monthly value to chart"


def funnel_table(units: list[tuple[str, int, int]], target: float) -> pd.DataFrame:
    """Programmes (name, numerator, denominator) and their funnel significance around ``target``."""
    frame = pd.DataFrame(units, columns=["programme_name", "numerator", "denominator"])
    frame["suppressed"] = False
    frame["significance"] = funnel_significance(frame["numerator"], frame["denominator"], target).to_numpy()
    return frame


def test_funnel_positions_by_construction() -> None:
    target, n = 0.8, 400
    limits = funnel_limits([n], target).iloc[0]
    # Numerators just past each limit, from the limits themselves (T ± z·√(T(1−T)/n)).
    high_99 = int(np.floor(limits["high_99_8"] * n)) + 2
    high_95 = int(np.floor(limits["high_95"] * n)) + 1
    low_95 = int(np.ceil(limits["low_95"] * n)) - 1
    low_99 = int(np.ceil(limits["low_99_8"] * n)) - 2
    assert high_95 < limits["high_99_8"] * n and low_95 > limits["low_99_8"] * n
    table = funnel_table(
        [
            ("Leeds Drug Treatment Service", high_95, n),
            ("Bradford Alcohol Pathway", high_99, n),
            ("Kirklees Recovery", low_95, n),
            ("Calderdale Recovery", low_99, n),
            ("Pennine Recovery", round(target * n), n),
        ],
        target,
    )
    assert table["significance"].tolist() == ["high_95", "high_99.8", "low_95", "low_99.8", "not_significant"]
    assert funnel_phrase(funnel_outcome(table, direction="up")) == (
        "Bradford Alcohol Pathway above the 99.8% limit (better); Calderdale Recovery below the 99.8% limit "
        "(worse); Leeds Drug Treatment Service above the 95% limit (better); Kirklees Recovery below the "
        "95% limit (worse)"
    )
    # Lower is better: the same positions, judged the other way; no direction: no judgement.
    assert "Bradford Alcohol Pathway above the 99.8% limit (worse)" in funnel_phrase(
        funnel_outcome(table, direction="down")
    )
    assert "(" not in funnel_phrase(funnel_outcome(table, direction=None))


def test_programmes_at_the_same_limit_are_named_together() -> None:
    table = funnel_table([("A", 95, 100), ("B", 96, 100), ("C", 80, 100), ("D", 80, 100)], 0.8)
    assert table["significance"].tolist()[:2] == ["high_99.8", "high_99.8"]
    assert funnel_phrase(funnel_outcome(table, direction="up")) == "A and B above the 99.8% limit (better)"


def test_no_programme_outside_the_limits_and_none_placed() -> None:
    table = funnel_table([("A", 80, 100), ("B", 160, 200), ("C", 41, 50)], 0.8)
    assert funnel_phrase(funnel_outcome(table)) == "all 3 programmes compared are within the 95% limits"
    hidden = table.assign(suppressed=True, significance=None)
    outcome = funnel_outcome(hidden)
    assert (outcome.compared, outcome.suppressed) == (0, 3)
    assert (
        funnel_phrase(outcome) == "no programme could be placed on the funnel plot (all suppressed or empty)"
    )


def test_the_indicator_sentence_of_the_brief() -> None:
    facts = HeadlineFacts(
        label="12-week retention",
        value="81%",
        interval="95% CI 79–83%",
        period="financial year 2025-26",
    )
    table = funnel_table([("Leeds Drug Treatment Service", 338, 400), ("B", 320, 400), ("C", 318, 400)], 0.8)
    assert table["significance"].tolist()[0] == "high_95"
    sentence = indicator_sentence(
        facts, outcome_of([*STEADY, 0.60], "up"), funnel_outcome(table, direction=None)
    )
    assert sentence == (
        "12-week retention: 81% (95% CI 79–83%), common-cause variation; "
        "Leeds Drug Treatment Service above the 95% limit."
    )


def test_a_suppressed_value_says_it_is_suppressed_and_why() -> None:
    facts = HeadlineFacts(
        label="Deaths in treatment",
        value="suppressed",
        period="Q2 2025-26 (Jul-Sep 2025)",
        suppressed_reason="complement of 1-4",
    )
    sentence = indicator_sentence(facts, outcome_of([*STEADY, 0.60], None))
    assert sentence == (
        "Deaths in treatment is suppressed for Q2 2025-26 (Jul-Sep 2025) (complement of 1-4), "
        "common-cause variation."
    )


def test_a_value_with_no_follow_up_yet_and_a_moved_period_say_so() -> None:
    waiting = HeadlineFacts(
        label="Completion without re-presentation",
        value="not yet",
        period_note="needs 182 days of follow-up: no period in the data has it yet",
    )
    assert indicator_sentence(waiting, outcome_of([None], "up", [False])) == (
        "Completion without re-presentation has no value yet: needs 182 days of follow-up: no period in the "
        "data has it yet, no monthly value to chart."
    )
    moved = HeadlineFacts(
        label="Completion without re-presentation",
        value="17.7%",
        counts="289 of 1,634",
        period_note="financial year 2024-25: needs 182 days of follow-up",
    )
    assert indicator_sentence(moved, outcome_of([*STEADY, 0.6], "up")) == (
        "Completion without re-presentation: 17.7% (289 of 1,634) (shown for financial year 2024-25: needs "
        "182 days of follow-up), common-cause variation."
    )


def test_a_cohort_cut_short_by_follow_up_is_named_in_the_sentence() -> None:
    cut = HeadlineFacts(
        label="Retained in treatment at 12 weeks",
        value="81.6%",
        counts="725 of 889",
        cohort_note="covers starts to 6 Jan 2026 only: 84 days of follow-up needed",
    )
    assert indicator_sentence(cut, outcome_of([*STEADY, 0.6], "up")) == (
        "Retained in treatment at 12 weeks: 81.6% (725 of 889) (covers starts to 6 Jan 2026 only: 84 days "
        "of follow-up needed), common-cause variation."
    )


def test_englands_value_is_named_beside_a_headline() -> None:
    facts = HeadlineFacts(
        label="Successful completion", value="34.8%", counts="435 of 1,249", benchmark="England 46% (2024-25)"
    )
    assert indicator_sentence(facts, outcome_of([*STEADY, 0.6], "up")) == (
        "Successful completion: 34.8% (435 of 1,249) against England 46% (2024-25), common-cause variation."
    )
