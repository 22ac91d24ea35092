"""Relapse from drug tests (METRICS.md v2 `relapse_tests`): hand-worked weekly patterns and tests.

Week k holds days 7(k-1) ... 7k-1 after referral; a use week is `+` (opioid-positive) or `o` (no
valid opioid test); a relapse is 4 consecutive use weeks within weeks 4-24. Each expected answer
below was worked out by hand from that definition.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from pipelines.stats.relapse import (
    Relapse,
    episode_weekly_patterns,
    relapse_from_pattern,
    week_of_day,
    weekly_opioid_pattern,
)


def _weeks(**symbols: str) -> str:
    """A 24-week pattern, all negative except the weeks given as w<k>=symbol."""
    pattern = ["-"] * 24
    for key, symbol in symbols.items():
        pattern[int(key[1:]) - 1] = symbol
    return "".join(pattern)


def test_days_fall_in_weeks_counted_from_the_referral_day() -> None:
    assert [week_of_day(d) for d in (0, 6, 7, 13, 20, 21, 167, 168)] == [1, 1, 2, 2, 3, 4, 24, 25]
    assert week_of_day(-1) == 0


def test_a_run_of_exactly_four_use_weeks_starting_in_week_4_is_a_relapse_in_week_4() -> None:
    pattern = _weeks(w4="+", w5="o", w6="+", w7="o")
    result = relapse_from_pattern(pattern)
    assert result == Relapse(True, 4)
    assert result.first_relapse_day == 21  # week 4 begins on day 7 * 3


def test_a_run_of_four_starting_in_week_3_has_only_three_weeks_in_the_window() -> None:
    # Weeks 3-6 are use; week 3 is in the grace period, so weeks 4-6 are three, not four.
    assert relapse_from_pattern(_weeks(w3="+", w4="+", w5="+", w6="+")) == Relapse(False, None)
    # One more use week (week 7) completes a run of four in weeks 4-7.
    assert relapse_from_pattern(_weeks(w3="+", w4="+", w5="+", w6="+", w7="o")) == Relapse(True, 4)


def test_use_in_the_grace_weeks_alone_is_never_a_relapse() -> None:
    assert relapse_from_pattern("++++" + "-" * 20) == Relapse(False, None)
    assert relapse_from_pattern("ooo" + "-" * 21) == Relapse(False, None)


def test_missing_weeks_count_as_use() -> None:
    # Weeks 9 and 10 missing, 11 positive, 12 missing: a run in weeks 9-12.
    assert relapse_from_pattern(_weeks(w9="o", w10="o", w11="+", w12="o")) == Relapse(True, 9)
    # A negative week breaks a run: use in 9, 10, 11, negative 12, use 13, 14, 15 -> no run of 4.
    assert relapse_from_pattern(_weeks(w9="o", w10="+", w11="o", w13="o", w14="+", w15="o")) == Relapse(
        False, None
    )


def test_weeks_beyond_a_short_pattern_are_missing_so_use() -> None:
    # Ten negative weeks and nothing after: weeks 11-14 are missing, so the relapse starts in week 11.
    assert relapse_from_pattern("-" * 10) == Relapse(True, 11)
    # No tests at all: relapse in the first week after the grace period (intention to treat).
    assert relapse_from_pattern("") == Relapse(True, 4)


def test_the_run_must_end_by_week_24() -> None:
    assert relapse_from_pattern(_weeks(w21="+", w22="+", w23="o", w24="+")) == Relapse(True, 21)
    assert relapse_from_pattern(_weeks(w22="+", w23="+", w24="o")) == Relapse(False, None)
    # Symbols past week 24 are outside the window and ignored.
    assert relapse_from_pattern(_weeks(w22="+", w23="+", w24="o") + "++++") == Relapse(False, None)


def test_the_earliest_run_is_reported() -> None:
    pattern = _weeks(w5="+", w6="+", w7="+", w8="+", w9="+", w15="o", w16="o", w17="o", w18="o")
    assert relapse_from_pattern(pattern) == Relapse(True, 5)


def test_mixed_weeks_count_as_use() -> None:
    assert relapse_from_pattern(_weeks(w6="*", w7="+", w8="*", w9="o")) == Relapse(True, 6)


def test_parameters_change_grace_run_length_and_window() -> None:
    pattern = "++--oo-+" + "-" * 16
    # Grace 0, runs of 2, window 24: weeks 1-2 are the first run.
    assert relapse_from_pattern(pattern, grace_weeks=0, run_length=2) == Relapse(True, 1)
    # Grace 2: weeks 5-6 (oo) are the first run of 2 after it.
    assert relapse_from_pattern(pattern, grace_weeks=2, run_length=2) == Relapse(True, 5)
    # Window 5: week 6 is outside, so the run of 2 in weeks 5-6 does not count.
    assert relapse_from_pattern(pattern, grace_weeks=2, run_length=2, window_weeks=5) == Relapse(False, None)
    # Run length 1: the first use week after the grace period.
    assert relapse_from_pattern(pattern, grace_weeks=3, run_length=1) == Relapse(True, 5)


def test_bad_patterns_and_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="symbols"):
        relapse_from_pattern("--x-")
    with pytest.raises(ValueError, match="run_length"):
        relapse_from_pattern("----", run_length=0)


def test_weekly_pattern_from_tests() -> None:
    tests = [
        (0, "opiates", "negative"),  # week 1
        (6, "opiates", "positive"),  # week 1: a positive decides the week
        (7, "fentanyl", "positive"),  # week 2: fentanyl is an opioid
        (15, "opiates", "invalid"),  # week 3: invalid is not a valid test
        (22, "cocaine", "positive"),  # week 4: another substance says nothing about opioids
        (29, "opiates", "negative"),  # week 5
        (-3, "opiates", "positive"),  # before referral: ignored
        (42, "opiates", "positive"),  # week 7 is outside a 6-week pattern
    ]
    assert weekly_opioid_pattern(tests, weeks=6) == "++oo-o"


def test_a_positive_methadone_test_alone_is_not_opioid_use() -> None:
    # A methadone patient's specimen: methadone positive, opiates negative, every week.
    tests = [
        (d, s, r) for d in range(0, 168, 7) for s, r in (("methadone", "positive"), ("opiates", "negative"))
    ]
    pattern = weekly_opioid_pattern(tests)
    assert pattern == "-" * 24
    assert relapse_from_pattern(pattern) == Relapse(False, None)
    # Buprenorphine positives are not opioid use either.
    tests = [
        (d, s, r)
        for d in range(0, 168, 7)
        for s, r in (("buprenorphine", "positive"), ("opiates", "negative"))
    ]
    assert relapse_from_pattern(weekly_opioid_pattern(tests)) == Relapse(False, None)


def test_a_week_with_only_a_methadone_test_has_no_valid_opioid_test() -> None:
    # Weeks 4-7 hold only methadone results (no opiates result): no valid opioid test, so use weeks.
    tests = [(d, "opiates", "negative") for d in range(0, 168, 7) if not 21 <= d <= 48]
    tests += [(d, "methadone", "positive") for d in range(21, 49, 7)]
    pattern = weekly_opioid_pattern(tests)
    assert pattern == "---oooo" + "-" * 17
    assert relapse_from_pattern(pattern) == Relapse(True, 4)


def test_patterns_for_contract_frames_match_the_single_episode_function() -> None:
    day0 = date(2024, 1, 1)
    episodes = pd.DataFrame(
        {
            "episode_id": ["E1", "E2", "E3"],
            "person_id": ["P1", "P1", "P2"],
            "referral_date": [day0, day0 + timedelta(days=70), day0],
        }
    )
    raw = [  # person, day since day0, substance, result
        ("P1", 1, "opiates", "negative"),
        ("P1", 8, "opiates", "positive"),
        ("P1", 9, "methadone", "positive"),
        ("P1", 71, "opiates", "negative"),  # week 11 of E1, week 1 of E2
        ("P2", 14, "opiates", "invalid"),
        ("P2", 21, "fentanyl", "positive"),
    ]
    drug_tests = pd.DataFrame(
        {
            "person_id": [r[0] for r in raw],
            "test_date": [day0 + timedelta(days=r[1]) for r in raw],
            "substance": [r[2] for r in raw],
            "result": [r[3] for r in raw],
        }
    )
    patterns = episode_weekly_patterns(episodes, drug_tests, weeks=12)
    assert patterns.to_dict() == {
        "E1": "-+" + "o" * 8 + "-o",
        "E2": "-" + "o" * 11,
        "E3": "ooo+" + "o" * 8,
    }
    e1 = [(r[1], r[2], r[3]) for r in raw if r[0] == "P1"]
    assert patterns["E1"] == weekly_opioid_pattern(e1, weeks=12)
