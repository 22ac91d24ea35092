"""Source adapter: the CTN-0094 harmonised trial tables → a ROSC contract extract (version 2).

CTN-0094 (`public.ctn0094data` and `public.ctn0094extra`, MIT licence) holds real, de-identified
records of 3,560 people from three NIDA Clinical Trials Network trials of medication for opioid use
disorder: CTN-0027 START (methadone vs buprenorphine-naloxone), CTN-0030 POATS (buprenorphine-
naloxone with enhanced or standard medical management, two phases) and CTN-0051 X:BOT
(extended-release naltrexone vs buprenorphine-naloxone after inpatient detox). `import_ctn0094`
reads their CSV exports (one file per table, as in `../shared/realdata/ctn0094/csv`) and writes one
contract extract folder. Like every source adapter it only turns files into contract tables; the
loader remains the one writer of the warehouse.

Tables read: everybody, randomization, treatment, visit, uds, uds_temp, tlfb, demographics, asi,
rbs_iv (with the columns in `SOURCE_COLUMNS`). Nothing else is read; the other tables (baseline
clinical measures, derived helpers) have no place in the contract.

Mapping decisions
-----------------
Dates
  * Every `when` is a study day relative to consent (day 0). The data hold no calendar dates, so one
    anchor date stands for day 0 of every participant: date = anchor + when. The default anchor,
    2020-01-01, is arbitrary and obviously so; the real trials ran 2006-2009 (CTN-0027, CTN-0030)
    and 2014-2016 (CTN-0051). Durations, weeks and intervals are exact; `month`/`quarter`
    breakdowns show study time, not calendar time.
  * `as_of` (extract.json) is the latest date written in any table.

Who is in the extract
  * Only randomised participants (2,492 people). The 1,068 who consented but were never
    randomised had no arm, so no programme and no episode; they and all their records are left
    out (counted in `ImportResult.left_out`).

providers and programmes
  * Each trial is a provider (`ctn-0027`, `ctn-0030`, `ctn-0051`). `provider_type` =
    `third_sector`: the CTN runs its trials in community treatment programmes, mostly non-profit
    US clinics; the contract's codes are English, none fits exactly, and a trial is neither an NHS
    body nor a local authority. `area_code` = `US`, `area_name` = "United States (sites masked)": the
    sites are masked in the data (`site_masked`), so no finer area exists.
  * Each trial arm (`randomization.treatment`) is a programme: `ctn-0027-methadone`,
    `ctn-0027-bup-nx`, `ctn-0030-bup-emm`, `ctn-0030-bup-smm`, `ctn-0051-bup-nx`,
    `ctn-0051-xr-ntx`. `setting` = `community` for all six: the 24-week (CTN-0027, CTN-0051) and
    4/16-week (CTN-0030) medication phases were outpatient. CTN-0051's arm labels say "Inpatient"
    because participants were recruited and randomised during an inpatient detox stay; that stay
    preceded the trial's treatment and is not imported (the `detox` table is not read).
  * POATS (CTN-0030) phase 1 and phase 2 are the same two arms (EMM, SMM), so a phase-2 episode is
    in the programme of its second randomisation's arm, which may differ from phase 1's.

people
  * `person_id` = `ctn<trial>-<who>`, e.g. `ctn0027-00008` (13 characters of the contract's
    alphabet, never a 10-digit number).
  * `sex` from `demographics.is_male` (the data's sex, not gender): Yes → male, No → female,
    missing → unknown.
  * `birth_year` = anchor year − `demographics.age` (age at intake), so age bands are the age at
    consent (± 1 year); missing age → null.
  * `ethnic_group` from `demographics.race`: White → white, Black → black, Other → other,
    Refused/missing or missing → unknown. `is_hispanic` is not used: Hispanic is a US ethnicity
    with no counterpart in the contract's (England's census) groups, which classify by the race
    answer. Any other race label stops the import.
  * `area_code` = null (no residence data).

episodes (one per randomisation)
  * `referral_date` = the randomisation day. `randomization` rows with `which` = 2 that repeat the
    person's first randomisation (same day, same arm) are duplicates, as for every CTN-0027 and
    CTN-0051 participant, and are dropped; a `which` = 2 row that differs is POATS's phase-2
    re-randomisation and becomes a second episode (`<person_id>-r2`; the first is `-r1`). A second
    randomisation in a trial without a phase 2 stops the import.
  * `start_date` = the first study-medication dose (`treatment`) on or after the randomisation;
    each dose belongs to the latest randomisation on or before it. Doses before the person's first
    randomisation, and doses of people never randomised, are left out (counted).
  * `discharge_date` = the end of medication cover: the last day covered by the episode's last
    dose. A daily dose (methadone, buprenorphine) covers its own day; an XR-naltrexone injection
    (every dose of the CTN-0051 XR-NTX arm, recorded with `amount` = 1) covers 28 days, the
    labelled dosing interval of Vivitrol 380 mg ("every 4 weeks or once a month"), so it ends on
    injection day + 27.
    Gaps in dosing do not split an episode. A phase-1 cover that would reach the person's phase-2
    randomisation is cut at that day, so the two episodes never overlap.
  * `discharge_reason` (the planned medication period of each protocol, from
    `meta_study_length`: CTN-0027 and CTN-0051 24 weeks = 168 days of maintenance; POATS phase 1
    2 weeks stabilisation + 2 weeks taper = 28 days, phase 2 12 weeks + 4 weeks taper = 112 days):
      - never dosed → `declined`, discharge_date = referral_date. The contract's only reason for
        a referral that never started; the data do not say whether the person chose not to start
        or could not (e.g. an XR-naltrexone induction that failed during detox).
      - cover reached the last planned week (discharge ≥ referral + planned days − 7) in a
        maintenance protocol (CTN-0027, CTN-0051) → `transferred_not_in_custody`: at the end of
        the trial's medication phase participants were referred on to continuing care, so the
        journey continued elsewhere. (Outcome group `transferred`: censored, not counted as
        successful or unplanned.)
      - cover reached the last planned week of a taper-to-zero protocol (POATS phases 1 and 2) →
        `completed_drug_free` when the episode's last valid opioid test (substance opiates or
        fentanyl) between its start and its discharge is negative; otherwise (last test
        positive, or none) → `other`: the medication schedule was completed, but NDTMS allows
        no completion code for someone still using opioids, and "drug-free" needs a test to say
        so.
      - cover ended earlier → `died` when the person has a visit with `is_dead` = 1 and this is
        their last episode (2 people, both CTN-0051), else `dropped_out`. The other missed-visit
        reasons (jail, hospital, moved...) are on visits with no date (98% of missed visits), so
        they cannot be placed before or after the end of cover and are not used.
  * `referral_source`: `health` for CTN-0051 (recruited from inpatient detox units by design);
    `unknown` for CTN-0027 and CTN-0030 (recruitment routes are not recorded).
  * `triage_date` = null (screening precedes randomisation, and the contract wants triage ≥ referral).
  * `substance_group` = `opiate` for every episode (all three trials enrolled opioid use disorder).
  * `primary_substance`: from self-report (TLFB) in the 28 days before the randomisation, the
    opioid with the most use days: Heroin → `heroin`, Methadone → `illicit_methadone`, other
    opioids (TLFB "Opioid", which groups codeine, fentanyl, hydrocodone, oxycodone... and
    Buprenorphine) → `other_opioid`; ties go heroin, then other_opioid, then illicit_methadone. With
    no opioid day recorded in that window, the trial's enrolled population decides: `other_opioid`
    for CTN-0030 (POATS enrolled prescription-opioid dependence), `heroin` for CTN-0027 and
    CTN-0051.
  * `injecting_status` (baseline, the same for all of a person's episodes): `currently` when the
    risk-behaviour survey reports injecting on any of the last 30 days (`rbs_iv.days` > 0, the
    nearest the data come to NDTMS's 28 days); else `previously` when the ASI says the person has
    injected (`asi.used_iv` = Yes); else `never` when both say no (`rbs_iv.days` = 0 and
    `used_iv` = No); else `unknown`.
  * `ost` = true when the episode started and its arm's medication is methadone or buprenorphine;
    false for XR-naltrexone (an antagonist, not substitution) and for episodes never started.

contacts (attended visits)
  * A `visit` row is an attended visit when `what` is "visit" or "final", or when `what` is empty
    on a dated row (CTN-0030's BASELINE and unscheduled P1Unsc/P2Unsc visits carry no
    disposition). "Cross Active Study" rows are not visits (undocumented; nearly all share a date
    with another visit) and are left out, as are rows with `what` = "MISSING" and missed visits
    ("no visit"): 98% of missed visits have no date, so a did-not-attend count would be mostly
    missing. Visits without a date are left out. Two attended visits of a person on one day are
    one contact.
  * Each contact belongs to the person's latest randomisation on or before its date (its
    programme). Up to the episode's discharge date it is in the episode: `support_type` =
    `keyworking` (the trial's scheduled review: medication management and research assessment).
    After discharge it is a follow-up visit: `support_type` = `recovery_check_up`, episode_id
    null. Visits before the person's first randomisation (screening, baseline) are left out.
  * `delivered_by` = `professional` (trial clinicians and research staff; the data have no
    peer-support variables), `attended` = true, `duration_minutes` = null (not recorded).

drug_tests (urine screens)
  * A specimen is a person-day in `uds_temp` (specimens collected, with their temperature check)
    or in `uds` (positive results). Each specimen gets one row per substance of its trial's panel
    (from `meta_substance_groups_uds`): CTN-0027 opiates, methadone, cocaine, amphetamine,
    benzodiazepine, cannabis, alcohol; CTN-0030 the same without alcohol, with buprenorphine;
    CTN-0051 as CTN-0030 plus `other` (barbiturates). A positive of a substance off the panel is
    still written.
  * `uds.what` → substance: Opioid → `opiates` (the harmonised opioid screen: opiates 300/2000,
    oxycodone, propoxyphene), Methadone → `methadone`, Buprenorphine → `buprenorphine`, Cocaine →
    `cocaine`, Amphetamine (amphetamine and methamphetamine) → `amphetamine`, Benzodiazepine →
    `benzodiazepine`, Thc → `cannabis`, Alcohol → `alcohol`, Sedatives (barbiturates) and
    Mdma/Hallucinogen → `other`. Any other label stops the import. No trial screened for fentanyl.
    Methadone and buprenorphine positives are written as such; under the relapse definition they
    are not opioid use (only `opiates`/`fentanyl` are).
  * `result`: `positive` when `uds` lists the substance that day; otherwise `negative`, except when
    every temperature check of that day's specimen failed (`was_temp_ok` = 0): then `invalid`
    (a sample outside 33.3-35.5 °C, 92-96 °F, may be diluted or substituted, which hides use
    but cannot create a positive, so positives stay positive). `was_temp_ok` = 99 (unknown)
    counts as a valid sample.
  * `sample` = `urine`. `test_id` = `<person_id>-d<study day>-<substance>` (`m` for a minus sign),
    so ids do not change with the anchor; contacts are `<person_id>-c<study day>` likewise.
  * `episode_id` = the person's latest randomisation on or before the test date, also after the
    episode's discharge: trial urine screens follow the randomisation (intention to treat). Tests
    before the first randomisation have a null episode_id.

assessments (self-reported use → TOP days-used columns)
  * Self-report is the timeline follow-back (`tlfb`): one row per substance per day used, with
    the study drug already removed by CTN-0094. A day with no row is a day without use while the
    person was being followed.
  * 28-day windows, fixed to the episode's referral date: an assessment dated D reports the 28
    days D−28 ... D−1. The `start` assessment is dated referral_date (the 28 days before
    randomisation); then one every 28 days, D = referral + 28 j, for j = 1 ... the protocol's
    weeks / 4 (CTN-0027 and CTN-0051: 6, to week 24; POATS phase 1: 3, to the end of its 8-week
    post-medication follow-up; phase 2: 6). A POATS phase-1 window that would reach the phase-2
    randomisation is not written (the phase-2 episode's `start` covers those days).
  * A window is written only when self-report covers it: it lies between the person's first and
    last day of follow-up, where follow-up starts 30 days before consent (the TLFB baseline recall,
    as in CTN-0094's own weekly patterns; only for people with any TLFB record) and ends on the
    last day with a TLFB record, an attended visit, a urine specimen or a dose, counting only days
    up to 14 days past the end of the person's last protocol (so stray late dates do not extend it).
  * `stage`: `start`; `review` for windows that end before the discharge date; `exit` for the
    window in which the episode was discharged; `post_exit` (episode_id null, a post-treatment
    check-up) for windows after it.
  * `days_opiates` = days with Heroin, Opioid, Methadone or Buprenorphine (the study drug removed,
    so all non-study opioid use, as CTN-0094 counts it); `days_cocaine` = Cocaine (crack is not
    told apart, so `days_crack` = null); `days_amphetamine` = Amphetamine; `days_cannabis` = THC;
    `days_alcohol` = Alcohol. `days_injected`, health and quality-of-life scores, paid work,
    housing and recovery capital = null (not in these tables). Other TLFB substances
    (benzodiazepines, hallucinogens...) have no TOP column and are not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.contract import TABLES

DEFAULT_ANCHOR = date(2020, 1, 1)
#: The contract version the written extract follows (it has the optional drug_tests table).
EXTRACT_CONTRACT_VERSION = 2

#: Columns read from each source table (the real tables have these, some have more).
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "everybody": ("who", "project"),
    "randomization": ("who", "treatment", "which", "when"),
    "treatment": ("who", "amount", "when"),
    "visit": ("who", "visit", "what", "is_dead", "when"),
    "uds": ("who", "what", "when"),
    "uds_temp": ("who", "was_temp_ok", "when"),
    "tlfb": ("who", "what", "when"),
    "demographics": ("who", "age", "race", "is_male"),
    "asi": ("who", "used_iv"),
    "rbs_iv": ("who", "days"),
}

#: Source tables with one row per person.
PERSON_TABLES = ("everybody", "demographics", "asi", "rbs_iv")

#: Columns of the contract's drug_tests table (docs/contract.md v2), in order.
DRUG_TEST_COLUMNS = ("test_id", "person_id", "episode_id", "test_date", "sample", "substance", "result")


@dataclass(frozen=True)
class Trial:
    """One CTN trial: the provider it becomes."""

    project: int
    provider_id: str
    provider_name: str
    referral_source: str
    default_primary_substance: str


TRIALS: dict[int, Trial] = {
    27: Trial(27, "ctn-0027", "NIDA CTN-0027 START trial", "unknown", "heroin"),
    30: Trial(30, "ctn-0030", "NIDA CTN-0030 POATS trial", "unknown", "other_opioid"),
    51: Trial(51, "ctn-0051", "NIDA CTN-0051 X:BOT trial", "health", "heroin"),
}


@dataclass(frozen=True)
class Arm:
    """One trial arm (a `randomization.treatment` label): the programme it becomes."""

    project: int
    label: str
    programme_id: str
    programme_name: str
    medication: str  # methadone, buprenorphine or xr_naltrexone


ARMS: dict[tuple[int, str], Arm] = {
    (a.project, a.label): a
    for a in (
        Arm(27, "Methadone", "ctn-0027-methadone", "START methadone", "methadone"),
        Arm(27, "Outpatient BUP", "ctn-0027-bup-nx", "START buprenorphine-naloxone", "buprenorphine"),
        Arm(
            30,
            "Outpatient BUP + EMM",
            "ctn-0030-bup-emm",
            "POATS buprenorphine-naloxone with enhanced medical management",
            "buprenorphine",
        ),
        Arm(
            30,
            "Outpatient BUP + SMM",
            "ctn-0030-bup-smm",
            "POATS buprenorphine-naloxone with standard medical management",
            "buprenorphine",
        ),
        Arm(51, "Inpatient BUP", "ctn-0051-bup-nx", "X:BOT buprenorphine-naloxone", "buprenorphine"),
        Arm(51, "Inpatient NR-NTX", "ctn-0051-xr-ntx", "X:BOT extended-release naltrexone", "xr_naltrexone"),
    )
}
OPIOID_SUBSTITUTION = ("methadone", "buprenorphine")


@dataclass(frozen=True)
class Protocol:
    """The planned schedule of one trial phase, from `meta_study_length` (days after randomisation)."""

    medication_days: int
    follow_up_days: int
    ends_in_taper: bool


ASSESSMENT_WINDOW_DAYS = 28
#: (trial, phase) → protocol. Phase = the randomisation's order for the person (1 or 2).
PROTOCOLS: dict[tuple[int, int], Protocol] = {
    (27, 1): Protocol(medication_days=168, follow_up_days=0, ends_in_taper=False),
    (30, 1): Protocol(medication_days=28, follow_up_days=56, ends_in_taper=True),
    (30, 2): Protocol(medication_days=112, follow_up_days=56, ends_in_taper=True),
    (51, 1): Protocol(medication_days=168, follow_up_days=0, ends_in_taper=False),
}
#: Days one XR-naltrexone injection covers (Vivitrol's labelled interval, every 4 weeks).
INJECTION_COVER_DAYS = 28
#: Cover ending within the last planned week (planned days − 7 or later) counts as completed.
COMPLETION_TOLERANCE_DAYS = 7
#: Follow-up evidence later than this after the last protocol's end is ignored for TLFB coverage.
FOLLOW_UP_SLACK_DAYS = 14
#: TLFB baseline recall reaches back this many days before consent (CTN-0094's weekly patterns).
TLFB_BASELINE_DAYS = 30

#: `uds.what` → contract substance.
UDS_SUBSTANCES: dict[str, str] = {
    "Opioid": "opiates",
    "Methadone": "methadone",
    "Buprenorphine": "buprenorphine",
    "Cocaine": "cocaine",
    "Amphetamine": "amphetamine",
    "Benzodiazepine": "benzodiazepine",
    "Thc": "cannabis",
    "Alcohol": "alcohol",
    "Sedatives": "other",
    "Mdma/Hallucinogen": "other",
}
#: Substances each trial's urine panel tested (meta_substance_groups_uds), as contract codes.
UDS_PANELS: dict[int, tuple[str, ...]] = {
    27: ("opiates", "methadone", "cocaine", "amphetamine", "benzodiazepine", "cannabis", "alcohol"),
    30: ("opiates", "methadone", "buprenorphine", "cocaine", "amphetamine", "benzodiazepine", "cannabis"),
    51: (
        "opiates",
        "methadone",
        "buprenorphine",
        "cocaine",
        "amphetamine",
        "benzodiazepine",
        "cannabis",
        "other",
    ),
}
RELAPSE_OPIOIDS = ("opiates", "fentanyl")

#: TOP days-used column → the TLFB substances it counts.
TLFB_DAYS_COLUMNS: dict[str, tuple[str, ...]] = {
    "days_opiates": ("Heroin", "Opioid", "Methadone", "Buprenorphine"),
    "days_cocaine": ("Cocaine",),
    "days_amphetamine": ("Amphetamine",),
    "days_cannabis": ("THC",),
    "days_alcohol": ("Alcohol",),
}
#: Primary substance → the TLFB substances that count for it, in tie-break order.
TLFB_PRIMARY_OPIOIDS: dict[str, tuple[str, ...]] = {
    "heroin": ("Heroin",),
    "other_opioid": ("Opioid", "Buprenorphine"),
    "illicit_methadone": ("Methadone",),
}

RACE_GROUPS = {"White": "white", "Black": "black", "Other": "other", "Refused/missing": "unknown"}
ATTENDED_WHAT = ("visit", "final")
NOT_A_VISIT = ("Cross Active Study",)


class ImportResult(dict[str, int]):
    """Rows written per table (a dict), with what the source held that the extract leaves out.

    `left_out` maps a description to a count (records of the source not written, and why); `notes`
    maps a description to a count of records written with a decision worth knowing.
    """

    def __init__(
        self, rows: dict[str, int], *, left_out: dict[str, int], notes: dict[str, int], as_of: date, out: Path
    ) -> None:
        super().__init__(rows)
        self.left_out = left_out
        self.notes = notes
        self.as_of = as_of
        self.out = out


def import_ctn0094(src: Path, out: Path, *, anchor: date = DEFAULT_ANCHOR) -> ImportResult:
    """Turn the CTN-0094 CSV tables in `src` into a contract (v2) extract folder `out`.

    Writes providers, programmes, people, episodes, contacts, assessments and drug_tests as CSV in
    the contract's spellings, and extract.json (`contract_version` 2, `as_of`). `anchor` is the
    date of study day 0 (consent) for every participant. Every mapping decision is in the module
    docstring. Returns the rows written per table; `result.left_out` says what was not written.
    Raises ValueError when a table or column is missing or a code is one this importer does not
    know (a new arm, substance or race label), rather than guessing.
    """
    src, out = Path(src), Path(out)
    source = _read_sources(src)
    left_out: dict[str, int] = {}
    notes: dict[str, int] = {}

    randomised = _randomisations(source, left_out)
    people = _people(source, randomised, anchor)
    doses = _assign_doses(source["treatment"], randomised, left_out)
    tests = _drug_tests(source, randomised, left_out)
    episodes = _episodes(randomised, doses, tests, source, notes)
    contacts = _contacts(source["visit"], episodes, left_out)
    assessments, baseline_opioids = _assessments(source, episodes, doses, tests, left_out)
    episodes = _episode_attributes(episodes, baseline_opioids, source, notes)

    tables = {
        "providers": _providers(),
        "programmes": _programmes(),
        "people": people,
        "episodes": episodes,
        "contacts": contacts,
        "assessments": assessments,
        "drug_tests": tests,
    }
    last_day = max(
        int(episodes[["referral_day", "start_day", "discharge_day"]].max().max()),
        int(contacts["contact_day"].max()) if len(contacts) else 0,
        int(assessments["assessment_day"].max()) if len(assessments) else 0,
        int(tests["test_day"].max()) if len(tests) else 0,
    )
    as_of = anchor + timedelta(days=last_day)

    out.mkdir(parents=True, exist_ok=True)
    rows = {name: _write_table(name, frame, out, anchor) for name, frame in tables.items()}
    manifest = {
        "contract_version": EXTRACT_CONTRACT_VERSION,
        "as_of": as_of.isoformat(),
        "source": "CTN-0094 (public.ctn0094data, public.ctn0094extra)",
        "importer": "rosc import ctn0094",
        "anchor": anchor.isoformat(),
    }
    (out / "extract.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ImportResult(rows, left_out=left_out, notes=notes, as_of=as_of, out=out)


# ---------------------------------------------------------------------------------------------
# Reading.


def _read_sources(src: Path) -> dict[str, pd.DataFrame]:
    if not src.is_dir():
        raise ValueError(f"{src}: not a folder of CTN-0094 CSV tables")
    frames: dict[str, pd.DataFrame] = {}
    for table, columns in SOURCE_COLUMNS.items():
        path = src / f"{table}.csv"
        if not path.is_file():
            raise ValueError(f"{path}: table {table} is missing")
        header = pd.read_csv(path, nrows=0).columns
        missing = [c for c in columns if c not in header]
        if missing:
            raise ValueError(f"{path}: column(s) {', '.join(missing)} missing")
        # Empty = missing; nothing else is (no CTN label reads as a pandas NA word).
        frame = pd.read_csv(path, usecols=list(columns), keep_default_na=False, na_values=[""], dtype=str)
        for column in ("who", "when", "which", "amount", "age", "days", "project", "is_dead"):
            if column in frame:
                frame[column] = _integers(frame[column], path, column)
        if table in PERSON_TABLES and frame["who"].duplicated().any():
            who = frame.loc[frame["who"].duplicated(), "who"].iloc[0]
            raise ValueError(f"{path}: person {who} has more than one row (one row per person expected)")
        frames[table] = frame
    return frames


def _integers(values: pd.Series, path: Path, column: str) -> pd.Series:
    number = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (number.isna() | (number != np.floor(number)))
    if bad.any():
        raise ValueError(f"{path}: column {column} has a non-integer value {values[bad].iloc[0]!r}")
    return number.astype("Int64")


# ---------------------------------------------------------------------------------------------
# Randomisations and people.


def _person_id(project: pd.Series, who: pd.Series) -> pd.Series:
    return "ctn" + project.astype(int).map("{:04d}".format) + "-" + who.astype(int).map("{:05d}".format)


def _randomisations(source: dict[str, pd.DataFrame], left_out: dict[str, int]) -> pd.DataFrame:
    """One row per randomisation kept: who, project, phase, arm, programme_id, referral_day, ids."""
    everybody = source["everybody"].dropna(subset=["who"])
    unknown_trials = set(everybody["project"].dropna().astype(int)) - set(TRIALS)
    if unknown_trials:
        raise ValueError(f"everybody.csv: unknown project(s) {sorted(unknown_trials)}")
    rand = source["randomization"].merge(everybody, on="who", how="left")
    if rand["project"].isna().any():
        raise ValueError("randomization.csv: a randomised person is not in everybody.csv")
    undated = rand["when"].isna()
    _count(left_out, "randomisations without a date", int(undated.sum()))
    rand = rand[~undated].copy()
    rand["project"] = rand["project"].astype(int)
    keys = list(zip(rand["project"], rand["treatment"], strict=True))
    unknown_arms = sorted({k for k in keys if k not in ARMS}, key=str)
    if unknown_arms:
        raise ValueError(f"randomization.csv: unknown trial arm(s) {unknown_arms}")
    rand["programme_id"] = [ARMS[k].programme_id for k in keys]
    rand["medication"] = [ARMS[k].medication for k in keys]
    rand = rand.sort_values(["who", "which", "when"], kind="stable")
    # A later randomisation that repeats an earlier one (same day, same arm) is a duplicate.
    duplicate = rand.duplicated(["who", "when", "treatment"], keep="first")
    _count(
        left_out, "randomisation rows repeating the person's first (same day and arm)", int(duplicate.sum())
    )
    rand = rand[~duplicate].copy()
    rand["phase"] = rand.groupby("who").cumcount() + 1
    no_protocol = [
        (int(w), p, ph)
        for w, p, ph in zip(rand["who"], rand["project"], rand["phase"], strict=True)
        if (p, ph) not in PROTOCOLS
    ]
    if no_protocol:
        who, project, phase = no_protocol[0]
        raise ValueError(
            f"randomization.csv: person {who} has randomisation {phase} in CTN-00{project}, a trial "
            "with no such phase"
        )
    rand["person_id"] = _person_id(rand["project"], rand["who"])
    rand["episode_id"] = rand["person_id"] + "-r" + rand["phase"].astype(str)
    rand["referral_day"] = rand["when"].astype("int64")
    rand = rand.sort_values(["who", "referral_day", "phase"]).reset_index(drop=True)
    rand["next_referral_day"] = rand.groupby("who")["referral_day"].shift(-1).astype("Int64")
    rand["medication_days"] = [
        PROTOCOLS[(p, ph)].medication_days for p, ph in zip(rand["project"], rand["phase"], strict=True)
    ]
    rand["follow_up_days"] = [
        PROTOCOLS[(p, ph)].follow_up_days for p, ph in zip(rand["project"], rand["phase"], strict=True)
    ]
    rand["ends_in_taper"] = [
        PROTOCOLS[(p, ph)].ends_in_taper for p, ph in zip(rand["project"], rand["phase"], strict=True)
    ]
    never = ~everybody["who"].isin(rand["who"])
    _count(
        left_out,
        "people consented but never randomised (no arm, so no programme or episode)",
        int(never.sum()),
    )
    return rand[
        [
            "episode_id",
            "person_id",
            "who",
            "project",
            "phase",
            "programme_id",
            "medication",
            "referral_day",
            "next_referral_day",
            "medication_days",
            "follow_up_days",
            "ends_in_taper",
        ]
    ]


def _people(source: dict[str, pd.DataFrame], randomised: pd.DataFrame, anchor: date) -> pd.DataFrame:
    people = randomised.drop_duplicates("who")[["who", "person_id"]]
    people = people.merge(source["demographics"], on="who", how="left")
    unknown_race = set(people["race"].dropna()) - set(RACE_GROUPS)
    if unknown_race:
        raise ValueError(f"demographics.csv: unknown race label(s) {sorted(unknown_race)}")
    return pd.DataFrame(
        {
            "person_id": people["person_id"],
            "sex": people["is_male"].map({"Yes": "male", "No": "female"}).fillna("unknown"),
            "birth_year": (anchor.year - people["age"]).astype("Int64"),
            "ethnic_group": people["race"].map(RACE_GROUPS).fillna("unknown"),
            "area_code": pd.Series(pd.NA, index=people.index, dtype="string"),
        }
    )


def _providers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "provider_id": [t.provider_id for t in TRIALS.values()],
            "provider_name": [t.provider_name for t in TRIALS.values()],
            "provider_type": "third_sector",
            "area_code": "US",
            "area_name": "United States (sites masked)",
        }
    )


def _programmes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "programme_id": [a.programme_id for a in ARMS.values()],
            "provider_id": [TRIALS[a.project].provider_id for a in ARMS.values()],
            "programme_name": [a.programme_name for a in ARMS.values()],
            "setting": "community",
        }
    )


# ---------------------------------------------------------------------------------------------
# Linking dated records to randomisations.


def _link(records: pd.DataFrame, day: str, randomised: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`records` (who, `day`) with `columns` of the person's latest randomisation on or before `day`
    (missing when there is none)."""
    keyed = records.reset_index(drop=True)
    keyed["_day"] = keyed[day].astype("int64")
    keyed["_row"] = np.arange(len(keyed))
    right = randomised[["who", "referral_day", *columns]].copy()
    right["who"] = right["who"].astype("int64")
    left = keyed[["who", "_day", "_row"]].copy()
    left["who"] = left["who"].astype("int64")
    linked = pd.merge_asof(
        left.sort_values("_day"),
        right.sort_values("referral_day"),
        left_on="_day",
        right_on="referral_day",
        by="who",
        direction="backward",
    ).sort_values("_row")
    for column in ["referral_day", *columns]:
        keyed[column] = linked[column].to_numpy()
    return keyed.drop(columns=["_day", "_row"])


