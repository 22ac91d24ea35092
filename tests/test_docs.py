"""The repository documents the contract and the metrics itself: docs/*.md, generated from the code.

The committed `docs/contract.md` and `docs/metrics.md` must be what `pipelines.docs` makes now, so a new
column, code, rule, metric or parameter cannot go undocumented; every metric id and contract column must
appear in them; and no file of the repository may point at the copies of the specifications outside it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pipelines import docs, schemas
from pipelines.contract import TABLE_ORDER, TABLES, Column
from pipelines.metrics.registry import METRICS, Metric, MetricParameter

REPO = Path(__file__).resolve().parent.parent
CONTRACT_DOC = REPO / "docs" / "contract.md"
METRICS_DOC = REPO / "docs" / "metrics.md"


def _section(text: str, heading: str) -> str:
    """The text under a Markdown heading line, up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading)
    body = []
    for line in lines[start + 1 :]:
        match = re.match(r"^(#+) ", line)
        if match and len(match.group(1)) <= level:
            break
        body.append(line)
    return "\n".join(body)


def test_committed_docs_are_what_the_generator_makes_now():
    assert CONTRACT_DOC.read_text(encoding="utf-8") == docs.contract_markdown(), (
        "docs/contract.md is out of date: run `python -m pipelines.docs --write` and commit it"
    )
    assert METRICS_DOC.read_text(encoding="utf-8") == docs.metrics_markdown(), (
        "docs/metrics.md is out of date: run `python -m pipelines.docs --write` and commit it"
    )
    assert docs.stale_docs() == []


def test_every_contract_table_and_column_is_documented_with_its_type_and_codes():
    text = CONTRACT_DOC.read_text(encoding="utf-8")
    for name in TABLE_ORDER:
        table = TABLES[name]
        heading = f"### {name}" + (
            " (optional table: an extract is complete without it)" if table.optional else ""
        )
        section = _section(text, heading)
        assert f"Key: `{table.key}`" in section
        rows = {
            cells[0]: cells
            for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| column")
            for cells in [[c.strip() for c in line.strip("|").split(" | ")]]
        }
        assert list(rows) == table.column_names, name
        for column in table.columns:
            _, kind, required, values, rules = rows[column.name]
            assert kind.startswith(column.type), (name, column.name)
            assert required == ("yes" if column.required else "no"), (name, column.name)
            for code in column.codes or ():
                assert f"`{code}`" in values, (name, column.name, code)
            if column.references:
                assert f"must exist in {column.references[0]}.{column.references[1]}" in rules
            if column.name == table.key:
                assert "key: unique" in rules


def test_every_row_rule_and_outcome_group_is_documented():
    text = CONTRACT_DOC.read_text(encoding="utf-8")
    for rule in schemas.RULES:
        assert f"| `{rule}` |" in text, rule
    groups = _section(text, "### Outcome groups of discharge reasons")
    for reason, group in docs.contract.OUTCOME_GROUPS.items():
        row = next(line for line in groups.splitlines() if f"`{reason}`" in line)
        assert row.endswith(f"| {group} |"), (reason, row)


def test_every_metric_is_documented_with_its_registry_entry():
    text = METRICS_DOC.read_text(encoding="utf-8")
    for metric in METRICS.values():
        section = _section(text, f"### `{metric.id}`: {metric.label}")
        assert re.sub(r"\s+", " ", metric.definition) in re.sub(r"\s+", " ", section), metric.id
        assert f"| kind | {metric.kind} |" in section
        assert f"| grain | {metric.grain} |" in section
        assert f"| unit | {metric.unit} |" in section
        assert f"| improvement | {metric.improvement or 'none'}" in section
        for parameter in metric.parameters:
            assert (
                f"`{parameter.name}` = {parameter.default} ({parameter.minimum}–{parameter.maximum})"
                in section
            )
        if metric.needs_follow_up_days:
            assert f"to + {metric.needs_follow_up_days} ≤ as_of" in section
        for dimension in metric.unit_dimensions:
            assert f"`{dimension}`" in section.split("| breakdowns and filters |")[1]


def test_the_conventions_are_included_whole():
    assert docs.api.CONVENTIONS.rstrip() in METRICS_DOC.read_text(encoding="utf-8")


