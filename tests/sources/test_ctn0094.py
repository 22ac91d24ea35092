"""The CTN-0094 importer on a hand-made fixture (tests/sources/ctn0094_fixture, see its README).

Every expected row below was worked out by hand from the fixture and the mapping decisions in
`pipelines.sources.ctn0094`'s docstring, with day 0 = the anchor 2020-01-01 (so day 31 = 2020-02-01,
day 59 = 2020-02-29, day 152 = 2020-06-01). The working is in the comments.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.sources.ctn0094 import import_ctn0094
from tests.sources.extract_checks import check_drug_tests, load_extract

FIXTURE = Path(__file__).resolve().parent / "ctn0094_fixture"
TABLES = ("providers", "programmes", "people", "episodes", "contacts", "assessments", "drug_tests")


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ctn") / "extract"
    result = import_ctn0094(FIXTURE, out)
    assert dict(result) == {
        "providers": 3,
        "programmes": 6,
        "people": 6,
        "episodes": 7,
        "contacts": 12,
        "assessments": 18,
        "drug_tests": 95,
    }
    return out


def _text(folder: Path, table: str) -> str:
    return (folder / f"{table}.csv").read_text(encoding="utf-8")


def _rows(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_providers_and_programmes_are_the_trials_and_their_arms(extract: Path) -> None:
    assert _text(extract, "providers") == (
        "provider_id,provider_name,provider_type,area_code,area_name\n"
        "ctn-0027,NIDA CTN-0027 START trial,third_sector,US,United States (sites masked)\n"
        "ctn-0030,NIDA CTN-0030 POATS trial,third_sector,US,United States (sites masked)\n"
        "ctn-0051,NIDA CTN-0051 X:BOT trial,third_sector,US,United States (sites masked)\n"
    )
    assert _text(extract, "programmes") == (
        "programme_id,provider_id,programme_name,setting\n"
        "ctn-0027-methadone,ctn-0027,START methadone,community\n"
        "ctn-0027-bup-nx,ctn-0027,START buprenorphine-naloxone,community\n"
        "ctn-0030-bup-emm,ctn-0030,POATS buprenorphine-naloxone with enhanced medical management,community\n"
        "ctn-0030-bup-smm,ctn-0030,POATS buprenorphine-naloxone with standard medical management,community\n"
        "ctn-0051-bup-nx,ctn-0051,X:BOT buprenorphine-naloxone,community\n"
        "ctn-0051-xr-ntx,ctn-0051,X:BOT extended-release naltrexone,community\n"
    )


def test_people_are_the_randomised_participants(extract: Path) -> None:
    # Person 6 was never randomised. birth_year = 2020 - age; 2 has no age; 5 has no sex and
    # race Refused/missing; 3 is Hispanic, race Other -> other.
    assert _text(extract, "people") == (
        "person_id,sex,birth_year,ethnic_group,area_code\n"
        "ctn0027-00001,male,1980,white,\n"
        "ctn0027-00002,female,,black,\n"
        "ctn0051-00003,male,1990,other,\n"
        "ctn0051-00004,female,1970,white,\n"
        "ctn0030-00005,unknown,1985,unknown,\n"
        "ctn0030-00007,male,1995,white,\n"
    )


def test_episodes_are_randomisations_with_dosing_and_cover(extract: Path) -> None:
    # 1: randomised day 3 (the which=2 row repeats it); the day-1 dose is before randomisation and
    #    left out; doses 3 ... 170; 170 >= 3 + 168 - 7 = 164, so 24 weeks completed -> transferred.
    #    Start window (days -25 ... 2): heroin 3 days, other opioid 1 -> heroin. asi Yes, rbs 0 days
    #    -> previously injected.
    # 2: never dosed -> declined, discharged on the referral day; no TLFB -> the CTN-0027 default
    #    heroin; no asi/rbs rows -> unknown.
    # 3: XR-NTX injections days 9, 37, ..., 149; the last covers 149 ... 176 (28 days);
    #    176 >= 2 + 161 -> completed -> transferred. rbs 12 days -> currently. Not OST (antagonist).
    # 4: one injection day 20, cover to 47 < 1 + 161; a missed visit flagged is_dead -> died.
    # 5: POATS phase 1 (EMM, day 7): doses 7, 20, 34 -> cover to 34 >= 7 + 28 - 7 = 28, a taper
    #    completed; opioid tests in 7 ... 34: day 30 positive, day 34 negative -> last negative
    #    -> completed_drug_free. Phase 2 (re-randomised to SMM on day 50): doses 50, 60, 80; 80 <
    #    50 + 112 - 7 -> dropped_out. Start windows: -21 ... 6 and 22 ... 49 hold "Opioid" days
    #    -> other_opioid. asi empty, rbs 0 -> unknown (ever-injected not known).
    # 7: phase 1 SMM day 4, doses 4 and 31 (>= 4 + 21) -> completed, but the day-31 opioid test is
    #    positive -> other. No TLFB -> the CTN-0030 default other_opioid.
    assert _text(extract, "episodes") == (
        "episode_id,person_id,programme_id,referral_date,referral_source,triage_date,start_date,"
        "discharge_date,discharge_reason,substance_group,primary_substance,injecting_status,ost\n"
        "ctn0027-00001-r1,ctn0027-00001,ctn-0027-methadone,2020-01-04,unknown,,2020-01-04,2020-06-19,"
        "transferred_not_in_custody,opiate,heroin,previously,true\n"
        "ctn0027-00002-r1,ctn0027-00002,ctn-0027-bup-nx,2020-01-06,unknown,,,2020-01-06,"
        "declined,opiate,heroin,unknown,false\n"
        "ctn0051-00003-r1,ctn0051-00003,ctn-0051-xr-ntx,2020-01-03,health,,2020-01-10,2020-06-25,"
        "transferred_not_in_custody,opiate,heroin,currently,false\n"
        "ctn0051-00004-r1,ctn0051-00004,ctn-0051-xr-ntx,2020-01-02,health,,2020-01-21,2020-02-17,"
        "died,opiate,heroin,never,false\n"
        "ctn0030-00005-r1,ctn0030-00005,ctn-0030-bup-emm,2020-01-08,unknown,,2020-01-08,2020-02-04,"
        "completed_drug_free,opiate,other_opioid,unknown,true\n"
        "ctn0030-00005-r2,ctn0030-00005,ctn-0030-bup-smm,2020-02-20,unknown,,2020-02-20,2020-03-21,"
        "dropped_out,opiate,other_opioid,unknown,true\n"
        "ctn0030-00007-r1,ctn0030-00007,ctn-0030-bup-smm,2020-01-05,unknown,,2020-01-05,2020-02-01,"
        "other,opiate,other_opioid,currently,true\n"
    )


def test_contacts_are_attended_visits_after_randomisation(extract: Path) -> None:
    # Left out: BASELINE visits before randomisation (1, 5), 6's visit (never randomised), the
    # second day-10 row of 1, missed/MISSING rows, 3's undated WK8, 5's Cross Active Study row.
    # After an episode's discharge a visit is a follow-up check-up with no episode (1 day 171 >
    # 170; 5 day 40 > 34 in phase 1's programme; 5 day 110 > 80 in phase 2's). 5's P1Wk4 is
    # "final" and P2Unsc has no disposition: both attended.
    assert _text(extract, "contacts") == (
        "contact_id,person_id,episode_id,programme_id,contact_date,support_type,delivered_by,attended,"
        "duration_minutes\n"
        "ctn0027-00001-c10,ctn0027-00001,ctn0027-00001-r1,ctn-0027-methadone,2020-01-11,keyworking,"
        "professional,true,\n"
        "ctn0027-00001-c171,ctn0027-00001,,ctn-0027-methadone,2020-06-20,recovery_check_up,professional,true,\n"
        "ctn0027-00002-c5,ctn0027-00002,ctn0027-00002-r1,ctn-0027-bup-nx,2020-01-06,keyworking,"
        "professional,true,\n"
        "ctn0051-00003-c2,ctn0051-00003,ctn0051-00003-r1,ctn-0051-xr-ntx,2020-01-03,keyworking,"
        "professional,true,\n"
        "ctn0051-00003-c30,ctn0051-00003,ctn0051-00003-r1,ctn-0051-xr-ntx,2020-01-31,keyworking,"
        "professional,true,\n"
        "ctn0051-00004-c1,ctn0051-00004,ctn0051-00004-r1,ctn-0051-xr-ntx,2020-01-02,keyworking,"
        "professional,true,\n"
        "ctn0030-00005-c7,ctn0030-00005,ctn0030-00005-r1,ctn-0030-bup-emm,2020-01-08,keyworking,"
        "professional,true,\n"
        "ctn0030-00005-c34,ctn0030-00005,ctn0030-00005-r1,ctn-0030-bup-emm,2020-02-04,keyworking,"
        "professional,true,\n"
        "ctn0030-00005-c40,ctn0030-00005,,ctn-0030-bup-emm,2020-02-10,recovery_check_up,professional,true,\n"
        "ctn0030-00005-c50,ctn0030-00005,ctn0030-00005-r2,ctn-0030-bup-smm,2020-02-20,keyworking,"
        "professional,true,\n"
        "ctn0030-00005-c51,ctn0030-00005,ctn0030-00005-r2,ctn-0030-bup-smm,2020-02-21,keyworking,"
        "professional,true,\n"
        "ctn0030-00005-c110,ctn0030-00005,,ctn-0030-bup-smm,2020-04-20,recovery_check_up,professional,true,\n"
    )


def test_assessments_are_28_day_windows_of_self_report(extract: Path) -> None:
    # An assessment dated D covers days D-28 ... D-1; start = referral day.
    # 1 (ref 3, 24 weeks -> 6 windows): follow-up runs from day -30 (TLFB baseline) to day 171
    #   (last visit), so all 7 windows are written. Start (-25 ... 2): heroin -5, -4, -3 and
    #   opioid 2 -> 4 opiate days. Window 1 (3 ... 30): cocaine day 5. Window 2 (31 ... 58): heroin
    #   and THC day 40 (the benzodiazepine day has no TOP column). Window 6 (143 ... 170) holds
    #   the discharge day 170 -> exit.
    # 3 (ref 2): follow-up ends day 149 (last injection), so window 6 (142 ... 169) is not written.
    #   Start (-26 ... 1): heroin -10, -9, -8 (and methadone -8, the same day) -> 3. Window 5
    #   (114 ... 141): alcohol day 140.
    # 5 phase 1 (ref 7, 4 + 8 weeks -> 3 windows): window 2 (35 ... 62) would reach the phase-2
    #   randomisation (day 50), so only start (-21 ... 6: opioid -20, -19, -18) and window 1
    #   (7 ... 34, holding discharge day 34 -> exit). Phase 2 (ref 50): follow-up ends day 110
    #   (last visit), so start (22 ... 49: opioid 45, 46), window 1 (50 ... 77, review: ends before
    #   discharge 80) and window 2 (78 ... 105, exit).
    # 2, 4 and 7 have no self-report at all: no assessments.
    header = (
        "assessment_id,person_id,episode_id,assessment_date,stage,days_opiates,days_crack,days_cocaine,"
        "days_amphetamine,days_cannabis,days_alcohol,days_injected,psych_health,phys_health,"
        "quality_of_life,days_paid_work,acute_housing_problem,recovery_capital\n"
    )
    rows = [
        ("ctn0027-00001-r1-a0", "ctn0027-00001-r1", "2020-01-04", "start", "4,,0,0,0,0"),
        ("ctn0027-00001-r1-a1", "ctn0027-00001-r1", "2020-02-01", "review", "0,,1,0,0,0"),
        ("ctn0027-00001-r1-a2", "ctn0027-00001-r1", "2020-02-29", "review", "1,,0,0,1,0"),
        ("ctn0027-00001-r1-a3", "ctn0027-00001-r1", "2020-03-28", "review", "0,,0,0,0,0"),
        ("ctn0027-00001-r1-a4", "ctn0027-00001-r1", "2020-04-25", "review", "0,,0,0,0,0"),
        ("ctn0027-00001-r1-a5", "ctn0027-00001-r1", "2020-05-23", "review", "0,,0,0,0,0"),
        ("ctn0027-00001-r1-a6", "ctn0027-00001-r1", "2020-06-20", "exit", "0,,0,0,0,0"),
        ("ctn0051-00003-r1-a0", "ctn0051-00003-r1", "2020-01-03", "start", "3,,0,0,0,0"),
        ("ctn0051-00003-r1-a1", "ctn0051-00003-r1", "2020-01-31", "review", "0,,0,0,0,0"),
        ("ctn0051-00003-r1-a2", "ctn0051-00003-r1", "2020-02-28", "review", "0,,0,0,0,0"),
        ("ctn0051-00003-r1-a3", "ctn0051-00003-r1", "2020-03-27", "review", "0,,0,0,0,0"),
        ("ctn0051-00003-r1-a4", "ctn0051-00003-r1", "2020-04-24", "review", "0,,0,0,0,0"),
        ("ctn0051-00003-r1-a5", "ctn0051-00003-r1", "2020-05-22", "review", "0,,0,0,0,1"),
        ("ctn0030-00005-r1-a0", "ctn0030-00005-r1", "2020-01-08", "start", "3,,0,0,0,0"),
        ("ctn0030-00005-r1-a1", "ctn0030-00005-r1", "2020-02-05", "exit", "0,,0,0,0,0"),
        ("ctn0030-00005-r2-a0", "ctn0030-00005-r2", "2020-02-20", "start", "2,,0,0,0,0"),
        ("ctn0030-00005-r2-a1", "ctn0030-00005-r2", "2020-03-19", "review", "0,,0,0,0,0"),
        ("ctn0030-00005-r2-a2", "ctn0030-00005-r2", "2020-04-16", "exit", "0,,0,0,0,0"),
    ]
    expected = header + "".join(f"{a},{e[:13]},{e},{d},{s},{days},,,,,,,\n" for a, e, d, s, days in rows)
    assert _text(extract, "assessments") == expected


def test_drug_tests_are_one_row_per_specimen_and_panel_substance(extract: Path) -> None:
    tests = check_drug_tests(extract)
    # Specimens (uds_temp days, plus uds-only days): 1 on days 0, 3, 10, 24 (CTN-0027 panel of 7);
    # 2 day 5 (7); 3 days 2, 16 and 4 days 1, 5 (CTN-0051 panel of 8; 4's day 5 is only in uds);
    # 5 days 30, 34, 55 and 7 day 31 (CTN-0030 panel of 7). 4*7 + 7 + 4*8 + 3*7 + 7 = 95.
    # 6's specimen is left out (never randomised).
    assert len(tests) == 95
    not_negative = {
        (r["test_id"], r["episode_id"], r["test_date"], r["result"])
        for r in tests
        if r["result"] != "negative"
    }
    invalid_day_24 = {
        (f"ctn0027-00001-d24-{s}", "ctn0027-00001-r1", "2020-01-25", "invalid")
        for s in ("opiates", "methadone", "cocaine", "amphetamine", "benzodiazepine", "alcohol")
    }
    assert not_negative == invalid_day_24 | {
        ("ctn0027-00001-d10-opiates", "ctn0027-00001-r1", "2020-01-11", "positive"),
        ("ctn0027-00001-d10-methadone", "ctn0027-00001-r1", "2020-01-11", "positive"),
        # Day 24 failed its temperature check: negatives become invalid, the positive stays.
        ("ctn0027-00001-d24-cannabis", "ctn0027-00001-r1", "2020-01-25", "positive"),
        ("ctn0051-00003-d2-buprenorphine", "ctn0051-00003-r1", "2020-01-03", "positive"),
        ("ctn0051-00004-d5-opiates", "ctn0051-00004-r1", "2020-01-06", "positive"),
        ("ctn0030-00005-d30-opiates", "ctn0030-00005-r1", "2020-01-31", "positive"),
        # Day 55 follows the phase-2 randomisation (day 50).
        ("ctn0030-00005-d55-opiates", "ctn0030-00005-r2", "2020-02-25", "positive"),
        ("ctn0030-00007-d31-opiates", "ctn0030-00007-r1", "2020-02-01", "positive"),
    }
    # Person 1's day-0 specimen (temperature unknown, 99: valid) precedes randomisation (day 3).
    day0 = [r for r in tests if r["test_date"] == "2020-01-01"]
    assert {(r["person_id"], r["episode_id"], r["result"]) for r in day0} == {
        ("ctn0027-00001", "", "negative")
    }
    assert len(day0) == 7
    # CTN-0027's panel has alcohol and no buprenorphine; CTN-0051's has buprenorphine and other.
    assert {r["substance"] for r in tests if r["person_id"] == "ctn0027-00002"} == {
        "opiates",
        "methadone",
        "cocaine",
        "amphetamine",
        "benzodiazepine",
        "cannabis",
        "alcohol",
    }
    assert {r["substance"] for r in tests if r["test_id"].startswith("ctn0051-00003-d16-")} == {
        "opiates",
        "methadone",
        "buprenorphine",
        "cocaine",
        "amphetamine",
        "benzodiazepine",
        "cannabis",
        "other",
    }
    assert {r["sample"] for r in tests} == {"urine"}


def test_extract_json_says_version_2_and_the_latest_date(extract: Path) -> None:
    manifest = json.loads((extract / "extract.json").read_text(encoding="utf-8"))
    # The latest date anywhere: 3's discharge, day 176.
    assert manifest["contract_version"] == 2
    assert manifest["as_of"] == "2020-06-25"
    assert manifest["anchor"] == "2020-01-01"


def test_what_is_left_out_is_counted(tmp_path: Path) -> None:
    result = import_ctn0094(FIXTURE, tmp_path / "out")
    assert result.left_out == {
        "randomisation rows repeating the person's first (same day and arm)": 4,
        "people consented but never randomised (no arm, so no programme or episode)": 1,
        "treatment rows of people never randomised": 1,
        "treatment rows dated before the person's first randomisation": 1,
        "urine specimens of people never randomised": 1,
        "visit rows labelled 'Cross Active Study' (not visits)": 1,
        "visit rows recorded as missed or MISSING (98% undated)": 3,
        "attended visit rows without a date": 1,
        "second attended visits of a person on the same day (one contact)": 1,
        "attended visits of people never randomised": 1,
        "attended visits before the person's first randomisation": 2,
        # Episodes' windows (start + protocol windows, less phase-1 windows reaching phase 2):
        # 2: 7, 4: 7, 7: 4 (no self-report); 3: window 6; 5 phase 2: windows 3-6.
        "28-day assessment windows not covered by self-report follow-up": 23,
    }
    assert result.notes == {
        "episodes whose primary substance is the trial default (no opioid day in the 28 days before)": 3
    }
    assert result.as_of == date(2020, 6, 25)


def test_the_anchor_moves_every_date_and_no_id(tmp_path: Path, extract: Path) -> None:
    import_ctn0094(FIXTURE, tmp_path / "moved", anchor=date(2021, 3, 1))
    moved = _rows(tmp_path / "moved", "episodes")
    assert [r["referral_date"] for r in moved][:2] == ["2021-03-04", "2021-03-06"]
    for table in ("episodes", "contacts", "drug_tests", "assessments"):
        key = next(iter(_rows(extract, table)[0]))
        assert [r[key] for r in _rows(tmp_path / "moved", table)] == [r[key] for r in _rows(extract, table)]
    assert json.loads((tmp_path / "moved" / "extract.json").read_text())["as_of"] == "2021-08-24"
    # Age bands stay ages at consent: birth_year follows the anchor's year.
    assert _rows(tmp_path / "moved", "people")[0]["birth_year"] == "1981"


def test_the_extract_loads_with_no_rejected_row(tmp_path: Path, extract: Path) -> None:
    result = load_extract(extract, tmp_path)
    assert result.rows_rejected == 0, result.summary()
    assert result.loaded == {
        "providers": 3,
        "programmes": 6,
        "people": 6,
        "episodes": 7,
        "contacts": 12,
        "assessments": 18,
        "drug_tests": 95,
    }


def _broken_fixture(tmp_path: Path, table: str, old: str, new: str) -> Path:
    copy = tmp_path / "src"
    shutil.copytree(FIXTURE, copy)
    path = copy / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("table", "old", "new", "message"),
    [
        ("randomization", "Outpatient BUP,1,5", "Outpatient Morphine,1,5", "unknown trial arm"),
        ("uds", "Thc", "Kratom", "unknown substance"),
        ("demographics", "Black", "Martian", "unknown race"),
        ("everybody", "7,30", "7,99", "unknown project"),
        ("randomization", "7,Outpatient BUP + SMM,1,4", "7,Outpatient BUP + SMM,1,4.5", "non-integer"),
        ("tlfb", "who,what,when", "who,substance,when", r"column\(s\) what missing"),
        ("randomization", "1,Methadone,2,3", "1,Methadone,2,40", "no such phase"),
        ("demographics", "7,25,No,White", "6,25,No,White", "more than one row"),
    ],
)
def test_what_the_importer_does_not_know_stops_it(
    tmp_path: Path, table: str, old: str, new: str, message: str
) -> None:
    src = _broken_fixture(tmp_path, table, old, new)
    with pytest.raises(ValueError, match=message):
        import_ctn0094(src, tmp_path / "out")


def test_a_missing_table_stops_the_import(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(FIXTURE, copy)
    (copy / "uds_temp.csv").unlink()
    with pytest.raises(ValueError, match="table uds_temp is missing"):
        import_ctn0094(copy, tmp_path / "out")


def test_the_command_line_imports_and_prints_rows_per_table(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["import", "ctn0094", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "episodes              7 rows" in result.output
    assert "drug_tests           95 rows" in result.output
    assert "left out        1 people consented but never randomised" in result.output
    assert f"wrote contract extract (as_of 2020-06-25) to {out}" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.csv" for t in TABLES] + ["extract.json"])


def test_the_command_line_reports_a_bad_source(tmp_path: Path) -> None:
    src = _broken_fixture(tmp_path, "uds", "Thc", "Kratom")
    result = CliRunner().invoke(main, ["import", "ctn0094", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "unknown substance label(s) ['Kratom']" in result.output


def test_the_command_line_takes_an_anchor_date(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["import", "ctn0094", str(FIXTURE), "--out", str(out), "--anchor", "2021-03-01"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "as_of 2021-08-24" in result.output
    bad = CliRunner().invoke(main, [*args[:-1], "2021-02-30"])
    assert bad.exit_code == 2 and "not a date" in bad.output
