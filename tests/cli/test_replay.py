"""A no-op replayed (dbtasks/replay.py): `dbtasks upgrade-all` and `dbtasks status` with nothing to do print what their
last run printed after one look at the database, and run in full as soon as anything they depend on differs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from _support import (
    assert_ok,
    declared_services,
    head_of,
    inv,
    parent_of,
    plant_migration,
    schema_of,
    show,
    snapshot,
    task_environment,
    version,
)

# Loaded by a whole run and never by a replay: the project's classes, the session, the tasks.
WHOLE_RUN = ("dbtasks.session", "dbtasks.config.project", "dbtasks.cli.registry", "dataclasses")
SERVICES = list(declared_services())


def dbtasks(
    project: Path, url: str, *args: str, replayed: bool, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`dbtasks ARGS` in a new interpreter, which must have replayed its last run (`replayed`) or run the task."""
    code = (
        "import json, sys; from dbtasks.__main__ import main; code = main(sys.argv[1:]); sys.stdout.flush(); "
        f"print('\\nloaded:' + json.dumps(sorted(m for m in {WHOLE_RUN!r} if m in sys.modules)), file=sys.stderr); "
        "sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=project, env=task_environment(url, env), capture_output=True, text=True
    )
    stderr, _, loaded = result.stderr.rpartition("\nloaded:")
    assert "Traceback" not in stderr, show(result)
    assert json.loads(loaded) == ([] if replayed else sorted(WHOLE_RUN)), (args, show(result))
    assert result.returncode == 0, show(result)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout, stderr)


def recorded(project: Path) -> str:
    return (project / ".dbtasks" / "replay.json").read_text(encoding="utf-8")


def test_a_no_op_is_replayed_word_for_word_and_keeps_no_password(project: Path, upgraded_url: str) -> None:
    password = urlsplit(upgraded_url).password
    assert password  # the test servers' URLs carry one, which the record must leave out
    before = snapshot(upgraded_url)
    for args in (["upgrade-all"], ["status"], ["status", "--json"]):
        first = dbtasks(project, upgraded_url, *args, replayed=False)
        again = dbtasks(project, upgraded_url, *args, replayed=True)
        assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
    assert again.stdout.count('"state": "up to date"') == len(SERVICES), show(again)
    assert password not in recorded(project)
    assert snapshot(upgraded_url) == before


def test_a_service_moved_by_another_run_is_upgraded_not_replayed(project: Path, upgraded_url: str) -> None:
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    below = parent_of("meals", head_of("meals"))
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=upgraded_url))
    assert version(upgraded_url, schema_of("meals")) == [below]
    result = dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    assert version(upgraded_url, schema_of("meals")) == [head_of("meals")]
    assert result.stdout.count("already at head") == len(SERVICES) - 1, show(result)


def test_a_new_revision_file_is_applied_not_replayed(project: Path, upgraded_url: str) -> None:
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    plant_migration(project, "journal", "0099_planted", head_of("journal"))
    dbtasks(project, upgraded_url, "upgrade-all", replayed=False)
    assert version(upgraded_url, schema_of("journal")) == ["0099_planted"]


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
