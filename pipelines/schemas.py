"""The data contract's row rules as pandera schemas, and the failures they report.

Every rule of `docs/contract.md` that a single row can break is a pandera check with a stable rule
name; the loader stores that name in the quarantine table and the rejected-rows report:

| rule | what it checks |
|---|---|
| `date_format` | a date written as text is a real date in `YYYY-MM-DD` form (or the `--date-format` given) |
| `date_time` | a date written with a time of day has a midnight time (the time is never cut off) |
| `type` | an integer or boolean written as text is one (`42`, `42.0`; `true`, `Y`, `1`...) |
| `required` | a required column has a value |
| `code` | a code is one of the contract's codes, exactly (case-sensitive) |
| `range` | an integer lies in its range (birth_year: 1900 … year of as_of − 12) |
| `after_as_of` | no date is later than the extract's as_of date |
| `before_min_date` | no date is before 1990-01-01 (`contract.MIN_EVENT_DATE`; the contract is silent) |
| `unique` | the table's key appears once in its file |
| `person_id_format` | person_id is 6–64 characters of `[A-Za-z0-9_-]` |
| `nhs_number` | person_id is not a 10-digit number with a valid NHS-number check digit |
| `date_order` | triage ≥ referral; start ≥ referral, ≥ triage; discharge ≥ start (or referral) |
| `discharge_reason_presence` | discharge_reason is present exactly when discharge_date is |
| `foreign_key` | a referenced person/programme/provider/episode exists (in this load or the warehouse) |
| `episode_person` | a contact's, assessment's or drug test's episode belongs to the same person |
| `overlap` | two episodes of one person in the same programme do not overlap (the later-starting one fails) |

The schemas validate pandas frames backed by Arrow (`pd.ArrowDtype`), indexed by the row's line
number in its file, so a failure's index is the line to report. A column not already of its contract
type (every column of a CSV; a Parquet or Excel column of another type) is read by
`pipelines.sources.values`, the one reading of values for every source, in `to_contract_types`
(rules `date_format`, `date_time`, `type`); a Parquet column already of the right type skips that step.
`schema_for(table, as_of, known_keys, episode_person)` then checks the typed frame. Overlap needs the
final set of a load's episodes, so it is a schema of its own (`overlap_schema`), run on the episodes
that pass everything else.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pdr
import pyarrow as pa
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from pipelines.contract import (
    MIN_AGE_AT_EXTRACT,
    MIN_BIRTH_YEAR,
    MIN_EVENT_DATE,
    PERSON_ID_PATTERN,
    TABLES,
    Column,
    Table,
)
from pipelines.sources.values import (
    DateReading,
    Reading,
    describe_format,
    read_booleans,
    read_dates,
    read_integers,
    timestamps_as_dates,
    timestamps_as_text,
)

RULES = (
    "date_format",
    "date_time",
    "type",
    "required",
    "code",
    "range",
    "after_as_of",
    "before_min_date",
    "unique",
    "person_id_format",
    "nhs_number",
    "date_order",
    "discharge_reason_presence",
    "foreign_key",
    "episode_person",
    "overlap",
)

#: Arrow types of a typed (validated) frame, by contract type. Integers are validated as int64 and
#: narrowed by the warehouse's INTEGER columns on insert.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "code": pa.string(),
    "date": pa.date32(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}
PANDAS_TYPES = {name: pd.ArrowDtype(t) for name, t in ARROW_TYPES.items()}

#: Columns of a failures frame (one row per broken rule per row).
FAILURE_COLUMNS = ["line", "column", "rule", "value", "message"]

_BIG_FRAME_ROWS = 200_000
#: Tables whose optional episode_id must name an episode of the row's own person (rule `episode_person`).
EPISODE_PERSON_TABLES = ("contacts", "assessments", "drug_tests")


# ---------------------------------------------------------------------------------------------
# Arrow helpers: checks compute on the Arrow arrays behind the frame and return numpy booleans.


def _arrow(series: pd.Series) -> pa.ChunkedArray:
    array = series.array
    if hasattr(array, "__arrow_array__"):
        result = array.__arrow_array__()
        return result if isinstance(result, pa.ChunkedArray) else pa.chunked_array([result])
    return pa.chunked_array([pa.array(series, from_pandas=True)])


def _bools(result: pa.ChunkedArray | pa.Array, index: pd.Index, *, null_is: bool = True) -> pd.Series:
    """An Arrow boolean result as a numpy-backed boolean Series (nulls count as `null_is`)."""
    filled = pc.fill_null(result, null_is)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks() if filled.num_chunks != 1 else filled.chunk(0)
    return pd.Series(filled.to_numpy(zero_copy_only=False), index=index, copy=False)


def _or_null(series: pd.Series, result: pa.ChunkedArray) -> pd.Series:
    """Passes where the value is null (nullability is the `required` rule's business)."""
    return _bools(pc.or_kleene(pc.is_null(_arrow(series)), result), series.index)


# ---------------------------------------------------------------------------------------------
# Values written as text (CSV, Excel text cells, a Parquet column of another type): read by the one
# reading of values (`pipelines.sources.values`); rules date_format, date_time and type.


def _reading(kind: str, text: pa.ChunkedArray, date_format: str | None) -> Reading:
    if kind == "date":
        return read_dates(text, date_format)
    if kind == "integer":
        return read_integers(text)
    return read_booleans(text)


def _precomputed(rule: str, mask: pa.ChunkedArray) -> pdr.Check:
    """A check whose outcome per row was computed when the column was read (one reading, not three)."""
    return pdr.Check(lambda s: _bools(mask, s.index), name=rule, ignore_na=False)


def _text_message(name: str, kind: str, rule: str, date_format: str | None) -> str:
    if rule == "date_time":
        return (
            f"{name} '{{value}}' has a time of day that is not midnight; a date is expected "
            "(the time is not cut off)"
        )
    what = {"date": describe_format(date_format), "integer": "an integer", "boolean": "true or false"}[kind]
    return f"{name} '{{value}}' is not {what}"


def _to_type(array: pa.ChunkedArray, col: Column) -> pa.ChunkedArray | None:
    """`array` in the contract type of `col` when its Arrow type converts without loss, else None
    (the column is then read as text, where each value that cannot be converted is a bad row)."""
    t = array.type
    if col.type in ("string", "code"):
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            array = pc.cast(array, pa.string())
            # An empty string is a null, as an empty CSV field is.
            empty = pc.equal(array, "")
            if pc.any(empty).as_py():
                return pc.if_else(empty, pa.scalar(None, pa.string()), array)
            return array
        if pa.types.is_integer(t) or pa.types.is_dictionary(t):
            return _to_type(pc.cast(array, pa.string()), col)
        if pa.types.is_null(t):
            return pa.chunked_array([pa.nulls(len(array), pa.string())])
        return None
    if col.type == "date":
        if pa.types.is_date(t):
            return pc.cast(array, pa.date32())
        if pa.types.is_timestamp(t):
            return timestamps_as_dates(array)
    elif col.type == "integer":
        if pa.types.is_integer(t):
            return pc.cast(array, pa.int64())
        if pa.types.is_floating(t):
            integral = pc.fill_null(pc.equal(pc.floor(array), array), True)
            if pc.all(integral).as_py() and (len(array) == 0 or pc.max(pc.abs(array)).as_py() or 0) < 2**53:
                return pc.cast(array, pa.int64())
            return None
    elif col.type == "boolean":
        if pa.types.is_boolean(t):
            return array
        if pa.types.is_integer(t):
            zero_or_one = pc.is_in(array, value_set=pa.array([0, 1], t))
            if pc.all(pc.or_kleene(zero_or_one, pc.is_null(array))).as_py() is not False:
                return pc.equal(array, pa.scalar(1, t))
            return None
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(array), ARROW_TYPES[col.type])])
    return None