def _assign_doses(
    treatment: pd.DataFrame, randomised: pd.DataFrame, left_out: dict[str, int]
) -> pd.DataFrame:
    """Doses with their episode and the last day each covers."""
    doses = treatment.dropna(subset=["who", "when"])
    _count(left_out, "treatment rows without a day", len(treatment) - len(doses))
    known = doses["who"].isin(randomised["who"])
    _count(left_out, "treatment rows of people never randomised", int((~known).sum()))
    doses = _link(doses[known], "when", randomised, ["episode_id", "medication"])
    early = doses["episode_id"].isna()
    _count(left_out, "treatment rows dated before the person's first randomisation", int(early.sum()))
    doses = doses[~early].copy()
    doses["day"] = doses["when"].astype("int64")
    cover = np.where(doses["medication"] == "xr_naltrexone", INJECTION_COVER_DAYS, 1)
    doses["cover_end_day"] = doses["day"] + cover - 1
    return doses[["who", "episode_id", "day", "cover_end_day"]]


# ---------------------------------------------------------------------------------------------
# Drug tests.


def _drug_tests(
    source: dict[str, pd.DataFrame], randomised: pd.DataFrame, left_out: dict[str, int]
) -> pd.DataFrame:
    uds, temp = source["uds"], source["uds_temp"]
    unknown = set(uds["what"].dropna()) - set(UDS_SUBSTANCES)
    if unknown:
        raise ValueError(f"uds.csv: unknown substance label(s) {sorted(unknown)}")
    positives = uds.dropna(subset=["who", "when", "what"])
    temp = temp.dropna(subset=["who", "when"])
    _count(
        left_out,
        "uds/uds_temp rows without a day or substance",
        (len(uds) - len(positives)) + (len(source["uds_temp"]) - len(temp)),
    )
    persons = randomised.drop_duplicates("who")[["who", "project", "person_id"]]
    positives = positives.assign(substance=positives["what"].map(UDS_SUBSTANCES))
    # Sedatives and Mdma/Hallucinogen are both `other`: one result per substance code and day.
    coded = positives[["who", "when", "substance"]].drop_duplicates()
    _count(left_out, "uds positives repeating a substance code on the same day", len(positives) - len(coded))
    positives = coded
    _count(
        left_out,
        "uds_temp rows repeating a person's specimen day (one specimen a day)",
        int(temp.duplicated(["who", "when"]).sum()),
    )
    # A specimen failed its temperature check only when every check of that day says 0.
    failed = (temp["was_temp_ok"] == "0").groupby([temp["who"], temp["when"]]).all().rename("failed")
    specimens = pd.concat([temp[["who", "when"]], positives[["who", "when"]]]).drop_duplicates()
    specimens = specimens.merge(failed.reset_index(), on=["who", "when"], how="left")
    specimens["failed"] = specimens["failed"].astype("boolean").fillna(False).astype(bool)
    in_trial = specimens["who"].isin(persons["who"])
    _count(left_out, "urine specimens of people never randomised", int((~in_trial).sum()))
    specimens = specimens[in_trial].merge(persons, on="who")
    panel = pd.DataFrame(
        [(p, s) for p, substances in UDS_PANELS.items() for s in substances], columns=["project", "substance"]
    )
    rows = specimens.merge(panel, on="project")
    extra = positives.merge(specimens[["who", "when", "project", "person_id", "failed"]], on=["who", "when"])
    rows = pd.concat([rows, extra[rows.columns]]).drop_duplicates(["who", "when", "substance"])
    rows = rows.merge(positives.assign(positive=True), on=["who", "when", "substance"], how="left")
    positive = rows["positive"].astype("boolean").fillna(False).astype(bool)
    rows["result"] = np.where(positive, "positive", np.where(rows["failed"], "invalid", "negative"))
    rows["test_day"] = rows["when"].astype("int64")
    rows = _link(rows, "test_day", randomised, ["episode_id"])
    rows["sample"] = "urine"
    rows["test_id"] = rows["person_id"] + "-d" + _day_token(rows["test_day"]) + "-" + rows["substance"]
    rows = rows.sort_values(["who", "test_day", "substance"]).reset_index(drop=True)
    return rows[["test_id", "who", "person_id", "episode_id", "test_day", "sample", "substance", "result"]]


