"""A synthetic ROSC extract that looks like a real local system (England, NDTMS-like).

`generate_extract` writes one file per required contract table (`contract.REQUIRED_TABLES`: the
optional drug_tests table is not simulated) plus `extract.json`. The system is a West Yorkshire-like
patch of four local authorities with eleven providers of all five provider types and 28 programmes in
all five settings. People present with one of the four NDTMS
substance groups and have one or more treatment journeys over the five years before `as_of`:
waits with a tail, unplanned exits front-loaded (Weibull hazard with shape < 1), completions after
3–12 months (longer and rarer for opiate clients), transfers along the care pathway, a few deaths,
re-presentation after discharge. Contacts follow a declining intensity; the share delivered by
peers differs by programme and rises over calendar time; successful completers are often followed
up by lived-experience recovery organisations after discharge. Treatment Outcomes Profile
assessments improve with retention and with peer engagement (a modest, plausible association).

People who come through the system's prisons (`RELEASE_PEOPLE_SHARE` more people) are released and
referred on to community treatment, which some start within 21 days (continuity of care, near England's
published rate) and others later or never.

Everything is drawn from `numpy.random.default_rng(seed)` in a fixed order and written in a fixed row
order, so the same arguments give byte-identical files; the prison releases come from a second generator,
`default_rng([seed, RELEASE_STREAM])`, and their people, episodes, contacts and assessments are appended
after the others, so that adding them left every earlier record (and its id) unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines.contract import (
    CONTRACT_VERSION,
    DELIVERED_BY,
    DISCHARGE_REASONS,
    ETHNIC_GROUPS,
    INJECTING_STATUSES,
    PRIMARY_SUBSTANCES,
    PROVIDER_TYPES,
    REFERRAL_SOURCES,
    SETTINGS,
    SEXES,
    STAGES,
    SUBSTANCE_DAYS_COLUMN,
    SUBSTANCE_GROUPS,
    SUPPORT_TYPES,
    TABLE_ORDER,
    TABLES,
    TOP_DAYS,
    Table,
)

DEFAULT_AS_OF = date(2026, 3, 31)
WINDOW_DAYS = 5 * 365 + 1  # people first present within the five years before as_of
CHUNK_ROWS = 1_000_000  # rows per write (and per Parquet row group) for the large tables
_EPOCH = date(1970, 1, 1)
_ARROW_TYPES = {
    "string": pa.string(),
    "code": pa.string(),
    "date": pa.date32(),
    "integer": pa.int32(),
    "boolean": pa.bool_(),
}

Progress = Callable[[str, int, int], None]


def _index(codes: tuple[str, ...]) -> dict[str, int]:
    return {code: i for i, code in enumerate(codes)}


SETTING = _index(SETTINGS)
GROUP = _index(SUBSTANCE_GROUPS)
SUBSTANCE = _index(PRIMARY_SUBSTANCES)
REASON = _index(DISCHARGE_REASONS)
SUPPORT = _index(SUPPORT_TYPES)
INJECTING = _index(INJECTING_STATUSES)
SOURCE = _index(REFERRAL_SOURCES)


def _probs(codes: tuple[str, ...], weights: dict[str, float]) -> np.ndarray:
    """A probability vector over `codes` (contract order) from weights named by code."""
    unknown = set(weights) - set(codes)
    if unknown:
        raise ValueError(f"not contract codes: {sorted(unknown)}")
    p = np.array([weights.get(code, 0.0) for code in codes], dtype=float)
    return p / p.sum()


# --------------------------------------------------------------------------------------------------
# The local system: areas, providers, programmes
# --------------------------------------------------------------------------------------------------

#: (ONS local-authority code, name, share of residents in treatment)
AREAS = (
    ("E08000032", "Bradford", 0.30),
    ("E08000033", "Calderdale", 0.13),
    ("E08000034", "Kirklees", 0.22),
    ("E08000035", "Leeds", 0.35),
)

#: (provider_id, provider_name, provider_type, area index)
PROVIDERS = (
    ("PR01", "Aire and Wharfe Health NHS Foundation Trust", "nhs", 3),
    ("PR02", "Calder Valley Partnership NHS Trust", "nhs", 1),
    ("PR03", "Leeds City Council Public Health", "local_authority", 3),
    ("PR04", "Kirklees Council Integrated Recovery", "local_authority", 2),
    ("PR05", "Forward Pathways", "third_sector", 3),
    ("PR06", "Horizon Recovery Trust", "third_sector", 0),
    ("PR07", "Pennine Community Recovery", "third_sector", 2),
    ("PR08", "Recovery Connections West Yorkshire", "lived_experience_org", 0),
    ("PR09", "Calderdale Lived Experience Recovery Network", "lived_experience_org", 1),
    ("PR10", "Northern Clinical Services Ltd", "private", 3),
    ("PR11", "Justice Health Partners Ltd", "private", 2),
)

#: (programme_id, provider_id, programme_name, setting, client focus, relative size, peer share)
#: focus: all | drugs | alcohol | young (non-opiate, mostly younger adults)
PROGRAMMES = (
    ("PG01", "PR01", "Leeds Drug Treatment Service", "community", "drugs", 10.0, 0.07),
    ("PG02", "PR01", "Leeds Alcohol Service", "community", "alcohol", 6.0, 0.09),
    ("PG03", "PR01", "Leeds Inpatient Detoxification Unit", "inpatient_detox", "all", 1.0, 0.04),
    ("PG04", "PR03", "Leeds Young Adults Substance Service", "community", "young", 2.0, 0.12),
    ("PG05", "PR05", "Forward Leeds Recovery Hub", "community", "all", 6.0, 0.18),
    ("PG06", "PR05", "Forward Outreach and Harm Reduction", "community", "drugs", 3.0, 0.10),
    ("PG07", "PR10", "Northern Clinical Residential Rehabilitation", "residential_rehab", "all", 1.0, 0.10),
    ("PG08", "PR10", "Northern Clinical Medically Managed Withdrawal", "inpatient_detox", "all", 1.0, 0.03),
    ("PG09", "PR06", "Bradford Integrated Recovery Service", "community", "all", 10.0, 0.14),
    ("PG10", "PR06", "Bradford Alcohol Pathway", "community", "alcohol", 4.0, 0.12),
    ("PG11", "PR06", "Bradford Criminal Justice Team", "community", "drugs", 2.0, 0.08),
    ("PG12", "PR08", "Bradford Recovery Community Hub", "recovery_community", "all", 1.0, 0.55),
    ("PG13", "PR08", "Recovery Connections Peer Mentoring", "community", "all", 1.5, 0.42),
    ("PG14", "PR06", "Horizon House Residential Rehab", "residential_rehab", "all", 1.0, 0.15),
    ("PG15", "PR11", "HMP Aire Vale Substance Misuse Service", "prison", "all", 1.0, 0.06),
    ("PG16", "PR02", "Calderdale Recovery Service", "community", "all", 5.0, 0.12),
    ("PG17", "PR02", "Calderdale Alcohol Service", "community", "alcohol", 2.5, 0.10),
    ("PG18", "PR02", "Calder Valley Detox Ward", "inpatient_detox", "all", 1.0, 0.04),
    ("PG19", "PR09", "Calderdale Recovery Cafe", "recovery_community", "all", 1.0, 0.58),
    ("PG20", "PR09", "Lived Experience Recovery Coaching", "community", "all", 1.2, 0.40),
    ("PG21", "PR04", "Kirklees Integrated Drug and Alcohol Service", "community", "all", 7.0, 0.09),
    ("PG22", "PR04", "Kirklees Alcohol Early Intervention", "community", "alcohol", 2.0, 0.08),
    ("PG23", "PR07", "Pennine Recovery Huddersfield", "community", "all", 4.0, 0.20),
    ("PG24", "PR07", "Pennine Recovery Dewsbury", "community", "all", 3.0, 0.22),
    ("PG25", "PR07", "Pennine Recovery Community Network", "recovery_community", "all", 1.0, 0.48),
    ("PG26", "PR11", "HMP Wakeley Healthcare Substance Misuse", "prison", "all", 1.0, 0.05),
    ("PG27", "PR11", "HMP Calder Moor Drug and Alcohol Service", "prison", "all", 0.8, 0.07),
    ("PG28", "PR07", "Pennine Lodge Residential Rehab", "residential_rehab", "all", 1.0, 0.25),
)

#: how much a client of each substance group is drawn to a programme of each focus
_FOCUS_AFFINITY = {
    "all": {"opiate": 1.0, "non_opiate": 1.0, "non_opiate_and_alcohol": 1.0, "alcohol": 1.0},
    "drugs": {"opiate": 1.3, "non_opiate": 0.8, "non_opiate_and_alcohol": 0.6, "alcohol": 0.03},
    "alcohol": {"opiate": 0.03, "non_opiate": 0.1, "non_opiate_and_alcohol": 0.7, "alcohol": 1.6},
    "young": {"opiate": 0.03, "non_opiate": 1.5, "non_opiate_and_alcohol": 0.6, "alcohol": 0.05},
}
#: weight of a programme outside the client's area, by setting (specialist beds are shared)
_OUT_OF_AREA = {
    "community": 0.03,
    "inpatient_detox": 0.5,
    "residential_rehab": 0.6,
    "prison": 1.0,
    "recovery_community": 0.05,
}


class _System:
    """Providers and programmes as arrays, with the programme choice tables."""

    def __init__(self) -> None:
        provider_area = {pid: area for pid, _, _, area in PROVIDERS}
        provider_type = {pid: ptype for pid, _, ptype, _ in PROVIDERS}
        self.n = len(PROGRAMMES)
        self.setting = np.array([SETTING[p[3]] for p in PROGRAMMES])
        self.area = np.array([provider_area[p[1]] for p in PROGRAMMES])
        self.peer_share = np.array([p[6] for p in PROGRAMMES])
        weight = np.array([p[5] for p in PROGRAMMES])
        self.peer_programme = np.array(
            [
                p[3] == "recovery_community" or provider_type[p[1]] == "lived_experience_org"
                for p in PROGRAMMES
            ]
        )
        n_areas = len(AREAS) + 1  # the last is "area unknown"
        # choice[area, setting, group] = cumulative probabilities over programmes
        choice = np.zeros((n_areas, len(SETTINGS), len(SUBSTANCE_GROUPS), self.n))
        for a in range(n_areas):
            for s, setting in enumerate(SETTINGS):
                for g, group in enumerate(SUBSTANCE_GROUPS):
                    w = np.array(
                        [
                            weight[k]
                            * (self.setting[k] == s)
                            * _FOCUS_AFFINITY[PROGRAMMES[k][4]][group]
                            * (1.0 if a == len(AREAS) or self.area[k] == a else _OUT_OF_AREA[setting])
                            for k in range(self.n)
                        ]
                    )
                    choice[a, s, g] = np.cumsum(w / w.sum())
        self.choice = choice
        peer = np.zeros((n_areas, self.n))
        for a in range(n_areas):
            w = self.peer_programme * np.where((self.area == a) | (a == len(AREAS)), 1.0, 0.05) * weight
            peer[a] = np.cumsum(w / w.sum())
        self.peer_choice = peer


def _pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse-CDF draw: `cum` (n × k cumulative probabilities), `u` uniforms → index."""
    return np.minimum((u[:, None] > cum).sum(axis=1), cum.shape[1] - 1)