def _written_as_text(array: pa.ChunkedArray) -> tuple[pa.ChunkedArray, bool]:
    """(a typed column written as text, whether it was rendered here in ISO form, not by the file)."""
    if pa.types.is_string(array.type):
        return array, False
    if pa.types.is_timestamp(array.type):
        return timestamps_as_text(array), True
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        return pc.cast(array, pa.string()), False
    return pc.cast(array, pa.string()), pa.types.is_date(array.type)


def to_contract_types(
    table_name: str, data: pa.Table, index: pd.Index, *, date_format: str | None = None
) -> tuple[pa.Table, pd.DataFrame]:
    """Convert a file's columns to the contract's types: (typed Arrow table, reading failures).

    A column already of a matching Arrow type is converted without loss; any other column is read as
    text by `pipelines.sources.values` (dates in `date_format` when given, else YYYY-MM-DD; a Parquet
    timestamp with a time of day is written in ISO form and read so), with rules `date_format`,
    `date_time` and `type`; a value that fails becomes null in the typed table (its row is rejected
    all the same).
    """
    table = TABLES[table_name]
    typed: dict[str, pa.ChunkedArray] = {}
    text: dict[str, pa.ChunkedArray] = {}
    columns: dict[str, pdr.Column] = {}
    messages: dict[tuple[str, str], str] = {}
    for col in table.columns:
        array = data.column(col.name)
        converted = _to_type(array, col)
        if converted is not None:
            typed[col.name] = converted
            continue
        as_text, rendered = _written_as_text(array)
        as_text = pc.if_else(pc.equal(as_text, ""), pa.scalar(None, pa.string()), as_text)
        text[col.name] = as_text
        if col.type not in _TEXT_KINDS:
            typed[col.name] = as_text
            continue
        pattern = None if rendered else date_format
        reading = _reading(col.type, as_text, pattern)
        typed[col.name] = reading.values
        rules = [("date_format" if col.type == "date" else "type", reading.readable)]
        if isinstance(reading, DateReading):
            rules.append(("date_time", reading.midnight))
        columns[col.name] = pdr.Column(
            PANDAS_TYPES["string"],
            nullable=True,
            required=False,
            checks=[_precomputed(r, m) for r, m in rules],
        )
        for rule, _ in rules:
            messages[(col.name, rule)] = _text_message(col.name, col.type, rule, pattern)
    failures = empty_failures()
    if columns:
        frame = pa.table({name: text[name] for name in columns}).to_pandas(types_mapper=pd.ArrowDtype)
        frame.index = index
        schema = pdr.DataFrameSchema(columns, name=f"{table_name} (text)", metadata={"messages": messages})
        failures = validate(frame, schema)
    arrays = [pc.cast(typed[c.name], ARROW_TYPES[c.type]) for c in table.columns]
    return pa.table(arrays, names=table.column_names), failures


