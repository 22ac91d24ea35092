"""`rosc demo`: the demo system of realistic size is generated once, deterministically, loaded, and served;
its programmes are big enough that the funnel plots mostly show numbers (issue 12)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipelines.cli as cli
from pipelines.metrics import compute_metric
from pipelines.warehouse import open_warehouse


class _App:
    """What `rosc serve` would run, recorded instead of serving."""

    served: list[tuple[str, int]] = []

    @classmethod
    def serve(cls, db: Path, host: str, port: int, workers: int, threads: int, benchmarks=None) -> None:
        cls.served.append((host, port))


@pytest.fixture()
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    import dashboard.serve

    monkeypatch.setattr(cli, "DEMO_DIR", tmp_path / "demo")
    monkeypatch.setattr(dashboard.serve, "serve_dashboard", _App.serve)
    _App.served.clear()
    return tmp_path / "demo", tmp_path / "rosc.duckdb"


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_the_demo_is_generated_once_loaded_and_served_on_localhost(demo: tuple[Path, Path]) -> None:
    extract, db = demo
    first = CliRunner().invoke(cli.main, ["demo", "--db", str(db)])
    assert first.exit_code == 0, first.output
    assert "generating the demo system (12,000 people" in first.output
    assert json.loads((extract / "extract.json").read_text())["people"] == 12_000
    assert _App.served == [("127.0.0.1", 8050)]
    made = _digest(extract)
    again = CliRunner().invoke(cli.main, ["demo", "--db", str(db)])
    assert again.exit_code == 0, again.output
    assert "generating" not in again.output and _digest(extract) == made  # not generated twice
    assert "already loaded" in again.output.lower() or "nothing to do" in again.output.lower()

    warehouse = open_warehouse(db)
    # A mid-sized English area: several thousand people in treatment in a financial year.
    people = compute_metric(warehouse, "in_treatment", "2025-04-01", "2026-03-31")["numerator"].iloc[0]
    assert 5_000 <= people <= 10_000
    # Programmes big enough that the funnel plots mostly show numbers.
    for metric, end in (("successful_completion", "2026-03-31"), ("retention_12wk", "2026-03-31")):
        funnel = compute_metric(warehouse, metric, "2025-04-01", end, by="programme")
        assert (~funnel["suppressed"]).mean() >= 0.75, (metric, int(funnel["suppressed"].sum()))


def test_a_demo_made_with_other_settings_is_made_again(demo: tuple[Path, Path]) -> None:
    extract, db = demo
    extract.mkdir()
    (extract / "extract.json").write_text(json.dumps({"people": 50, "seed": 1, "contract_version": 2}))
    result = CliRunner().invoke(cli.main, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "generating the demo system" in result.output
    assert json.loads((extract / "extract.json").read_text())["people"] == 12_000


def test_the_demo_can_serve_the_small_committed_sample_instead(demo: tuple[Path, Path]) -> None:
    _, db = demo
    result = CliRunner().invoke(cli.main, ["demo", "--db", str(db), "--extract", str(cli.SAMPLE_DIR)])
    assert result.exit_code == 0, result.output
    assert "generating" not in result.output and _App.served == [("127.0.0.1", 8050)]
    missing = CliRunner().invoke(cli.main, ["demo", "--db", str(db), "--extract", str(db.parent / "nope")])
    assert missing.exit_code != 0 and "no extract here" in missing.output
