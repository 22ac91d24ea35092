"""The `rosc` command line as a user runs it: commands, exit codes and messages."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from pipelines.cli import main


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_generate_writes_the_same_files_for_the_same_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(main, ["generate", "--out", str(tmp_path / name), "--people", "60",
                                      "--seed", "7", "--format", "parquet"])
        assert result.exit_code == 0, result.output
    assert "episodes" in result.output
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (tmp_path / "a" / "contacts.parquet").exists()


def test_generate_rejects_a_bad_date() -> None:
    result = CliRunner().invoke(main, ["generate", "--out", "x", "--as-of", "2026-02-30"])
    assert result.exit_code == 2
    assert "not a date" in result.output


def test_metric_needs_a_period_or_list() -> None:
    result = CliRunner().invoke(main, ["metric", "retention_12wk"])
    assert result.exit_code != 0
    assert "--from and --to are required" in result.output