_TEXT_KINDS = ("date", "integer", "boolean")


# ---------------------------------------------------------------------------------------------
# Typed rules.


@dataclass(frozen=True)
class KnownKeys:
    """The keys a row may refer to: valid rows of this load ∪ rows already in the warehouse.

    `keys` maps a table name to an Arrow array of its distinct keys; `episode_person` is a table
    (episode_id, person_id) of every episode the warehouse will hold after this load.
    """

    keys: Mapping[str, pa.Array]
    episode_person: pa.Table | None = None
    #: Where big key sets are looked up (see `KeyLookup`); None: by pyarrow, as for small ones.
    lookup: KeyLookup | None = None


class KeyLookup:
    """Lookups of a piece's values in a fixed big key set, asked again for every piece of a file.

    pyarrow's `is_in` builds a hash table of its value set on every call: for 2,000,000 people that is
    about 0.5 s, again for each piece of a million contacts. Here a big key set is copied once into a
    DuckDB table of an in-memory database of its own and each piece joined to it, in parallel (about
    0.1 s a piece); the answer comes back as the positions that fail, so no order has to be kept.
    Key sets under `BIG` and small pieces use pyarrow.
    """

    BIG = 100_000

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None
        self._held: dict[int, tuple[object, str]] = {}

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            shutil.rmtree(self._spill, ignore_errors=True)
        self._held.clear()

    def wanted(self, keys: pa.Array | pa.Table, values: int) -> bool:
        rows = keys.num_rows if isinstance(keys, pa.Table) else len(keys)
        return rows >= self.BIG and values >= self.BIG // 10

    def _table(self, keys: pa.Array | pa.Table) -> str:
        held = self._held.get(id(keys))
        if held is not None and held[0] is keys:
            return held[1]
        if self._con is None:
            self._con = duckdb.connect()
            self._con.execute("SET memory_limit = '512MB'")
            # Beyond it DuckDB spills; an in-memory database would spill to ./.tmp, wherever the user is.
            self._spill = tempfile.mkdtemp(prefix="rosc-keys-")
            self._con.execute("SET temp_directory = ?", [self._spill])
        name = f"_keys_{len(self._held)}"
        data = keys if isinstance(keys, pa.Table) else pa.table({"k": keys})
        self._con.register("_new_keys", data)
        try:
            self._con.execute(f"CREATE TABLE {name} AS SELECT * FROM _new_keys")
        finally:
            self._con.unregister("_new_keys")
        self._held[id(keys)] = (keys, name)  # keeping `keys` alive keeps its id unique
        return name

    def _failing(self, sql: str, piece: pa.Table, rows: int) -> np.ndarray:
        con = self._con
        con.register("_piece", piece.append_column("i", pa.array(np.arange(rows, dtype=np.int64))))
        try:
            at = con.sql(sql).to_arrow_table().column(0).to_numpy()
        finally:
            con.unregister("_piece")
        ok = np.ones(rows, dtype=bool)
        ok[at] = False
        return ok

    def among(self, values: pa.ChunkedArray, keys: pa.Array) -> np.ndarray:
        """Per value: it is null or one of `keys`."""
        table = self._table(keys)
        return self._failing(
            f"SELECT i FROM _piece ANTI JOIN {table} ON _piece.v = {table}.k WHERE _piece.v IS NOT NULL",
            pa.table({"v": values}),
            len(values),
        )

    def same_owner(self, episodes: pa.ChunkedArray, people: pa.ChunkedArray, owners: pa.Table) -> np.ndarray:
        """Per row: its episode is unknown or null, or its person is null, or the episode belongs to
        its person (`owners`: episode_id, person_id), as `_episode_person_check` reads it in pyarrow."""
        table = self._table(owners)
        return self._failing(
            f"SELECT i FROM _piece JOIN {table} ON _piece.e = {table}.episode_id "
            f"WHERE _piece.p <> {table}.person_id",  # a null person is rule required's, as in pyarrow
            pa.table({"e": episodes, "p": people}),
            len(episodes),
        )


