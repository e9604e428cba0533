"""The everyday rough edges a new user hits: which database a task targets, quiet output, one flag per meaning,
a connection failure said once, tables without a revision, the local database's announcements, and `inv`
run by an interpreter without dbtasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import (
    REPO,
    assert_bad_input,
    assert_failure,
    assert_ok,
    head_of,
    inv,
    inv_process,
    output,
    query,
    replace_once,
    tables,
    version,
)

from dbtasks.cli import SHORT_FLAGS, build_db_collection
from dbtasks.database.localdb import LocalDatabase


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def test_a_short_flag_means_one_thing_in_every_task() -> None:
    meanings: dict[str, set[str]] = {}
    db = build_db_collection(Path("migrations.yaml"))
    for task in db.tasks.values():
        for argument in task.get_arguments():
            for short in [name for name in argument.names if len(name) == 1]:
                meanings.setdefault(short, set()).add(str(argument.names[0]))
    assert {short: names for short, names in meanings.items() if len(names) > 1} == {}
    assert meanings == {short: {name} for name, short in SHORT_FLAGS.items() if short in meanings}
    assert {"e", "j", "v", "m", "y", "t"} <= set(meanings)  # -e env, -j jobs, -v verbose, -m message, -y yes, -t to


def test_status_with_e_takes_the_environment(project: Path, database_url: str) -> None:
    config = project / "migrations.yaml"
    replace_once(config, "services:\n", "environments:\n  staging: {url_env: STAGING_URL}\nservices:\n")
    result = assert_ok(inv(project, "db.status", "-e", "staging", "--json", env={"STAGING_URL": database_url}))
    assert len(json.loads(result.stdout)["services"]) == 6


def test_every_task_says_once_which_database_it_targets(project: Path, database_url: str) -> None:
    result = assert_ok(inv(project, "db.upgrade-all", url=database_url))
    parts = urlsplit(database_url)
    line = f"target: {parts.username}@{parts.hostname}:{parts.port}{parts.path} (from DATABASE_URL)"
    assert output(result).count("target: ") == 1 and line in result.stderr, result.stderr
    assert parts.password and parts.password not in output(result)
    config = project / "migrations.yaml"
    replace_once(config, "services:\n", "environments:\n  staging: {url_env: STAGING_URL}\nservices:\n")
    staged = assert_ok(inv(project, "db.status", "--env", "staging", env={"STAGING_URL": database_url}))
    assert "(from STAGING_URL, environment staging)" in staged.stderr, staged.stderr
    offline = assert_ok(inv(project, "db.sql", "habits", url=database_url))  # no database: no target line
    assert "target:" not in output(offline)


def test_alembic_info_lines_only_with_verbose(project: Path, database_url: str) -> None:
    upgraded = assert_ok(inv(project, "db.upgrade-all", url=database_url))
    assert "INFO  [alembic" not in output(upgraded), upgraded.stderr
    assert "habits | Running upgrade " in upgraded.stderr, upgraded.stderr
    quiet = assert_ok(inv(project, "db.check-all", url=database_url))
    assert "INFO" not in output(quiet) and "Context impl" not in output(quiet), quiet.stderr
    loud = assert_ok(inv(project, "db.check-all", "--verbose", url=database_url))
    assert "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl." in loud.stderr, loud.stderr
    assert "INFO  [alembic" in assert_ok(inv(project, "db.check", "users", "-v", url=database_url)).stderr
    assert "plan: " not in output(upgraded)  # the plan is shown with --verbose only


def test_verbose_shows_the_plan_resolved_before_any_worker(project: Path, database_url: str) -> None:
    parts = urlsplit(database_url)
    where = f"database {parts.hostname}:{parts.port}{parts.path}"
    assert_ok(inv(project, "db.upgrade-all", "--only", "users,practices,movements", url=database_url))
    down = assert_ok(
        inv(project, "db.downgrade-all", "--to", "base", "--yes", "--only", "users,practices,movements", "-v", url=database_url)
    )
    plan = [line for line in down.stderr.splitlines() if line.startswith("plan: ")]
    assert plan == [
        f"plan: users: {where}; version table users.alembic_version; schemas users; python {sys.executable}; "
        "lock users; after practices",
        f"plan: movements: {where}; version table movements.alembic_version; schemas movements; python {sys.executable}; "
        "lock movements; after practices",
        f"plan: practices: {where}; version table practices.alembic_version; schemas practices; python {sys.executable}; "
        "lock practices",
    ], down.stderr
    assert down.stderr.index("plan: practices") < down.stderr.index("Running downgrade")  # before any worker


@pytest.mark.parametrize("task", [("db.status",), ("db.upgrade-all",), ("db.check-all",)])
def test_a_wrong_password_is_said_once_for_every_driver(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    result = inv(project, *task, url=with_password(database_url, "wrong-pw"))
    assert result.returncode == 1 and "Traceback" not in output(result), output(result)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("target: ")]
    assert len(lines) == 1, result.stderr  # not one per service (four asyncpg, two psycopg2)
    assert "authentication failed for user" in lines[0] and "DATABASE_URL is wrong" in lines[0], lines
    assert "wrong-pw" not in output(result)


def test_tables_without_a_revision(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    assert_ok(inv(project, "db.stamp", "movements", "base", "--yes", url=database_url))
    rows = json.loads(assert_ok(inv(project, "db.status", "--only", "movements", "--json", url=database_url)).stdout)
    assert rows["services"][0]["state"] == "tables without revision", rows
    line = assert_failure(inv(project, "db.upgrade", "movements", url=database_url), "movements")
    assert "already exists" in line and "'inv db.adopt --service movements' finds the revision they are" in line, line
    assert query(database_url, "SELECT count(*) FROM movements.alembic_version")[0][0] == 0
    assert "exercises" in tables(database_url, "movements")
    found = assert_ok(inv(project, "db.doctor", "--json", url=database_url)).stdout
    messages = [item["message"] for item in json.loads(found)["findings"] if item["subject"] == "movements"]
    assert any("its alembic_version records no revision" in message for message in messages), messages
    # Following the advice: adopt finds that the tables are 0001 (movements' head) and records it; upgrade then has
    # nothing to do.
    assert_ok(inv(project, "db.adopt", "--service", "movements", "--yes", url=database_url))
    assert version(database_url, "movements") == [head_of("movements")]
    upgraded = assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    assert upgraded.stdout == "movements: nothing to apply (already at or past head)\n", upgraded.stdout


def test_unknown_names_in_only_are_all_named(project: Path, database_url: str) -> None:
    line = assert_bad_input(inv(project, "db.status", "--only", "habit,meal,users", url=database_url))
    assert "'habit' (did you mean 'habits'?)" in line and "'meal' (did you mean 'meals'?)" in line, line


def test_a_missing_service_name_lists_the_services(project: Path) -> None:
    from dbtasks import config
    from dbtasks.errors import UsageError

    with pytest.raises(UsageError, match=r"missing SERVICE: name one of users, habits"):
        config.load(project / "migrations.yaml").service("")


def test_the_local_database_announces_its_start_and_shows_its_password_on_request(project: Path) -> None:
    local = LocalDatabase(project / ".dbtasks")
    try:
        first = assert_ok(inv(project, "db.status", "--only", "users"))
        assert "initialized and started the local PostgreSQL under .dbtasks/" in first.stderr, first.stderr
        assert "'inv db.local-stop' stops it" in first.stderr
        again = assert_ok(inv(project, "db.status", "--only", "users"))
        assert "started the local" not in again.stderr and "target: dbtasks@127.0.0.1:" in again.stderr, again.stderr
        url = assert_ok(inv(project, "db.local-url", "--show-password")).stdout.strip()
        assert "***" not in url and query(url, "SELECT 1") == [(1,)]
        assert "***" in assert_ok(inv(project, "db.local-url")).stdout
    finally:
        local.stop()


def test_a_crashed_local_server_is_restarted_by_the_next_task(project: Path) -> None:
    local = LocalDatabase(project / ".dbtasks")
    try:
        assert_ok(inv(project, "db.local-start"))
        pid = int((local.data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)  # postmaster.pid stays behind, its backends still exiting
        time.sleep(0.2)
        result = assert_ok(inv(project, "db.status", "--only", "users"))
        assert "started the local PostgreSQL" in result.stderr, result.stderr
        assert local.running_port() is not None
    finally:
        local.stop()


def test_inv_from_an_interpreter_without_dbtasks_is_one_line(project: Path, tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=120)
    invoke_home = Path(__import__("invoke").__file__).parent.parent  # only Invoke on the path, nothing of ours
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "invoke").symlink_to(invoke_home / "invoke")
    for metadata in invoke_home.glob("invoke-*.dist-info"):  # Invoke reads its own version from it
        (shim / metadata.name).symlink_to(metadata)
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(shim)}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "invoke", "db.status"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in output(result), output(result)
    assert result.stderr.strip().startswith("tasks.py: dbtasks is not installed for "), result.stderr
    assert ". .venv/bin/activate" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    # dbtasks importable (from the checkout) but its yaml dependency missing: one line from the task
    (shim / "dbtasks").symlink_to(REPO / "dbtasks")
    missing = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "invoke", "db.status"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "Traceback" not in output(missing), output(missing)
    assert "yaml is not installed for" in missing.stderr and "pip install /path/to/dbtasks" in missing.stderr, missing.stderr


def test_inv_process_prints_the_target_line_too(project: Path, database_url: str) -> None:
    result = inv_process(project, "db.status", "--only", "users", url=database_url)
    assert result.returncode == 0 and "target: " in result.stderr, output(result)
