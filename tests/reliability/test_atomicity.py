"""Atomicity under faults: a load killed at any point leaves the warehouse as it was before the load
or as it is after it, never in between, and the next load removes the dead load's temp files. A
reader in another process keeps answering during a load and sees the new data after it.

Kills: SIGKILL after delays drawn from a seeded RNG over the load's measured duration, and at each
phase through the loader's test-only pause hook (`ROSC_LOAD_PAUSE_AT`, see `pipelines.load`).
"Before" is the warehouse file's sha256; "after" is a logical dump (per table: row count and a
hash of its sorted rows; load_history without its loaded_at timestamp) of a completed load.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.load import load_extracts
from pipelines.progress import PAUSE_ENV
from tests.reliability.corpus import BASE

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 1500
SEED = 20250331
RANDOM_KILLS = 6
PHASES = ("copying", "checking", "writing", "building", "saving", "swap", "swapped")

#: Loads argv[1] into argv[2]; says "ready" once imported, so delays time the load, not the imports.
LOADER = (
    "import sys\n"
    "from pipelines.load import load_extracts\n"
    "print('ready', flush=True)\n"
    "load_extracts([sys.argv[1]], sys.argv[2])\n"
)
#: Opens the warehouse read-only, then prints `count(*) FROM people` until it has seen argv[2]
#: three times in a row (or 60 s pass); any error ends it with a non-zero status.
READER = (
    "import sys, time\n"
    "from pipelines.warehouse import open_warehouse\n"
    "warehouse, target, streak = open_warehouse(sys.argv[1]), int(sys.argv[2]), 0\n"
    "deadline = time.time() + 60\n"
    "while streak < 3 and time.time() < deadline:\n"
    "    n = int(warehouse.sql('SELECT count(*) AS n FROM people')['n'][0])\n"
    "    print(n, flush=True)\n"
    "    streak = streak + 1 if n == target else 0\n"
    "    time.sleep(0.01)\n"
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def logical_state(db: Path) -> dict[str, tuple[int, str]]:
    """Per table: (rows, md5 of its rows as text, sorted); load_history leaves out loaded_at."""
    state = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        for table in tables:
            columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall() if r[0] != "loaded_at"]
            quoted = ", ".join('"' + c + '"' for c in columns)
            row = f"CAST(row({quoted}) AS VARCHAR)"
            digest = f"md5(coalesce(string_agg({row}, chr(10) ORDER BY {row}), ''))"
            state[table] = con.execute(f'SELECT count(*), {digest} FROM "{table}"').fetchone()
    return state


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name and not p.name.endswith(".tmp-lock"))


def start(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The extract to load, the warehouse before it (base corpus loaded) and the state after it."""
    from pipelines.generate import generate_extract

    root = tmp_path_factory.mktemp("atomicity")
    extract = root / "extract"
    generate_extract(extract, people=PEOPLE, seed=SEED, fmt="parquet")
    before = root / "before" / "warehouse.duckdb"
    load_extracts([BASE], before)
    after = root / "after" / "warehouse.duckdb"
    after.parent.mkdir()
    shutil.copyfile(before, after)
    load_extracts([extract], after)

    # The load's duration in a child, from "ready" (imports done) to exit.
    scratch = root / "scratch" / "warehouse.duckdb"
    scratch.parent.mkdir()
    shutil.copyfile(before, scratch)
    child = start(LOADER, str(extract), str(scratch))
    assert child.stdout.readline().strip() == "ready"
    began = time.monotonic()
    _, err = child.communicate(timeout=120)
    duration = time.monotonic() - began
    assert child.returncode == 0, err
    return {
        "extract": extract,
        "before": before,
        "before_sha": sha256(before),
        "before_state": logical_state(before),
        "after_state": logical_state(after),
        "duration": duration,
    }


def _fresh(setting: dict, folder: Path) -> Path:
    folder.mkdir()
    db = folder / "warehouse.duckdb"
    shutil.copyfile(setting["before"], db)
    return db


def _before_or_after(setting: dict, db: Path) -> str:
    """'before' or 'after'; fails when the warehouse is anything else."""
    if sha256(db) == setting["before_sha"]:
        return "before"
    state = logical_state(db)
    assert state == setting["after_state"], "the warehouse is neither its state before nor after the load"
    return "after"


def _next_load_cleans_up(setting: dict, db: Path) -> None:
    load_extracts([BASE], db, force=True)
    assert temp_files(db.parent) == []


def test_the_before_and_after_states_differ(setting: dict) -> None:
    assert setting["before_state"] != setting["after_state"]
    assert setting["duration"] > 0


def test_a_load_killed_at_random_moments_leaves_before_or_after(setting: dict, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    seen = []
    for run in range(RANDOM_KILLS):
        db = _fresh(setting, tmp_path / f"run{run}")
        delay = rng.uniform(0.02, 1.0) * setting["duration"]
        child = start(LOADER, str(setting["extract"]), str(db))
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
        finally:
            child.communicate(timeout=60)
        seen.append((round(delay, 2), child.returncode, _before_or_after(setting, db), temp_files(db.parent)))
        _next_load_cleans_up(setting, db)
    # Most kills land inside the load; each left a consistent warehouse (asserted above).
    assert sum(code == -signal.SIGKILL for _, code, _, _ in seen) >= RANDOM_KILLS // 2, seen


def test_a_load_killed_at_each_phase_leaves_before_or_after(setting: dict, tmp_path: Path) -> None:
    # One child per phase, all started at once (each pauses at its phase, so they do not race).
    runs = {}
    try:
        for phase in PHASES:
            db = _fresh(setting, tmp_path / phase)
            runs[phase] = (db, start(LOADER, str(setting["extract"]), str(db), env={PAUSE_ENV: phase}))
        for phase, (_, child) in runs.items():
            assert child.stdout.readline().strip() == "ready"
            assert child.stderr.readline().strip() == f"load paused at {phase}"
            child.send_signal(signal.SIGKILL)
    finally:
        for _, child in runs.values():
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=60)
    for phase, (db, child) in runs.items():
        assert child.returncode == -signal.SIGKILL, phase
        expected = "after" if phase == "swapped" else "before"
        assert _before_or_after(setting, db) == expected, phase
        if phase not in ("copying", "swapped"):  # "copying" pauses before the copy is made
            assert temp_files(db.parent), f"{phase}: the dead load's temp file is left behind"
        _next_load_cleans_up(setting, db)


def test_a_reader_in_another_process_keeps_answering_and_sees_the_new_data(
    setting: dict, tmp_path: Path
) -> None:
    db = _fresh(setting, tmp_path / "run")
    people_before = setting["before_state"]["people"][0]
    people_after = setting["after_state"]["people"][0]
    reader = start(READER, str(db), str(people_after))
    try:
        first = reader.stdout.readline().strip()
        assert first == str(people_before), reader.stderr.read() if not first else first
        load_extracts([setting["extract"]], db)
        out, err = reader.communicate(timeout=90)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.communicate()
    assert reader.returncode == 0, err
    answers = [int(first)] + [int(line) for line in out.split()]
    assert set(answers) <= {people_before, people_after}, answers
    assert answers[-3:] == [people_after] * 3
    assert logical_state(db) == setting["after_state"]