def _draw(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(p), size=n, p=p)


def _draw_rows(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Categorical draws where record i uses probability vector `table[row[i]]`."""
    cum = np.cumsum(table, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(row))
    out = np.empty(len(row), dtype=np.int64)
    for r in range(table.shape[0]):
        sel = row == r
        if sel.any():
            out[sel] = np.searchsorted(cum[r], u[sel], side="right")
    return np.minimum(out, table.shape[1] - 1)


# --------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------

_GROUP_SHARE = {"opiate": 0.50, "non_opiate": 0.08, "non_opiate_and_alcohol": 0.14, "alcohol": 0.28}
_PRIMARY_BY_GROUP = {
    "opiate": {"heroin": 0.87, "illicit_methadone": 0.05, "other_opioid": 0.08},
    "non_opiate": {
        "crack": 0.18,
        "cocaine": 0.30,
        "cannabis": 0.32,
        "amphetamine": 0.07,
        "benzodiazepine": 0.06,
        "other": 0.07,
    },
    "non_opiate_and_alcohol": {
        "cocaine": 0.40,
        "alcohol": 0.20,
        "cannabis": 0.18,
        "crack": 0.10,
        "amphetamine": 0.04,
        "benzodiazepine": 0.04,
        "other": 0.04,
    },
    "alcohol": {"alcohol": 1.0},
}
#: (mean, sd) of age at first presentation by primary substance
_AGE = {
    "heroin": (42, 8),
    "illicit_methadone": (41, 8),
    "other_opioid": (40, 10),
    "crack": (37, 8),
    "cocaine": (31, 8),
    "amphetamine": (34, 9),
    "cannabis": (25, 7),
    "benzodiazepine": (37, 10),
    "alcohol": (46, 11),
    "other": (31, 10),
}
_INJECTING_BY_GROUP = {
    "opiate": {"never": 0.33, "previously": 0.40, "currently": 0.22, "unknown": 0.05},
    "non_opiate": {"never": 0.86, "previously": 0.06, "currently": 0.03, "unknown": 0.05},
    "non_opiate_and_alcohol": {"never": 0.87, "previously": 0.06, "currently": 0.02, "unknown": 0.05},
    "alcohol": {"never": 0.93, "previously": 0.025, "currently": 0.005, "unknown": 0.04},
}


def _person_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pseudonyms "P" + 10 Crockford base32 characters (never a 10-digit number), unique."""
    alphabet = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)
    buf = np.empty((n, 11), dtype=np.uint8)
    buf[:, 0] = ord("P")
    buf[:, 1:] = alphabet[rng.integers(0, 32, size=(n, 10))]
    ids = buf.view("S11").ravel()
    while True:
        _, first = np.unique(ids, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if len(dup) == 0:
            return ids
        buf[dup, 1:] = alphabet[rng.integers(0, 32, size=(len(dup), 10))]
        ids = buf.view("S11").ravel()


class _People:
    def __init__(self, rng: np.random.Generator, n: int, as_of_day: int) -> None:
        self.n = n
        self.ids = _person_ids(rng, n)
        self.group = _draw(rng, _probs(SUBSTANCE_GROUPS, _GROUP_SHARE), n)
        primary_table = np.array([_probs(PRIMARY_SUBSTANCES, _PRIMARY_BY_GROUP[g]) for g in SUBSTANCE_GROUPS])
        self.primary = _draw_rows(rng, primary_table, self.group)
        female = np.where(self.group == GROUP["alcohol"], 0.38, 0.29)
        u = rng.random(n)
        self.sex = np.select(
            [u < female, u < female + 0.004, u < female + 0.011],
            [SEXES.index("female"), SEXES.index("other"), SEXES.index("unknown")],
            default=SEXES.index("male"),
        )
        area_p = np.array([a[2] for a in AREAS])
        self.area = np.where(rng.random(n) < 0.025, len(AREAS), _draw(rng, area_p / area_p.sum(), n))
        ethnic_white = _probs(
            ETHNIC_GROUPS,
            {"white": 0.86, "mixed": 0.03, "asian": 0.05, "black": 0.02, "other": 0.015, "unknown": 0.025},
        )
        ethnic_bradford = _probs(
            ETHNIC_GROUPS,
            {"white": 0.74, "mixed": 0.035, "asian": 0.16, "black": 0.02, "other": 0.02, "unknown": 0.025},
        )
        self.ethnic = _draw_rows(rng, np.array([ethnic_white, ethnic_bradford]), (self.area == 0).astype(int))
        inj_table = np.array([_probs(INJECTING_STATUSES, _INJECTING_BY_GROUP[g]) for g in SUBSTANCE_GROUPS])
        self.injecting = _draw_rows(rng, inj_table, self.group)
        # engagement with peer-led support: person-level propensity, shared by their episodes
        self.peer_propensity = np.exp(rng.normal(0.0, 0.55, n))
        self.first_referral = as_of_day - rng.integers(0, WINDOW_DAYS, n)
        age_mean = np.array([_AGE[s][0] for s in PRIMARY_SUBSTANCES])[self.primary]
        age_sd = np.array([_AGE[s][1] for s in PRIMARY_SUBSTANCES])[self.primary]
        age = np.clip(np.rint(rng.normal(age_mean, age_sd)), 18, 84).astype(np.int64)
        first_year = (np.datetime64("1970-01-01") + self.first_referral.astype("timedelta64[D]")).astype(
            "datetime64[Y]"
        ).astype(np.int64) + 1970
        self.birth_year = first_year - age
        self.birth_year_missing = rng.random(n) < 0.01


# --------------------------------------------------------------------------------------------------
# Episodes (treatment journeys)
# --------------------------------------------------------------------------------------------------

_FIRST_SETTING = {
    "opiate": {
        "community": 0.85,
        "prison": 0.07,
        "inpatient_detox": 0.02,
        "residential_rehab": 0.02,
        "recovery_community": 0.04,
    },
    "non_opiate": {
        "community": 0.89,
        "prison": 0.05,
        "inpatient_detox": 0.005,
        "residential_rehab": 0.015,
        "recovery_community": 0.04,
    },
    "non_opiate_and_alcohol": {
        "community": 0.88,
        "prison": 0.04,
        "inpatient_detox": 0.02,
        "residential_rehab": 0.02,
        "recovery_community": 0.04,
    },
    "alcohol": {
        "community": 0.87,
        "prison": 0.01,
        "inpatient_detox": 0.05,
        "residential_rehab": 0.03,
        "recovery_community": 0.04,
    },
}
_SOURCE_COMMUNITY = {
    "opiate": {
        "self": 0.46,
        "gp": 0.08,
        "health": 0.09,
        "criminal_justice": 0.17,
        "social_care": 0.05,
        "peer_org": 0.05,
        "other": 0.06,
        "unknown": 0.04,
    },
    "non_opiate": {
        "self": 0.40,
        "gp": 0.10,
        "health": 0.10,
        "criminal_justice": 0.18,
        "social_care": 0.08,
        "peer_org": 0.04,
        "other": 0.06,
        "unknown": 0.04,
    },
    "non_opiate_and_alcohol": {
        "self": 0.40,
        "gp": 0.14,
        "health": 0.12,
        "criminal_justice": 0.13,
        "social_care": 0.07,
        "peer_org": 0.04,
        "other": 0.06,
        "unknown": 0.04,
    },
    "alcohol": {
        "self": 0.36,
        "gp": 0.26,
        "health": 0.18,
        "criminal_justice": 0.04,
        "social_care": 0.05,
        "peer_org": 0.04,
        "other": 0.04,
        "unknown": 0.03,
    },
}
_SOURCE_SETTING = {
    "inpatient_detox": {
        "health": 0.55,
        "gp": 0.15,
        "self": 0.12,
        "peer_org": 0.05,
        "other": 0.08,
        "unknown": 0.05,
    },
    "residential_rehab": {
        "health": 0.50,
        "gp": 0.10,
        "self": 0.15,
        "peer_org": 0.10,
        "social_care": 0.05,
        "other": 0.05,
        "unknown": 0.05,
    },
    "prison": {"criminal_justice": 0.92, "other": 0.04, "unknown": 0.04},
    "recovery_community": {"peer_org": 0.45, "self": 0.38, "health": 0.07, "other": 0.06, "unknown": 0.04},
}
#: competing risks of leaving, by (setting, substance group):
#: unplanned exit Weibull (shape, scale days); completion (share who would complete, median days,
#: log-sd); transfer mean days; death mean days
_RISKS_COMMUNITY = {
    "opiate": (0.60, 1900, 0.42, 540, 0.55, 2600, 25_000),
    "non_opiate": (0.60, 700, 0.76, 140, 0.50, 4000, 150_000),
    "non_opiate_and_alcohol": (0.60, 700, 0.72, 160, 0.50, 4000, 90_000),
    "alcohol": (0.60, 900, 0.76, 160, 0.50, 4000, 40_000),
}
_RISKS_SETTING = {
    "inpatient_detox": (0.60, 400, 0.95, 12, 0.35, 45, 1_000_000),
    "residential_rehab": (0.60, 800, 0.90, 100, 0.40, 700, 200_000),
    "prison": (0.60, 4000, 0.15, 120, 0.50, 110, 60_000),
    "recovery_community": (0.60, 1200, 0.70, 300, 0.50, 3000, 100_000),
}
_SUCCESS_REASON = {
    "opiate": {"completed_drug_free": 0.80, "completed_occasional_user": 0.20},
    "non_opiate": {"completed_drug_free": 0.75, "completed_occasional_user": 0.25},
    "non_opiate_and_alcohol": {
        "completed_drug_free": 0.45,
        "completed_alcohol_free": 0.30,
        "completed_occasional_user": 0.25,
    },
    "alcohol": {"completed_alcohol_free": 0.70, "completed_occasional_user": 0.30},
}
_UNPLANNED_REASON = {
    "dropped_out": 0.79,
    "treatment_withdrawn": 0.08,
    "other": 0.08,
    "retained_in_custody": 0.03,
    "declined": 0.02,
}
_UNPLANNED_REASON_PRISON = {
    "retained_in_custody": 0.45,
    "dropped_out": 0.20,
    "treatment_withdrawn": 0.15,
    "other": 0.15,
    "declined": 0.05,
}
_NOT_STARTED_REASON = {"declined": 0.45, "dropped_out": 0.45, "other": 0.10}
#: where a transfer (not into custody) goes next, by the setting it leaves
_TRANSFER_TO = {
    "community": {"inpatient_detox": 0.35, "residential_rehab": 0.15, "community": 0.50},
    "inpatient_detox": {"residential_rehab": 0.45, "community": 0.55},
    "residential_rehab": {"community": 0.6, "recovery_community": 0.4},
    "prison": {"community": 1.0},
    "recovery_community": {"community": 1.0},
}
_OST_SHARE = {
    "community": 0.86,
    "prison": 0.85,
    "inpatient_detox": 0.35,
    "residential_rehab": 0.10,
    "recovery_community": 0.08,
}

# outcome kinds of a simulated episode
_OPEN, _SUCCESS, _UNPLANNED, _TRANSFER, _DIED, _NOT_STARTED = range(6)


class _Episodes:
    """All episodes as parallel arrays, in (person, referral date) order."""

    person: np.ndarray
    programme: np.ndarray
    referral: np.ndarray
    triage: np.ndarray  # -1 = null
    start: np.ndarray  # -1 = null
    discharge: np.ndarray  # -1 = null
    reason: np.ndarray  # -1 = null
    source: np.ndarray
    injecting: np.ndarray
    ost: np.ndarray
    engagement: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.person)


