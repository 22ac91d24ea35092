"""The CTN-0094 importer on the real trial tables: the extract keeps the contract, and it reproduces
the published trial results.

Reads `../shared/realdata/ctn0094/csv` (real de-identified records, never copied into the
repository); every test here skips when that folder is absent. The published figures are
recomputed in plain pandas from the importer's output files, independently of the warehouse SQL:

Figures and tolerances (percentage points of the published share):

* CTN-0027 24-week treatment completion, methadone 74% vs buprenorphine-naloxone 46% (Hser et al.,
  Addiction 2014;109:79-87; ClinicalTrials.gov NCT00315341 results: 391/529, 340/740): 1.5 points.
  The trial's completion status is not in the tables; cover reaching the last planned week is a
  proxy (386/529 = 73.0%, 339/740 = 45.8%): 6 methadone and 8 buprenorphine participants attended
  their week-24 visit although their last recorded dose was before day 161.
* CTN-0051 successful induction, XR-NTX 204/283 vs BUP-NX 270/287 (Lee et al., Lancet
  2018;391:309-318): exact.
* CTN-0051 relapse by week 24, intention to treat, XR-NTX 185/283 (65.4%) vs BUP-NX 163/287
  (56.8%) (Lee et al., Lancet 2018): 2.0 points.

Each figure is measured twice: in plain pandas from the importer's files, and through the warehouse
and the metric layer (`rosc load`, then `pipelines.metrics`: exit_reason_mix for completion and
induction, relapse_tests for relapse), where the SQL's per-arm relapse counts must equal the
reference function's in all six arms.

The relapse figure is METRICS.md v2's `relapse_tests` (urine tests only: opiates/fentanyl
positive or no valid test = use; 4 consecutive use weeks in weeks 4-24 counted from randomisation),
computed with the reference `pipelines.stats.relapse`. It differs from the paper's definition,
which also counted self-reported use and methadone/buprenorphine that was not the person's study
drug, assigned urines to protocol visit weeks, and ran to week 24 counting the randomisation week as
week 0; the tolerance covers that, and the README says how much each part moves the count.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from pipelines.metrics import compute_metric, compute_mix, extract_dates
from pipelines.sources.ctn0094 import import_ctn0094
from pipelines.stats.relapse import episode_weekly_patterns, relapse_from_pattern
from pipelines.warehouse import open_warehouse
from tests.sources.extract_checks import check_drug_tests, load_extract

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "ctn0094" / "csv"
if not REAL.is_dir():  # the worktree may sit elsewhere; the shared folder is fixed on this machine
    REAL = Path("/work/shared/realdata/ctn0094/csv")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REAL.is_dir(), reason=f"real CTN-0094 tables not present at {REAL}"),
]


@pytest.fixture(scope="module")
def real_extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int], float]:
    out = tmp_path_factory.mktemp("ctn-real") / "extract"
    started = time.perf_counter()
    result = import_ctn0094(REAL, out)
    return out, dict(result), time.perf_counter() - started


def _episodes(folder: Path) -> pd.DataFrame:
    return pd.read_csv(
        folder / "episodes.csv", parse_dates=["referral_date", "start_date", "discharge_date"], dtype=str
    )


def test_the_real_tables_import_into_an_extract_the_loader_accepts_whole(
    real_extract: tuple[Path, dict[str, int], float], tmp_path: Path
) -> None:
    folder, rows, _seconds = real_extract
    # Every randomised participant is a person; each randomisation an episode (CTN-0030 re-randomised
    # 360 people into phase 2: 2,492 + 360).
    assert rows["people"] == 2492
    assert rows["episodes"] == 2852
    result = load_extract(folder, tmp_path)
    assert result.rows_rejected == 0, result.summary()
    assert result.loaded == rows
    tests = check_drug_tests(folder)
    assert len(tests) == rows["drug_tests"]


def _share(numerator: int, denominator: int) -> float:
    return 100 * numerator / denominator


def test_ctn0027_24_week_treatment_completion(real_extract: tuple[Path, dict[str, int], float]) -> None:
    episodes = _episodes(real_extract[0])
    start = episodes[episodes["programme_id"].str.startswith("ctn-0027")]
    # Completion: medication cover reaching the last planned week (day 161 of 0 ... 167) of the
    # 24-week medication phase; everyone randomised is in the denominator.
    covered_days = (start["discharge_date"] - start["referral_date"]).dt.days
    completed = (
        start.assign(completed=covered_days >= 161).groupby("programme_id")["completed"].agg(["sum", "size"])
    )
    methadone, bup = completed.loc["ctn-0027-methadone"], completed.loc["ctn-0027-bup-nx"]
    assert (methadone["size"], bup["size"]) == (529, 740)
    assert abs(_share(methadone["sum"], methadone["size"]) - 74) <= 1.5, completed
    assert abs(_share(bup["sum"], bup["size"]) - 46) <= 1.5, completed
    # Against the trial's own completion counts (ClinicalTrials.gov): within 6 people.
    assert abs(methadone["sum"] - 391) <= 6 and abs(bup["sum"] - 340) <= 6, completed


def test_ctn0051_successful_induction(real_extract: tuple[Path, dict[str, int], float]) -> None:
    episodes = _episodes(real_extract[0])
    xbot = episodes[episodes["programme_id"].str.startswith("ctn-0051")]
    inducted = (
        xbot.assign(started=xbot["start_date"].notna())
        .groupby("programme_id")["started"]
        .agg(["sum", "size"])
    )
    assert inducted.loc["ctn-0051-xr-ntx"].tolist() == [204, 283]
    assert inducted.loc["ctn-0051-bup-nx"].tolist() == [270, 287]


def test_ctn0051_relapse_by_week_24_from_urine_tests(
    real_extract: tuple[Path, dict[str, int], float],
) -> None:
    folder = real_extract[0]
    episodes = pd.read_csv(folder / "episodes.csv", dtype=str)
    drug_tests = pd.read_csv(folder / "drug_tests.csv", dtype=str)
    xbot = episodes[episodes["programme_id"].str.startswith("ctn-0051")]
    patterns = episode_weekly_patterns(xbot, drug_tests)
    relapsed = patterns.map(lambda p: relapse_from_pattern(p).relapsed)
    counts = (
        xbot.assign(relapsed=xbot["episode_id"].map(relapsed))
        .groupby("programme_id")["relapsed"]
        .agg(["sum", "size"])
    )
    xr, bup = counts.loc["ctn-0051-xr-ntx"], counts.loc["ctn-0051-bup-nx"]
    assert (xr["size"], bup["size"]) == (283, 287)  # intention to treat: every randomised person
    assert abs(_share(xr["sum"], 283) - _share(185, 283)) <= 2.0, counts
    assert abs(_share(bup["sum"], 287) - _share(163, 287)) <= 2.0, counts
    # The paper's finding survives: more relapse with XR-NTX than BUP-NX (intention to treat).
    assert xr["sum"] / 283 > bup["sum"] / 287


def test_the_real_import_is_quick(real_extract: tuple[Path, dict[str, int], float]) -> None:
    # About 3 s on this 2-core machine; a generous bound that still catches an accidental
    # row-by-row loop.
    assert real_extract[2] < 60


# ---------------------------------------------------------------------------------------------
# The same figures through the warehouse and the metric layer (the SQL of pipelines/sql/metrics),
# exact counts (suppress=False: the trial data are public and record-level).


@pytest.fixture(scope="module")
def real_warehouse(real_extract, tmp_path_factory: pytest.TempPathFactory):
    folder, _rows, _seconds = real_extract
    started = time.perf_counter()
    result = load_extract(folder, tmp_path_factory.mktemp("ctn-real-db"))
    seconds = time.perf_counter() - started
    warehouse = open_warehouse(result.db)
    yield warehouse, seconds
    warehouse.close()


def _whole_trial(warehouse) -> tuple[str, str]:
    first, as_of = extract_dates(warehouse)
    return first.isoformat(), as_of.isoformat()


def test_the_sql_relapse_counts_equal_the_reference_in_every_arm(real_extract, real_warehouse) -> None:
    folder = real_extract[0]
    warehouse, _ = real_warehouse
    start, end = _whole_trial(warehouse)
    episodes = pd.read_csv(folder / "episodes.csv", dtype=str)
    drug_tests = pd.read_csv(folder / "drug_tests.csv", dtype=str)
    patterns = episode_weekly_patterns(episodes, drug_tests)
    first_day = {e: relapse_from_pattern(p).first_relapse_day for e, p in patterns.items()}
    episodes = episodes.assign(first_day=episodes["episode_id"].map(first_day))
    sql = compute_metric(warehouse, "relapse_tests", start, end, by=["programme"], suppress=False)
    # Every referral has 168 days of follow-up by as_of: the whole cohort is every episode.
    assert sql["denominator"].sum() == len(episodes) == 2852
    km = compute_metric(warehouse, "time_to_relapse", start, end, by=["programme"], suppress=False)
    for programme, group in episodes.groupby("programme_id"):
        row = sql.set_index("programme").loc[programme]
        assert (row["numerator"], row["denominator"]) == (group["first_day"].notna().sum(), len(group))
        events = km[(km["programme"] == programme) & (km["events"] > 0)].set_index("t")["events"]
        expected = group["first_day"].dropna().astype(int).value_counts().sort_index()
        assert events.to_dict() == expected.to_dict(), programme


def _mix(warehouse) -> pd.DataFrame:
    start, end = _whole_trial(warehouse)
    mix = compute_mix(
        warehouse, "exit_reason_mix", start, end, part="discharge_reason", by="programme", suppress=False
    )
    return mix.set_index(["programme", "discharge_reason"])


def test_published_figures_through_the_metric_layer(real_warehouse) -> None:
    warehouse, _ = real_warehouse
    mix = _mix(warehouse)
    # CTN-0027 24-week completion: cover reaching the last planned week is a transfer to continuing
    # care (the importer's mapping), every randomised person is discharged (never dosed: declined).
    for arm, published, n, completed in (("methadone", 74, 529, 386), ("bup-nx", 46, 740, 339)):
        row = mix.loc[(f"ctn-0027-{arm}", "transferred_not_in_custody")]
        assert (row["count"], row["total"]) == (completed, n)
        assert abs(_share(row["count"], row["total"]) - published) <= 1.5
    # CTN-0051 successful induction: the episodes that started (never dosed = declined).
    for arm, inducted, n in (("xr-ntx", 204, 283), ("bup-nx", 270, 287)):
        declined = mix.loc[(f"ctn-0051-{arm}", "declined")]
        assert (declined["total"] - declined["count"], declined["total"]) == (inducted, n)
    # CTN-0051 relapse by week 24 (intention to treat) under METRICS.md's relapse_tests: within 2 points
    # of Lee et al. 2018 (XR-NTX 185/283, BUP-NX 163/287); the README explains the difference.
    start, end = _whole_trial(warehouse)
    xbot = {"provider": "ctn-0051"}
    relapse = compute_metric(
        warehouse, "relapse_tests", start, end, filters=xbot, by="programme", suppress=False
    ).set_index("programme")
    assert relapse.loc["ctn-0051-xr-ntx", ["numerator", "denominator"]].tolist() == [183, 283]
    assert relapse.loc["ctn-0051-bup-nx", ["numerator", "denominator"]].tolist() == [168, 287]
    assert abs(_share(183, 283) - _share(185, 283)) <= 2.0 and abs(_share(168, 287) - _share(163, 287)) <= 2.0


def test_the_real_load_is_quick(real_warehouse) -> None:
    # About 1 s on this 2-core machine (317,000 rows, 260,000 of them drug tests).
    assert real_warehouse[1] < 60


def _xbot_patterns(folder: Path, shift_days: int = 0) -> pd.DataFrame:
    """CTN-0051's episodes with their weekly patterns (weeks 1-24), tests moved `shift_days` earlier."""
    episodes = pd.read_csv(folder / "episodes.csv", dtype=str)
    xbot = episodes[episodes["programme_id"].str.startswith("ctn-0051")].copy()
    tests = pd.read_csv(folder / "drug_tests.csv", dtype=str)
    tests = tests[tests["person_id"].isin(xbot["person_id"])]
    if shift_days:
        moved = pd.to_datetime(tests["test_date"]) - pd.Timedelta(days=shift_days)
        tests = tests.assign(test_date=moved.dt.date.astype(str))
    xbot["pattern"] = xbot["episode_id"].map(episode_weekly_patterns(xbot, tests))
    xbot["who"] = xbot["person_id"].str.split("-").str[1].astype(int)
    return xbot