def _codes_check(codes: tuple[str, ...]) -> pdr.Check:
    value_set = pa.array(codes, pa.string())
    return pdr.Check(
        lambda s: _or_null(s, pc.is_in(_arrow(s), value_set=value_set)), name="code", ignore_na=False
    )


def _range_check(low: int | None, high: int | None) -> pdr.Check:
    def within_bounds(s: pd.Series) -> pd.Series:
        values = _arrow(s)
        ok = pc.greater_equal(values, low) if low is not None else None
        if high is not None:
            upper = pc.less_equal(values, high)
            ok = upper if ok is None else pc.and_(ok, upper)
        return _bools(ok, s.index)

    return pdr.Check(within_bounds, name="range", ignore_na=False)


def _not_after_check(as_of: date) -> pdr.Check:
    limit = pa.scalar(as_of, pa.date32())
    return pdr.Check(
        lambda s: _bools(pc.less_equal(_arrow(s), limit), s.index), name="after_as_of", ignore_na=False
    )


def _not_before_check(earliest: date) -> pdr.Check:
    limit = pa.scalar(earliest, pa.date32())
    return pdr.Check(
        lambda s: _bools(pc.greater_equal(_arrow(s), limit), s.index), name="before_min_date", ignore_na=False
    )


def _foreign_key_check(keys: pa.Array, lookup: KeyLookup | None = None) -> pdr.Check:
    def known(s: pd.Series) -> pd.Series:
        if lookup is not None and lookup.wanted(keys, len(s)):
            return pd.Series(lookup.among(_arrow(s), keys), index=s.index, copy=False)
        return _or_null(s, pc.is_in(_arrow(s), value_set=keys))

    return pdr.Check(known, name="foreign_key", ignore_na=False)


def _strictly_increasing(values: pa.ChunkedArray) -> bool:
    """True when every value is greater than the one before (so all are distinct); nulls: False."""
    array = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if len(array) < 2:
        return True
    ascending = pc.less(array.slice(0, len(array) - 1), array.slice(1))
    return bool(pc.all(pc.fill_null(ascending, False)).as_py())


def _unique_in_file_check(duplicates: pa.Array) -> pdr.Check:
    """The key appears once in its file, for a file checked a piece at a time: `duplicates` holds
    the keys the whole file repeats (found beforehand by `repeated_keys`)."""
    return pdr.Check(lambda s: _not_among(s, duplicates), name="unique", ignore_na=False)


def _not_among(s: pd.Series, repeated: pa.Array) -> pd.Series:
    """Per value: not one of the `repeated` keys (a null passes: it is rule required's)."""
    if len(repeated) == 0:
        return pd.Series(np.ones(len(s), dtype=bool), index=s.index)
    return _bools(pc.invert(pc.is_in(_arrow(s), value_set=repeated)), s.index)


def key_as_text(table_name: str, array: pa.ChunkedArray) -> pa.ChunkedArray:
    """A file's key column as `to_contract_types` reads it (text; empty is null)."""
    col = next(c for c in TABLES[table_name].columns if c.name == TABLES[table_name].key)
    converted = _to_type(array, col)
    if converted is None:
        converted, _ = _written_as_text(array)
        converted = pc.if_else(pc.equal(converted, ""), pa.scalar(None, pa.string()), converted)
    return pc.cast(converted, pa.string())


def repeated_keys(
    pieces: Callable[[], Iterator[pa.ChunkedArray]], con: duckdb.DuckDBPyConnection | None = None
) -> pa.Array:
    """The keys that occur more than once in one file's key column (nulls aside), read by `pieces()`
    a piece at a time.

    A file written in key order (the usual case) is recognised piece by piece, holding one piece in
    memory; otherwise its keys are read again into a DuckDB table on `con` (a connection of its own
    when None), whose memory limit lets it spill to disk, and counted there.
    """
    previous = None
    for keys in pieces():
        ordered = _strictly_increasing(keys) and (
            previous is None or len(keys) == 0 or pc.less(previous, keys[0]).as_py() is True
        )
        if not ordered:
            break
        if len(keys):
            previous = keys[len(keys) - 1]
    else:
        return pa.array([], pa.string())
    own = con is None
    con = duckdb.connect() if own else con
    con.execute("CREATE OR REPLACE TEMP TABLE _file_keys (k VARCHAR)")
    try:
        for keys in pieces():
            # DuckDB scans an Arrow table in parallel by record batch: give it row-group-sized batches.
            batches = pa.table({"k": keys}).to_batches(max_chunksize=122_880)
            con.register("_piece_keys", pa.Table.from_batches(batches, schema=pa.schema([("k", keys.type)])))
            try:
                con.execute("INSERT INTO _file_keys SELECT k FROM _piece_keys")
            finally:
                con.unregister("_piece_keys")
        found = con.sql("SELECT k FROM _file_keys WHERE k IS NOT NULL GROUP BY k HAVING count(*) > 1")
        return found.to_arrow_table().column(0).combine_chunks().cast(pa.string())
    finally:
        con.execute("DROP TABLE IF EXISTS _file_keys")
        if own:
            con.close()