def _simulate_episodes(rng: np.random.Generator, people: _People, system: _System, as_of: int) -> _Episodes:
    n_set, n_grp = len(SETTINGS), len(SUBSTANCE_GROUPS)
    first_setting = np.array([_probs(SETTINGS, _FIRST_SETTING[g]) for g in SUBSTANCE_GROUPS])
    source_table = np.zeros((n_set * n_grp, len(REFERRAL_SOURCES)))
    risks = np.zeros((n_set, n_grp, 7))
    for s, setting in enumerate(SETTINGS):
        for g, group in enumerate(SUBSTANCE_GROUPS):
            weights = _SOURCE_COMMUNITY[group] if setting == "community" else _SOURCE_SETTING[setting]
            source_table[s * n_grp + g] = _probs(REFERRAL_SOURCES, weights)
            risks[s, g] = _RISKS_COMMUNITY[group] if setting == "community" else _RISKS_SETTING[setting]
    success_table = np.array([_probs(DISCHARGE_REASONS, _SUCCESS_REASON[g]) for g in SUBSTANCE_GROUPS])
    unplanned_table = np.array(
        [_probs(DISCHARGE_REASONS, _UNPLANNED_REASON), _probs(DISCHARGE_REASONS, _UNPLANNED_REASON_PRISON)]
    )
    not_started_p = _probs(DISCHARGE_REASONS, _NOT_STARTED_REASON)
    transfer_table = np.array([_probs(SETTINGS, _TRANSFER_TO[s]) for s in SETTINGS])
    ost_share = np.array([_OST_SHARE[s] for s in SETTINGS])
    prison, community = SETTING["prison"], SETTING["community"]

    rounds: list[dict[str, np.ndarray]] = []
    active = np.arange(people.n)
    referral = people.first_referral.copy()
    forced = np.full(people.n, -1)  # setting a transfer sends the person to
    previous_programme = np.full(people.n, -1)
    for round_no in range(16):
        if len(active) == 0:
            break
        m = len(active)
        group = people.group[active]
        ref = referral[active]
        transfer_in = forced[active] >= 0
        setting = np.where(transfer_in, forced[active], _draw_rows(rng, first_setting, group))
        # programme: local preference, client focus; a transfer goes to a different programme
        area = people.area[active]
        programme = _pick(system.choice[area, setting, group], rng.random(m))
        for _ in range(3):
            same = transfer_in & (programme == previous_programme[active])
            if not same.any():
                break
            programme[same] = _pick(
                system.choice[area[same], setting[same], group[same]], rng.random(same.sum())
            )
        source = _draw_rows(rng, source_table, setting * n_grp + group)
        source = np.where(transfer_in & (setting != prison), SOURCE["health"], source)
        injecting = people.injecting[active].copy()
        later = (injecting == INJECTING["currently"]) & (rng.random(m) < 0.25 * round_no)
        injecting[later] = INJECTING["previously"]
        ost = (group == GROUP["opiate"]) & (rng.random(m) < ost_share[setting])
        engagement = people.peer_propensity[active] * np.exp(rng.normal(0.0, 0.3, m))
        engagement = np.where(system.peer_programme[programme], engagement * 1.6, engagement)

        # waits: triage within days, start mostly within 0–30 days with a tail
        setting_wait = np.array([9.0, 12.0, 28.0, 1.0, 5.0])[setting]
        wait = np.where(
            rng.random(m) < 0.15, 0, np.rint(setting_wait * np.exp(rng.normal(0.0, 0.8, m)))
        ).astype(np.int64)
        wait = np.where(transfer_in, rng.integers(0, 4, m), wait)
        not_started = rng.random(m) < np.where(transfer_in, 0.03, np.where(setting == community, 0.085, 0.04))
        start = ref + wait
        triage_wait = np.minimum(rng.geometric(0.3, m) - 1, wait)
        triage = np.where(rng.random(m) < 0.06, -1, ref + triage_wait)

        # competing risks of leaving treatment
        r = risks[setting, group]
        t_unplanned = r[:, 1] * engagement**0.4 * (-np.log(rng.random(m))) ** (1.0 / r[:, 0])
        completer = rng.random(m) < np.minimum(r[:, 2] * engagement**0.15, 0.97)
        t_complete = np.where(completer, np.exp(np.log(r[:, 3]) + r[:, 4] * rng.normal(0.0, 1.0, m)), np.inf)
        t_transfer = rng.exponential(r[:, 5])
        t_death = rng.exponential(r[:, 6])
        times = np.stack([t_complete, t_unplanned, t_transfer, t_death], axis=1)
        first_exit = times.argmin(axis=1)
        length = np.maximum(1, np.floor(times.min(axis=1))).astype(np.int64)
        kind = np.array([_SUCCESS, _UNPLANNED, _TRANSFER, _DIED])[first_exit]
        discharge = start + length

        success_reason = _draw_rows(rng, success_table, group)
        unplanned_reason = _draw_rows(rng, unplanned_table, (setting == prison).astype(int))
        in_custody = rng.random(m) < np.where(setting == prison, 0.08, 0.2)
        transfer_reason = np.where(
            in_custody, REASON["transferred_in_custody"], REASON["transferred_not_in_custody"]
        )
        reason = np.choose(
            first_exit, [success_reason, unplanned_reason, transfer_reason, np.full(m, REASON["died"])]
        )
        # never started: discharged as declined / dropped out after a few weeks
        ns_reason = _draw(rng, not_started_p, m)
        ns_discharge = ref + rng.integers(7, 61, m)
        kind = np.where(not_started, _NOT_STARTED, kind)
        reason = np.where(not_started, ns_reason, reason)
        discharge = np.where(not_started, ns_discharge, discharge)
        start = np.where(not_started, -1, start)
        triage = np.where(not_started & (triage > discharge), discharge, triage)
        # the extract date cuts everything off
        awaiting = start > as_of
        start = np.where(awaiting, -1, start)
        triage = np.where(triage > as_of, -1, triage)
        still_open = (discharge > as_of) | awaiting
        kind = np.where(still_open, _OPEN, kind)
        discharge = np.where(still_open, -1, discharge)
        reason = np.where(still_open, -1, reason)

        rounds.append(
            dict(
                person=active,
                programme=programme,
                referral=ref,
                triage=triage,
                start=start,
                discharge=discharge,
                reason=reason,
                source=source,
                injecting=injecting,
                ost=ost,
                engagement=engagement,
                kind=kind,
            )
        )

        # what happens next: transfer along the pathway, or re-presentation after a gap
        next_setting = np.where(
            reason == REASON["transferred_in_custody"], prison, _draw_rows(rng, transfer_table, setting)
        )
        returns = rng.random(m) < np.select(
            [kind == _SUCCESS, kind == _UNPLANNED, kind == _NOT_STARTED, kind == _TRANSFER],
            [0.45, 0.80, 0.50, 0.96],
            default=0.0,
        )
        gap = np.select(
            [kind == _SUCCESS, kind == _TRANSFER],
            [1 + rng.exponential(300.0, m).astype(np.int64), 1 + rng.integers(0, 8, m)],
            default=7 + rng.exponential(160.0, m).astype(np.int64),
        )
        next_referral = discharge + gap
        go_on = returns & (next_referral <= as_of)
        referral[active] = next_referral
        forced[active] = np.where(kind == _TRANSFER, next_setting, -1)
        previous_programme[active] = programme
        active = active[go_on]

    episodes = _Episodes()
    columns = {k: np.concatenate([r[k] for r in rounds]) for k in rounds[0]}
    order = np.lexsort((columns["referral"], columns["person"]))
    for k, v in columns.items():
        setattr(episodes, k, v[order])
    return episodes


