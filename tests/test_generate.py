"""The synthetic extract generator: determinism, the contract, and a realistic shape."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.contract import OUTCOME_GROUPS, REQUIRED_TABLES, TABLES
from pipelines.generate import generate_extract

PEOPLE = 2000
SEED = 20260331
AS_OF = date(2026, 3, 31)
DATE_COLUMNS = {
    "episodes": ["referral_date", "triage_date", "start_date", "discharge_date"],
    "contacts": ["contact_date"],
    "assessments": ["assessment_date"],
}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csv")
    generate_extract(out, people=PEOPLE, seed=SEED, fmt="csv")
    return out


@pytest.fixture(scope="module")
def extract(csv_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(
            csv_dir / f"{name}.csv", dtype={"person_id": str}, parse_dates=DATE_COLUMNS.get(name, [])
        )
        for name in REQUIRED_TABLES
    }


# -- determinism and file format ---------------------------------------------------------------------


def test_same_seed_gives_identical_csv_files(csv_dir: Path, tmp_path: Path) -> None:
    counts = generate_extract(tmp_path, people=PEOPLE, seed=SEED, fmt="csv")
    assert _files(tmp_path) == _files(csv_dir)
    assert set(counts) == set(REQUIRED_TABLES)


def test_same_seed_gives_identical_parquet_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    counts = generate_extract(first, people=300, seed=7, fmt="parquet")
    generate_extract(second, people=300, seed=7, fmt="parquet")
    assert _files(first) == _files(second)
    for name in REQUIRED_TABLES:
        table = pq.read_table(first / f"{name}.parquet")
        assert table.num_rows == counts[name]
        expected = {
            "string": pa.string(),
            "code": pa.string(),
            "date": pa.date32(),
            "integer": pa.int32(),
            "boolean": pa.bool_(),
        }
        assert table.column_names == TABLES[name].column_names
        for column in TABLES[name].columns:
            assert table.schema.field(column.name).type == expected[column.type], (name, column.name)


def test_different_seed_gives_different_files(csv_dir: Path, tmp_path: Path) -> None:
    generate_extract(tmp_path, people=PEOPLE, seed=SEED + 1, fmt="csv")
    ours, theirs = _files(tmp_path), _files(csv_dir)
    assert ours["people.csv"] != theirs["people.csv"]
    assert ours["contacts.csv"] != theirs["contacts.csv"]


def test_manifest_and_csv_text(csv_dir: Path, extract: dict[str, pd.DataFrame]) -> None:
    manifest = json.loads((csv_dir / "extract.json").read_text())
    assert manifest == {
        "contract_version": 2,
        "as_of": "2026-03-31",
        "generator": "rosc generate",
        "seed": SEED,
        "people": PEOPLE,
        "prison_release_people": 0,  # only with prison_releases=True (rosc demo)
    }
    episodes_text = (csv_dir / "episodes.csv").read_text(encoding="utf-8")
    header, first = episodes_text.splitlines()[:2]
    assert header == ",".join(TABLES["episodes"].column_names)
    assert first.endswith((",true", ",false"))
    assert '"' not in episodes_text and "True" not in episodes_text
    assessments_text = (csv_dir / "assessments.csv").read_text(encoding="utf-8")
    assert ".0," not in assessments_text and ".0\n" not in assessments_text
    for name in REQUIRED_TABLES:
        assert list(extract[name].columns) == TABLES[name].column_names


# -- the contract -------------------------------------------------------------------------------------


def test_codes_come_from_the_contract_and_all_appear(extract: dict[str, pd.DataFrame]) -> None:
    for name in REQUIRED_TABLES:
        for column in TABLES[name].columns:
            if column.codes is None:
                continue
            seen = set(extract[name][column.name].dropna())
            assert seen <= set(column.codes), (name, column.name, seen - set(column.codes))
            assert seen == set(column.codes), (name, column.name, set(column.codes) - seen)


def test_keys_references_and_ranges(extract: dict[str, pd.DataFrame]) -> None:
    for name in REQUIRED_TABLES:
        table, frame = TABLES[name], extract[name]
        assert frame[table.key].is_unique, name
        for column in table.columns:
            values = frame[column.name]
            if column.required:
                assert values.notna().all(), (name, column.name)
            if column.references:
                ref_table, ref_column = column.references
                assert values.dropna().isin(extract[ref_table][ref_column]).all(), (name, column.name)
            if column.min_value is not None:
                assert values.dropna().ge(column.min_value).all(), (name, column.name)
            if column.max_value is not None:
                assert values.dropna().le(column.max_value).all(), (name, column.name)
    people = extract["people"]
    assert people.person_id.str.fullmatch(r"P[0-9A-Z]{10}").all()
    assert people.birth_year.dropna().le(AS_OF.year - 12).all()
    assert people.area_code.isna().any() and people.area_code.notna().mean() > 0.95
    for name in ("contacts", "assessments"):
        linked = extract[name].dropna(subset=["episode_id"])
        owner = linked.episode_id.map(extract["episodes"].set_index("episode_id").person_id)
        assert (owner == linked.person_id).all(), name


def test_dates_are_ordered_and_not_after_as_of(extract: dict[str, pd.DataFrame]) -> None:
    as_of = pd.Timestamp(AS_OF)
    for name, columns in DATE_COLUMNS.items():
        for column in columns:
            assert extract[name][column].dropna().le(as_of).all(), (name, column)
    e = extract["episodes"]
    assert not (e.triage_date < e.referral_date).any()
    assert not (e.start_date < e.referral_date).any()
    assert not (e.start_date < e.triage_date).any()
    assert not (e.discharge_date < e.start_date).any()
    assert not (e.discharge_date < e.triage_date).any()
    assert not (e.discharge_date < e.referral_date).any()
    assert (e.discharge_date.notna() == e.discharge_reason.notna()).all()
    assert e.start_date.isna().any() and e.discharge_date.isna().any()


def test_episodes_of_a_person_do_not_overlap_in_one_programme(extract: dict[str, pd.DataFrame]) -> None:
    e = extract["episodes"].sort_values(["person_id", "programme_id", "referral_date"])
    same = e.person_id.eq(e.person_id.shift()) & e.programme_id.eq(e.programme_id.shift())
    previous_end = e.discharge_date.shift()
    assert not (same & (previous_end.isna() | (e.referral_date <= previous_end))).any()


# -- a realistic local system -------------------------------------------------------------------------


def test_providers_and_programmes(extract: dict[str, pd.DataFrame]) -> None:
    providers, programmes = extract["providers"], extract["programmes"]
    assert 8 <= len(providers) <= 12
    assert set(providers.provider_type) == set(TABLES["providers"].column("provider_type").codes)
    assert 3 <= providers.area_code.nunique() <= 4
    assert providers.area_code.str.fullmatch(r"E0[6-9]\d{6}").all()
    assert 20 <= len(programmes) <= 40
    assert set(programmes.setting) == set(TABLES["programmes"].column("setting").codes)
    assert (programmes.setting == "community").mean() > 0.5


def test_substance_mix_and_people(extract: dict[str, pd.DataFrame]) -> None:
    e, people = extract["episodes"], extract["people"]
    group = e.groupby("person_id").substance_group.first()
    assert 0.40 <= (group == "opiate").mean() <= 0.60
    assert 0.20 <= (group == "alcohol").mean() <= 0.36
    assert 0.60 <= (people.sex == "male").mean() <= 0.75
    assert 1.5 <= len(e) / len(people) <= 2.6
    age = people.set_index("person_id").birth_year.rsub(AS_OF.year)
    assert age[group[group == "opiate"].index].median() > age[group[group == "non_opiate"].index].median()
    opiate = e[e.substance_group == "opiate"]
    assert opiate.primary_substance.isin(["heroin", "illicit_methadone", "other_opioid"]).all()
    assert (opiate.primary_substance == "heroin").mean() > 0.7
    assert (e[e.substance_group == "alcohol"].primary_substance == "alcohol").all()
    assert (opiate.injecting_status != "never").mean() > (e.injecting_status != "never").mean()


def test_ost_only_for_opiate_clients(extract: dict[str, pd.DataFrame]) -> None:
    e = extract["episodes"].merge(extract["programmes"], on="programme_id")
    assert not e[e.substance_group != "opiate"].ost.any()
    opiate_community = e[(e.substance_group == "opiate") & e.setting.isin(["community", "prison"])]
    assert opiate_community.ost.mean() > 0.6


def test_waits_have_a_tail_and_some_never_start(extract: dict[str, pd.DataFrame]) -> None:
    e = extract["episodes"]
    wait = (e.start_date - e.referral_date).dt.days.dropna()
    assert wait.median() <= 21
    assert 0.03 < (wait > 21).mean() < 0.3
    never = e[e.start_date.isna() & e.discharge_date.notna()]
    assert len(never) > 0
    assert never.discharge_reason.map(OUTCOME_GROUPS).eq("incomplete").all()


def test_drop_out_is_front_loaded(extract: dict[str, pd.DataFrame]) -> None:
    """Hazard of unplanned exit: exits in a window / person-days at risk in that window."""
    e = extract["episodes"].dropna(subset=["start_date"])
    end = e.discharge_date.fillna(pd.Timestamp(AS_OF))
    days = (end - e.start_date).dt.days.to_numpy()
    unplanned = e.discharge_reason.map(OUTCOME_GROUPS).eq("incomplete").to_numpy()

    def hazard(lo: int, hi: int) -> float:
        at_risk = (np.clip(days, lo, hi) - lo).sum()
        exits = (unplanned & (days >= lo) & (days < hi)).sum()
        return exits / at_risk

    assert hazard(0, 84) > 1.5 * hazard(84, 364)


def test_outcomes_differ_by_substance(extract: dict[str, pd.DataFrame]) -> None:
    e = extract["episodes"].assign(outcome=lambda d: d.discharge_reason.map(OUTCOME_GROUPS))
    closed = e.dropna(subset=["discharge_date"])
    success = closed.outcome.eq("successful").groupby(closed.substance_group).mean()
    assert success["alcohol"] > success["opiate"]
    open_share = e.discharge_date.isna().groupby(e.substance_group).mean()
    assert open_share["opiate"] > open_share["alcohol"]
    deaths = e.outcome.eq("died").groupby(e.substance_group).sum()
    assert deaths["opiate"] > 0 and deaths["opiate"] >= deaths.drop("opiate").max()


def test_representation_after_success_is_a_minority(extract: dict[str, pd.DataFrame]) -> None:
    e = extract["episodes"]
    as_of = pd.Timestamp(AS_OF)
    successful = e[e.discharge_reason.map(OUTCOME_GROUPS) == "successful"]
    last = successful.groupby("person_id").discharge_date.max().rename("discharged")
    last = last[last + pd.Timedelta(days=182) <= as_of]
    later = e.merge(last.reset_index(), on="person_id")
    within = later[
        (later.referral_date > later.discharged)
        & (later.referral_date <= later.discharged + pd.Timedelta(days=182))
    ]
    share = within.person_id.nunique() / len(last)
    assert 0.05 <= share <= 0.25


def test_contacts(extract: dict[str, pd.DataFrame]) -> None:
    c, people = extract["contacts"], extract["people"]
    assert 25 <= len(c) / len(people) <= 60
    assert 0.10 <= (~c.attended).mean() <= 0.25
    assert c.duration_minutes.isna().any()
    assert c.duration_minutes.dropna().between(10, 120).all()
    attended = c[c.attended]
    share = attended.delivered_by.eq("peer").groupby(attended.programme_id).mean()
    assert share.max() > 0.5 and share.min() < 0.2
    assert (share < 0.2).sum() >= 10
    by_year = attended.delivered_by.eq("peer").groupby(attended.contact_date.dt.year).mean()
    assert by_year.iloc[-1] > by_year.iloc[0]
    peer_types = {
        "peer_support",
        "recovery_coaching",
        "mutual_aid",
        "recovery_community",
        "family_support",
        "housing_employment",
        "recovery_check_up",
    }
    assert c[c.delivered_by == "professional"].support_type.isin(peer_types).sum() == 0


def test_peer_support_after_discharge(extract: dict[str, pd.DataFrame]) -> None:
    c, e, programmes = extract["contacts"], extract["episodes"], extract["programmes"]
    after = c[c.episode_id.isna()]
    assert len(after) > 0
    assert (after.delivered_by == "peer").all()
    assert "recovery_check_up" in set(after.support_type)
    peer_led = set(programmes[programmes.setting == "recovery_community"].programme_id) | set(
        programmes.merge(extract["providers"], on="provider_id")
        .query("provider_type == 'lived_experience_org'")
        .programme_id
    )
    assert after.programme_id.isin(peer_led).all()
    completers = e[e.discharge_reason.map(OUTCOME_GROUPS) == "successful"].person_id.unique()
    assert after.person_id.isin(completers).mean() > 0.5


def test_assessments_show_improvement_linked_to_peer_support(extract: dict[str, pd.DataFrame]) -> None:
    a, c = extract["assessments"], extract["contacts"]
    assert set(a.stage) == {"start", "review", "exit", "post_exit"}
    start = a[a.stage == "start"].drop_duplicates("episode_id").set_index("episode_id")
    later = a[a.stage.isin(["review", "exit"])].sort_values("assessment_date").groupby("episode_id").last()
    pairs = start.merge(later, left_index=True, right_index=True, suffixes=("_start", "_later"))
    change = pairs.quality_of_life_later - pairs.quality_of_life_start
    assert change.mean() > 1
    assert (pairs.recovery_capital_later - pairs.recovery_capital_start).mean() > 2
    attended = c[c.attended & c.episode_id.notna()]
    peer = attended.delivered_by.eq("peer").groupby(attended.episode_id).mean().reindex(pairs.index)
    high = change[peer >= peer.median()].mean()
    low = change[peer < peer.median()].mean()
    assert high > low
    opiate_start = start.join(extract["episodes"].set_index("episode_id").primary_substance)
    heroin = opiate_start[opiate_start.primary_substance == "heroin"].days_opiates.dropna()
    assert (heroin > 0).mean() > 0.8


# -- prison releases (continuity of care) ------------------------------------------------------------


def test_prison_releases_are_appended_and_leave_every_other_record_unchanged(tmp_path: Path) -> None:
    with_releases, without = tmp_path / "with", tmp_path / "without"
    counts = generate_extract(with_releases, people=300, seed=7, fmt="csv", prison_releases=True)
    bare = generate_extract(without, people=300, seed=7, fmt="csv")
    manifest = json.loads((with_releases / "extract.json").read_text())
    assert manifest["prison_release_people"] == round(0.12 * 300)
    assert json.loads((without / "extract.json").read_text())["prison_release_people"] == 0
    assert counts["people"] == bare["people"] + manifest["prison_release_people"]
    for name in REQUIRED_TABLES:
        ours, theirs = (with_releases / f"{name}.csv").read_bytes(), (without / f"{name}.csv").read_bytes()
        assert ours.startswith(theirs), name
        if name in ("people", "episodes", "contacts"):
            assert len(ours) > len(theirs), name


@pytest.fixture(scope="module")
def released_extract(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("released")
    generate_extract(out, people=PEOPLE, seed=SEED, fmt="csv", prison_releases=True)
    return {
        name: pd.read_csv(
            out / f"{name}.csv", dtype={"person_id": str}, parse_dates=DATE_COLUMNS.get(name, [])
        )
        for name in REQUIRED_TABLES
    }


def test_continuity_of_care_is_near_englands_published_rate(
    released_extract: dict[str, pd.DataFrame],
) -> None:
    """METRICS.md's continuity_of_care worked out in pandas on the generated extract, for releases in
    financial years 2022-23 to 2024-25: England's published rate was 43% (2022-23) and 53% (2023-24)."""
    e = released_extract["episodes"].merge(
        released_extract["programmes"][["programme_id", "setting"]], on="programme_id"
    )
    released = e[
        (e.setting == "prison")
        & (e.discharge_reason == "transferred_not_in_custody")
        & e.discharge_date.between(pd.Timestamp("2022-04-01"), pd.Timestamp("2025-03-31"))
    ]
    community = e[(e.setting != "prison") & e.start_date.notna()][["person_id", "start_date"]]
    pairs = released[["episode_id", "person_id", "discharge_date"]].merge(community, on="person_id")
    within = pairs[
        (pairs.start_date >= pairs.discharge_date)
        & (pairs.start_date <= pairs.discharge_date + pd.Timedelta(days=21))
    ]
    rate = released.episode_id.isin(within.episode_id).mean()
    assert len(released) >= 150
    assert 0.40 <= rate <= 0.62, rate
    # The releases' people are people in prison first: criminal-justice referrals, mostly men, mostly opiates.
    first = e.sort_values("referral_date").groupby("person_id").first()
    prison_first = first[first.setting == "prison"]
    assert (prison_first.referral_source == "criminal_justice").mean() > 0.8