# ---------------------------------------------------------------------------------------------
# Episodes.


def _episodes(
    randomised: pd.DataFrame,
    doses: pd.DataFrame,
    tests: pd.DataFrame,
    source: dict[str, pd.DataFrame],
    notes: dict[str, int],
) -> pd.DataFrame:
    by_episode = doses.groupby("episode_id").agg(
        start_day=("day", "min"), cover_end_day=("cover_end_day", "max")
    )
    episodes = randomised.merge(by_episode, on="episode_id", how="left")
    started = episodes["start_day"].notna()
    cover_end = episodes["cover_end_day"].astype("Int64")
    cut = started & episodes["next_referral_day"].notna() & (cover_end > episodes["next_referral_day"])
    _count(notes, "episodes whose medication cover was cut at the next randomisation", int(cut.sum()))
    discharge = cover_end.where(~cut, episodes["next_referral_day"])
    episodes["discharge_day"] = discharge.where(started, episodes["referral_day"]).astype("int64")
    episodes["start_day"] = episodes["start_day"].astype("Int64")

    completed = started & (
        episodes["discharge_day"]
        >= episodes["referral_day"] + episodes["medication_days"] - COMPLETION_TOLERANCE_DAYS
    )
    last_opioid_negative = _last_opioid_test_negative(episodes, tests)
    visit = source["visit"]
    dead = visit.loc[visit["is_dead"].eq(1).fillna(False).astype(bool), "who"].unique()
    last_episode = ~episodes.duplicated("who", keep="last")
    reason = np.select(
        [
            ~started,
            completed & ~episodes["ends_in_taper"],
            completed & episodes["ends_in_taper"] & last_opioid_negative,
            completed & episodes["ends_in_taper"],
            episodes["who"].isin(dead) & last_episode,
        ],
        ["declined", "transferred_not_in_custody", "completed_drug_free", "other", "died"],
        default="dropped_out",
    )
    episodes["discharge_reason"] = reason
    return episodes