# --------------------------------------------------------------------------------------------------
# Contacts
# --------------------------------------------------------------------------------------------------

# declining intensity λ(t) = c (t + T0)^-β contacts a day: ~weekly at first, fortnightly by 6 months
_T0, _BETA, _C = 30.0, 0.40, 0.67
_SETTING_INTENSITY = {
    "community": 1.0,
    "inpatient_detox": 4.0,
    "residential_rehab": 2.2,
    "prison": 0.8,
    "recovery_community": 0.6,
}
_PROFESSIONAL = {
    ("community", False): {"keyworking": 0.55, "psychosocial": 0.30, "harm_reduction": 0.15},
    ("community", True): {
        "keyworking": 0.40,
        "prescribing": 0.35,
        "psychosocial": 0.13,
        "harm_reduction": 0.12,
    },
    ("inpatient_detox", False): {"detox": 0.65, "keyworking": 0.20, "psychosocial": 0.15},
    ("inpatient_detox", True): {"detox": 0.60, "keyworking": 0.18, "psychosocial": 0.12, "prescribing": 0.10},
    ("residential_rehab", False): {"residential": 0.60, "psychosocial": 0.25, "keyworking": 0.15},
    ("residential_rehab", True): {
        "residential": 0.57,
        "psychosocial": 0.23,
        "keyworking": 0.14,
        "prescribing": 0.06,
    },
    ("prison", False): {"keyworking": 0.50, "psychosocial": 0.30, "harm_reduction": 0.20},
    ("prison", True): {"keyworking": 0.35, "prescribing": 0.40, "psychosocial": 0.15, "harm_reduction": 0.10},
    ("recovery_community", False): {"keyworking": 0.60, "psychosocial": 0.40},
    ("recovery_community", True): {"keyworking": 0.55, "psychosocial": 0.35, "prescribing": 0.10},
}
_PEER_IN_TREATMENT = {
    "peer_support": 0.35,
    "recovery_coaching": 0.25,
    "mutual_aid": 0.15,
    "recovery_community": 0.10,
    "family_support": 0.07,
    "housing_employment": 0.08,
}
_PEER_IN_COMMUNITY = {
    "recovery_community": 0.35,
    "peer_support": 0.25,
    "mutual_aid": 0.20,
    "recovery_coaching": 0.10,
    "family_support": 0.05,
    "housing_employment": 0.05,
}
_PEER_AFTER = {
    "recovery_check_up": 0.35,
    "mutual_aid": 0.20,
    "peer_support": 0.20,
    "recovery_community": 0.15,
    "family_support": 0.05,
    "housing_employment": 0.05,
}
_MINUTES = {
    "keyworking": 45,
    "prescribing": 15,
    "psychosocial": 60,
    "detox": 30,
    "residential": 90,
    "harm_reduction": 20,
    "peer_support": 60,
    "recovery_coaching": 45,
    "mutual_aid": 90,
    "recovery_check_up": 20,
    "recovery_community": 100,
    "family_support": 60,
    "housing_employment": 45,
}
_DNA = {
    "community": 0.20,
    "inpatient_detox": 0.03,
    "residential_rehab": 0.04,
    "prison": 0.10,
    "recovery_community": 0.12,
}


def _cumulative_intensity(t: np.ndarray) -> np.ndarray:
    return _C / (1 - _BETA) * ((t + _T0) ** (1 - _BETA) - _T0 ** (1 - _BETA))


def _inverse_intensity(lam: np.ndarray) -> np.ndarray:
    return (lam * (1 - _BETA) / _C + _T0 ** (1 - _BETA)) ** (1 / (1 - _BETA)) - _T0


class _Contacts:
    person: np.ndarray
    episode: np.ndarray  # -1 = null
    programme: np.ndarray
    day: np.ndarray
    support: np.ndarray
    peer: np.ndarray
    attended: np.ndarray
    minutes: np.ndarray  # -1 = null

    def __len__(self) -> int:
        return len(self.person)


