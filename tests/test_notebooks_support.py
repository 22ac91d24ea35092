"""The analyst notebooks in notebooks/ are committed clean and find their warehouse the same way.

Running them is a separate step (``pytest --nbmake notebooks``); these checks are cheap and catch a
notebook saved with its outputs (which could carry unsuppressed record-level numbers into git).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
#: The notebook on the real CTN-0094 trial tables: it builds its own warehouse from them.
REAL_DATA_NOTEBOOK = NOTEBOOKS_DIR / "04_real_trial_data.ipynb"
#: The notebooks that open a warehouse (ROSC_DB, else the committed sample).
WAREHOUSE_NOTEBOOKS = [p for p in NOTEBOOKS if p != REAL_DATA_NOTEBOOK]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_four_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_programme_comparison.ipynb",
        "03_peer_support_and_outcomes.ipynb",
        "04_real_trial_data.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = _load(path)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: a code cell still has outputs"
            assert cell["execution_count"] is None, f"{path.name}: a code cell has an execution count"
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", WAREHOUSE_NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_finds_or_builds_the_warehouse(path: Path) -> None:
    code_cells = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    first = "".join(code_cells[0]["source"])
    assert 'os.environ.get("ROSC_DB")' in first
    assert "load_extracts(" in first and '"data" / "sample"' in first
    assert "open_warehouse(" in first
    last = "".join(code_cells[-1]["source"])
    assert "warehouse.close()" in last


@pytest.fixture(scope="module")
def thin_warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An empty warehouse, and one with people and episodes but no contacts or assessments."""
    from pipelines.contract import REQUIRED_TABLES
    from pipelines.load import load_extracts

    sample = NOTEBOOKS_DIR.parent / "data" / "sample"
    root = tmp_path_factory.mktemp("thin")
    made = {}
    for name, kept in (("empty", ()), ("no-contacts", ("providers", "programmes", "people", "episodes"))):
        folder = root / name
        folder.mkdir()
        (folder / "extract.json").write_bytes((sample / "extract.json").read_bytes())
        for table in REQUIRED_TABLES:
            text = (sample / f"{table}.csv").read_text()
            (folder / f"{table}.csv").write_text(text if table in kept else text.splitlines()[0] + "\n")
        made[name] = root / f"{name}.duckdb"
        load_extracts([folder], made[name], max_rejected=0)
    return made


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["empty", "no-contacts"])
@pytest.mark.parametrize("path", WAREHOUSE_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_a_thin_warehouse_and_says_what_is_missing(
    path, kind, thin_warehouses, monkeypatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ROSC_DB", str(thin_warehouses[kind]))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    ).execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "rows held:" in printed
    assert "This warehouse holds no" in printed or kind == "no-contacts" and "02_" in path.name


def test_the_real_data_notebook_finds_the_shared_tables_or_stops_saying_why() -> None:
    cells = _load(REAL_DATA_NOTEBOOK)["cells"]
    code_cells = [c for c in cells if c["cell_type"] == "code"]
    first = "".join(code_cells[0]["source"])
    # ../shared/realdata/ctn0094/csv relative to the repository, never a copy inside it.
    assert 'REPO_ROOT.parent / "shared" / "realdata" / "ctn0094" / "csv"' in first
    assert "if not CTN_TABLES.is_dir():" in first and "raise SystemExit(reason)" in first
    text = "".join("".join(c["source"]) for c in code_cells)
    assert "import_ctn0094(" in text and "load_extracts(" in text and "warehouse.metric(" in text
    assert "SELECT" not in text.upper().replace("SELECTED", "")  # the metric layer, not hand SQL
    # Exact counts in one cell only, right after the markdown that says why.
    exact = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
        and ('"suppress": False' in "".join(c["source"]) or "suppress=False" in "".join(c["source"]))
    ]
    assert len(exact) == 1
    why = "".join(cells[exact[0] - 1]["source"])
    assert cells[exact[0] - 1]["cell_type"] == "markdown"
    assert "suppress=False" in why and "record-level" in why and "public" in why
    assert "warehouse.close()" in "".join(code_cells[-1]["source"])


def test_the_suite_skips_the_real_data_notebook_when_the_tables_are_absent(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebook_rules", NOTEBOOKS_DIR / "conftest.py")
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    real = rules.NEEDS_FOLDER[REAL_DATA_NOTEBOOK.name]
    assert real == NOTEBOOKS_DIR.parent.parent / "shared" / "realdata" / "ctn0094" / "csv"
    assert rules.skip_reason(NOTEBOOKS_DIR / "01_quickstart.ipynb") is None
    assert (rules.skip_reason(REAL_DATA_NOTEBOOK) is None) == real.is_dir()
    rules.NEEDS_FOLDER[REAL_DATA_NOTEBOOK.name] = tmp_path / "absent"
    reason = rules.skip_reason(REAL_DATA_NOTEBOOK)
    assert reason is not None and str(tmp_path / "absent") in reason
