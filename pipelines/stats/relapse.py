"""Relapse from drug tests, as opioid-treatment trials measure it: the reference definition.

docs/metrics.md v2 `relapse_tests` and `time_to_relapse` follow the X:BOT trial (Lee et al., Lancet
2018;391:309-318): counting weeks from the episode's referral date (week k = days 7(k-1) ... 7k-1),
a week is a *use* week when it has an opioid-positive test or no valid opioid test (a missed sample
counts as use); a relapse is `run_length` (4) consecutive use weeks within weeks `grace_weeks + 1`
... `window_weeks` (4 ... 24); the first `grace_weeks` (3) are an induction grace period.

This module is the plain-Python reference the SQL metric is tested against. It works in two steps,
both pure:

1. `weekly_opioid_pattern` turns one episode's drug tests (day since referral, substance, result)
   into a weekly pattern, one character a week: `+` (an opioid-positive test), `-` (a valid opioid
   test, none positive), `o` (no valid opioid test). These are the symbols of the CTN-0094 weekly
   opioid-use words (`derived_weeklyOpioidPattern`, where `*` marks a week with both positive and
   negative tests; `*` is accepted here and counts as use).
2. `relapse_from_pattern` finds the first run of use weeks in the window.

Opioid tests are tests of the substances `opiates` and `fentanyl` (docs/metrics.md: "an opioid-positive
test (substance opiates or fentanyl, result positive)"). A test for methadone or buprenorphine is
not an opioid test here, positive or negative: a positive methadone test is what a methadone
patient is expected to give, so it is not opioid use, and a negative one says nothing about
illicit opioids. A week whose only valid tests are methadone or buprenorphine tests is therefore a
week with no valid opioid test (`o`, use). Every specimen of the CTN trials is tested for opiates,
so on that data the distinction never arises; other data may differ, and the choice is the
`opioid_substances` parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

#: Substances whose positive test is opioid use, and whose valid test makes a week "tested".
OPIOID_SUBSTANCES = ("opiates", "fentanyl")
#: Results that are a valid test; `invalid` (e.g. a sample that failed its temperature check) is not.
VALID_RESULTS = ("positive", "negative")

POSITIVE_WEEK = "+"
NEGATIVE_WEEK = "-"
MISSING_WEEK = "o"
MIXED_WEEK = "*"
#: Week symbols that count as opioid use.
USE_SYMBOLS = frozenset({POSITIVE_WEEK, MISSING_WEEK, MIXED_WEEK})
WEEK_SYMBOLS = frozenset({POSITIVE_WEEK, NEGATIVE_WEEK, MISSING_WEEK, MIXED_WEEK})

DEFAULT_GRACE_WEEKS = 3
DEFAULT_RUN_LENGTH = 4
DEFAULT_WINDOW_WEEKS = 24


@dataclass(frozen=True)
class Relapse:
    """The outcome of one episode: whether it relapsed, and the first week of the first run."""

    relapsed: bool
    first_relapse_week: int | None

    @property
    def first_relapse_day(self) -> int | None:
        """Day (since referral) the first relapse run begins: 7 (week - 1); None without a relapse.

        This is the event time of `time_to_relapse`.
        """
        return None if self.first_relapse_week is None else 7 * (self.first_relapse_week - 1)


def week_of_day(day: int) -> int:
    """The study week of a day since referral: week k holds days 7(k-1) ... 7k-1 (day 0 is in week 1).

    Days before referral (negative) fall in week 0 or earlier and are never in the relapse window.
    """
    return day // 7 + 1


def weekly_opioid_pattern(
    tests: Iterable[tuple[int, str, str]],
    weeks: int = DEFAULT_WINDOW_WEEKS,
    *,
    opioid_substances: Iterable[str] = OPIOID_SUBSTANCES,
) -> str:
    """The weekly opioid-use pattern of weeks 1 ... `weeks` from one episode's tests.

    `tests` are (day since referral, substance, result) with contract codes. Week k's symbol is
    `+` when any test of an opioid substance that week is positive, `-` when it has a valid
    (positive or negative) opioid test and none is positive, and `o` when it has none (no test, or
    only invalid ones, or only tests of other substances). Tests outside weeks 1 ... `weeks` are
    ignored.
    """
    if weeks < 0:
        raise ValueError(f"weeks must be >= 0, got {weeks}")
    opioids = frozenset(opioid_substances)
    positive: set[int] = set()
    tested: set[int] = set()
    for day, substance, result in tests:
        week = week_of_day(int(day))
        if not 1 <= week <= weeks or substance not in opioids or result not in VALID_RESULTS:
            continue
        tested.add(week)
        if result == "positive":
            positive.add(week)
    return "".join(
        POSITIVE_WEEK if k in positive else NEGATIVE_WEEK if k in tested else MISSING_WEEK
        for k in range(1, weeks + 1)
    )


def relapse_from_pattern(
    pattern: str,
    *,
    grace_weeks: int = DEFAULT_GRACE_WEEKS,
    run_length: int = DEFAULT_RUN_LENGTH,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
) -> Relapse:
    """Relapse under the trial definition, from a weekly pattern (character k-1 = week k).

    A week is use when its symbol is `+`, `o` or `*`. A relapse is `run_length` consecutive use
    weeks all within weeks `grace_weeks + 1` ... `window_weeks`; the result gives the first week of
    the earliest such run. Weeks the pattern does not reach (a pattern shorter than the window) are
    weeks without a valid test, so they count as use: an episode with no tests at all relapses in
    week `grace_weeks + 1` (intention to treat, as in X:BOT where a missing urine is positive).
    """
    if grace_weeks < 0 or run_length < 1 or window_weeks < 1:
        raise ValueError(
            f"need grace_weeks >= 0, run_length >= 1, window_weeks >= 1; got {grace_weeks}, "
            f"{run_length}, {window_weeks}"
        )
    unknown = set(pattern) - WEEK_SYMBOLS
    if unknown:
        raise ValueError(f"pattern has symbols other than + - o *: {sorted(unknown)}")
    padded = pattern[:window_weeks].ljust(window_weeks, MISSING_WEEK)
    run = 0
    for week in range(grace_weeks + 1, window_weeks + 1):
        run = run + 1 if padded[week - 1] in USE_SYMBOLS else 0
        if run == run_length:
            return Relapse(True, week - run_length + 1)
    return Relapse(False, None)


def episode_weekly_patterns(
    episodes: pd.DataFrame,
    drug_tests: pd.DataFrame,
    weeks: int = DEFAULT_WINDOW_WEEKS,
    *,
    opioid_substances: Iterable[str] = OPIOID_SUBSTANCES,
) -> pd.Series:
    """`weekly_opioid_pattern` for every episode of contract frames, indexed by episode_id.

    `episodes` needs episode_id, person_id, referral_date; `drug_tests` needs person_id, test_date,
    substance, result (dates as `datetime.date`, ISO strings or timestamps). An episode's tests are
    its person's tests dated in its weeks 1 ... `weeks` counted from its referral date, whatever
    their episode_id says (the definition counts weeks from referral, treated or not).
    """
    opioids = tuple(opioid_substances)
    tests = drug_tests.loc[
        drug_tests["substance"].isin(opioids) & drug_tests["result"].isin(VALID_RESULTS),
        ["person_id", "test_date", "result"],
    ]
    frame = episodes[["episode_id", "person_id", "referral_date"]].merge(tests, on="person_id", how="inner")
    day = (pd.to_datetime(frame["test_date"]) - pd.to_datetime(frame["referral_date"])).dt.days
    frame = frame.assign(week=day // 7 + 1)
    frame = frame[(frame["week"] >= 1) & (frame["week"] <= weeks)]
    tested = frame.groupby(["episode_id", "week"]).size()
    positive = frame[frame["result"] == "positive"].groupby(["episode_id", "week"]).size()
    symbols: dict[str, list[str]] = {e: [MISSING_WEEK] * weeks for e in episodes["episode_id"]}
    for episode_id, week in tested.index:
        symbols[episode_id][week - 1] = NEGATIVE_WEEK
    for episode_id, week in positive.index:
        symbols[episode_id][week - 1] = POSITIVE_WEEK
    return pd.Series({e: "".join(s) for e, s in symbols.items()}, name="pattern", dtype=object)