def _last_opioid_test_negative(episodes: pd.DataFrame, tests: pd.DataFrame) -> pd.Series:
    """Per episode: is its last valid opiates/fentanyl test between start and discharge negative?"""
    valid = tests[tests["substance"].isin(RELAPSE_OPIOIDS) & tests["result"].isin(("positive", "negative"))]
    spans = episodes[["episode_id", "who", "start_day", "discharge_day"]].dropna(subset=["start_day"])
    inside = valid[["who", "test_day", "result"]].merge(spans, on="who")
    inside = inside[
        (inside["test_day"] >= inside["start_day"]) & (inside["test_day"] <= inside["discharge_day"])
    ]
    # On a day with both results, the positive one decides.
    inside = inside.assign(is_positive=inside["result"] == "positive")
    last = inside.sort_values(["episode_id", "test_day", "is_positive"]).drop_duplicates(
        "episode_id", keep="last"
    )
    negative = last.set_index("episode_id")["is_positive"].map(lambda p: not p)
    return episodes["episode_id"].map(negative).astype("boolean").fillna(False).astype(bool)


def _episode_attributes(
    episodes: pd.DataFrame,
    baseline_opioids: pd.DataFrame,
    source: dict[str, pd.DataFrame],
    notes: dict[str, int],
) -> pd.DataFrame:
    episodes = episodes.copy()
    episodes["referral_source"] = episodes["project"].map(lambda p: TRIALS[p].referral_source)
    episodes["substance_group"] = "opiate"
    primary = baseline_opioids.set_index("episode_id").reindex(episodes["episode_id"]).fillna(0)
    order = list(TLFB_PRIMARY_OPIOIDS)  # tie-break order
    days = primary[order].to_numpy()
    chosen = np.array(order, dtype=object)[days.argmax(axis=1)]
    none = days.max(axis=1) == 0
    default = episodes["project"].map(lambda p: TRIALS[p].default_primary_substance).to_numpy()
    episodes["primary_substance"] = np.where(none, default, chosen)
    _count(
        notes,
        "episodes whose primary substance is the trial default (no opioid day in the 28 days before)",
        int(none.sum()),
    )
    episodes["injecting_status"] = episodes["who"].map(_injecting_status(source)).fillna("unknown")
    episodes["ost"] = episodes["start_day"].notna() & episodes["medication"].isin(OPIOID_SUBSTITUTION)
    episodes["triage_day"] = pd.Series(pd.NA, index=episodes.index, dtype="Int64")
    return episodes