def _simulate_contacts(
    rng: np.random.Generator, people: _People, episodes: _Episodes, system: _System, as_of: int
) -> tuple[_Contacts, np.ndarray]:
    """Contacts during treatment and peer follow-up after discharge; also returns, per episode,
    the share of its attended contacts delivered by peers (for the outcomes model)."""
    window_start = as_of - WINDOW_DAYS
    setting = system.setting[episodes.programme]
    started = np.flatnonzero(episodes.start >= 0)
    end = np.where(episodes.discharge >= 0, episodes.discharge, as_of)
    length = (end - episodes.start)[started]
    intensity = np.array([_SETTING_INTENSITY[s] for s in SETTINGS])[setting[started]]
    intensity = intensity * np.where(episodes.ost[started], 1.2, 1.0)
    n = rng.poisson(intensity * _cumulative_intensity(length + 1.0))
    ep = np.repeat(started.astype(np.int32), n)
    # contact times from the declining intensity, ordered within each episode
    u = np.repeat(np.arange(len(started), dtype=np.float64), n)
    u += rng.random(len(ep))
    u.sort()
    u -= np.floor(u)
    length_rep = np.repeat(length, n)
    u *= _cumulative_intensity(length_rep + 1.0)
    t = np.minimum(np.floor(_inverse_intensity(u)), length_rep).astype(np.int32)
    del u, length_rep
    day = episodes.start[ep].astype(np.int32) + t
    del t
    frac = np.clip((day - window_start) / WINDOW_DAYS, 0.0, 1.0)
    p_peer = np.minimum(
        system.peer_share[episodes.programme[ep]] * (0.6 + 0.8 * frac) * episodes.engagement[ep] ** 0.6, 0.9
    )
    del frac
    peer = rng.random(len(ep)) < p_peer
    del p_peer
    programme = episodes.programme[ep].astype(np.int8)
    elsewhere = peer & ~system.peer_programme[programme] & (rng.random(len(ep)) < 0.2)
    person_area = people.area[episodes.person[ep[elsewhere]]]
    programme[elsewhere] = _pick(system.peer_choice[person_area], rng.random(elsewhere.sum()))
    del elsewhere

    profile_keys = [(s, o) for s in SETTINGS for o in (False, True)]
    professional_table = np.array([_probs(SUPPORT_TYPES, _PROFESSIONAL[k]) for k in profile_keys])
    peer_table = np.array(
        [_probs(SUPPORT_TYPES, _PEER_IN_TREATMENT), _probs(SUPPORT_TYPES, _PEER_IN_COMMUNITY)]
    )
    support = np.where(
        peer,
        _draw_rows(rng, peer_table, (system.setting[programme] == SETTING["recovery_community"]).astype(int)),
        _draw_rows(rng, professional_table, setting[ep] * 2 + episodes.ost[ep]),
    ).astype(np.int8)
    dna = np.array([_DNA[s] for s in SETTINGS])[setting[ep]] + 0.08 * (episodes.kind[ep] == _UNPLANNED)
    dna = np.where(peer, dna * 0.75, dna)
    attended = rng.random(len(ep)) >= dna

    # peer-led follow-up after discharge, mostly for successful completers
    discharged = np.flatnonzero(episodes.discharge >= 0)
    kind = episodes.kind[discharged]
    followed = rng.random(len(discharged)) < np.select(
        [kind == _SUCCESS, kind == _UNPLANNED, kind == _TRANSFER], [0.6, 0.12, 0.04], default=0.0
    )
    after = discharged[followed]
    n_after = 1 + rng.poisson(5.0 * episodes.engagement[after] ** 0.5)
    ep_after = np.repeat(after, n_after)
    day_after = (
        episodes.discharge[ep_after]
        + 1
        + np.minimum(rng.exponential(90.0, len(ep_after)), 364).astype(np.int64)
    )
    keep = day_after <= as_of
    ep_after, day_after = ep_after[keep], day_after[keep]
    person_after = episodes.person[ep_after]
    programme_after = _pick(system.peer_choice[people.area[person_after]], rng.random(len(ep_after)))
    support_after = _draw(rng, _probs(SUPPORT_TYPES, _PEER_AFTER), len(ep_after))
    attended_after = rng.random(len(ep_after)) >= 0.12

    contacts = _Contacts()
    attended_peer = np.bincount(ep, weights=peer & attended, minlength=len(episodes))
    attended_all = np.bincount(ep, weights=attended, minlength=len(episodes))
    peer_share = np.divide(attended_peer, attended_all, out=np.zeros(len(episodes)), where=attended_all > 0)
    contacts.person = np.concatenate([episodes.person[ep], person_after]).astype(np.int32)
    contacts.episode = np.concatenate([ep, np.full(len(ep_after), -1, dtype=np.int32)])
    del ep
    contacts.programme = np.concatenate([programme, programme_after.astype(np.int8)])
    del programme
    contacts.day = np.concatenate([day, day_after.astype(np.int32)])
    del day
    contacts.support = np.concatenate([support, support_after.astype(np.int8)])
    del support
    contacts.peer = np.concatenate([peer, np.ones(len(ep_after), dtype=bool)])
    contacts.attended = np.concatenate([attended, attended_after])
    del peer, attended
    mean_minutes = np.array([_MINUTES[s] for s in SUPPORT_TYPES])[contacts.support]
    minutes = np.clip(5 * np.rint(mean_minutes * np.exp(rng.normal(0.0, 0.3, len(contacts))) / 5), 10, 120)
    missing = ~contacts.attended | (rng.random(len(contacts)) < 0.04)
    contacts.minutes = np.where(missing, -1, minutes).astype(np.int16)
    del mean_minutes, minutes, missing
    order = np.lexsort((contacts.day, contacts.person))
    for k in ("person", "episode", "programme", "day", "support", "peer", "attended", "minutes"):
        setattr(contacts, k, getattr(contacts, k)[order])
    return contacts, peer_share


# --------------------------------------------------------------------------------------------------
# Assessments (Treatment Outcomes Profile, BARC-10)
# --------------------------------------------------------------------------------------------------


class _Assessments:
    person: np.ndarray
    episode: np.ndarray
    day: np.ndarray
    stage: np.ndarray
    values: dict[str, np.ndarray]  # -1 = null (acute_housing_problem: 0/1, -1 = null)

    def __len__(self) -> int:
        return len(self.person)


