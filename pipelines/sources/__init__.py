"""Source adapters: files as real systems write them, turned into the contract's tables.

The loader (`pipelines.load`) is the one writer of the warehouse; everything it reads comes through
here. A source adapter reads files and nothing else: it never validates rows (that is
`pipelines.schemas`) and never writes.

- `locate_extract(folder, profile)`: where each table is (CSV, Parquet, an Excel workbook or sheet, or
  what a mapping profile names);
- `read_table(table, ref, options, mapping)`: one table's file read into the contract's columns, with
  each row's line, file-level problems raised as `ExtractError`;
- `ReadOptions`: what is never guessed and so must be told (date pattern, encoding);
- `load_profile(path)`: a mapping profile for an export with its own names and codes;
  `init_profile(folder)` writes a starting one (`rosc map init`);
- `pipelines.sources.values`: the one reading of booleans, integers and dates, for every source.
"""

from pipelines.sources.base import ExtractError, ReadOptions, SourceRef
from pipelines.sources.folder import MANIFEST, ExtractFolder, Manifest, locate_extract
from pipelines.sources.identifiers import identifier_kind, normalise_header
from pipelines.sources.mapping import MappingProfile, TableMapping, load_profile
from pipelines.sources.parquet_file import file_sha256
from pipelines.sources.tables import TableFile, read_table

__all__ = [
    "MANIFEST",
    "ExtractError",
    "ExtractFolder",
    "Manifest",
    "MappingProfile",
    "ReadOptions",
    "SourceRef",
    "TableFile",
    "TableMapping",
    "file_sha256",
    "identifier_kind",
    "load_profile",
    "locate_extract",
    "normalise_header",
    "read_table",
]