def _relapsed(patterns: pd.Series) -> pd.Series:
    return patterns.map(lambda p: relapse_from_pattern(p).relapsed)


def test_the_ctn0051_relapse_difference_is_the_week_grid_not_self_report(real_extract) -> None:
    """Why relapse_tests gives 168/287 (58.5%) for buprenorphine where Lee et al. report 163/287 (56.8%).

    1. The week grid. METRICS.md counts week k as days 7(k-1) ... 7k-1 from randomisation; the trial
       counts the randomisation day as week 0, so its week k is days 7(k-1)+1 ... 7k. Visits were weekly,
       near days 7, 14, 21 ..., right on our grid's boundaries: a visit a day late or early moves into the
       neighbouring week, leaving a week without a test (use, under the definition). On the trial's grid
       the same urines give 164/287 and 185/283: within 0.4 and 0.0 points of the paper.
    2. Self-report. The contract carries drug tests, not daily self-report. The paper also counted weeks
       of self-reported non-study opioid use (and 7 days in a row of it); adding the trial's self-reported
       opioid days (TLFB) to our weeks moves both arms up (to 174 and 192), away from the paper, so the
       missing self-report is not why we count more.
    """
    folder = real_extract[0]
    ours = _xbot_patterns(folder)
    counts = ours.assign(r=_relapsed(ours["pattern"])).groupby("programme_id")["r"].sum()
    assert counts.to_dict() == {"ctn-0051-bup-nx": 168, "ctn-0051-xr-ntx": 183}
    trial_grid = _xbot_patterns(folder, shift_days=1)
    on_trial_grid = trial_grid.assign(r=_relapsed(trial_grid["pattern"])).groupby("programme_id")["r"].sum()
    assert on_trial_grid.to_dict() == {"ctn-0051-bup-nx": 164, "ctn-0051-xr-ntx": 185}
    assert abs(_share(164, 287) - _share(163, 287)) <= 0.5 and on_trial_grid["ctn-0051-xr-ntx"] == 185

    tlfb = pd.read_csv(REAL / "tlfb.csv")
    tlfb = tlfb[tlfb["what"].isin(["Heroin", "Opioid", "Methadone", "Buprenorphine"])]  # study drug removed
    referral_day = (pd.to_datetime(ours["referral_date"]) - pd.Timestamp("2020-01-01")).dt.days
    used = tlfb.merge(ours.assign(referral_day=referral_day)[["who", "episode_id", "referral_day"]], on="who")
    used = used.assign(week=(used["when"] - used["referral_day"]) // 7 + 1)
    used = used[used["week"].between(1, 24)].groupby("episode_id")["week"].agg(set)

    def with_self_report(row) -> str:
        weeks = used.get(row.episode_id, set())
        return "".join("+" if k + 1 in weeks else c for k, c in enumerate(row.pattern))

    reported = ours.assign(pattern=[with_self_report(r) for r in ours.itertuples()])
    with_reports = reported.assign(r=_relapsed(reported["pattern"])).groupby("programme_id")["r"].sum()
    assert with_reports.to_dict() == {"ctn-0051-bup-nx": 174, "ctn-0051-xr-ntx": 192}


CTNOTE = REAL.parent / "ctnote_outcomes" / "outcomesCTN0094.csv"


@pytest.mark.skipif(not CTNOTE.is_file(), reason=f"CTNote's outcomes not present at {CTNOTE}")
def test_relapse_agrees_person_by_person_with_ctnotes_lee2018_outcome(real_extract) -> None:
    """CTNote (Brandt, Odom et al., CRAN) computes Lee et al.'s relapse from the urine-based CTN-0094 weekly
    pattern of the same people (`lee2018_rel_event`: 166/287 and 187/283). Ours agrees for all but 10 of
    570. 4 buprenorphine patients relapse only in ours: for 3 (people 269, 2597, 3332) the weeks that
    make the run have an attended visit but no urine specimen in uds/uds_temp, which CTN-0094's weekly
    pattern counts as a negative week and our drug_tests (specimens only) leave as no test; for 1 (2760)
    CTN-0094's pattern ends at week 23, before the run our week 24 completes. 2 buprenorphine and 4
    XR-naltrexone patients relapse only in CTNote: non-study methadone or buprenorphine positives, which
    the trial counts as opioid use and METRICS.md does not."""
    ours = _xbot_patterns(real_extract[0])
    ours["ours"] = _relapsed(ours["pattern"])
    ctnote = pd.read_csv(CTNOTE, usecols=["who", "lee2018_rel_event"])
    both = ours.merge(ctnote, on="who", how="left")
    table = pd.crosstab([both["programme_id"], both["ours"]], both["lee2018_rel_event"])
    assert table.loc[("ctn-0051-bup-nx", True)].tolist() == [4, 164]
    assert table.loc[("ctn-0051-bup-nx", False)].tolist() == [117, 2]
    assert table.loc[("ctn-0051-xr-ntx", True)].tolist() == [0, 183]
    assert table.loc[("ctn-0051-xr-ntx", False)].tolist() == [96, 4]
