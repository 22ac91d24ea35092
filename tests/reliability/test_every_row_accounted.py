"""Property: every input row either loads or is quarantined, never both and never neither.

Random rows for people, episodes, contacts, assessments and drug tests (valid and invalid values per column,
drawn from the contract's codes and ranges, ids from a small pool so that duplicates and dangling
references happen, plus garbage text with commas, quotes and newlines) are written as CSV under the
valid providers and programmes of the corpus base. After the load, per file: the lines of the
loaded rows (found by key) and the quarantined lines are disjoint and together are every input
line, and rows_loaded + rows_rejected = rows_read.

A row's line is computed here from what was written (2 + the LFs before it), independently of the
loader; a field holding a comma, quote, CR or LF is quoted (csv.writer would leave a lone CR bare).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.contract import TABLES, Column
from pipelines.load import load_extracts
from tests.reliability.corpus import BASE

RANDOM_TABLES = ("people", "episodes", "contacts", "assessments", "drug_tests")
AS_OF = date(2025, 3, 31)
POOL = {
    "person_id": ["person-0001", "person-0002", "person-0003", "9434765919", "p-1"],
    "episode_id": ["EP1", "EP2", "EP3", "EP4"],
    "contact_id": ["C1", "C2", "C3"],
    "assessment_id": ["A1", "A2", "A3"],
    "test_id": ["T1", "T2", "T3"],
    "programme_id": ["PRG1", "PRG2", "PRG9"],
}

garbage = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
safe_garbage = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10)


def _dates() -> st.SearchStrategy[str]:
    day = st.dates(min_value=date(2023, 1, 1), max_value=AS_OF + timedelta(days=60))
    return st.one_of(
        day.map(date.isoformat),
        day.map(lambda d: d.strftime("%d/%m/%Y")),
        st.sampled_from(["2024-13-01", "2024-02-30", "0000-01-01", "1800-06-01", "2024-1-5"]),
    )


def _value(table: str, col: Column) -> st.SearchStrategy[str]:
    """Text for one cell of `col`: mostly plausible, often wrong."""
    options: list[st.SearchStrategy[str]] = [st.just(""), garbage]
    if col.codes:
        codes = st.sampled_from(col.codes)
        options += [codes, codes, codes.map(str.upper), codes.map(str.capitalize)]
    elif col.type == "date":
        options += [_dates(), _dates()]
    elif col.type == "integer":
        low = col.min_value if col.min_value is not None else 1890
        high = col.max_value if col.max_value is not None else AS_OF.year - 10
        options += [st.integers(low - 2, high + 2).map(str)] * 2 + [st.just("1.5")]
    elif col.type == "boolean":
        options += [st.sampled_from(["true", "false"])] * 2 + [st.sampled_from(["yes", "1", "True", "0"])]
    elif col.name in POOL:
        options += [st.sampled_from(POOL[col.name])] * 3
    else:
        options += [st.text(max_size=8)]
    if col.name == TABLES[table].key:
        # Keys must come back as written to find their line: no control characters in them.
        options = [st.sampled_from(POOL[col.name])] * 3 + [st.just(""), safe_garbage]
    return st.one_of(options)


def _rows(table: str) -> st.SearchStrategy[list[list[str]]]:
    row = st.tuples(*(_value(table, col) for col in TABLES[table].columns)).map(list)
    return st.lists(row, max_size=6)


def _write(path: Path, table: str, rows: list[list[str]]) -> dict[int, str | None]:
    """Write the CSV; return each data row's line → its key (None when empty)."""
    key_at = TABLES[table].column_names.index(TABLES[table].key)
    records = [_record(TABLES[table].column_names)]
    lines: dict[int, str | None] = {}
    line = 2
    for row in rows:
        records.append(_record(row))
        lines[line] = row[key_at] or None
        line += records[-1].count("\n")
    path.write_bytes("".join(records).encode("utf-8"))
    return lines


def _record(fields: list[str]) -> str:
    quoted = ['"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\r\n') else f for f in fields]
    return ",".join(quoted) + "\n"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({table: _rows(table) for table in RANDOM_TABLES}))
def test_every_row_is_loaded_or_quarantined_never_both_never_neither(
    rows: dict[str, list[list[str]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "extract"
        shutil.copytree(BASE, folder)
        written = {table: _write(folder / f"{table}.csv", table, rows[table]) for table in RANDOM_TABLES}
        db = Path(tmp) / "warehouse.duckdb"
        result = load_extracts([folder], db, max_rejected=1.0)  # random bad rows: every one is checked

        with duckdb.connect(str(db), read_only=True) as con:
            quarantined = con.execute("SELECT DISTINCT file, line FROM quarantine").fetchall()
            files = {
                f["name"]: f for f in json.loads(con.execute("SELECT files FROM load_history").fetchone()[0])
            }
            loaded_keys = {
                table: [r[0] for r in con.execute(f"SELECT {TABLES[table].key} FROM {table}").fetchall()]
                for table in RANDOM_TABLES
            }

    for table in RANDOM_TABLES:
        lines = written[table]
        name = f"{table}.csv"
        rejected = {line for file, line in quarantined if Path(file).name == name}
        line_of = {}
        for line, key in lines.items():
            line_of.setdefault(key, []).append(line)
        loaded = []
        for key in loaded_keys[table]:
            assert len(line_of.get(key, [])) == 1, f"{table}: loaded key {key!r} is not one input row"
            loaded.append(line_of[key][0])
        assert len(loaded) == len(set(loaded)), f"{table}: a row loaded twice"
        assert not set(loaded) & rejected, f"{table}: rows both loaded and quarantined"
        assert set(loaded) | rejected == set(lines), f"{table}: rows neither loaded nor quarantined"
        record = files[name]
        assert record["rows_read"] == len(lines)
        assert record["rows_loaded"] + record["rows_rejected"] == record["rows_read"]
        assert record["rows_loaded"] == len(loaded) == result.loaded[table]
        assert record["rows_rejected"] == len(rejected) == result.rejected[table]