def _injecting_status(source: dict[str, pd.DataFrame]) -> pd.Series:
    rbs = source["rbs_iv"].dropna(subset=["who"]).set_index("who")["days"]
    asi = source["asi"].dropna(subset=["who"]).set_index("who")["used_iv"]
    who = rbs.index.union(asi.index)
    recent, ever = rbs.reindex(who), asi.reindex(who)
    status = np.select(
        [
            recent.gt(0).fillna(False).to_numpy(dtype=bool),
            (ever == "Yes").to_numpy(dtype=bool),
            (recent.eq(0).fillna(False) & (ever == "No")).to_numpy(dtype=bool),
        ],
        ["currently", "previously", "never"],
        default="unknown",
    )
    return pd.Series(status, index=who)


# ---------------------------------------------------------------------------------------------
# Contacts.


def _attended_visits(visit: pd.DataFrame, left_out: dict[str, int]) -> pd.DataFrame:
    label_ok = ~visit["visit"].isin(NOT_A_VISIT)
    _count(left_out, "visit rows labelled 'Cross Active Study' (not visits)", int((~label_ok).sum()))
    attended = visit["what"].isin(ATTENDED_WHAT) | visit["what"].isna()
    _count(
        left_out, "visit rows recorded as missed or MISSING (98% undated)", int((label_ok & ~attended).sum())
    )
    dated = visit["when"].notna()
    _count(left_out, "attended visit rows without a date", int((label_ok & attended & ~dated).sum()))
    visits = visit[label_ok & attended & dated]
    unique = visits.drop_duplicates(["who", "when"])
    _count(
        left_out,
        "second attended visits of a person on the same day (one contact)",
        len(visits) - len(unique),
    )
    return unique[["who", "when"]]