def _unique_check() -> pdr.Check:
    """The key appears once in its file.

    For big files `repeated_keys` answers (nothing to do for keys in order; otherwise a DuckDB
    count, in parallel); pandas' duplicated() for small ones.
    """

    def key_appears_once(s: pd.Series) -> pd.Series:
        if len(s) >= _BIG_FRAME_ROWS:
            return _not_among(s, repeated_keys(lambda: iter([_arrow(s)])))
        return ~s.duplicated(keep=False) | s.isna()

    return pdr.Check(key_appears_once, name="unique", ignore_na=False)


def _person_id_format_check() -> pdr.Check:
    return pdr.Check(
        lambda s: _or_null(s, pc.match_substring_regex(_arrow(s), PERSON_ID_PATTERN)),
        name="person_id_format",
        ignore_na=False,
    )


def is_nhs_number(value: str) -> bool:
    """True for a 10-digit string whose last digit is a valid NHS-number modulus-11 check digit.

    Reference: NHS Data Dictionary, "NHS Number": weights 10..2 over the first nine digits,
    check = 11 − (sum mod 11); 11 means 0 and 10 means the number is invalid.
    """
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])


def _nhs_number_check() -> pdr.Check:
    def not_nhs(s: pd.Series) -> pd.Series:
        values = _arrow(s)
        ten_digits = pc.fill_null(pc.match_substring_regex(values, r"^\d{10}$"), False)
        ok = np.ones(len(s), dtype=bool)
        candidates = np.flatnonzero(ten_digits.to_numpy(zero_copy_only=False))
        if len(candidates):  # rare: only 10-digit ids get the arithmetic
            texts = s.iloc[candidates].tolist()
            ok[candidates] = [not is_nhs_number(t) for t in texts]
        return pd.Series(ok, index=s.index)

    return pdr.Check(not_nhs, name="nhs_number", ignore_na=False)


def _frame_check(rule: str, column: str, fn: Callable[[pd.DataFrame], pa.ChunkedArray]) -> pdr.Check:
    """A check across columns, blamed on `column` (its name is `rule[column]`)."""
    return pdr.Check(lambda df: _bools(fn(df), df.index), name=f"{rule}[{column}]", ignore_na=False)


def _episode_date_checks() -> list[pdr.Check]:
    def col(df: pd.DataFrame, name: str) -> pa.ChunkedArray:
        return _arrow(df[name])

    def start_ok(df: pd.DataFrame) -> pa.ChunkedArray:
        start = col(df, "start_date")
        after_referral = pc.fill_null(pc.greater_equal(start, col(df, "referral_date")), True)
        after_triage = pc.fill_null(pc.greater_equal(start, col(df, "triage_date")), True)
        return pc.and_(after_referral, after_triage)

    def discharge_ok(df: pd.DataFrame) -> pa.ChunkedArray:
        since = pc.coalesce(col(df, "start_date"), col(df, "referral_date"))
        return pc.greater_equal(col(df, "discharge_date"), since)

    def reason_present_ok(df: pd.DataFrame) -> pa.ChunkedArray:
        return pc.equal(pc.is_valid(col(df, "discharge_date")), pc.is_valid(col(df, "discharge_reason")))

    return [
        _frame_check(
            "date_order",
            "triage_date",
            lambda df: pc.greater_equal(col(df, "triage_date"), col(df, "referral_date")),
        ),
        _frame_check("date_order", "start_date", start_ok),
        _frame_check("date_order", "discharge_date", discharge_ok),
        _frame_check("discharge_reason_presence", "discharge_reason", reason_present_ok),
    ]


def _episode_person_check(episode_person: pa.Table, lookup: KeyLookup | None = None) -> pdr.Check:
    episode_ids = episode_person.column("episode_id").combine_chunks()
    person_ids = episode_person.column("person_id").combine_chunks()

    def same_person(df: pd.DataFrame) -> pa.ChunkedArray:
        if lookup is not None and lookup.wanted(episode_person, len(df)):
            ok = lookup.same_owner(_arrow(df["episode_id"]), _arrow(df["person_id"]), episode_person)
            return pa.chunked_array([pa.array(ok)])
        position = pc.index_in(_arrow(df["episode_id"]), value_set=episode_ids)
        owner = pc.take(person_ids, position)  # null where no episode: foreign_key's business
        return pc.equal(owner, _arrow(df["person_id"]))

    return _frame_check("episode_person", "episode_id", same_person)


