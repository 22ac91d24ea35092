"""Collection rules for the notebooks the suite runs with nbmake (`pytest --nbmake`).

A notebook that reads data kept outside the repository is skipped, with the reason, when that data is
absent; nbmake itself cannot skip (a notebook that stops early is a failure), so the skip is decided
here, from the same folder the notebook's first code cell looks for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Notebook file name -> the folder it reads, relative to the repository as the notebook finds it.
NEEDS_FOLDER: dict[str, Path] = {
    "04_real_trial_data.ipynb": REPO_ROOT.parent / "shared" / "realdata" / "ctn0094" / "csv",
}


def skip_reason(notebook: Path) -> str | None:
    """Why `notebook` cannot run here (its data folder is absent), or None when it can."""
    folder = NEEDS_FOLDER.get(notebook.name)
    if folder is None or folder.is_dir():
        return None
    return f"the real CTN-0094 tables are not at {folder} (../shared/realdata/ctn0094/csv of the repository)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" and (reason := skip_reason(path)) is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
