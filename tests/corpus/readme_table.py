"""Writes the case table of `tests/corpus/README.md` from the manifest (`cases.toml`).

Run from the repository root: `python tests/corpus/readme_table.py` rewrites the count line and the
table between the README's header row and its first blank line after it;
`tests/reliability/test_bad_input_corpus.py` checks the README says what this script would write.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
README = CORPUS / "README.md"
MANIFEST = CORPUS / "cases.toml"
HEADER = "| case | input | outcome |\n|---|---|---|\n"
_COUNT_LINE = re.compile(r"^\d+ cases: \d+ refused, \d+ quarantined, \d+ loaded\.$", re.MULTILINE)


def cases() -> list[dict]:
    with MANIFEST.open("rb") as f:
        return tomllib.load(f)["case"]


def _where(case: dict) -> str:
    """Where a refusal points: 'contacts.csv line 3', 'providers.parquet row 2', with its column."""
    where = case["file"]
    line = case.get("line")
    if line is not None:
        where += f" row {line - 1}" if case["file"].endswith(".parquet") else f" line {line}"
    if case.get("column") is not None:
        where += f", column {case['column']}"
    return where


def row(case: dict) -> str:
    """The README row of one case."""
    options = [f"--encoding {case['encoding']}"] if case.get("encoding") else []
    options += [f"--date-format {case['date_format']}"] if case.get("date_format") else []
    described = case["description"] + "".join(f" (`{option}`)" for option in options)
    if case["outcome"] == "refused":
        outcome = f"**refused** — {_where(case)}"
    elif case["outcome"] == "quarantined":
        rows = {(file, line) for file, line, _, _ in case["quarantined"]}
        rules = list(dict.fromkeys(rule for _, _, _, rule in case["quarantined"]))
        outcome = f"**quarantined** — {len(rows)} row(s): " + ", ".join(f"`{rule}`" for rule in rules)
    else:
        outcome = "**loaded**" + (" (warning)" if case.get("warnings") else "")
    return f"| `{case['id']}` | {described} | {outcome} |"


def count_line(all_cases: list[dict]) -> str:
    outcomes = Counter(case["outcome"] for case in all_cases)
    return (
        f"{len(all_cases)} cases: {outcomes['refused']} refused, {outcomes['quarantined']} quarantined, "
        f"{outcomes['loaded']} loaded."
    )


def readme_text(text: str) -> str:
    """`text` (the README) with its count line and case table as the manifest says."""
    all_cases = cases()
    text = _COUNT_LINE.sub(count_line(all_cases), text, count=1)
    start = text.index(HEADER) + len(HEADER)
    end = text.index("\n\n", start)
    return text[:start] + "\n".join(row(case) for case in all_cases) + text[end:]


if __name__ == "__main__":
    README.write_text(readme_text(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {README}")