def _message(table: Table, col: Column, rule: str, as_of: date, high: int | None = None) -> str:
    name = col.name
    if rule == "required":
        return f"{name} is required but empty"
    if rule == "code":
        return f"{name} '{{value}}' is not one of: {', '.join(col.codes or ())}"
    if rule == "range":
        return f"{name} {{value}} is outside {col.min_value}–{high if high is not None else col.max_value}"
    if rule == "after_as_of":
        return f"{name} {{value}} is after the extract's as_of date {as_of.isoformat()}"
    if rule == "before_min_date":
        return f"{name} {{value}} is before {MIN_EVENT_DATE.isoformat()}, earlier than any plausible record"
    if rule == "unique":
        return f"{name} '{{value}}' appears more than once in this file"
    if rule == "foreign_key":
        ref_table, ref_col = col.references or ("?", "?")
        return (
            f"{name} '{{value}}' does not exist in {ref_table} (neither among this load's valid "
            f"{ref_table} rows nor in the warehouse)"
        )
    if rule == "person_id_format":
        return "person_id '{value}' must be 6–64 characters of A-Z, a-z, 0-9, _ or -"
    if rule == "nhs_number":
        return (
            "person_id '{value}' looks like an NHS number (10 digits with a valid check digit); "
            "person_id must be a pseudonym"
        )
    raise KeyError(rule)


_FRAME_MESSAGES = {
    "date_order[triage_date]": "triage_date {value} is before referral_date",
    "date_order[start_date]": "start_date {value} is before referral_date or triage_date",
    "date_order[discharge_date]": (
        "discharge_date {value} is before start_date (referral_date if never started)"
    ),
    "discharge_reason_presence[discharge_reason]": (
        "discharge_reason must be given exactly when discharge_date is (discharge_reason: '{value}')"
    ),
    "episode_person[episode_id]": "episode_id '{value}' belongs to another person",
    "overlap[referral_date]": (
        "episode (referral_date {value}) overlaps another episode of the same person in the same "
        "programme that started earlier or is already in the warehouse"
    ),
}


def schema_for(
    table_name: str,
    as_of: date,
    known_keys: KnownKeys | None = None,
    *,
    repeated: pa.Array | None = None,
) -> pdr.DataFrameSchema:
    """The pandera schema of `table_name`'s typed rows for an extract dated `as_of`.

    With `known_keys`, references are checked against them (rules `foreign_key`, `episode_person`);
    without, those rules are left out (for checking one table on its own). With `repeated` (the keys
    the whole file repeats), rule `unique` checks a piece of a file against them rather than within
    the rows it is given.
    """
    table = TABLES[table_name]
    columns: dict[str, pdr.Column] = {}
    messages: dict[tuple[str, str], str] = {}

    for col in table.columns:
        checks: list[pdr.Check] = []
        high = col.max_value
        rules = ["required"] if col.required else []
        if col.codes:
            checks.append(_codes_check(col.codes))
            rules.append("code")
        if col.type == "integer":
            if col.name == "birth_year":
                high = as_of.year - MIN_AGE_AT_EXTRACT
                low = MIN_BIRTH_YEAR
            else:
                low = col.min_value
            checks.append(_range_check(low, high))
            rules.append("range")
        if col.type == "date":
            checks += [_not_after_check(as_of), _not_before_check(MIN_EVENT_DATE)]
            rules += ["after_as_of", "before_min_date"]
        if col.name == table.key:
            checks.append(_unique_check() if repeated is None else _unique_in_file_check(repeated))
            rules.append("unique")
        if table_name == "people" and col.name == "person_id":
            checks += [_person_id_format_check(), _nhs_number_check()]
            rules += ["person_id_format", "nhs_number"]
        if col.references and known_keys is not None:
            ref_table = col.references[0]
            checks.append(_foreign_key_check(known_keys.keys[ref_table], known_keys.lookup))
            rules.append("foreign_key")
        for rule in rules:
            messages[(col.name, rule)] = _message(table, col, rule, as_of, high)
        columns[col.name] = pdr.Column(PANDAS_TYPES[col.type], nullable=not col.required, checks=checks)

    frame_checks: list[pdr.Check] = []
    if table_name == "episodes":
        frame_checks += _episode_date_checks()
    if table_name in EPISODE_PERSON_TABLES and known_keys is not None:
        if known_keys.episode_person is not None:
            frame_checks.append(_episode_person_check(known_keys.episode_person, known_keys.lookup))
    for check in frame_checks:
        messages[_split_check_name(check.name)[::-1]] = _FRAME_MESSAGES[check.name]
    return pdr.DataFrameSchema(
        columns, checks=frame_checks, strict=True, name=table_name, metadata={"messages": messages}
    )


