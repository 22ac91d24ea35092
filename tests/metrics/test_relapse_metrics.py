"""Relapse from drug tests (METRICS.md v2 `relapse_tests`, `time_to_relapse`): the metric SQL on
hand-worked weekly patterns, against the answers worked out by hand and against the plain-Python
reference `pipelines.stats.relapse`.

Every episode below is referred on R = 2024-01-01 (a Monday) unless said otherwise, so week k holds
days 7(k-1) ... 7k-1 = R + 7(k-1) ... R + 7k - 1. A pattern has one symbol a week: `-` an opiates test
negative (on day 7(k-1) + 3), `+` opiates positive, `o` no test, `m` a methadone positive and no opiates
test, `M` a methadone positive with an opiates negative, `b` a buprenorphine positive with an opiates
negative, `i` an invalid opiates sample, `f` a fentanyl positive. Use weeks are `+`, `o`, `m`, `i`, `f`
(no valid opioid test, or an opioid positive); a relapse is 4 use weeks in a row within weeks 4-24.

| episode | prog. | pattern (weeks 1-24) / story | relapse (first week, day) |
|---|---|---|---|
| E1  | PG1 | `---` `+o+o` then `-` (positives days 21, 41; week 8's negative day 49) ¹ | week 4, day 21 |
| E2  | PG1 | `--` `++++` then `-`: 4 use weeks starting in week 3 | none (weeks 4-6 are 3) |
| E3  | PG1 | 8 `-`, `oo+o` (weeks 9-12), then `-` | week 9, day 56 |
| E4  | PG1 | `M` every week: a methadone patient's positives | none |
| E5  | PG2 | `---` `mmmm` then `-`: weeks 4-7 have only methadone results | week 4, day 21 |
| E6  | PG2 | never started, no test at all (intention to treat) | week 4, day 21 |
| E7  | PG1 | 9 `-`, `iiii` (weeks 10-13), then `-` | week 10, day 63 |
| E8  | PG1 | 19 `b`, `ffff` (weeks 20-23), `-` | week 20, day 133 |
| E9  | PG1 | 21 `-`, `ooo`: a run reaching past week 24 | none |
| E10a | PG1 | p10: negatives in weeks 1-9, then E10b's tests (in E10a's weeks 10-12) ² | week 13, day 84 |
| E10b | PG2 | p10, referred day 63 (2024-03-04): negatives in its weeks 1-3, then none | its week 4, day 21 |
| E11 | PG1 | positives on days -3 and -1 (before referral), then 24 `-` | none |
| E12 | PG1 | referred as_of - 60: `---` `oooo` `-` (weeks complete by as_of: 8) | time_to_relapse: day 21 |
| E13 | PG1 | referred as_of - 40: `---` then nothing (weeks complete: 5) | time_to_relapse: censored at 40 |
| E14 | PG1 | referred 2023-12-31, before the period | not in the cohorts |

¹ Day 21 is week 4's first day, 41 week 6's last, 49 week 8's first: a day misplaced by one week
breaks the run. ² E10b's negatives fall on days 66, 73 and 80 after E10a's referral: a person's tests
count for each of their episodes by date, whatever episode they name.

as_of = 2024-12-31; period 2024-01-01 ... 2024-12-31. relapse_tests needs referral + 168 ≤ as_of, so
E12 and E13 are not in its cohort: 12 episodes (E1-E11 with E10a, E10b), 8 relapses (E1, E3, E5, E6,
E7, E8, E10a, E10b).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pipelines.contract import OPIOID_TEST_SUBSTANCES, VALID_TEST_RESULTS
from pipelines.metrics import compute_metric, metric_series
from pipelines.stats import relapse as reference
from tests.metrics.builders import d, drug_test, episode, only_row, shown_count

R = d("2024-01-01")
AS_OF = "2024-12-31"
FROM, TO = "2024-01-01", "2024-12-31"

SYMBOL_TESTS = {
    "-": [("opiates", "negative")],
    "+": [("opiates", "positive")],
    "o": [],
    "m": [("methadone", "positive")],
    "M": [("methadone", "positive"), ("opiates", "negative")],
    "b": [("buprenorphine", "positive"), ("opiates", "negative")],
    "i": [("opiates", "invalid")],
    "f": [("fentanyl", "positive")],
}


def weekly_tests(
    person: str, pattern: str, referral: date = R, *, episode_id: str | None = None, day: int = 3
) -> list[dict]:
    """One test (or two) on day 7(k-1) + `day` of each week k of `pattern`, by SYMBOL_TESTS."""
    rows = []
    for week, symbol in enumerate(pattern, start=1):
        when = referral + timedelta(days=7 * (week - 1) + day)
        for n, (substance, result) in enumerate(SYMBOL_TESTS[symbol]):
            test_id = f"{person}-{when.isoformat()}-{n}-{substance}"
            rows.append(
                drug_test(test_id, person, when, substance=substance, result=result, episode_id=episode_id)
            )
    return rows


def on_day(person: str, days: int, result: str, referral: date = R, substance: str = "opiates") -> dict:
    when = referral + timedelta(days=days)
    test_id = f"{person}-{when.isoformat()}-{substance}"
    return drug_test(test_id, person, when, substance=substance, result=result)


E10B_REFERRAL = R + timedelta(days=63)
E12_REFERRAL = d(AS_OF, -60)
E13_REFERRAL = d(AS_OF, -40)


def _extract() -> dict[str, list[dict]]:
    episodes = [
        episode(f"E{n}", f"p{n:02d}", referral=R, start=R, programme="PG2" if n in (5,) else "PG1")
        for n in (1, 2, 3, 4, 5, 7, 8, 9, 11)
    ]
    episodes += [
        episode("E6", "p06", referral=R, programme="PG2"),  # never started
        episode("E10a", "p10", referral=R, start=R, discharge=d("2024-03-01"), reason="dropped_out"),
        episode("E10b", "p10", referral=E10B_REFERRAL, start=E10B_REFERRAL, programme="PG2"),
        episode("E12", "p12", referral=E12_REFERRAL, start=E12_REFERRAL),
        episode("E13", "p13", referral=E13_REFERRAL, start=E13_REFERRAL),
        episode("E14", "p14", referral=d("2023-12-31"), start=d("2023-12-31")),
    ]
    e1 = [*weekly_tests("p01", "---"), on_day("p01", 21, "positive"), on_day("p01", 41, "positive")]
    e1 += [on_day("p01", 49, "negative")] + weekly_tests("p01", "-" * 16, R + timedelta(days=56))
    tests = [
        *e1,
        *weekly_tests("p02", "--" + "++++" + "-" * 18),
        *weekly_tests("p03", "-" * 8 + "oo+o" + "-" * 12),
        *weekly_tests("p04", "M" * 24),
        *weekly_tests("p05", "---" + "mmmm" + "-" * 17),
        *weekly_tests("p07", "-" * 9 + "iiii" + "-" * 11),
        *weekly_tests("p08", "b" * 19 + "ffff" + "-"),
        *weekly_tests("p09", "-" * 21 + "ooo"),
        *weekly_tests("p10", "-" * 9, episode_id="E10a"),
        *weekly_tests("p10", "---", E10B_REFERRAL, episode_id="E10b"),
        on_day("p11", -3, "positive"),
        on_day("p11", -1, "positive"),
        *weekly_tests("p11", "-" * 24),
        *weekly_tests("p12", "---" + "oooo" + "-", E12_REFERRAL),
        *weekly_tests("p13", "---", E13_REFERRAL),
        *weekly_tests("p14", "+" * 24, d("2023-12-31")),
    ]
    return {"episodes": episodes, "drug_tests": tests}


EXTRACT = _extract()
COHORT = ["E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10a", "E10b", "E11"]
RELAPSED = {"E1": 21, "E3": 56, "E5": 21, "E6": 21, "E7": 63, "E8": 133, "E10a": 84, "E10b": 21}


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(**EXTRACT)


def _exact(warehouse, name: str, **kw) -> pd.DataFrame:
    return compute_metric(warehouse, name, FROM, TO, as_of=AS_OF, suppress=False, **kw)


def test_relapse_tests_on_the_hand_worked_patterns(warehouse) -> None:
    row = only_row(_exact(warehouse, "relapse_tests"))
    assert (row["numerator"], row["denominator"]) == (len(RELAPSED), len(COHORT)) == (8, 12)
    by_programme = _exact(warehouse, "relapse_tests", by=["programme"]).set_index("programme")
    # PG2: E5 (relapsed), E6 (never started, relapsed), E10b (relapsed).
    assert by_programme.loc["PG2", ["numerator", "denominator"]].tolist() == [3, 3]
    assert by_programme.loc["PG1", ["numerator", "denominator"]].tolist() == [5, 9]


def test_the_reference_gives_the_hand_worked_answers_too(warehouse) -> None:
    frames = {
        "episodes": pd.DataFrame(EXTRACT["episodes"]),
        "drug_tests": pd.DataFrame(EXTRACT["drug_tests"]),
    }
    cohort = frames["episodes"][frames["episodes"]["episode_id"].isin(COHORT)]
    patterns = reference.episode_weekly_patterns(cohort, frames["drug_tests"])
    outcomes = {e: reference.relapse_from_pattern(p) for e, p in patterns.items()}
    assert {e: o.first_relapse_day for e, o in outcomes.items() if o.relapsed} == RELAPSED
    assert patterns["E1"] == "---+o+o" + "-" * 17
    assert patterns["E5"] == "---oooo" + "-" * 17  # methadone results alone: no valid opioid test
    assert patterns["E10a"] == "-" * 12 + "o" * 12  # E10b's tests count for E10a by date


def test_the_weekly_use_rule_reads_the_contract_codes_as_the_reference_does() -> None:
    assert reference.OPIOID_SUBSTANCES == OPIOID_TEST_SUBSTANCES == ("opiates", "fentanyl")
    assert reference.VALID_RESULTS == VALID_TEST_RESULTS


def test_time_to_relapse_events_and_censoring(warehouse) -> None:
    km = _exact(warehouse, "time_to_relapse")
    events = km.loc[km["events"] > 0].set_index("t")["events"].to_dict()
    censored = km.loc[km["censored"] > 0].set_index("t")["censored"].to_dict()
    # Events on the day each run begins: E1, E5, E6, E10b and E12 on day 21 (E12's weeks 4-7 are
    # complete by as_of, 60 days after its referral); E3 day 56, E7 day 63, E10a day 84, E8 day 133.
    assert events == {21: 5, 56: 1, 63: 1, 84: 1, 133: 1}
    # Censored: E2, E4, E9, E11 at day 168 (followed through week 24); E13 at as_of, day 40 (its weeks
    # 4-5 are use, but a run of 4 cannot be complete by then).
    assert censored == {40: 1, 168: 4}
    assert km["n_at_risk"].iloc[0] == 14  # every episode referred in the period, E12 and E13 too


def test_time_to_relapse_matches_relapse_tests_where_the_window_is_complete(warehouse) -> None:
    km = _exact(warehouse, "time_to_relapse", filters={"programme": "PG2"})
    # PG2: E5, E6, E10b, all relapsing on day 21.
    assert km[["t", "n_at_risk", "events", "censored"]].values.tolist() == [[21, 3, 3, 0]]


@pytest.mark.parametrize(
    ("parameters", "relapsed"),
    [
        # Grace 2: E2's weeks 3-6 count (relapse week 3), and E6 (no tests) relapses in week 3.
        ({"grace_weeks": 2}, 9),
        # Runs of 3: E2's weeks 4-6, and E9's weeks 22-24.
        ({"run_length": 3}, 10),
        # Window 12 (84 days of follow-up; E12 and E13 still lack it): E1, E3 (weeks 9-12), E5, E6,
        # E10b; E7's weeks 10-13 and E10a's 13-16 end after week 12, E8's are later still.
        ({"window_weeks": 12}, 5),
    ],
)
def test_the_parameters_change_the_definition(warehouse, parameters: dict, relapsed: int) -> None:
    frame = _exact(warehouse, "relapse_tests", parameters=parameters)
    assert (only_row(frame)["numerator"], only_row(frame)["denominator"]) == (relapsed, 12)
    assert frame.attrs["parameters"] == {"grace_weeks": 3, "run_length": 4, "window_weeks": 24, **parameters}


def test_window_weeks_sets_the_follow_up_the_cohort_needs(warehouse) -> None:
    # Window 8: referral + 56 ≤ as_of, so E12 (60 days before as_of) joins the cohort (its run of
    # weeks 4-7 is a relapse), E13 (40 days) does not.
    row = only_row(_exact(warehouse, "relapse_tests", parameters={"window_weeks": 8}))
    # Relapses within weeks 4-8: E1, E5, E6, E10b, E12.
    assert (row["numerator"], row["denominator"]) == (5, 13)
    km = _exact(warehouse, "time_to_relapse", parameters={"window_weeks": 8})
    assert km.loc[km["censored"] > 0].set_index("t")["censored"].to_dict() == {40: 1, 56: 8}


def test_bad_parameters_are_refused(warehouse) -> None:
    with pytest.raises(ValueError, match="has no parameter 'grace'"):
        _exact(warehouse, "relapse_tests", parameters={"grace": 2})
    with pytest.raises(ValueError, match="retention_12wk takes no parameters"):
        _exact(warehouse, "retention_12wk", parameters={"grace_weeks": 2})
    with pytest.raises(ValueError, match="run_length must be from 1"):
        _exact(warehouse, "relapse_tests", parameters={"run_length": 0})
    with pytest.raises(ValueError, match="whole number"):
        _exact(warehouse, "relapse_tests", parameters={"run_length": "4; DROP TABLE episodes"})
    with pytest.raises(ValueError, match="cannot fit"):
        _exact(warehouse, "time_to_relapse", parameters={"grace_weeks": 20, "run_length": 5})


def test_breakdowns_by_month_of_referral(warehouse) -> None:
    frame = _exact(warehouse, "relapse_tests", by=["month"]).set_index("month")
    # E10b was referred in March; the rest of the cohort in January.
    assert frame.loc["2024-01", ["numerator", "denominator"]].tolist() == [7, 11]
    assert frame.loc["2024-03", ["numerator", "denominator"]].tolist() == [1, 1]
    series = metric_series(warehouse, "relapse_tests", FROM, "2024-03-31", as_of=AS_OF, suppress=False)
    assert series[["month", "numerator", "denominator"]].values.tolist() == [
        ["2024-01", 7, 11],
        ["2024-02", 0, 0],
        ["2024-03", 1, 1],
    ]


# ---------------------------------------------------------------------------------------------
# Random weekly patterns: the SQL against the reference, and disclosure control by the records' keys.


def _random_extract(seed: int, episodes: int = 80) -> tuple[dict[str, list[dict]], pd.DataFrame]:
    """Episodes referred on random days of 2024 with random weekly tests (each week: no test, an
    opiates negative or positive, a methadone-only result, an invalid sample, or a fentanyl positive,
    each on a random day of the week), in two programmes."""
    rng = np.random.default_rng(seed)
    rows, tests = [], []
    symbols = np.array(["-", "-", "-", "+", "o", "m", "i", "f", "M"])
    for n in range(episodes):
        referral = R + timedelta(days=int(rng.integers(0, 180)))
        programme = "PG1" if n % 2 else "PG2"
        started = rng.random() > 0.1
        rows.append(
            episode(
                f"X{n:03d}",
                f"q{n:03d}",
                referral=referral,
                start=referral if started else None,
                programme=programme,
            )
        )
        weights = rng.dirichlet(np.ones(len(symbols)))
        pattern = "".join(rng.choice(symbols, size=26, p=weights))
        tests += weekly_tests(f"q{n:03d}", pattern, referral, day=int(rng.integers(0, 7)))
    return {"episodes": rows, "drug_tests": tests}, pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_patterns_agree_with_the_reference(make_warehouse, seed: int) -> None:
    extract, episodes = _random_extract(seed)
    warehouse = make_warehouse(**extract)
    patterns = reference.episode_weekly_patterns(episodes, pd.DataFrame(extract["drug_tests"]))
    first_day = {e: reference.relapse_from_pattern(p).first_relapse_day for e, p in patterns.items()}
    episodes = episodes.assign(first_day=episodes["episode_id"].map(first_day))
    km = _exact(warehouse, "time_to_relapse", by=["programme"])
    for programme, group in episodes.groupby("programme_id"):
        row = only_row(_exact(warehouse, "relapse_tests", filters={"programme": programme}))
        assert (row["numerator"], row["denominator"]) == (group["first_day"].notna().sum(), len(group))
        expected = group["first_day"].dropna().astype(int).value_counts().sort_index().to_dict()
        curve = km[(km["programme"] == programme) & (km["events"] > 0)]
        assert curve.set_index("t")["events"].to_dict() == expected
        # Everyone else is censored at day 168 (every referral has 168 days of follow-up by as_of).
        assert km[(km["programme"] == programme) & (km["censored"] > 0)]["t"].tolist() in ([], [168])


def test_shared_relapse_counts_are_perturbed_by_the_episodes_keys(make_warehouse) -> None:
    extract, episodes = _random_extract(7, episodes=120)
    warehouse = make_warehouse(**extract)
    patterns = reference.episode_weekly_patterns(episodes, pd.DataFrame(extract["drug_tests"]))
    relapsed = [e for e, p in patterns.items() if reference.relapse_from_pattern(p).relapsed]
    cohort = episodes["episode_id"].tolist()
    frame = compute_metric(warehouse, "relapse_tests", FROM, TO, as_of=AS_OF, by=["programme"])
    assert frame.attrs["disclosure"] == "perturbation"
    moved = False
    for row in frame.itertuples():
        ids = set(episodes.loc[episodes["programme_id"] == row.programme, "episode_id"])
        numerator_ids = [e for e in relapsed if e in ids]
        in_cell = "episode_id IN (SELECT unnest($ids::VARCHAR[]))"
        numerator = shown_count(warehouse, "episodes", in_cell, {"ids": numerator_ids})
        denominator = shown_count(warehouse, "episodes", in_cell, {"ids": [e for e in cohort if e in ids]})
        assert not row.suppressed
        assert (row.numerator, row.denominator) == (min(numerator, denominator), denominator)
        moved |= (numerator, denominator) != (len(numerator_ids), len(ids))
    assert moved  # this salt's keys move at least one count (else the test shows nothing)
    # The Kaplan-Meier table's number at risk at t = 0 is the cohort's count, perturbed by its keys.
    km = compute_metric(warehouse, "time_to_relapse", FROM, TO, as_of=AS_OF)
    assert km["n_at_risk"].iloc[0] == shown_count(warehouse, "episodes", "TRUE")


def test_rosc_metric_takes_the_parameters_and_refuses_them_elsewhere(warehouse) -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    period = ["--db", str(warehouse.path), "--from", FROM, "--to", TO, "--as-of", AS_OF, "--no-suppress"]
    result = CliRunner().invoke(main, ["metric", "relapse_tests", *period, "--grace-weeks", "2"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert header.startswith("numerator,denominator") and row.startswith("9,12,")
    result = CliRunner().invoke(main, ["metric", "time_to_relapse", *period, "--window-weeks", "8"])
    assert result.exit_code == 0, result.output
    # t, n_at_risk, events, censored: E1, E5, E6, E10b and E12 relapse on day 21, with all 14 at risk.
    assert result.output.splitlines()[1].startswith("21,14,5,0,")
    refused = CliRunner().invoke(main, ["metric", "retention_12wk", *period, "--run-length", "3"])
    assert refused.exit_code == 2
    assert "--run-length: not a parameter of retention_12wk (it takes none)" in refused.output
    bad = CliRunner().invoke(main, ["metric", "relapse_tests", *period, "--run-length", "0"])
    assert bad.exit_code == 1 and "run_length must be from 1 to 260, not 0" in bad.output
    listed = CliRunner().invoke(main, ["metric", "--list"])
    line = next(x for x in listed.output.splitlines() if x.startswith("relapse_tests "))
    assert line.endswith("[parameters: grace_weeks 3, run_length 4, window_weeks 24]")
