"""A no-op replayed (dbtasks/replay.py): `dbtasks upgrade-all` and `dbtasks status` with nothing to do print what their
last run printed after one look at the database, and run in full as soon as anything they depend on differs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _support import (
    assert_ok,
    declared_services,
    execute,
    head_of,
    inv,
    parent_of,
    plant_migration,
    schema_of,
    show,
    snapshot,
    task_environment,
    version,
    versions_folder,
)

SERVICES = list(declared_services())
# How a task is run in a new interpreter: the `dbtasks` command, or Invoke's own program (as `inv` runs it).
ENTRY = {
    "dbtasks": "from dbtasks.__main__ import main; code = main(sys.argv[1:])",
    "inv": "from invoke import Program; code = 0\ntry: Program().run(['inv', *sys.argv[1:]])\nexcept SystemExit as e: code = e.code",
}


def run(
    project: Path, url: str | None, *args: str, replayed: bool, via: str = "dbtasks", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The task in a new interpreter, which must have replayed its last run (`replayed`: it never loaded the Session's
    module, nor the URLs' beyond masking) or run the task."""
    code = (
        f"import sys\n{ENTRY[via]}\nsys.stdout.flush()\n"
        "loaded = any(name in sys.modules for name in ('dbtasks.session', 'dbtasks.database.urls'))\n"
        "print('\\nsession loaded:', loaded, file=sys.stderr); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=project, env=task_environment(url, env), capture_output=True, text=True
    )
    stderr, _, loaded = result.stderr.rpartition("\nsession loaded: ")
    assert "Traceback" not in stderr, show(result)
    assert loaded.strip() == str(not replayed), (via, args, show(result))
    assert result.returncode == 0, show(result)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout, stderr)


def dbtasks(
    project: Path, url: str, *args: str, replayed: bool, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run(project, url, *args, replayed=replayed, env=env)


@pytest.fixture
def project(project: Path) -> Path:
    """The copy, once its files are older than what a run records (replay.py records nothing changed within 0.1 s of
    its start, which may not be what it read): the copy was just made."""
    newest = max(path.stat().st_ctime for path in project.rglob("*"))
    time.sleep(max(0.0, newest + 0.2 - time.time()))
    return project


def recorded(project: Path) -> str:
    return (project / ".dbtasks" / "replay.json").read_text(encoding="utf-8")


def test_a_no_op_is_replayed_word_for_word_and_keeps_no_password(project: Path, upgraded_url: str) -> None:
    password = urlsplit(upgraded_url).password
    assert password  # the test servers' URLs carry one, which the record must leave out
    before = snapshot(upgraded_url)
    shown = {}
    for args in (["upgrade-all"], ["status"], ["status", "--json"], ["current", "meals"], ["upgrade", "users"]):
        first = dbtasks(project, upgraded_url, *args, replayed=False)
        again = dbtasks(project, upgraded_url, *args, replayed=True)
        assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
        shown[args[0] + args[-1]] = again.stdout
    assert shown["upgrade-allupgrade-all"].count("already at head") == len(SERVICES), shown
    assert [row["state"] for row in json.loads(shown["status--json"])["services"]] == ["up to date"] * len(SERVICES)
    assert shown["currentmeals"] == f"{head_of('meals')} (head)\n"
    assert shown["upgradeusers"] == "users: nothing to apply (already at or past head)\n"
    assert password not in recorded(project)
    for entry in json.loads(recorded(project))["entries"].values():  # a digest of each value, none of the values
        assert re.fullmatch(r"[0-9a-f]{64}", entry["variables"]["DATABASE_URL"]), entry["variables"]
    assert snapshot(upgraded_url) == before


def test_inv_and_dbtasks_replay_each_other(project: Path, upgraded_url: str) -> None:
    first = run(project, upgraded_url, "db.status", replayed=False, via="inv")
    again = run(project, upgraded_url, "status", replayed=True)
    assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
    assert first.stdout.count("up to date") == len(SERVICES), show(first)
    current = run(project, upgraded_url, "current", "journal", replayed=False)
    assert current.stdout == f"{head_of('journal')} (head)\n", show(current)
    assert run(project, upgraded_url, "db.current", "journal", replayed=True, via="inv").stdout == current.stdout


def test_a_service_moved_by_another_run_is_upgraded_not_replayed(project: Path, upgraded_url: str) -> None:
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    dbtasks(project, upgraded_url, "current", "meals", replayed=False)
    below = parent_of("meals", head_of("meals"))
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=upgraded_url))
    assert version(upgraded_url, schema_of("meals")) == [below]
    current = dbtasks(project, upgraded_url, "current", "meals", replayed=False)
    assert current.stdout == f"{below}\n", show(current)
    result = dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    assert version(upgraded_url, schema_of("meals")) == [head_of("meals")]
    assert result.stdout.count("already at head") == len(SERVICES) - 1, show(result)


def test_a_new_revision_file_is_applied_not_replayed(project: Path, upgraded_url: str) -> None:
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    plant_migration(project, "journal", "0099_planted", head_of("journal"))
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    assert version(upgraded_url, schema_of("journal")) == ["0099_planted"]


def test_one_service_is_replayed_after_another_service_s_folder_changed(project: Path, upgraded_url: str) -> None:
    """A run of one service records the stats of every service's files: those of a service it did not read are taken
    now, not the cache's old ones (Python writing a __pycache__ into a versions folder changes its stat)."""
    dbtasks(project, upgraded_url, "status", replayed=False)  # every service's files read, and cached
    (versions_folder(project, "meals") / "notes").mkdir()  # as Python's __pycache__ would
    time.sleep(0.2)  # the change older than what a run records
    first = dbtasks(project, upgraded_url, "current", "journal", replayed=False)
    again = dbtasks(project, upgraded_url, "current", "journal", replayed=True)
    assert again.stdout == first.stdout == f"{head_of('journal')} (head)\n"


def test_another_database_is_read_not_replayed(project: Path, upgraded_url: str, database_url: str) -> None:
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    dbtasks(project, database_url, "upgrade-all", replayed=False)
    assert all(version(database_url, schema_of(service)) == [head_of(service)] for service in SERVICES)


def edited_record(project: Path, edit: Callable[[dict[str, object]], None]) -> None:
    file = project / ".dbtasks" / "replay.json"
    document = json.loads(file.read_text(encoding="utf-8"))
    for entry in document["entries"].values():
        edit(entry)
    file.write_text(json.dumps(document), encoding="utf-8")


def test_a_record_edited_by_hand_is_not_replayed(project: Path, upgraded_url: str) -> None:
    dbtasks(project, upgraded_url, "status", replayed=False)
    edited_record(project, lambda entry: entry.update(output=[[1, "forged\n"]]))
    result = dbtasks(project, upgraded_url, "status", replayed=False)
    assert "forged" not in result.stdout and result.stdout.count("up to date") == len(SERVICES), show(result)


def test_a_switch_set_since_runs_the_task(project: Path, upgraded_url: str) -> None:
    dbtasks(project, upgraded_url, "status", replayed=False)
    result = dbtasks(project, upgraded_url, "status", replayed=False, env={"DBTASKS_FASTPATH": "0", "DBTASKS_DEBUG": "1"})
    assert result.stderr.count("| worker: status") == len(SERVICES), show(result)


def test_a_url_read_from_dot_env_is_never_replayed(project: Path, upgraded_url: str) -> None:
    """The URL's variable is unset: it came from .env, which only the whole run reads (the record would hold no proof
    of which database it meant)."""
    (project / ".env").write_text(f"DATABASE_URL={upgraded_url}\n", encoding="utf-8")
    for _ in range(2):
        result = run(project, None, "status", replayed=False)
        assert result.stdout.count("up to date") == len(SERVICES), show(result)
        assert "(from DATABASE_URL (in .env))" in result.stderr, show(result)
    assert not (project / ".dbtasks" / "replay.json").exists()


def test_states_read_after_a_prefetch_that_missed_one_prove_no_no_op(
    project: Path, upgraded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog query could not tell meals' state (an empty version table: the worker looks); another run then
    brings it to head, and a state read on its own afterwards would be the only one in the record: the others, taken
    from the first query, would never be checked again. No record."""
    from dbtasks import Session, load

    monkeypatch.setenv("DATABASE_URL", upgraded_url)
    execute(upgraded_url, "DELETE FROM meals.alembic_version")
    session = Session(load(project / "migrations.yaml"))
    known = session.prefetch_states(list(session.project.services.values()))
    assert sorted(known) == sorted(set(SERVICES) - {"meals"})
    execute(upgraded_url, f"INSERT INTO meals.alembic_version VALUES ('{head_of('meals')}')")
    # What the first query could not tell is not asked again (the next read, under the lock, is fresh): no new query.
    assert session.known_state(session.service("meals")) is None
    found = session.known_state(session.service("meals"), fresh=True)
    assert found is not None and found.pending == 0
    assert session.witnessed() is None


def test_a_file_changed_during_the_run_is_not_recorded(project: Path, upgraded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that changed after the run began may have changed after the run read it: the run is not kept. The same
    run begun after the change is."""
    from dbtasks import Session, load, replay

    monkeypatch.setenv("DATABASE_URL", upgraded_url)
    config = project / "migrations.yaml"

    def a_no_op_run(change: Callable[[], object] = lambda: None) -> bool:
        noted = replay.before(config)
        assert noted is not None
        session = Session(load(config))
        assert len(session.prefetch_states(list(session.project.services.values()))) == len(SERVICES)
        change()  # a new file in meals' folder, which the run stats
        return replay.record(config, ["status"], session, [(1, "status\n")], noted)

    assert a_no_op_run(lambda: (project / "services" / "meals" / "NOTES.txt").write_text("new\n")) is False
    assert not (project / ".dbtasks" / "replay.json").exists()
    time.sleep(0.2)  # the change now older than what a run records
    assert a_no_op_run() is True
    assert json.loads(recorded(project))["entries"][f"{config.resolve()}\0status"]["output"] == [[1, "status\n"]]