def test_a_new_metric_would_make_the_committed_docs_stale(monkeypatch):
    new = Metric(
        "relapse_free_weeks",
        "Weeks without relapse",
        "continuous",
        "up",
        "A metric added to the registry for this test only.",
        "weeks",
        "episode",
        parameters=(MetricParameter("window_weeks", 24, 1, 260, "the window"),),
    )
    monkeypatch.setitem(METRICS, new.id, new)
    text = docs.metrics_markdown()
    assert "### `relapse_free_weeks`: Weeks without relapse" in text
    assert "`window_weeks` = 24 (1–260): the window" in text
    assert docs.stale_docs() == [METRICS_DOC]


def test_a_new_column_or_code_would_make_the_committed_docs_stale(monkeypatch):
    people = TABLES["people"]
    extra = Column("gender_identity", "code", required=False, codes=("woman", "man", "non_binary"))
    monkeypatch.setitem(TABLES, "people", dataclasses.replace(people, columns=(*people.columns, extra)))
    text = docs.contract_markdown()
    assert "| gender_identity | code (VARCHAR) | no | `woman`, `man`, `non_binary` |" in text
    assert docs.stale_docs() == [CONTRACT_DOC]


def test_a_rule_schemas_does_not_describe_stops_the_generator(monkeypatch):
    monkeypatch.setattr(schemas, "RULES", (*schemas.RULES, "not_described"))
    with pytest.raises(ValueError, match="not_described"):
        docs.contract_markdown()


def test_column_notes_name_only_contract_columns():
    for table, column in docs.COLUMN_NOTES:
        assert column in TABLES[table].column_names, (table, column)


def test_check_mode_reports_stale_files(tmp_path, capsys):
    written = docs.write_docs(tmp_path)
    assert docs.stale_docs(tmp_path) == []
    written[1].write_text(written[1].read_text(encoding="utf-8") + "\nan edit by hand\n", encoding="utf-8")
    assert docs.stale_docs(tmp_path) == [written[1]]
    assert docs.main(["--check"]) == 0  # the committed files are current


def test_wrapped_prose_never_starts_a_line_with_a_list_marker():
    # "[D, D + 21]" wrapped before its "+" would render as a nested list item.
    text = docs._wrap("with start_date in [D, D + 21] and more words " * 6, "- ", "  ")
    for line in text.splitlines()[1:]:
        assert not docs._LIST_MARKER.match(line[2:]), line


# Where the specifications used to be read from, outside the repository.
OUTSIDE_SPECS = (
    "../shared/METRICS.md",
    "../shared/DATA_CONTRACT.md",
    "/work/shared/METRICS.md",
    "/work/shared/DATA_CONTRACT.md",
)
DOCUMENTED_FOLDERS = ("docs", "notebooks", "pipelines", "dashboard", "charts", "report")
#: Plain mentions of the old file names that stay for now (each should become docs/metrics.md or
#: docs/contract.md; the lead removes these after merging):
#: Paths allowed to name the definitions by their old file names: none any more.
PLAIN_MENTION_EXCEPTIONS: tuple[str, ...] = ()
_PLAIN_MENTION = re.compile(r"(?<![\w/])(METRICS|DATA_CONTRACT)\.md")


def _repository_text_files() -> list[Path]:
    files = [REPO / "README.md"]
    for folder in DOCUMENTED_FOLDERS:
        if (REPO / folder).is_dir():
            files += [
                p
                for p in sorted((REPO / folder).rglob("*"))
                if p.is_file()
                and "__pycache__" not in p.parts
                and p.suffix not in {".pyc", ".png", ".duckdb"}
            ]
    return files


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def test_no_file_points_at_the_specifications_outside_the_repository():
    offending = []
    for path in _repository_text_files():
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(spec in line for spec in OUTSIDE_SPECS):
                offending.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offending == []


def test_the_specifications_are_named_by_their_place_in_the_repository():
    offending = []
    for path in _repository_text_files():
        relative = path.relative_to(REPO).as_posix()
        if any(relative.startswith(exception) for exception in PLAIN_MENTION_EXCEPTIONS):
            continue
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if _PLAIN_MENTION.search(line):
                offending.append(f"{relative}:{number}: {line.strip()}")
    assert offending == [], "say docs/metrics.md or docs/contract.md"


def test_the_plain_mention_check_finds_a_plain_mention():
    assert _PLAIN_MENTION.search("as METRICS.md defines it")
    assert _PLAIN_MENTION.search("(DATA_CONTRACT.md v2)")
    assert not _PLAIN_MENTION.search("as docs/metrics.md defines it")