def overlap_schema(existing: pd.DataFrame | None = None) -> pdr.DataFrameSchema:
    """Rule `overlap` over the episodes of one load (after every other rule).

    An episode spans [referral_date, discharge_date); an open one runs on. Two episodes of one
    person in the same programme overlap when each starts before the other ends (so a re-referral
    on the day of discharge is fine). `existing` holds the warehouse's episodes this load does not
    replace (episode_id, person_id, programme_id, referral_date, discharge_date): they are already
    accepted, so an incoming episode overlapping one fails. Among the other incoming episodes, the
    later-starting one of an overlapping pair fails (same day: the larger episode_id).
    """

    def no_overlap(df: pd.DataFrame) -> pd.Series:
        return pd.Series(~episode_overlaps(df, existing), index=df.index)

    check = pdr.Check(no_overlap, name="overlap[referral_date]", ignore_na=False)
    return pdr.DataFrameSchema(
        checks=[check],
        name="episodes (overlap)",
        metadata={"messages": {("referral_date", "overlap"): _FRAME_MESSAGES[check.name]}},
    )


def _days(series: pd.Series, fill: int) -> np.ndarray:
    days = pc.cast(pc.cast(_arrow(series), pa.date32()), pa.int32())
    return pc.fill_null(days, fill).to_numpy(zero_copy_only=False).astype(np.int64)


#: The order overlap is decided in: per person and programme, by start; same start, by episode_id.
_SPAN_ORDER = ("person_id", "programme_id", "start", "episode_id")


def _spans(episodes: pd.DataFrame, existing: bool) -> pa.Table:
    never = np.iinfo(np.int64).max
    return pa.table(
        {
            "person_id": pc.cast(_arrow(episodes["person_id"]), pa.string()),
            "programme_id": pc.cast(_arrow(episodes["programme_id"]), pa.string()),
            "start": _days(episodes["referral_date"], 0),
            "end": np.where(
                episodes["discharge_date"].isna().to_numpy(), never, _days(episodes["discharge_date"], 0)
            ),
            "episode_id": pc.cast(_arrow(episodes["episode_id"]), pa.string()),
            "existing": np.full(len(episodes), existing),
            "position": np.full(len(episodes), -1) if existing else np.arange(len(episodes)),
        }
    )


def _in_order(spans: pa.Table) -> pd.DataFrame:
    """`spans` sorted by person, programme, start, episode_id (stable), with `group` numbering each
    (person, programme). Rows without a person or programme are left out: they overlap nothing.

    Arrow sorts the strings and numbers the groups (pandas sorting Python strings took most of a
    load's overlap check), so pandas groups by one integer column.
    """
    keyed = spans.filter(pc.and_(pc.is_valid(spans["person_id"]), pc.is_valid(spans["programme_id"])))
    keyed = keyed.take(pc.sort_indices(keyed, sort_keys=[(name, "ascending") for name in _SPAN_ORDER]))
    new_group = np.zeros(keyed.num_rows, dtype=bool)
    for name in ("person_id", "programme_id"):
        column = keyed[name]
        changed = pc.not_equal(column.slice(1), column.slice(0, max(keyed.num_rows - 1, 0)))
        new_group[1:] |= changed.to_numpy(zero_copy_only=False)
    return pd.DataFrame(
        {
            "group": np.cumsum(new_group),
            "start": keyed["start"].to_numpy(),
            "end": keyed["end"].to_numpy(),
            "existing": keyed["existing"].to_numpy(zero_copy_only=False),
            "position": keyed["position"].to_numpy(),
        }
    )


def _overlaps_earlier(spans: pd.DataFrame) -> np.ndarray:
    """Per row of `spans` (from `_in_order`): it starts before an earlier row of its group ended."""
    groups = spans["group"]
    earlier_end = spans["end"].groupby(groups, sort=False).cummax().groupby(groups, sort=False).shift(1)
    return (spans["start"] < earlier_end.fillna(np.iinfo(np.int64).min)).to_numpy(copy=True)


def episode_overlaps(incoming: pd.DataFrame, existing: pd.DataFrame | None = None) -> np.ndarray:
    """Boolean per incoming episode: it overlaps an existing episode, or an earlier-starting one.

    First every incoming episode overlapping an existing (already accepted) episode of the same
    person and programme fails; then, among the rest, an episode fails when it starts before an
    earlier-starting one (ties: smaller episode_id first) has ended.
    """
    result = np.zeros(len(incoming), dtype=bool)
    mine = _spans(incoming, existing=False)
    if existing is not None and len(existing):
        both = _in_order(pa.concat_tables([mine, _spans(existing, existing=True)]))
        groups = both["group"]
        never, ever = np.iinfo(np.int64).max, np.iinfo(np.int64).min
        kept_end = pd.Series(np.where(both["existing"], both["end"], ever), index=both.index)
        earlier_existing_end = (
            kept_end.groupby(groups, sort=False).cummax().groupby(groups, sort=False).shift(1)
        )
        kept_start = pd.Series(np.where(both["existing"], both["start"], never), index=both.index)
        reverse = kept_start.iloc[::-1]
        rgroups = groups.iloc[::-1]
        later_existing_start = (
            reverse.groupby(rgroups, sort=False)
            .cummin()
            .groupby(rgroups, sort=False)
            .shift(1)
            .reindex(both.index)
        )
        clash = (both["start"] < earlier_existing_end.fillna(ever)) | (
            later_existing_start.fillna(never) < both["end"]
        )
        clash &= ~both["existing"]
        result[both.loc[clash, "position"].to_numpy()] = True
    rest = _in_order(mine.filter(pa.array(~result)))
    result[rest["position"].to_numpy()[_overlaps_earlier(rest)]] = True
    return result


