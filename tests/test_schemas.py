"""The pandera schemas on their own: text parsing, single-table rules, references, overlap."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines import schemas
from pipelines.contract import TABLES
from pipelines.sources import identifier_kind

AS_OF = date(2025, 3, 31)


def typed(table: str, rows: list[dict], lines: list[int] | None = None) -> pd.DataFrame:
    """A typed frame of `table` from partial rows (missing columns null), indexed by line."""
    spec = TABLES[table]
    columns = {
        c.name: pa.array([r.get(c.name) for r in rows], schemas.ARROW_TYPES[c.type]) for c in spec.columns
    }
    frame = pa.table(columns).to_pandas(types_mapper=pd.ArrowDtype)
    frame.index = pd.Index(lines or list(range(2, len(rows) + 2)))
    return frame


def failures(frame: pd.DataFrame, schema) -> set[tuple[int, str, str]]:
    return {(r.line, r.column, r.rule) for r in schemas.validate(frame, schema).itertuples()}


PERSON = {"person_id": "person-0001", "sex": "male", "birth_year": 1980, "ethnic_group": "white"}
EPISODE = {
    "episode_id": "EP1",
    "person_id": "person-0001",
    "programme_id": "PRG1",
    "referral_date": date(2024, 1, 2),
    "referral_source": "self",
    "triage_date": date(2024, 1, 5),
    "start_date": date(2024, 1, 10),
    "discharge_date": date(2024, 6, 30),
    "discharge_reason": "completed_drug_free",
    "substance_group": "opiate",
    "primary_substance": "heroin",
    "injecting_status": "never",
    "ost": True,
}


def test_to_contract_types_reports_text_failures_by_line() -> None:
    raw = pa.table({c: pa.array([None, None], pa.string()) for c in TABLES["contacts"].column_names})
    raw = raw.set_column(4, "contact_date", pa.array(["2024-01-01", "01/02/2024"]))
    raw = raw.set_column(7, "attended", pa.array(["Yes", "maybe"]))
    data, text_failures = schemas.to_contract_types("contacts", raw, pd.Index([10, 11]))
    assert data.column("contact_date").to_pylist() == [date(2024, 1, 1), None]
    assert data.column("attended").to_pylist() == [True, None]
    assert {(r.line, r.column, r.rule, r.value) for r in text_failures.itertuples()} == {
        (11, "contact_date", "date_format", "01/02/2024"),
        (11, "attended", "type", "maybe"),
    }


@pytest.mark.parametrize(
    ("number", "is_nhs"),
    [
        ("9434765919", True),
        ("4010232137", True),
        ("9434765918", False),
        ("1234567890", False),
        ("943476591", False),
        ("94347659190", False),
        ("person-001", False),
    ],
)
def test_nhs_number_check_digit(number: str, is_nhs: bool) -> None:
    assert schemas.is_nhs_number(number) is is_nhs


def test_people_rules() -> None:
    frame = typed(
        "people",
        [
            PERSON,
            {**PERSON, "person_id": "9434765919"},
            {**PERSON, "person_id": "abc"},
            {**PERSON, "person_id": "person-0004", "birth_year": AS_OF.year - 11},
            {**PERSON, "person_id": "person-0005", "birth_year": AS_OF.year - 12, "sex": "Male"},
            {**PERSON, "person_id": "person-0001", "ethnic_group": None},
        ],
    )
    assert failures(frame, schemas.schema_for("people", AS_OF)) == {
        (2, "person_id", "unique"),
        (7, "person_id", "unique"),
        (3, "person_id", "nhs_number"),
        (4, "person_id", "person_id_format"),
        (5, "birth_year", "range"),
        (6, "sex", "code"),
        (7, "ethnic_group", "required"),
    }


def test_episode_rules_without_references() -> None:
    frame = typed(
        "episodes",
        [
            EPISODE,
            {**EPISODE, "episode_id": "EP2", "triage_date": date(2024, 1, 1)},
            {**EPISODE, "episode_id": "EP3", "start_date": None, "discharge_date": date(2024, 1, 1)},
            {**EPISODE, "episode_id": "EP4", "discharge_date": None},
            {**EPISODE, "episode_id": "EP5", "discharge_date": date(2025, 4, 1)},
            {
                **EPISODE,
                "episode_id": "EP6",
                "start_date": None,
                "triage_date": None,
            },  # never started, discharged
        ],
    )
    assert failures(frame, schemas.schema_for("episodes", AS_OF)) == {
        (3, "triage_date", "date_order"),
        (4, "discharge_date", "date_order"),
        (5, "discharge_reason", "discharge_reason_presence"),
        (6, "discharge_date", "after_as_of"),
    }


def test_references_need_known_keys() -> None:
    frame = typed(
        "contacts",
        [
            {
                "contact_id": "C1",
                "person_id": "P1",
                "episode_id": "E1",
                "programme_id": "G1",
                "contact_date": date(2024, 1, 1),
                "support_type": "keyworking",
                "delivered_by": "peer",
                "attended": True,
            },
            {
                "contact_id": "C2",
                "person_id": "P2",
                "episode_id": "E1",
                "programme_id": "G1",
                "contact_date": date(2024, 1, 1),
                "support_type": "keyworking",
                "delivered_by": "peer",
                "attended": True,
            },
            {
                "contact_id": "C3",
                "person_id": "P9",
                "episode_id": None,
                "programme_id": "G9",
                "contact_date": date(2024, 1, 1),
                "support_type": "keyworking",
                "delivered_by": "peer",
                "attended": True,
            },
        ],
    )
    assert failures(frame, schemas.schema_for("contacts", AS_OF)) == set()
    known = schemas.KnownKeys(
        keys={"people": pa.array(["P1", "P2"]), "episodes": pa.array(["E1"]), "programmes": pa.array(["G1"])},
        episode_person=pa.table({"episode_id": ["E1"], "person_id": ["P1"]}),
    )
    assert failures(frame, schemas.schema_for("contacts", AS_OF, known)) == {
        (3, "episode_id", "episode_person"),
        (4, "person_id", "foreign_key"),
        (4, "programme_id", "foreign_key"),
    }


def test_drug_test_rules() -> None:
    def test(test_id: str, **row) -> dict:
        base = {
            "test_id": test_id,
            "person_id": "P1",
            "episode_id": "E1",
            "test_date": date(2024, 1, 1),
            "sample": "urine",
            "substance": "opiates",
            "result": "negative",
        }
        return {**base, **row}

    frame = typed(
        "drug_tests",
        [
            test("T1"),  # line 2: valid
            test("T2", episode_id=None, substance="fentanyl", result="positive"),  # line 3: valid, no episode
            test("T3", substance="heroin"),  # line 4: heroin is a primary substance, not a test code
            test("T4", sample="sweat", result="unclear"),  # line 5: two codes
            test("T5", test_date=date(2025, 4, 1)),  # line 6: after as_of
            test("T6", person_id="P2"),  # line 7: P2's test naming P1's episode E1
            test("T7", person_id="P9", episode_id="E9"),  # line 8: unknown person and episode
            test("T1", test_date=None),  # line 9: a repeated key, and no date
        ],
    )
    assert failures(frame, schemas.schema_for("drug_tests", AS_OF)) == {
        (4, "substance", "code"),
        (5, "sample", "code"),
        (5, "result", "code"),
        (6, "test_date", "after_as_of"),
        (2, "test_id", "unique"),
        (9, "test_id", "unique"),
        (9, "test_date", "required"),
    }
    known = schemas.KnownKeys(
        keys={"people": pa.array(["P1", "P2"]), "episodes": pa.array(["E1"])},
        episode_person=pa.table({"episode_id": ["E1"], "person_id": ["P1"]}),
    )
    with_references = failures(frame, schemas.schema_for("drug_tests", AS_OF, known))
    assert with_references - failures(frame, schemas.schema_for("drug_tests", AS_OF)) == {
        (7, "episode_id", "episode_person"),
        (8, "person_id", "foreign_key"),
        (8, "episode_id", "foreign_key"),
    }


def _spans(rows: list[tuple]) -> pd.DataFrame:
    return typed(
        "episodes",
        [
            {"episode_id": e, "person_id": p, "programme_id": g, "referral_date": r, "discharge_date": d}
            for e, p, g, r, d in rows
        ],
    )


def test_overlap_rejects_the_later_starting_episode() -> None:
    d = date
    incoming = _spans(
        [
            ("E1", "P1", "G1", d(2024, 1, 1), d(2024, 3, 1)),
            ("E2", "P1", "G1", d(2024, 2, 1), None),  # inside E1: the later one fails
            ("E3", "P1", "G2", d(2024, 2, 1), None),  # another programme: fine
            ("E4", "P2", "G1", d(2024, 1, 1), d(2024, 2, 1)),
            ("E5", "P2", "G1", d(2024, 2, 1), None),  # starts the day E4 ends: fine
            ("E6", "P3", "G1", d(2024, 1, 1), None),
            ("E7", "P3", "G1", d(2024, 1, 1), d(2024, 1, 5)),  # same start: the larger id fails
        ]
    )
    assert list(schemas.episode_overlaps(incoming)) == [False, True, False, False, False, False, True]


def test_an_episode_without_a_person_or_programme_overlaps_nothing() -> None:
    d = date
    incoming = _spans(
        [
            ("E1", "P1", "G1", d(2024, 1, 1), None),
            ("E2", None, "G1", d(2024, 2, 1), None),
            ("E3", "P1", None, d(2024, 2, 1), None),
            ("E4", "P1", "G1", d(2024, 3, 1), None),  # inside E1
        ]
    )
    assert list(schemas.episode_overlaps(incoming)) == [False, False, False, True]
    existing = _spans([("W1", "P1", "G1", d(2023, 1, 1), None)])
    assert list(schemas.episode_overlaps(incoming, existing)) == [True, False, False, True]


def test_overlap_with_the_warehouse_episodes() -> None:
    d = date
    existing = _spans([("W1", "P1", "G1", d(2024, 3, 1), d(2024, 4, 1))])
    incoming = _spans(
        [
            ("E1", "P1", "G1", d(2024, 1, 1), None),  # open: runs into W1, which is kept
            ("E2", "P1", "G1", d(2024, 4, 1), d(2024, 5, 1)),  # after W1: fine
            ("E3", "P1", "G1", d(2024, 3, 15), d(2024, 3, 20)),
        ]
    )
    assert list(schemas.episode_overlaps(incoming, existing)) == [True, False, True]
    result = schemas.validate(incoming, schemas.overlap_schema(existing))
    assert set(result["line"]) == {2, 4} and set(result["rule"]) == {"overlap"}


def test_failure_messages_name_the_value() -> None:
    frame = typed("people", [{**PERSON, "sex": "M"}])
    (row,) = schemas.validate(frame, schemas.schema_for("people", AS_OF)).itertuples()
    assert row.value == "M" and row.message.startswith("sex 'M' is not one of: male, female")


def test_big_frames_use_the_fast_unique_path() -> None:
    n = schemas._BIG_FRAME_ROWS
    frame = pd.DataFrame(
        {"person_id": pd.array([f"person-{i:07d}" for i in range(n)], dtype=pd.ArrowDtype(pa.string()))}
    )
    check = schemas._unique_check()
    assert bool(check(frame["person_id"]).check_passed)
    frame.iloc[5, 0] = "person-0000000"
    result = check(frame["person_id"]).check_output
    assert list(np.flatnonzero(~result.to_numpy())) == [0, 5]


@pytest.mark.parametrize(
    ("header", "flagged"),
    [
        ("nhs_number", True),
        ("NHS No", True),
        ("date_of_birth", True),
        ("DOB", True),
        ("patient_name", True),
        ("Name", True),
        ("post_code", True),
        ("Postcode", True),
        ("email_address", True),
        ("tel", True),
        ("mobile_number", True),
        ("address_line_1", True),
        ("area_name", False),
        ("team", False),
        ("referral_date", False),
        ("colour", False),
    ],
)
def test_identifier_columns(header: str, flagged: bool) -> None:
    assert (identifier_kind(header) is not None) is flagged


def test_big_unsorted_frames_with_duplicates_are_caught() -> None:
    n = schemas._BIG_FRAME_ROWS
    ids = [f"person-{(i * 7919) % n:07d}" for i in range(n)]  # a permutation: unique, unsorted
    frame = pd.DataFrame({"person_id": pd.array(ids, dtype=pd.ArrowDtype(pa.string()))})
    check = schemas._unique_check()
    assert bool(check(frame["person_id"]).check_passed)
    frame.iloc[10, 0] = ids[3]
    assert list(np.flatnonzero(~check(frame["person_id"]).check_output.to_numpy())) == [3, 10]


def test_key_lookup_answers_as_pyarrow_does_and_leaves_no_spill_folder() -> None:
    """`KeyLookup` (DuckDB joins, for big key sets) against pyarrow's is_in / index_in on random keys
    with nulls, unknown keys and repeats; its spill folder goes with it."""
    import os

    import pyarrow.compute as pc

    rng = np.random.default_rng(3)
    keys = pa.array([f"K{i}" for i in range(5_000)])
    drawn = [None if r < 0.05 else f"K{int(r * 6_000)}" for r in rng.random(20_000)]
    values = pa.chunked_array([pa.array(drawn, pa.string())])
    lookup = schemas.KeyLookup()
    try:
        expected = pc.or_kleene(pc.is_null(values), pc.is_in(values, value_set=keys)).to_numpy(
            zero_copy_only=False
        )
        assert (lookup.among(values, keys) == expected).all() and not expected.all() and expected.any()
        owners = pa.table({"episode_id": keys, "person_id": pa.array([f"P{i % 700}" for i in range(5_000)])})
        people = pa.chunked_array(
            [pa.array([None if r < 0.03 else f"P{int(r * 700)}" for r in rng.random(20_000)], pa.string())]
        )
        owner = pc.take(owners.column("person_id"), pc.index_in(values, value_set=keys))
        expected = pc.fill_null(pc.equal(owner, people), True).to_numpy(zero_copy_only=False)
        assert (lookup.same_owner(values, people, owners) == expected).all() and not expected.all()
        spill = lookup._spill
        assert os.path.isdir(spill)
    finally:
        lookup.close()
    assert not os.path.exists(spill)