def _simulate_assessments(
    rng: np.random.Generator,
    people: _People,
    episodes: _Episodes,
    peer_share: np.ndarray,
    as_of: int,
) -> _Assessments:
    n_ep = len(episodes)
    started = episodes.start >= 0
    end = np.where(episodes.discharge >= 0, episodes.discharge, as_of)
    length = np.where(started, end - episodes.start, 0)
    kind = episodes.kind
    # how much this journey helps: retention, completion and peer support (modest effects)
    latent = (
        -0.6
        + 1.1 * (kind == _SUCCESS)
        + 0.35 * np.minimum(length / 180.0, 2.0)
        + 1.1 * peer_share
        + 0.25 * np.log(episodes.engagement)
        + 0.3 * episodes.ost
        + rng.normal(0.0, 0.9, n_ep)
    )
    response = 1.0 / (1.0 + np.exp(-1.4 * latent))

    idx = np.flatnonzero(started)
    has_start = rng.random(len(idx)) < 0.9
    start_ep = idx[has_start]
    start_day = episodes.start[start_ep] + np.minimum(rng.geometric(0.3, len(start_ep)) - 1, length[start_ep])
    n_review = np.maximum((length[idx] - 30) // 182, 0)
    review_ep = np.repeat(idx, n_review)
    review_no = np.arange(len(review_ep)) - np.repeat(np.cumsum(n_review) - n_review, n_review) + 1
    review_day = episodes.start[review_ep] + 182 * review_no + rng.integers(-14, 15, len(review_ep))
    keep = rng.random(len(review_ep)) < 0.75
    review_ep, review_day = review_ep[keep], np.minimum(review_day[keep], end[review_ep[keep]])
    review_progress = np.minimum((review_day - episodes.start[review_ep]) / 180.0, 1.0)
    exit_idx = np.flatnonzero(started & (episodes.discharge >= 0))
    p_exit = np.select(
        [kind[exit_idx] == _SUCCESS, kind[exit_idx] == _TRANSFER, kind[exit_idx] == _UNPLANNED],
        [0.9, 0.55, 0.35],
        default=0.0,
    )
    exit_ep = exit_idx[rng.random(len(exit_idx)) < p_exit]
    exit_day = np.maximum(
        episodes.discharge[exit_ep] - rng.integers(0, 8, len(exit_ep)), episodes.start[exit_ep]
    )
    exit_progress = np.where(kind[exit_ep] == _SUCCESS, 1.0, 0.5 * np.minimum(length[exit_ep] / 180.0, 1.0))
    success_idx = np.flatnonzero(kind == _SUCCESS)
    post_ep = success_idx[rng.random(len(success_idx)) < 0.35]
    post_day = episodes.discharge[post_ep] + rng.integers(150, 211, len(post_ep))
    keep = post_day <= as_of
    post_ep, post_day = post_ep[keep], post_day[keep]
    post_progress = rng.uniform(0.6, 1.1, len(post_ep))

    ep = np.concatenate([start_ep, review_ep, exit_ep, post_ep])
    a = _Assessments()
    a.person = episodes.person[ep]
    a.episode = np.concatenate([start_ep, review_ep, exit_ep, np.full(len(post_ep), -1)])
    a.day = np.concatenate([start_day, review_day, exit_day, post_day])
    a.stage = np.concatenate(
        [
            np.full(len(x), STAGES.index(s))
            for x, s in (
                (start_ep, "start"),
                (review_ep, "review"),
                (exit_ep, "exit"),
                (post_ep, "post_exit"),
            )
        ]
    )
    progress = np.concatenate([np.zeros(len(start_ep)), review_progress, exit_progress, post_progress])
    n = len(ep)
    # baseline (per episode, so start and later assessments of one journey agree) and improvement
    f = np.clip(response[ep] * progress**0.7, 0.0, 1.0)
    group = people.group[episodes.person]
    primary = people.primary[episodes.person]
    primary_column = np.array(
        [TOP_DAYS.index(c) if c else -1 for c in map(SUBSTANCE_DAYS_COLUMN.get, PRIMARY_SUBSTANCES)]
    )
    heavy = np.where(rng.random(n_ep) < 0.9, rng.integers(10, 29, n_ep), 0)
    heavy = np.where(primary == SUBSTANCE["heroin"], np.maximum(heavy, rng.integers(0, 29, n_ep)), heavy)
    days_base = {
        column: np.where(primary_column[primary] == k, heavy, 0) for k, column in enumerate(TOP_DAYS)
    }
    secondary = {
        "days_crack": (group == GROUP["opiate"]) * 0.45 + (group == GROUP["non_opiate"]) * 0.1,
        "days_alcohol": (group == GROUP["non_opiate_and_alcohol"]) * 0.95 + (group == GROUP["opiate"]) * 0.25,
        "days_cannabis": np.full(n_ep, 0.18),
        "days_cocaine": (group != GROUP["alcohol"]) * 0.12 + (group == GROUP["alcohol"]) * 0.06,
    }
    for column, p in secondary.items():
        uses = rng.random(n_ep) < p
        days_base[column] = np.where(
            uses & (days_base[column] == 0), rng.integers(2, 21, n_ep), days_base[column]
        )
    injecting = episodes.injecting
    injected_base = np.where(injecting == INJECTING["currently"], rng.integers(4, 29, n_ep), 0)
    psych_base = np.clip(np.rint(rng.normal(8.0, 3.2, n_ep)), 0, 20)
    phys_base = np.clip(np.rint(rng.normal(9.0, 3.2, n_ep)), 0, 20)
    qol_base = np.clip(np.rint(rng.normal(8.0, 3.0, n_ep)), 0, 20)
    work_base = np.where(rng.random(n_ep) < 0.75, 0, rng.integers(4, 23, n_ep))
    housing_base = rng.random(n_ep) < np.where(group == GROUP["opiate"], 0.18, 0.10)
    capital_base = np.clip(np.rint(rng.normal(28.0, 7.0, n_ep)), 10, 60)

    values: dict[str, np.ndarray] = {}
    for column in (*TOP_DAYS, "days_injected"):
        base = (injected_base if column == "days_injected" else days_base[column])[ep]
        stops = rng.random(n) < 0.85 * f
        reduced = np.rint(base * (1.0 - f * rng.random(n)))
        values[column] = np.where(stops, 0, reduced)
    values["days_injected"] = np.where(injecting[ep] == INJECTING["unknown"], -1, values["days_injected"])
    for column, base, gain in (
        ("psych_health", psych_base, 6.0),
        ("phys_health", phys_base, 5.0),
        ("quality_of_life", qol_base, 6.5),
    ):
        values[column] = np.clip(
            np.rint(base[ep] + f * rng.normal(gain, 2.0, n) + rng.normal(0.0, 1.0, n)), 0, 20
        )
    starts_work = (work_base[ep] == 0) & (rng.random(n) < 0.3 * f)
    values["days_paid_work"] = np.where(starts_work, rng.integers(4, 21, n), work_base[ep])
    values["acute_housing_problem"] = (housing_base[ep] & (rng.random(n) >= 0.6 * f)).astype(np.int64)
    values["recovery_capital"] = np.clip(
        np.rint(capital_base[ep] + f * rng.normal(14.0, 4.0, n) + rng.normal(0.0, 2.0, n)), 10, 60
    )
    for column, p_missing in (
        *((c, 0.03) for c in values if c != "recovery_capital"),
        ("recovery_capital", 0.12),
    ):
        values[column] = np.where(rng.random(n) < p_missing, -1, values[column]).astype(np.int64)

    order = np.lexsort((a.stage, a.day, a.person))
    for k in ("person", "episode", "day", "stage"):
        setattr(a, k, getattr(a, k)[order])
    a.values = {k: v[order] for k, v in values.items()}
    return a


# --------------------------------------------------------------------------------------------------
# Prison releases (issue 13: continuity of care)
# --------------------------------------------------------------------------------------------------

#: People who come to the system through its prisons, appended to the `people` the main simulation draws,
#: as a share of them. England treats about one adult in a prison or other secure setting for every six
#: in the community (49,881 against about 310,000 in 2023-24, OHID's secure-settings and adult reports).
RELEASE_PEOPLE_SHARE = 0.12
#: The entropy mixed with the seed for the releases' own generator (`default_rng([seed, RELEASE_STREAM])`).
RELEASE_STREAM = 13
#: Substance groups of adults treated in secure settings, 2023-24 (OHID, Alcohol and drug treatment in
#: secure settings 2023 to 2024: opiates 47%, non-opiates only 21%, non-opiates and alcohol 20%,
#: alcohol only 11%).
_PRISON_GROUP_SHARE = {"opiate": 0.47, "non_opiate": 0.21, "non_opiate_and_alcohol": 0.20, "alcohol": 0.12}
#: Chance that a person released from prison and referred on starts community treatment within 21 days,
#: from five years before as_of to as_of (a straight line between the two). The main simulation's prison
#: transfers continue in the community within days nine times in ten; these releases are set so that
#: the system's continuity_of_care follows England's published rate: 34.5% (2019-20), 38.1% (2020-21),
#: 43% (2022-23), 53% (2023-24, the latest published: OHID, Alcohol and drug treatment in secure settings
#: 2023 to 2024, "Continuity of care"). With 12,000 people (the demo) it reads 45% in 2021-22 and
#: 2022-23, 51% in 2023-24, 53% in 2024-25 and 54% in 2025-26.
_RELEASE_ENGAGEMENT = (0.14, 0.30)
#: Of those who do not engage within 21 days, the share who present to community treatment later.
_LATE_ENGAGEMENT = 0.4
#: Chance of going back to prison after a release (another sentence), and at most this many sentences.
_RETURN_TO_PRISON, _MAX_SENTENCES = 0.35, 3
#: How a prison episode ends: released and referred on, moved to another prison, or while in prison.
_PRISON_EXIT = {
    "transferred_not_in_custody": 0.80,
    "transferred_in_custody": 0.08,
    "completed_drug_free": 0.05,
    "dropped_out": 0.03,
    "retained_in_custody": 0.02,
    "treatment_withdrawn": 0.02,
}


def _simulate_releases(
    rng: np.random.Generator, people: int, system: _System, as_of: int, taken: np.ndarray
) -> tuple[_People, _Episodes] | None:
    """People who come through the system's prisons, with their prison episodes (one to
    `_MAX_SENTENCES`, ending mostly in release), and the community episodes that follow a release
    within 21 days with probability `_RELEASE_ENGAGEMENT` (later, or never, otherwise).

    Drawn from their own generator, after the main simulation, so that everything the main simulation
    writes is unchanged by them; ``taken`` holds the main simulation's person ids (never reused).
    Returns None when `RELEASE_PEOPLE_SHARE` of ``people`` rounds to nobody.
    """
    n = int(round(RELEASE_PEOPLE_SHARE * people))
    if n == 0:
        return None
    persons = _People(rng, n, as_of)
    while True:  # pseudonyms unique across both simulations
        clash = np.isin(persons.ids, taken)
        if not clash.any():
            break
        persons.ids[clash] = _person_ids(rng, int(clash.sum()))
    persons.group = _draw(rng, _probs(SUBSTANCE_GROUPS, _PRISON_GROUP_SHARE), n)
    primary_table = np.array([_probs(PRIMARY_SUBSTANCES, _PRIMARY_BY_GROUP[g]) for g in SUBSTANCE_GROUPS])
    persons.primary = _draw_rows(rng, primary_table, persons.group)
    inj_table = np.array([_probs(INJECTING_STATUSES, _INJECTING_BY_GROUP[g]) for g in SUBSTANCE_GROUPS])
    persons.injecting = _draw_rows(rng, inj_table, persons.group)
    u = rng.random(n)
    persons.sex = np.select(
        [u < 0.09, u < 0.095, u < 0.10],
        [SEXES.index("female"), SEXES.index("other"), SEXES.index("unknown")],
        default=SEXES.index("male"),
    )
    age = np.clip(np.rint(rng.normal(36, 9, n)), 18, 75).astype(np.int64)
    first_year = (np.datetime64("1970-01-01") + persons.first_referral.astype("timedelta64[D]")).astype(
        "datetime64[Y]"
    ).astype(np.int64) + 1970
    persons.birth_year = first_year - age

    prisons = np.flatnonzero(system.setting == SETTING["prison"])
    prison_weight = np.array([PROGRAMMES[k][5] for k in prisons], dtype=float)
    prison_p = prison_weight / prison_weight.sum()
    exit_p = _probs(DISCHARGE_REASONS, _PRISON_EXIT)
    window = (as_of - WINDOW_DAYS, as_of)
    rows: list[dict[str, int]] = []

    def add(
        person: int,
        programme: int,
        referral: int,
        start: int,
        discharge: int,
        reason: int,
        kind: int,
        source: int,
    ) -> None:
        rows.append(
            dict(
                person=person,
                programme=programme,
                referral=referral,
                start=start,
                discharge=discharge,
                reason=reason,
                kind=kind,
                source=source,
            )
        )

    for person in range(n):
        group = int(persons.group[person])
        area = int(persons.area[person])
        day = int(persons.first_referral[person])
        programme = int(rng.choice(prisons, p=prison_p))
        for _ in range(_MAX_SENTENCES):
            start = day + int(rng.integers(0, 3))  # prison teams assess on reception
            length = max(14, int(np.exp(rng.normal(np.log(100.0), 0.7))))
            discharge = start + length
            reason = int(rng.choice(len(DISCHARGE_REASONS), p=exit_p))
            if start > as_of:
                break
            if discharge > as_of:
                add(person, programme, day, start, -1, -1, _OPEN, SOURCE["criminal_justice"])
                break
            kind = (
                _TRANSFER
                if DISCHARGE_REASONS[reason].startswith("transferred")
                else (_SUCCESS if DISCHARGE_REASONS[reason].startswith("completed") else _UNPLANNED)
            )
            add(person, programme, day, start, discharge, reason, kind, SOURCE["criminal_justice"])
            if DISCHARGE_REASONS[reason] == "transferred_in_custody":
                others = prisons[prisons != programme]
                programme = int(rng.choice(others))
                day = discharge + int(rng.integers(0, 3))
                continue
            if DISCHARGE_REASONS[reason] != "transferred_not_in_custody":
                break
            # Released and referred on: does the person start community treatment within 21 days?
            progress = np.clip((discharge - window[0]) / (window[1] - window[0]), 0.0, 1.0)
            engaged = rng.random() < _RELEASE_ENGAGEMENT[0] + progress * (
                _RELEASE_ENGAGEMENT[1] - _RELEASE_ENGAGEMENT[0]
            )
            late = not engaged and rng.random() < _LATE_ENGAGEMENT
            if engaged or late:
                if engaged:
                    referral = discharge + int(rng.integers(0, 12))
                    community_start = min(referral + int(rng.integers(0, 8)), discharge + 21)
                else:
                    referral = discharge + 22 + int(rng.exponential(90.0))
                    community_start = referral + int(rng.integers(2, 21))
                community = int(
                    _pick(system.choice[area, SETTING["community"], group][None, :], rng.random(1))[0]
                )
                if referral > as_of:
                    break
                if community_start > as_of:
                    add(person, community, referral, -1, -1, -1, _OPEN, SOURCE["criminal_justice"])
                    break
                stays = int(np.exp(rng.normal(np.log(150.0), 0.9)))
                outcome = rng.random()
                community_end = community_start + max(1, stays)
                if community_end > as_of:
                    add(
                        person,
                        community,
                        referral,
                        community_start,
                        -1,
                        -1,
                        _OPEN,
                        SOURCE["criminal_justice"],
                    )
                    break
                ending = REASON["dropped_out"] if outcome < 0.55 else REASON["completed_drug_free"]
                kind = _UNPLANNED if outcome < 0.55 else _SUCCESS
                add(
                    person,
                    community,
                    referral,
                    community_start,
                    community_end,
                    ending,
                    kind,
                    SOURCE["criminal_justice"],
                )
                discharge = community_end
            if rng.random() >= _RETURN_TO_PRISON:
                break
            day = discharge + 30 + int(rng.exponential(240.0))
            if day > as_of:
                break
            programme = int(rng.choice(prisons, p=prison_p))

    if not rows:
        return None
    columns = {key: np.array([r[key] for r in rows], dtype=np.int64) for key in rows[0]}
    episodes = _Episodes()
    order = np.lexsort((columns["referral"], columns["person"]))
    m = len(order)
    for key, values in columns.items():
        setattr(episodes, key, values[order])
    started = episodes.start >= 0
    wait = np.where(started, episodes.start - episodes.referral, 0)
    episodes.triage = np.where(started, episodes.referral + np.minimum(rng.geometric(0.5, m) - 1, wait), -1)
    group = persons.group[episodes.person]
    in_prison = system.setting[episodes.programme] == SETTING["prison"]
    ost_share = np.where(in_prison, _OST_SHARE["prison"], _OST_SHARE["community"])
    episodes.ost = (group == GROUP["opiate"]) & (rng.random(m) < ost_share)
    episodes.injecting = persons.injecting[episodes.person]
    engagement = persons.peer_propensity[episodes.person] * np.exp(rng.normal(0.0, 0.3, m))
    episodes.engagement = np.where(system.peer_programme[episodes.programme], engagement * 1.6, engagement)
    return persons, episodes


_EPISODE_FIELDS = (
    "person",
    "programme",
    "referral",
    "triage",
    "start",
    "discharge",
    "reason",
    "source",
    "injecting",
    "ost",
    "engagement",
    "kind",
)
_CONTACT_FIELDS = ("person", "episode", "programme", "day", "support", "peer", "attended", "minutes")


def _concat_people(first: _People, second: _People) -> _People:
    out = object.__new__(_People)
    for name in vars(first):
        value = getattr(first, name)
        setattr(
            out, name, value + second.n if name == "n" else np.concatenate([value, getattr(second, name)])
        )
    return out


def _offset(records: object, **offsets: int) -> object:
    """A simulated table (episodes, contacts, assessments) with person / episode indices shifted by the
    given offsets (−1 stays −1: a null)."""
    for name, offset in offsets.items():
        values = getattr(records, name)
        setattr(records, name, np.where(values >= 0, values + offset, values))
    return records


def _concat(first: object, second: object, fields: tuple[str, ...]) -> object:
    out = object.__new__(type(first))
    for name in fields:
        setattr(out, name, np.concatenate([getattr(first, name), getattr(second, name)]))
    if hasattr(first, "values"):
        out.values = {k: np.concatenate([v, second.values[k]]) for k, v in first.values.items()}
    return out


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Fixed-width identifiers prefix + zero-padded number, built without a Python loop."""
    p = len(prefix)
    buf = np.empty((len(numbers), p + width), dtype=np.uint8)
    buf[:, :p] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rest = numbers.astype(np.int64)
    for j in range(p + width - 1, p - 1, -1):
        buf[:, j] = rest % 10 + 48
        rest = rest // 10
    return pa.array(buf.view(f"S{p + width}").ravel(), type=pa.binary()).cast(pa.string())


def _codes(codes: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(list(codes), type=pa.string()).take(pa.array(index, mask=index < 0, type=pa.int32()))


def _nullable(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    values = np.asarray(values)
    mask = values < 0
    return pa.array(np.where(mask, 0, values).astype(np.int32), mask=mask, type=pa.int32()).cast(type_)


def _dates(days: np.ndarray) -> pa.Array:
    return _nullable(days, pa.date32())


class _TableWriter:
    """Writes one contract table as CSV (unquoted header, `true`/`false`, empty = null) or Parquet."""

    def __init__(self, out_dir: Path, table: Table, fmt: str) -> None:
        self.schema = pa.schema(
            [pa.field(c.name, _ARROW_TYPES[c.type], nullable=not c.required) for c in table.columns]
        )
        self.fmt = fmt
        self.rows = 0
        path = out_dir / f"{table.name}.{fmt}"
        if fmt == "csv":
            self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
            self._file.write((",".join(table.column_names) + "\n").encode())
            self._writer = pacsv.CSVWriter(
                self._file,
                self.schema,
                write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
            )
        else:
            self._writer = pq.ParquetWriter(
                path,
                self.schema,
                compression="zstd",
                compression_level=3,
                use_dictionary=True,
                write_statistics=True,
                store_schema=True,
            )

    def write(self, columns: dict[str, pa.Array]) -> None:
        batch = pa.Table.from_arrays([columns[f.name] for f in self.schema], schema=self.schema)
        if self.fmt == "csv":
            self._writer.write_table(batch)
        else:
            self._writer.write_table(batch, row_group_size=CHUNK_ROWS)
        self.rows += batch.num_rows

    def close(self) -> int:
        self._writer.close()
        if self.fmt == "csv":
            self._file.close()
        return self.rows


def _write_chunked(
    out_dir: Path,
    name: str,
    fmt: str,
    n: int,
    build: Callable[[slice], dict[str, pa.Array]],
    progress: Progress | None,
) -> int:
    writer = _TableWriter(out_dir, TABLES[name], fmt)
    for lo in range(0, max(n, 1), CHUNK_ROWS):
        writer.write(build(slice(lo, min(lo + CHUNK_ROWS, n))))
        if progress is not None:
            progress(name, min(lo + CHUNK_ROWS, n), n)
    return writer.close()


def generate_extract(
    out_dir: Path,
    people: int,
    seed: int,
    as_of: date | None = None,
    fmt: Literal["csv", "parquet"] = "csv",
    progress: Callable | None = None,
    prison_releases: bool = False,
) -> dict[str, int]:
    """Write a synthetic extract (contract version 2) for `people` people into `out_dir`.

    One file per required table in `fmt` (the optional drug_tests table is not simulated: the synthetic
    system records no toxicology) plus `extract.json` (contract version, as_of, generator, seed,
    people, and prison_release_people: the people of the prison releases, added to `people`). With
    `prison_releases` (off by default, on for `rosc demo`), people released from the system's prisons
    and referred on (`RELEASE_PEOPLE_SHARE` of `people` more) are appended after every other record,
    from a generator of their own, so that every other record is the same with or without them; the
    last line of `rosc generate` gives both numbers.
    `as_of` defaults to 2026-03-31; no date in the extract is later. `progress`, when given, is called
    as `progress(table, rows_done, rows_total)` while tables are written. Returns the row count of each
    table. The same arguments always give byte-identical files.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if people < 1:
        raise ValueError("people must be at least 1")
    as_of = as_of or DEFAULT_AS_OF
    as_of_day = (as_of - _EPOCH).days
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    other = "parquet" if fmt == "csv" else "csv"
    for name in TABLE_ORDER:  # an extract holds one format per table; drop a stale other-format file
        (out_dir / f"{name}.{other}").unlink(missing_ok=True)

    rng = np.random.default_rng(seed)
    system = _System()
    persons = _People(rng, people, as_of_day)
    episodes = _simulate_episodes(rng, persons, system, as_of_day)
    contacts, peer_share = _simulate_contacts(rng, persons, episodes, system, as_of_day)
    assessments = _simulate_assessments(rng, persons, episodes, peer_share, as_of_day)
    # Prison releases come from a generator of their own, appended after everything above, so that
    # the main simulation's records (and their ids) are the same with or without them.
    release_rng = np.random.default_rng([seed, RELEASE_STREAM])
    releases = (
        _simulate_releases(release_rng, people, system, as_of_day, persons.ids) if prison_releases else None
    )
    if releases is not None:
        release_people, release_episodes = releases
        release_contacts, release_share = _simulate_contacts(
            release_rng, release_people, release_episodes, system, as_of_day
        )
        release_assessments = _simulate_assessments(
            release_rng, release_people, release_episodes, release_share, as_of_day
        )
        _offset(release_episodes, person=persons.n)
        _offset(release_contacts, person=persons.n, episode=len(episodes))
        _offset(release_assessments, person=persons.n, episode=len(episodes))
        episodes = _concat(episodes, release_episodes, _EPISODE_FIELDS)
        contacts = _concat(contacts, release_contacts, _CONTACT_FIELDS)
        assessments = _concat(assessments, release_assessments, ("person", "episode", "day", "stage"))
        persons = _concat_people(persons, release_people)

    counts: dict[str, int] = {}
    person_ids = pa.array(persons.ids, type=pa.binary()).cast(pa.string())
    programme_ids = pa.array([p[0] for p in PROGRAMMES], type=pa.string())
    episode_ids = _ids("E", np.arange(1, len(episodes) + 1), 9)

    def take(ids: pa.Array, index: np.ndarray) -> pa.Array:
        return ids.take(pa.array(index, mask=index < 0, type=pa.int64()))

    counts["providers"] = _write_chunked(
        out_dir,
        "providers",
        fmt,
        len(PROVIDERS),
        lambda s: {
            "provider_id": pa.array([p[0] for p in PROVIDERS]),
            "provider_name": pa.array([p[1] for p in PROVIDERS]),
            "provider_type": _codes(
                PROVIDER_TYPES, np.array([PROVIDER_TYPES.index(p[2]) for p in PROVIDERS])
            ),
            "area_code": pa.array([AREAS[p[3]][0] for p in PROVIDERS]),
            "area_name": pa.array([AREAS[p[3]][1] for p in PROVIDERS]),
        },
        progress,
    )
    counts["programmes"] = _write_chunked(
        out_dir,
        "programmes",
        fmt,
        len(PROGRAMMES),
        lambda s: {
            "programme_id": programme_ids,
            "provider_id": pa.array([p[1] for p in PROGRAMMES]),
            "programme_name": pa.array([p[2] for p in PROGRAMMES]),
            "setting": _codes(SETTINGS, system.setting),
        },
        progress,
    )
    area_codes = pa.array([a[0] for a in AREAS] + [None], type=pa.string())
    counts["people"] = _write_chunked(
        out_dir,
        "people",
        fmt,
        persons.n,
        lambda s: {
            "person_id": person_ids[s.start : s.stop],
            "sex": _codes(SEXES, persons.sex[s]),
            "birth_year": _nullable(
                np.where(persons.birth_year_missing[s], -1, persons.birth_year[s]), pa.int32()
            ),
            "ethnic_group": _codes(ETHNIC_GROUPS, persons.ethnic[s]),
            "area_code": area_codes.take(pa.array(persons.area[s])),
        },
        progress,
    )
    e = episodes
    counts["episodes"] = _write_chunked(
        out_dir,
        "episodes",
        fmt,
        len(e),
        lambda s: {
            "episode_id": episode_ids[s.start : s.stop],
            "person_id": take(person_ids, e.person[s]),
            "programme_id": take(programme_ids, e.programme[s]),
            "referral_date": _dates(e.referral[s]),
            "referral_source": _codes(REFERRAL_SOURCES, e.source[s]),
            "triage_date": _dates(e.triage[s]),
            "start_date": _dates(e.start[s]),
            "discharge_date": _dates(e.discharge[s]),
            "discharge_reason": _codes(DISCHARGE_REASONS, e.reason[s]),
            "substance_group": _codes(SUBSTANCE_GROUPS, persons.group[e.person[s]]),
            "primary_substance": _codes(PRIMARY_SUBSTANCES, persons.primary[e.person[s]]),
            "injecting_status": _codes(INJECTING_STATUSES, e.injecting[s]),
            "ost": pa.array(e.ost[s], type=pa.bool_()),
        },
        progress,
    )
    c = contacts
    counts["contacts"] = _write_chunked(
        out_dir,
        "contacts",
        fmt,
        len(c),
        lambda s: {
            "contact_id": _ids("C", np.arange(s.start + 1, s.stop + 1), 10),
            "person_id": take(person_ids, c.person[s]),
            "episode_id": take(episode_ids, c.episode[s]),
            "programme_id": take(programme_ids, c.programme[s]),
            "contact_date": _dates(c.day[s]),
            "support_type": _codes(SUPPORT_TYPES, c.support[s]),
            "delivered_by": _codes(DELIVERED_BY, c.peer[s].astype(np.int64)),
            "attended": pa.array(c.attended[s], type=pa.bool_()),
            "duration_minutes": _nullable(c.minutes[s], pa.int32()),
        },
        progress,
    )
    a = assessments
    counts["assessments"] = _write_chunked(
        out_dir,
        "assessments",
        fmt,
        len(a),
        lambda s: {
            "assessment_id": _ids("A", np.arange(s.start + 1, s.stop + 1), 9),
            "person_id": take(person_ids, a.person[s]),
            "episode_id": take(episode_ids, a.episode[s]),
            "assessment_date": _dates(a.day[s]),
            "stage": _codes(STAGES, a.stage[s]),
            **{k: _nullable(v[s], pa.int32()) for k, v in a.values.items() if k != "acute_housing_problem"},
            "acute_housing_problem": pa.array(
                a.values["acute_housing_problem"][s] == 1,
                mask=a.values["acute_housing_problem"][s] < 0,
                type=pa.bool_(),
            ),
        },
        progress,
    )

    manifest = {
        "contract_version": CONTRACT_VERSION,
        "as_of": as_of.isoformat(),
        "generator": "rosc generate",
        "seed": seed,
        "people": people,
        "prison_release_people": release_people.n if releases is not None else 0,
    }
    (out_dir / "extract.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts
