"""Every task once as users run it, `python -m invoke` in a process of its own (the other tests run tasks
inside the test process): exit code, the line that matters, and the database afterwards. Then each
distinct kind of failure: one line, its exit code, no traceback, nothing changed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _support import (
    assert_bad_input,
    assert_failure,
    assert_ok,
    declared_services,
    head_of,
    inv,
    inv_process,
    plant_migration,
    snapshot,
    tables,
    version,
    versions_folder,
)

ALL = list(declared_services())
Check = Callable[[Path, str, subprocess.CompletedProcess[str]], None]


def at_head(*services: str) -> Check:
    def check(project: Path, url: str, result: subprocess.CompletedProcess[str]) -> None:
        for service in services or ALL:
            assert version(url, service) == [head_of(service)], service

    return check


def at_base(*services: str) -> Check:
    def check(project: Path, url: str, result: subprocess.CompletedProcess[str]) -> None:
        for service in services or ALL:
            assert version(url, service) == [], service

    return check


def unchanged(project: Path, url: str, result: subprocess.CompletedProcess[str]) -> None:
    """Read-only tasks: checked against the snapshot taken before them (see the test)."""


@dataclass(frozen=True)
class Case:
    task: tuple[str, ...]
    line: str  # a line the output must contain
    upgraded: bool = False  # starts from every service at head (what `inv db.upgrade-all` leaves), else from empty
    check: Check = unchanged
    read_only: bool = False
    files: tuple[str, ...] = field(default=())  # files the task must leave, relative to the project


CASES = {
    "upgrade": Case(("db.upgrade", "movements"), "movements: upgraded base -> 0001 (1 migration)", check=at_head("movements")),
    "downgrade": Case(
        ("db.downgrade", "movements", "--yes"),
        "movements: downgraded 0001 -> base (1 migration)",
        True,
        at_base("movements"),
    ),
    "generate": Case(("db.generate", "movements", "-m", "by hand", "--empty"), "alembic/versions/", True, read_only=True),
    "check": Case(
        ("db.check", "movements"),
        "movements: OK (head 0001, database at head, models match)",
        True,
        read_only=True,
    ),
    "sql": Case(("db.sql", "movements"), "CREATE TABLE movements.movements", read_only=True),
    "reset": Case(("db.reset", "movements", "--yes"), "movements: reset to base and upgraded to head", True, at_head()),
    "stamp": Case(
        ("db.stamp", "movements", "base", "--yes"),
        "movements: recorded revision is now base",
        True,
        at_base("movements"),
    ),
    "merge": Case(("db.merge", "movements"), "alembic/versions/", read_only=True),
    "current": Case(("db.current", "movements"), "0001 (head)", True, read_only=True),
    "history": Case(("db.history", "movements"), "<base> -> 0001 (head), init", read_only=True),
    "heads": Case(("db.heads", "movements"), "0001 (head)", read_only=True),
    "status": Case(("db.status",), "movements  movements  0001", True, read_only=True),
    "upgrade-all": Case(("db.upgrade-all",), f"{len(ALL)} ok, 0 failed, 0 skipped", check=at_head()),
    "downgrade-all": Case(("db.downgrade-all", "--to", "base", "--yes"), f"{len(ALL)} ok, 0 failed", True, at_base()),
    "check-all": Case(("db.check-all",), f"{len(ALL)} ok, 0 failed, 0 skipped", True, read_only=True),
    "sql-all": Case(
        ("db.sql-all", "--output-dir", "sql"), f"{len(ALL)} ok", read_only=True, files=tuple(f"sql/{s}.sql" for s in ALL)
    ),
    "reset-all": Case(("db.reset-all", "--yes"), f"{len(ALL)} ok, 0 failed", True, at_head()),
    "stamp-all": Case(("db.stamp-all", "base", "--yes"), f"{len(ALL)} ok, 0 failed", True, at_base()),
    "verify": Case(("db.verify", "movements"), "movements: verify ok, 12 checks passed", read_only=True),
    "verify-all": Case(("db.verify-all", "--only", "users,meals"), "2 ok, 0 failed, 0 skipped", read_only=True),
    "doctor": Case(("db.doctor",), "doctor: 0 errors", True, read_only=True),
    "lint": Case(("db.lint", "movements"), "movements: no findings in 1 revision", read_only=True),
    "lint-all": Case(("db.lint-all",), f"{len(ALL)} ok, 0 failed, 0 skipped", read_only=True),
    "checksums": Case(("db.checksums", "movements"), "alembic/versions/0001_init.py", True, read_only=True),
    "graph": Case(("db.graph", "--service", "meals"), "  class n_0003 current", True, read_only=True),
    "plan": Case(("db.plan",), "  wave 2: habits, meals, practices, journal", True, read_only=True),
    "report": Case(
        ("db.report", "--html", "report.html"), "report: wrote report.html", True, read_only=True, files=("report.html",)
    ),
    "adopt": Case(
        ("db.adopt",), "movements  adopted  0001          at 0001 in its own movements.alembic_version", True, read_only=True
    ),
}


def test_every_task_has_a_case() -> None:
    from dbtasks.cli import build_db_collection

    listed = set(build_db_collection(Path("migrations.yaml")).tasks)
    assert listed - set(CASES) == {"local-start", "local-stop", "local-url"}  # tests/cli/test_localdb.py runs those


@pytest.mark.parametrize("name", list(CASES))
def test_each_task_in_a_process_of_its_own(project: Path, request: pytest.FixtureRequest, name: str) -> None:
    case = CASES[name]
    database_url = request.getfixturevalue("upgraded_url" if case.upgraded else "database_url")
    if name == "merge":  # two heads to merge
        plant_migration(project, "movements", "aaaa0000beef", "0001")
        plant_migration(project, "movements", "bbbb0000beef", "0001")
    before = snapshot(database_url)
    result = assert_ok(inv_process(project, *case.task, url=database_url))
    assert case.line in result.stdout + result.stderr, result.stdout + result.stderr
    if case.read_only:
        assert snapshot(database_url) == before
    case.check(project, database_url, result)
    for path in case.files:
        assert (project / path).is_file(), path
    if name in ("generate", "merge"):
        assert any(path.name in result.stdout for path in versions_folder(project, "movements").glob("*.py"))


# -- each distinct failure, as a process --------------------------------------------------------------


def test_bad_input_is_one_line_exit_2_and_changes_nothing(project: Path, database_url: str) -> None:
    before = snapshot(database_url)
    line = assert_bad_input(inv_process(project, "db.upgrade", "habit", url=database_url))
    assert line == "unknown service 'habit'; did you mean 'habits'? known: " + ", ".join(ALL)
    assert snapshot(database_url) == before


def test_a_bad_option_is_refused_before_any_database_is_touched(project: Path) -> None:
    """--jobs 0 with no DATABASE_URL: refused before the local database is created or started."""
    line = assert_bad_input(inv_process(project, "db.upgrade-all", "--jobs", "0"))
    assert line == "--jobs: expected a positive number, got '0'"
    assert not (project / ".dbtasks").exists()


def test_a_failing_migration_is_one_line_exit_1_and_keeps_the_previous_revision(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_migration(project, "movements", "cafe0000beef", "0001", body='__import__("alembic").op.execute("SELECT 1/0")')
    line = assert_failure(inv_process(project, "db.upgrade", "movements", url=database_url), "movements")
    assert line == (
        "movements: migration cafe0000beef failed: division by zero; rolled back, the service stays at 0001; "
        "fix the migration and rerun"
    )
    assert version(database_url, "movements") == ["0001"]
    assert "movements" in tables(database_url, "movements")


def test_invokes_own_parse_errors_exit_1_without_a_traceback(project: Path) -> None:
    result = inv_process(project, "db.upgrade", "movements", "--no-such-flag")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "No idea what '--no-such-flag' is!" in result.stderr


def test_a_task_keeps_dbtasks_bytecode_and_writes_none_into_the_project(project: Path, database_url: str) -> None:
    """Invoke turns bytecode writing off for its whole process; a task turns it back on for dbtasks' own imports only."""
    import importlib.util
    import os
    import sys

    import dbtasks.verbs_all

    compiled = Path(importlib.util.cache_from_source(dbtasks.verbs_all.__file__))
    compiled.unlink(missing_ok=True)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment["DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "db.status"], cwd=project, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert compiled.is_file()  # imported inside the task: its bytecode was kept
    assert not (project / "__pycache__").exists()  # tasks.py, imported by Invoke before the task: left as Invoke wants
