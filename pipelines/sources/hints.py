"""Suggestions for what the loader refuses to guess: a file's likely encoding, a column's date pattern.

The loader never reads a file in an encoding, or a date in an order, that the user has not named. When
it refuses, it says what would most likely work and which option to pass: the encoding
charset-normalizer finds most likely for the bytes, or the strftime patterns under which every value of
a date column is a real date. A suggestion is only ever printed, never applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from charset_normalizer import from_bytes

from pipelines.sources.values import _TIME_SUFFIX

#: Date patterns real exports use, most common in England first (the contract's own first of all).
DATE_PATTERNS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d-%b-%y",
    "%d %B %Y",
    "%Y%m%d",
    "%d%m%Y",
)
#: At most this many distinct values are tried against each pattern.
_SAMPLE = 2000
_ENCODING_SAMPLE_BYTES = 1 << 20


#: Among encodings that read the bytes equally well, the ones English systems write, most common first:
#: Excel's "CSV" on Windows in the UK is Windows-1252; older systems write Latin-1 or Latin-9.
_ENGLISH_FIRST = ("cp1252", "iso8859_15", "latin_1", "mac_roman", "cp850")


def likely_encodings(data: bytes, around: int | None = None) -> list[str]:
    """The encodings charset-normalizer finds most likely for `data`, best first (Python codec names);
    empty when it finds none, or only UTF-8 or ASCII.

    Short files are ambiguous (a 'Café' reads the same in a dozen code pages), so among the encodings
    that read the bytes with as little chaos as the best, those English systems write come first
    (`_ENGLISH_FIRST`). Large files are sampled: the first MiB and, when given, a MiB around byte
    `around` (where the first byte that is not UTF-8 sits), so the answer rests on the bytes that matter.
    """
    sample = data[:_ENCODING_SAMPLE_BYTES]
    if around is not None and around >= _ENCODING_SAMPLE_BYTES:
        start = max(0, around - _ENCODING_SAMPLE_BYTES // 2)
        sample += b"\n" + data[start : start + _ENCODING_SAMPLE_BYTES]
    matches = list(from_bytes(sample))
    if not matches:
        return []
    least = min(m.chaos for m in matches)
    plausible = [m for m in matches if m.chaos <= least + 0.01]
    found = list(dict.fromkeys(e for m in plausible for e in (m.encoding, *m.could_be_from_charset)))
    found = [e for e in found if e not in ("utf_8", "ascii")]
    return sorted(
        found, key=lambda e: _ENGLISH_FIRST.index(e) if e in _ENGLISH_FIRST else len(_ENGLISH_FIRST)
    )


def likely_encoding(data: bytes, around: int | None = None) -> str | None:
    """The most likely of `likely_encodings`, or None."""
    found = likely_encodings(data, around)
    return found[0] if found else None


def _parses(value: str, pattern: str) -> bool:
    try:
        datetime.strptime(value, pattern)
        return True
    except ValueError:
        pass
    suffix = _TIME_SUFFIX.search(value)
    if suffix is None:
        return False
    try:
        datetime.strptime(value[: suffix.start()], pattern)
    except ValueError:
        return False
    return True


def date_patterns(values: Iterable[str]) -> list[str]:
    """The patterns of `DATE_PATTERNS` under which every one of `values` is a real date (a midnight
    or other time part allowed), in `DATE_PATTERNS` order; empty when none fits them all."""
    distinct = sorted({v for v in values if v})[:_SAMPLE]
    if not distinct:
        return []
    return [p for p in DATE_PATTERNS if all(_parses(v, p) for v in distinct)]


def describe_patterns(patterns: list[str]) -> str:
    """A sentence naming the option that would read a date column, or why none is named."""
    if not patterns:
        return ""
    if "%d/%m/%Y" in patterns and "%m/%d/%Y" in patterns:
        return (
            "the values read as %d/%m/%Y (day first, the UK default) and as %m/%d/%Y (month first): "
            "no day above 12 tells them apart, so pass the one your system writes, e.g. "
            "--date-format %d/%m/%Y"
        )
    if len(patterns) == 1:
        return f"every value reads as {patterns[0]}: pass --date-format {patterns[0]}"
    return (
        "the values read as "
        + " or ".join(patterns)
        + f": pass the one your system writes, e.g. --date-format {patterns[0]}"
    )
