"""Writes the corpus cases that are not UTF-8 text (other encodings, Parquet); their output is committed.

Run from the repository root: `python tests/corpus/make_binary_cases.py`. The text cases in
`tests/corpus/cases/` are plain files edited by hand.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CORPUS = Path(__file__).resolve().parent
BASE = CORPUS / "base"


def base(table: str) -> str:
    return (BASE / f"{table}.csv").read_text(encoding="utf-8")


def parquet(data: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(data, out)
    return out.getvalue()


def typed(table: str, text: str) -> pa.Table:
    """A CSV text as the typed Arrow table a Parquet extract would hold."""
    types = {"referral_date": pa.date32(), "triage_date": pa.date32(), "start_date": pa.date32()}
    types |= {"discharge_date": pa.date32(), "ost": pa.bool_(), "test_date": pa.date32()}
    return pacsv.read_csv(
        io.BytesIO(text.encode()),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )


providers = base("providers")
nested = pa.table(
    {
        "provider_id": ["PRV1", "PRV2"],
        "provider_name": [["Alpha", "Recovery"], ["Beta", "Peers"]],
        "provider_type": ["nhs", "lived_experience_org"],
        "area_code": ["E08000025", "E08000025"],
        "area_name": ["Birmingham", "Birmingham"],
    }
)
binary = nested.set_column(1, "provider_name", pa.array([b"Alpha Recovery", b"Beta \xe9 Peers"], pa.binary()))
episodes = base("episodes") + (
    "EP5,person-0002,PRG2,2024-05-01,self,,2024-04-30,,,alcohol,alcohol,never,false\n"
)

drug_tests = (
    "test_id,person_id,episode_id,test_date,sample,substance,result\n"
    "T1,person-0001,EP1,2024-01-17,urine,opiates,negative\n"
    "T2,person-0001,EP1,2024-01-17,urine,methadone,positive\n"
    "T3,person-0003,,2024-03-10,oral_fluid,cocaine,positive\n"
)
drug_tests_bad = drug_tests + "T4,person-0002,EP2,2024-02-10,urine,Opiates,positive\n"

CASES: dict[str, dict[str, bytes]] = {
    "encoding-cp1252": {
        "providers.csv": providers.replace("Beta Peers", "Beta \u2019Peers").encode("cp1252")
    },
    "encoding-latin1": {
        "people.csv": base("people").replace(",asian,", ",asian,Fr\u00e9d\u00e9").encode("latin-1")
    },
    "encoding-cp1252-with-option": {
        "providers.csv": providers.replace("Beta Peers", "Beta \u2019Peers").encode("cp1252")
    },
    "encoding-utf16": {"providers.csv": providers.encode("utf-16")},
    "encoding-utf16le-no-bom": {"providers.csv": providers.encode("utf-16-le")},
    "both-csv-and-parquet": {"providers.parquet": parquet(typed("providers", providers))},
    "parquet-nested-column": {"providers.parquet": parquet(nested)},
    "parquet-binary-not-utf8": {"providers.parquet": parquet(binary)},
    "parquet-bad-row": {"episodes.parquet": parquet(typed("episodes", episodes))},
    "drug-tests-parquet-bad-row": {"drug_tests.parquet": parquet(typed("drug_tests", drug_tests_bad))},
    "drug-tests-csv-and-parquet": {
        "drug_tests.csv": drug_tests.encode(),
        "drug_tests.parquet": parquet(typed("drug_tests", drug_tests)),
    },
}

if __name__ == "__main__":
    for case, files in CASES.items():
        folder = CORPUS / "cases" / case
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
