"""The ROSC extract contract, version 2, as data.

One place that says which tables an extract holds, their columns, types, codes and keys
(`docs/contract.md`). The generator, the pandera schemas, the loader's DDL and the
metric layer all read it from here, so a code list is written once.

Version 2 adds the optional `drug_tests` table (toxicology, as opioid-treatment programmes and trials
record it). An extract without it is complete (`REQUIRED_TABLES`); every version-1 extract is a valid
version-2 extract, and a loader of this version reads both (`READABLE_CONTRACT_VERSIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

CONTRACT_VERSION = 2
#: The extract.json contract versions this version reads (a version-1 extract is a valid version 2).
READABLE_CONTRACT_VERSIONS: tuple[int, ...] = (1, 2)

ColumnType = Literal["string", "code", "date", "integer", "boolean"]


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: ColumnType
    required: bool = True
    codes: tuple[str, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None
    references: tuple[str, str] | None = None  # (table, column) the value must exist in


@dataclass(frozen=True)
class Table:
    """One contract table: its file stem, key and columns in contract order."""

    name: str
    key: str
    columns: tuple[Column, ...]
    grain: str = ""
    date_columns: tuple[str, ...] = field(default=())
    #: An optional table may be absent from an extract (the extract is then complete without it).
    optional: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


PROVIDER_TYPES = ("nhs", "local_authority", "third_sector", "lived_experience_org", "private")
SETTINGS = ("community", "inpatient_detox", "residential_rehab", "prison", "recovery_community")
SEXES = ("male", "female", "other", "unknown")
ETHNIC_GROUPS = ("white", "mixed", "asian", "black", "other", "unknown")
REFERRAL_SOURCES = (
    "self", "gp", "health", "criminal_justice", "social_care", "peer_org", "other", "unknown",
)
SUBSTANCE_GROUPS = ("opiate", "non_opiate", "non_opiate_and_alcohol", "alcohol")
PRIMARY_SUBSTANCES = (
    "heroin", "illicit_methadone", "other_opioid", "crack", "cocaine", "amphetamine", "cannabis",
    "benzodiazepine", "alcohol", "other",
)
INJECTING_STATUSES = ("never", "previously", "currently", "unknown")
SUPPORT_TYPES = (
    "keyworking", "prescribing", "psychosocial", "detox", "residential", "harm_reduction",
    "peer_support", "recovery_coaching", "mutual_aid", "recovery_check_up", "recovery_community",
    "family_support", "housing_employment",
)
DELIVERED_BY = ("professional", "peer")
STAGES = ("start", "review", "exit", "post_exit")
SAMPLES = ("urine", "oral_fluid", "breath", "blood", "hair", "other")
TEST_SUBSTANCES = (
    "opiates", "methadone", "buprenorphine", "fentanyl", "cocaine", "amphetamine", "benzodiazepine",
    "cannabis", "alcohol", "other",
)
TEST_RESULTS = ("positive", "negative", "invalid")
#: Substances whose positive test is opioid use, and whose valid test makes a week tested, in the
#: relapse definition of docs/metrics.md v2 (`relapse_tests`): a methadone or buprenorphine positive is what
#: a patient on that medication gives, so it is not opioid use.
OPIOID_TEST_SUBSTANCES = ("opiates", "fentanyl")
#: Results that are a valid test (an `invalid` sample, e.g. one that failed its temperature check, is not).
VALID_TEST_RESULTS = ("positive", "negative")

#: Discharge reason → NDTMS outcome group.
OUTCOME_GROUPS: dict[str, str] = {
    "completed_drug_free": "successful",
    "completed_alcohol_free": "successful",
    "completed_occasional_user": "successful",
    "transferred_not_in_custody": "transferred",
    "transferred_in_custody": "transferred",
    "dropped_out": "incomplete",
    "treatment_withdrawn": "incomplete",
    "declined": "incomplete",
    "retained_in_custody": "incomplete",
    "other": "incomplete",
    "died": "died",
}
DISCHARGE_REASONS = tuple(OUTCOME_GROUPS)

#: Primary substance → the TOP days-used column that measures it (None: left out of abstinence).
SUBSTANCE_DAYS_COLUMN: dict[str, str | None] = {
    "heroin": "days_opiates",
    "illicit_methadone": "days_opiates",
    "other_opioid": "days_opiates",
    "crack": "days_crack",
    "cocaine": "days_cocaine",
    "amphetamine": "days_amphetamine",
    "cannabis": "days_cannabis",
    "alcohol": "days_alcohol",
    "benzodiazepine": None,
    "other": None,
}

PERSON_ID_PATTERN = r"^[A-Za-z0-9_-]{6,64}$"
MIN_BIRTH_YEAR = 1900
#: The earliest plausible date of a treatment or recovery-support event. The contract sets no lower
#: bound; a referral or contact in, say, 1800 is a data-entry error, and England's national drug
#: treatment monitoring began in the 1990s, so anything earlier is quarantined (rule `before_min_date`).
MIN_EVENT_DATE = date(1990, 1, 1)
MIN_AGE_AT_EXTRACT = 12

#: Column names (lower-cased, with separators removed) that look like direct identifiers.
DIRECT_IDENTIFIER_NAMES = (
    "name", "firstname", "forename", "surname", "lastname", "fullname", "nhsnumber", "nhsno", "nhs",
    "dob", "dateofbirth", "birthdate", "postcode", "zipcode", "address", "addressline1", "street",
    "email", "emailaddress", "phone", "phonenumber", "telephone", "mobile", "ninumber",
    "nationalinsurancenumber", "chinumber",
)


def _c(name: str, type_: ColumnType, **kw) -> Column:
    return Column(name, type_, **kw)


TOP_DAYS = ("days_opiates", "days_crack", "days_cocaine", "days_amphetamine", "days_cannabis", "days_alcohol")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "providers",
            key="provider_id",
            grain="one row per provider organisation",
            columns=(
                _c("provider_id", "string"),
                _c("provider_name", "string"),
                _c("provider_type", "code", codes=PROVIDER_TYPES),
                _c("area_code", "string"),
                _c("area_name", "string"),
            ),
        ),
        Table(
            "programmes",
            key="programme_id",
            grain="one row per programme (a service a provider runs in one setting)",
            columns=(
                _c("programme_id", "string"),
                _c("provider_id", "string", references=("providers", "provider_id")),
                _c("programme_name", "string"),
                _c("setting", "code", codes=SETTINGS),
            ),
        ),
        Table(
            "people",
            key="person_id",
            grain="one row per pseudonymised person",
            columns=(
                _c("person_id", "string"),
                _c("sex", "code", codes=SEXES),
                _c("birth_year", "integer", required=False, min_value=MIN_BIRTH_YEAR),
                _c("ethnic_group", "code", codes=ETHNIC_GROUPS),
                _c("area_code", "string", required=False),
            ),
        ),
        Table(
            "episodes",
            key="episode_id",
            grain="one row per treatment journey",
            date_columns=("referral_date", "triage_date", "start_date", "discharge_date"),
            columns=(
                _c("episode_id", "string"),
                _c("person_id", "string", references=("people", "person_id")),
                _c("programme_id", "string", references=("programmes", "programme_id")),
                _c("referral_date", "date"),
                _c("referral_source", "code", codes=REFERRAL_SOURCES),
                _c("triage_date", "date", required=False),
                _c("start_date", "date", required=False),
                _c("discharge_date", "date", required=False),
                _c("discharge_reason", "code", required=False, codes=DISCHARGE_REASONS),
                _c("substance_group", "code", codes=SUBSTANCE_GROUPS),
                _c("primary_substance", "code", codes=PRIMARY_SUBSTANCES),
                _c("injecting_status", "code", codes=INJECTING_STATUSES),
                _c("ost", "boolean"),
            ),
        ),
        Table(
            "contacts",
            key="contact_id",
            grain="one row per treatment or recovery-support contact",
            date_columns=("contact_date",),
            columns=(
                _c("contact_id", "string"),
                _c("person_id", "string", references=("people", "person_id")),
                _c("episode_id", "string", required=False, references=("episodes", "episode_id")),
                _c("programme_id", "string", references=("programmes", "programme_id")),
                _c("contact_date", "date"),
                _c("support_type", "code", codes=SUPPORT_TYPES),
                _c("delivered_by", "code", codes=DELIVERED_BY),
                _c("attended", "boolean"),
                _c("duration_minutes", "integer", required=False, min_value=1, max_value=720),
            ),
        ),
        Table(
            "assessments",
            key="assessment_id",
            grain="one row per Treatment Outcomes Profile / BARC-10 assessment",
            date_columns=("assessment_date",),
            columns=(
                _c("assessment_id", "string"),
                _c("person_id", "string", references=("people", "person_id")),
                _c("episode_id", "string", required=False, references=("episodes", "episode_id")),
                _c("assessment_date", "date"),
                _c("stage", "code", codes=STAGES),
                *(_c(d, "integer", required=False, min_value=0, max_value=28) for d in TOP_DAYS),
                _c("days_injected", "integer", required=False, min_value=0, max_value=28),
                _c("psych_health", "integer", required=False, min_value=0, max_value=20),
                _c("phys_health", "integer", required=False, min_value=0, max_value=20),
                _c("quality_of_life", "integer", required=False, min_value=0, max_value=20),
                _c("days_paid_work", "integer", required=False, min_value=0, max_value=28),
                _c("acute_housing_problem", "boolean", required=False),
                _c("recovery_capital", "integer", required=False, min_value=10, max_value=60),
            ),
        ),
        Table(
            "drug_tests",
            key="test_id",
            grain="one row per drug test (a substance tested in a sample)",
            date_columns=("test_date",),
            optional=True,
            columns=(
                _c("test_id", "string"),
                _c("person_id", "string", references=("people", "person_id")),
                _c("episode_id", "string", required=False, references=("episodes", "episode_id")),
                _c("test_date", "date"),
                _c("sample", "code", codes=SAMPLES),
                _c("substance", "code", codes=TEST_SUBSTANCES),
                _c("result", "code", codes=TEST_RESULTS),
            ),
        ),
    )
}

#: Load order: a table comes after every table it references.
TABLE_ORDER = ("providers", "programmes", "people", "episodes", "contacts", "assessments", "drug_tests")
#: Tables an extract may leave out (version 2: drug_tests).
OPTIONAL_TABLES: frozenset[str] = frozenset(t for t in TABLE_ORDER if TABLES[t].optional)
#: The tables every extract holds, in load order (version 1's six).
REQUIRED_TABLES: tuple[str, ...] = tuple(t for t in TABLE_ORDER if t not in OPTIONAL_TABLES)

DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "code": "VARCHAR",
    "date": "DATE",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
}


def create_table_sql(table: Table, name: str | None = None, *, primary_key: bool = True) -> str:
    """DDL for a warehouse table holding the contract columns of `table`.

    `primary_key=False` leaves out the PRIMARY KEY index (the loader checks key uniqueness itself;
    DuckDB's index would double the time to insert millions of rows).
    """
    cols = ",\n  ".join(
        f"{c.name} {DUCKDB_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in table.columns
    )
    key = f",\n  PRIMARY KEY ({table.key})" if primary_key else ""
    return f"CREATE TABLE {name or table.name} (\n  {cols}{key}\n)"


def outcome_group_sql(column: str = "discharge_reason") -> str:
    """A SQL CASE expression mapping a discharge reason to its outcome group."""
    whens = " ".join(f"WHEN '{reason}' THEN '{group}'" for reason, group in OUTCOME_GROUPS.items())
    return f"CASE {column} {whens} END"