# ---------------------------------------------------------------------------------------------
# Running a schema and reading its failures.


def empty_failures() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": pd.Series([], dtype="int64"),
            "column": pd.Series([], dtype=object),
            "rule": pd.Series([], dtype=object),
            "value": pd.Series([], dtype=object),
            "message": pd.Series([], dtype=object),
        }
    )


_PANDERA_RULES = {"not_nullable": "required", "field_uniqueness": "unique"}
_CHECK_NAME = re.compile(r"^(?P<rule>[a-z_]+)\[(?P<column>[a-z_]+)\]$")


def _split_check_name(name: str) -> tuple[str, str | None]:
    match = _CHECK_NAME.match(name)
    return (match["rule"], match["column"]) if match else (name, None)


def _text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


#: Rules comparing several cells of a row: once a cell of the row could not be read, they would only
#: report the consequence (a discharge reason "without" the date that was unreadable).
CROSS_CELL_RULES = ("date_order", "discharge_reason_presence", "episode_person")


def without_repeats(first: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """Failures of both stages, leaving out `then`'s failures on a cell `first` already rejected (a
    date that is not a date is not also reported as missing), and its cross-cell failures on a row
    with a cell `first` rejected."""
    if first.empty:
        return then
    if then.empty:
        return first
    seen = pd.MultiIndex.from_frame(first[["line", "column"]])
    repeat = pd.MultiIndex.from_frame(then[["line", "column"]]).isin(seen)
    repeat |= then["rule"].isin(CROSS_CELL_RULES).to_numpy() & then["line"].isin(first["line"]).to_numpy()
    both = pd.concat([first, then[~repeat]], ignore_index=True)
    return both.sort_values(["line", "column"], kind="stable", ignore_index=True)


def validate(frame: pd.DataFrame, schema: pdr.DataFrameSchema) -> pd.DataFrame:
    """Run `schema` on `frame` (indexed by line) and return its failures, one row per broken rule.

    Columns: line, column, rule, value (as text), message. A problem that is not about rows (a
    wrong dtype, a check that crashed) is a bug in the caller, so it raises.
    """
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as errors:
        return failures_from(errors.failure_cases, frame, schema)
    return empty_failures()


def failures_from(cases: pd.DataFrame, frame: pd.DataFrame, schema: pdr.DataFrameSchema) -> pd.DataFrame:
    """Turn pandera's failure cases into the loader's failures frame."""
    messages: dict[tuple[str, str], str] = (schema.metadata or {}).get("messages", {})
    if cases["index"].isna().any():
        raise RuntimeError(f"{schema.name}: validation failed outside rows:\n{cases.to_string()}")
    rows = []
    frame_level = (cases["schema_context"] == "DataFrameSchema").to_numpy()
    groups = [(None, check, group) for check, group in cases[frame_level].groupby("check", sort=False)] + [
        (column, check, group)
        for (column, check), group in cases[~frame_level].groupby(["column", "check"], sort=False)
    ]
    for column, check, group in groups:
        if column is None:
            rule, column = _split_check_name(check)
            lines = pd.unique(group["index"].to_numpy())
            values = np.array([_text(v) for v in frame.loc[lines, column].tolist()], dtype=object)
        else:
            rule = _PANDERA_RULES.get(check, check)
            lines = group["index"].to_numpy()
            values = np.array([_text(v) for v in group["failure_case"].tolist()], dtype=object)
        template = messages.get((column, rule))
        if template is None:
            raise RuntimeError(f"{schema.name}: unexpected failure {check!r} on {column!r}")
        prefix, found, suffix = template.partition("{value}")
        texts = (
            [prefix + ("" if v is None else v) + suffix for v in values]
            if found
            else [template] * len(values)
        )
        rows.append(
            pd.DataFrame(
                {
                    "line": np.asarray(lines, dtype=np.int64),
                    "column": column,
                    "rule": rule,
                    "value": values,
                    "message": texts,
                }
            )
        )
    if not rows:
        return empty_failures()
    return pd.concat(rows, ignore_index=True).sort_values(
        ["line", "column"], kind="stable", ignore_index=True
    )