def _contacts(visit: pd.DataFrame, episodes: pd.DataFrame, left_out: dict[str, int]) -> pd.DataFrame:
    visits = _attended_visits(visit, left_out)
    known = visits["who"].isin(episodes["who"])
    _count(left_out, "attended visits of people never randomised", int((~known).sum()))
    contacts = _link(
        visits[known], "when", episodes, ["episode_id", "person_id", "programme_id", "discharge_day"]
    )
    early = contacts["episode_id"].isna()
    _count(left_out, "attended visits before the person's first randomisation", int(early.sum()))
    contacts = contacts[~early].copy()
    contacts["contact_day"] = contacts["when"].astype("int64")
    in_episode = contacts["contact_day"] <= contacts["discharge_day"]
    contacts["episode_id"] = contacts["episode_id"].where(in_episode)
    contacts["support_type"] = np.where(in_episode, "keyworking", "recovery_check_up")
    contacts["contact_id"] = contacts["person_id"] + "-c" + _day_token(contacts["contact_day"])
    contacts["delivered_by"] = "professional"
    contacts["attended"] = True
    contacts["duration_minutes"] = pd.Series(pd.NA, index=contacts.index, dtype="Int64")
    return contacts.sort_values(["who", "contact_day"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Assessments.


def _follow_up_span(
    source: dict[str, pd.DataFrame], episodes: pd.DataFrame, doses: pd.DataFrame, tests: pd.DataFrame
) -> pd.DataFrame:
    """Per person: first and last day self-report is taken to cover (see the module docstring)."""
    tlfb = source["tlfb"].dropna(subset=["who", "when"])
    evidence = pd.concat(
        [
            tlfb[["who", "when"]].rename(columns={"when": "day"}),
            _attended_visits(source["visit"], {}).rename(columns={"when": "day"}),
            tests[["who", "test_day"]].rename(columns={"test_day": "day"}),
            doses[["who", "day"]],
        ]
    )
    evidence["who"] = evidence["who"].astype("int64")
    evidence["day"] = evidence["day"].astype("int64")
    ends = episodes.assign(
        end=episodes["referral_day"] + episodes["medication_days"] + episodes["follow_up_days"]
    )
    limit = ends.groupby("who")["end"].max() + FOLLOW_UP_SLACK_DAYS
    evidence = evidence[evidence["who"].isin(limit.index)]
    evidence = evidence[evidence["day"] <= evidence["who"].map(limit)]
    span = evidence.groupby("who")["day"].agg(first_day="min", last_day="max")
    has_tlfb = span.index.isin(tlfb["who"].astype("int64"))
    span["first_day"] = np.where(
        has_tlfb, np.minimum(span["first_day"], -TLFB_BASELINE_DAYS), span["first_day"]
    )
    # Without any self-report there is nothing to say "no use" about.
    return span[has_tlfb]


def _assessments(
    source: dict[str, pd.DataFrame],
    episodes: pd.DataFrame,
    doses: pd.DataFrame,
    tests: pd.DataFrame,
    left_out: dict[str, int],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assessments (28-day windows of TLFB use days), and per episode the opioid use days of its
    start window by primary-substance class."""
    windows_per_episode = (
        np.ceil((episodes["medication_days"] + episodes["follow_up_days"]) / ASSESSMENT_WINDOW_DAYS).astype(
            int
        )
        + 1
    )
    windows = episodes.loc[episodes.index.repeat(windows_per_episode)].copy()
    windows["j"] = windows.groupby("episode_id").cumcount()
    windows["first_day"] = windows["referral_day"] + ASSESSMENT_WINDOW_DAYS * (windows["j"] - 1)
    windows["last_day"] = windows["first_day"] + ASSESSMENT_WINDOW_DAYS - 1
    windows["assessment_day"] = windows["last_day"] + 1
    before_next = windows["next_referral_day"].isna() | (windows["last_day"] < windows["next_referral_day"])
    windows = windows[before_next.astype(bool)]
    span = _follow_up_span(source, episodes, doses, tests)
    windows = windows.merge(
        span.rename(columns={"first_day": "span_first", "last_day": "span_last"}),
        left_on="who",
        right_index=True,
        how="left",
    )
    covered = (windows["span_first"] <= windows["first_day"]) & (windows["last_day"] <= windows["span_last"])
    covered = covered.fillna(False).astype(bool)
    _count(left_out, "28-day assessment windows not covered by self-report follow-up", int((~covered).sum()))
    windows = windows[covered].copy()

    windows["assessment_id"] = windows["episode_id"] + "-a" + windows["j"].astype(str)
    discharge = windows["discharge_day"]
    windows["stage"] = np.select(
        [windows["j"] == 0, windows["last_day"] < discharge, windows["first_day"] <= discharge],
        ["start", "review", "exit"],
        default="post_exit",
    )
    windows["episode_id"] = windows["episode_id"].where(windows["stage"] != "post_exit")

    tlfb = source["tlfb"].dropna(subset=["who", "when", "what"])
    tlfb = tlfb.assign(who=tlfb["who"].astype("int64"), day=tlfb["when"].astype("int64"))
    counted = {s for substances in TLFB_DAYS_COLUMNS.values() for s in substances}
    tlfb = tlfb[tlfb["what"].isin(counted)][["who", "day", "what"]].drop_duplicates()
    used = windows[["assessment_id", "who", "first_day", "last_day"]].merge(tlfb, on="who")
    used = used[(used["day"] >= used["first_day"]) & (used["day"] <= used["last_day"])]
    for column, substances in TLFB_DAYS_COLUMNS.items():
        days = used[used["what"].isin(substances)].groupby("assessment_id")["day"].nunique()
        windows[column] = windows["assessment_id"].map(days).fillna(0).astype("Int64")
    start = used.merge(windows.loc[windows["j"] == 0, ["assessment_id", "episode_id"]], on="assessment_id")
    baseline = pd.DataFrame({"episode_id": windows.loc[windows["j"] == 0, "episode_id"]})
    for primary, substances in TLFB_PRIMARY_OPIOIDS.items():
        days = start[start["what"].isin(substances)].groupby("episode_id")["day"].nunique()
        baseline[primary] = baseline["episode_id"].map(days).fillna(0).astype(int)
    return windows.reset_index(drop=True), baseline


# ---------------------------------------------------------------------------------------------
# Writing.


def _day_token(days: pd.Series) -> pd.Series:
    """A study day as an id part: 45 → "45", -3 → "m3" (ids do not depend on the anchor date)."""
    days = days.astype("int64")
    return np.where(days < 0, "m", "") + days.abs().astype(str)


def _count(counts: dict[str, int], what: str, n: int) -> None:
    if n:
        counts[what] = counts.get(what, 0) + n


def _iso(anchor: date, days: pd.Series) -> pd.Series:
    base = np.datetime64(anchor.isoformat(), "D")
    values = pd.array(days, dtype="Int64")
    out = pd.Series("", index=days.index, dtype=object)
    present = ~values.isna()
    offsets = values[present].to_numpy(dtype="int64").astype("timedelta64[D]")
    out[present] = np.datetime_as_string(base + offsets, unit="D")
    return out


def _write_table(name: str, frame: pd.DataFrame, out: Path, anchor: date) -> int:
    """Write one contract table as CSV in the contract's spellings; return its row count."""
    frame = frame.copy()
    day_columns = {
        "episodes": {
            "referral_date": "referral_day",
            "triage_date": "triage_day",
            "start_date": "start_day",
            "discharge_date": "discharge_day",
        },
        "contacts": {"contact_date": "contact_day"},
        "assessments": {"assessment_date": "assessment_day"},
        "drug_tests": {"test_date": "test_day"},
    }.get(name, {})
    for column, day in day_columns.items():
        frame[column] = _iso(anchor, frame[day])
    if name == "episodes":
        frame["discharge_reason"] = frame["discharge_reason"].where(frame["discharge_date"] != "")
    if name == "drug_tests":
        columns = list(DRUG_TEST_COLUMNS)
        types = {c: "string" for c in columns}
    else:
        columns = TABLES[name].column_names
        types = {c.name: c.type for c in TABLES[name].columns}
        for column in columns:
            if column not in frame:
                frame[column] = pd.NA
    text = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column]
        if types[column] == "boolean":
            text[column] = values.map({True: "true", False: "false"}).astype(object)
        elif types[column] == "integer":
            text[column] = pd.array(values, dtype="Int64").astype("string")
        else:
            text[column] = values.astype("string")
        text[column] = text[column].astype(object).where(text[column].notna(), "")
    text.to_csv(out / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")
    return len(text)
