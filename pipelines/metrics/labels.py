"""Labels for codes, in one place: what every presenter shows instead of a contract code.

The data contract stores codes (`inpatient_detox`, `non_opiate_and_alcohol`, `PG07`); people read labels
("Inpatient detox", "Non-opiate and alcohol", "Leeds Recovery Hub"). Legends, tables, the dashboard's
filters, CSV downloads, the board pack and `rosc metric` all take their labels from here, so a category
is called the same everywhere (issue 12).

- `CODE_LABELS`: the fixed vocabularies of the contract and the metric layer, worded as OHID's
  adult treatment statistics word them where they have a name (substance groups: "Opiate",
  "Non-opiate only", "Non-opiate and alcohol", "Alcohol only"; exit outcomes: "Successful completion",
  "Transferred", "Dropped out or left early", "Died").
- `dimension_labels(source, dimension)`: one dimension's, the names of programmes, providers and areas
  coming from the warehouse's programme table; `all_labels(source)`: every dimension's.
- `code_label(dimension, code, labels)`: one label; a code with no label is shown as written, never guessed.
- `with_names(table, source)`: a table with a ``<dimension>_name`` column after each breakdown column.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from pipelines.contract import (
    DELIVERED_BY,
    DISCHARGE_REASONS,
    OUTCOME_GROUPS,
    SETTINGS,
    SEXES,
    SUBSTANCE_GROUPS,
    SUPPORT_TYPES,
)
from pipelines.metrics.registry import AGE_BANDS, PEER_SUPPORT_VALUES

CODE_LABELS: dict[str, dict[str, str]] = {
    "setting": {
        "community": "Community",
        "inpatient_detox": "Inpatient detox",
        "residential_rehab": "Residential rehab",
        "prison": "Prison",
        "recovery_community": "Recovery community",
    },
    "substance_group": {
        "opiate": "Opiate",
        "non_opiate": "Non-opiate only",
        "non_opiate_and_alcohol": "Non-opiate and alcohol",
        "alcohol": "Alcohol only",
    },
    "sex": {"male": "Male", "female": "Female", "other": "Other", "unknown": "Not known"},
    "age_band": {**{band: band for band in AGE_BANDS}, "unknown": "Age not known"},
    "peer_support": {
        "with_peer_support": "With peer support",
        "without_peer_support": "Without peer support",
    },
    "outcome_group": {
        "successful": "Successful completion",
        "transferred": "Transferred",
        "incomplete": "Dropped out or left early",
        "died": "Died",
    },
    "discharge_reason": {
        "completed_drug_free": "Completed, drug free",
        "completed_alcohol_free": "Completed, alcohol free",
        "completed_occasional_user": "Completed, occasional user (not opiates or crack)",
        "transferred_not_in_custody": "Transferred, not in custody",
        "transferred_in_custody": "Transferred, in custody",
        "dropped_out": "Dropped out",
        "treatment_withdrawn": "Treatment withdrawn",
        "declined": "Declined treatment",
        "retained_in_custody": "Retained in custody",
        "other": "Other",
        "died": "Died",
    },
    "delivered_by": {
        "professional": "Professionals (by training)",
        "peer": "Peers (by experience)",
    },
    "support_type": {
        "keyworking": "Keyworking",
        "prescribing": "Prescribing",
        "psychosocial": "Psychosocial intervention",
        "detox": "Detoxification",
        "residential": "Residential",
        "harm_reduction": "Harm reduction",
        "peer_support": "Peer support",
        "recovery_coaching": "Recovery coaching",
        "mutual_aid": "Mutual aid",
        "recovery_check_up": "Recovery check-up",
        "recovery_community": "Recovery community",
        "family_support": "Family support",
        "housing_employment": "Housing and employment",
    },
}

#: The vocabularies each label list must cover exactly (checked when the module is imported).
_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "setting": SETTINGS,
    "substance_group": SUBSTANCE_GROUPS,
    "sex": SEXES,
    "age_band": AGE_BANDS,
    "peer_support": PEER_SUPPORT_VALUES,
    "outcome_group": tuple(dict.fromkeys(OUTCOME_GROUPS.values())),
    "discharge_reason": DISCHARGE_REASONS,
    "delivered_by": DELIVERED_BY,
    "support_type": SUPPORT_TYPES,
}
for _dimension, _codes in _VOCABULARIES.items():
    if set(CODE_LABELS[_dimension]) != set(_codes):
        raise RuntimeError(f"CODE_LABELS[{_dimension!r}] does not cover the contract's codes exactly")

#: The breakdown dimensions whose labels come from the warehouse's programme table, and the query for each.
_NAMED_SQL: dict[str, str] = {
    "programme": "SELECT DISTINCT programme_id, programme_name FROM stg_programmes ORDER BY 1",
    "provider": "SELECT DISTINCT provider_id, provider_name FROM stg_programmes ORDER BY 1",
    "area": "SELECT DISTINCT area_code, area_name FROM stg_programmes ORDER BY 1",
}


def dimension_labels(source: object, dimension: str) -> dict[str, str]:
    """Code → label of one breakdown dimension: the names of the warehouse's programmes, providers or
    areas (``source`` is a `pipelines.warehouse.Warehouse` or a DuckDB connection), or `CODE_LABELS` for
    a fixed vocabulary; {} for month and quarter, whose codes are their labels. ValueError for a name
    that is not a dimension."""
    from pipelines.metrics.api import _cursor
    from pipelines.metrics.query import validate_breakdown

    validate_breakdown([dimension])
    if dimension in _NAMED_SQL:
        rows = _cursor(source).execute(_NAMED_SQL[dimension]).fetchall()
        return {str(code): str(name) for code, name in rows if code is not None and name is not None}
    return dict(CODE_LABELS.get(dimension, {}))


def all_labels(source: object) -> dict[str, dict[str, str]]:
    """`dimension_labels` of every labelled dimension at once."""
    labels = {d: dimension_labels(source, d) for d in _NAMED_SQL}
    return labels | {d: dict(codes) for d, codes in CODE_LABELS.items()}


def code_label(dimension: str, code: object, labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The label of ``code`` in ``dimension`` (``labels`` as `all_labels` gives them, else the fixed
    `CODE_LABELS`); a code without a label is shown as written, never guessed at."""
    known = (labels or CODE_LABELS).get(dimension, {})
    text = str(code)
    return known.get(text, text)


def with_names(
    table: pd.DataFrame, source: object | None = None, labels: Mapping | None = None
) -> pd.DataFrame:
    """``table`` with a ``<dimension>_name`` column right after each breakdown column it has (programme,
    provider, area, setting, substance group, sex, age band, peer support, outcome group, discharge
    reason), holding the label (`label`). Labels come from ``labels``, else from ``source``'s
    warehouse (`all_labels`). The table's ``attrs`` are kept."""
    columns = [c for c in table.columns if c in CODE_LABELS or c in _NAMED_SQL]
    if not columns:
        return table
    if labels is None:
        labels = all_labels(source) if source is not None else CODE_LABELS
    out = table.copy()
    for column in columns:
        names = [
            None if pd.isna(v) else code_label(column, v, labels) for v in out[column].to_numpy(dtype=object)
        ]
        out.insert(out.columns.get_loc(column) + 1, f"{column}_name", pd.array(names, dtype=object))
    out.attrs = dict(table.attrs)
    return out
