"""Environments (--env, DBTASKS_ENV, protected, timeouts) and the migration lock, against real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from _support import (
    assert_bad_input,
    assert_failure,
    assert_ok,
    head_of,
    inv,
    local_database_made,
    output,
    plant_migration,
    show,
    snapshot,
    tables,
    typed_at_a_terminal,
    version,
)

from dbtasks.database.lock import key_of

ENVIRONMENTS = """environments:
  production: {protected: true, url_env: PROD_DATABASE_URL, statement_timeout: 1s, lock_timeout: 5s}
  staging: {url_env: STAGING_DATABASE_URL}
"""


@pytest.fixture
def envs(project: Path) -> Path:
    """The project copy with a protected production and a plain staging environment."""
    config = project / "migrations.yaml"
    config.write_text(config.read_text().replace("services:\n", ENVIRONMENTS + "services:\n", 1))
    return project


def run(project: Path, *args: str, prod: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` with DATABASE_URL unset: only the environment's own variable points anywhere."""
    extra = dict(env)
    if prod is not None:
        extra["PROD_DATABASE_URL"] = prod
    extra.setdefault("DBTASKS_ENV", "")
    return inv(project, *args, env=extra)


# -- choosing an environment -------------------------------------------------------------------------


def test_env_picks_the_environments_url(envs: Path, database_url: str) -> None:
    result = assert_ok(run(envs, "db.upgrade", "movements", "--env", "production", prod=database_url))
    assert result.stdout.strip() == f"movements: upgraded base -> {head_of('movements')} (1 migration)"
    assert version(database_url, "movements") == [head_of("movements")]
    assert not local_database_made(envs)  # a named environment never starts the local database


def test_dbtasks_env_selects_it_and_env_wins(envs: Path, database_url: str) -> None:
    assert_ok(run(envs, "db.upgrade", "movements", prod=database_url, DBTASKS_ENV="production"))
    assert version(database_url, "movements") == [head_of("movements")]
    # --env staging wins over DBTASKS_ENV=production; staging's variable is unset, so nothing runs.
    line = assert_bad_input(run(envs, "db.status", "--env", "staging", prod=database_url, DBTASKS_ENV="production"))
    assert line.startswith("STAGING_DATABASE_URL is not set for environment 'staging'"), line


def test_an_unset_environment_url_never_falls_back_to_the_local_database(envs: Path) -> None:
    line = assert_bad_input(run(envs, "db.upgrade", "movements", "--env", "production"))
    assert "PROD_DATABASE_URL is not set for environment 'production'" in line
    assert not local_database_made(envs)


@pytest.mark.parametrize("how", ["--env", "DBTASKS_ENV"])
def test_an_unknown_environment_names_the_known_ones(envs: Path, database_url: str, how: str) -> None:
    before = snapshot(database_url)
    args = ("db.upgrade", "movements", "--env", "prodution") if how == "--env" else ("db.upgrade", "movements")
    line = assert_bad_input(run(envs, *args, prod=database_url, **({"DBTASKS_ENV": "prodution"} if how != "--env" else {})))
    assert (
        line == f"{how}: unknown environment 'prodution'; did you mean 'production'? migrations.yaml defines: production, staging"
    )
    assert snapshot(database_url) == before


# -- protected environments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task",
    [
        ("db.downgrade", "movements"),
        ("db.reset", "movements"),
        ("db.stamp", "movements", "base"),
        ("db.downgrade-all", "--to", "base"),
        ("db.reset-all",),
        ("db.stamp-all", "base"),
    ],
    ids=lambda task: task[0],
)
def test_protected_destructive_tasks_refuse_without_yes(envs: Path, database_url: str, task: tuple[str, ...]) -> None:
    assert_ok(run(envs, "db.upgrade", "movements", "--env", "production", prod=database_url))
    before = snapshot(database_url)
    line = assert_bad_input(run(envs, *task, "--env", "production", prod=database_url))
    assert "in protected environment 'production'; rerun with --yes to confirm" in line, line
    assert snapshot(database_url) == before


def test_protected_with_yes_and_no_terminal_goes_ahead(envs: Path, database_url: str) -> None:
    assert_ok(run(envs, "db.upgrade", "movements", "--env", "production", prod=database_url))
    result = assert_ok(run(envs, "db.downgrade", "movements", "--env", "production", "--yes", prod=database_url))
    assert "production is protected; --yes given and no terminal attached, going ahead" in result.stderr
    assert version(database_url, "movements") == []


@pytest.mark.parametrize("typed", ["wrong_name", "RIGHT"], ids=["mismatch", "match"])
def test_protected_at_a_terminal_asks_for_the_database_name(envs: Path, database_url: str, typed: str) -> None:
    assert_ok(run(envs, "db.upgrade", "movements", "--env", "production", prod=database_url))
    database = database_url.rsplit("/", 1)[1]
    before = snapshot(database_url)
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DBTASKS_ENV", "DBTASKS_DEBUG")}
    environment.update({"PROD_DATABASE_URL": database_url, "PYTHONDONTWRITEBYTECODE": "1"})
    args = ["db.downgrade", "movements", "--env", "production", "--yes"]
    process = typed_at_a_terminal(envs, environment, args, database if typed == "RIGHT" else typed)
    stdout, stderr = process.stdout, process.stderr
    assert f"Type the database name ({database}) to go ahead:" in stdout, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    if typed == "RIGHT":
        assert process.returncode == 0, (stdout, stderr)
        assert version(database_url, "movements") == []
    else:
        assert process.returncode == 2, (stdout, stderr)
        assert stderr.strip().splitlines()[-1] == f"movements: the name typed does not match {database!r}; nothing was changed"
        assert snapshot(database_url) == before


def test_sql_and_status_always_work_in_a_protected_environment(envs: Path, database_url: str) -> None:
    assert_ok(run(envs, "db.upgrade", "movements", "--env", "production", prod=database_url))
    status = assert_ok(run(envs, "db.status", "--env", "production", "--only", "movements", prod=database_url))
    assert "up to date" in status.stdout
    sql = assert_ok(run(envs, "db.sql", "movements", "--env", "production", prod=database_url))
    assert "CREATE TABLE movements.exercises" in sql.stdout


# -- timeouts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["habits", "movements"])  # asyncpg, psycopg2
def test_statement_timeout_stops_a_slow_migration(envs: Path, database_url: str, service: str) -> None:
    head = head_of(service)
    assert_ok(run(envs, "db.upgrade", "users", "--env", "production", prod=database_url))
    assert_ok(run(envs, "db.upgrade", service, "--env", "production", prod=database_url))
    body = (
        f'from alembic import op\n    op.execute("CREATE TABLE {service}.slow (id int)")\n    op.execute("SELECT pg_sleep(1.5)")'
    )
    plant_migration(envs, service, "5100000000aa", head, body)
    line = assert_failure(run(envs, "db.upgrade", service, "--env", "production", prod=database_url), service)
    assert "migration 5100000000aa failed: canceling statement due to statement timeout" in line, line
    assert f"stays at {head}" in line
    assert version(database_url, service) == [head]
    assert "slow" not in tables(database_url, service)
    # Without the environment (no timeout) the same migration completes.
    assert_ok(inv(envs, "db.upgrade", service, url=database_url, env={"DBTASKS_ENV": ""}))
    assert version(database_url, service) == ["5100000000aa"]


# -- the migration lock -------------------------------------------------------------------------------


def hold_lock(url: str, schema: str, name: str = "someone else's deploy") -> psycopg2.extensions.connection:
    connection = psycopg2.connect(url, application_name=name)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key_of(schema))
    return connection


def test_a_held_lock_makes_the_upgrade_wait_then_give_up(project: Path, database_url: str) -> None:
    holder = hold_lock(database_url, "movements")
    try:
        before = snapshot(database_url)
        result = inv(project, "db.upgrade", "movements", "--lock-wait", "1", url=database_url)
        line = assert_failure(result, "movements")
        assert "another migration of schema 'movements' is running (someone else's deploy (server pid" in line, line
        assert "--lock-wait (now 1 s)" in line
        assert "movements | waiting for the migration lock of schema 'movements', held by someone else's deploy" in result.stderr
        assert snapshot(database_url) == before
        # Another schema is not blocked.
        assert_ok(inv(project, "db.upgrade", "users", "--lock-wait", "1", url=database_url))
        assert version(database_url, "users") == [head_of("users")]
    finally:
        holder.close()  # the server releases a session lock when its connection goes
    assert_ok(inv(project, "db.upgrade", "movements", "--lock-wait", "5", url=database_url))
    assert version(database_url, "movements") == [head_of("movements")]


def test_the_lock_of_a_killed_holder_is_released(project: Path, database_url: str) -> None:
    script = (
        "import psycopg2, sys, time\n"
        "c = psycopg2.connect(sys.argv[1]); c.autocommit = True\n"
        f"c.cursor().execute('SELECT pg_advisory_lock(%s, %s)', {key_of('movements')!r})\n"
        "print('locked', flush=True); time.sleep(300)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, database_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert_failure(inv(project, "db.upgrade", "movements", "--lock-wait", "0", url=database_url), "movements")
    finally:
        holder.kill()
        holder.wait(timeout=60)
        holder.stdout.close()  # type: ignore[union-attr]  # a PIPE
    result = assert_ok(inv(project, "db.upgrade", "movements", "--lock-wait", "30", url=database_url))
    assert version(database_url, "movements") == [head_of("movements")], show(result)


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_lock_wait_is_bad_input(project: Path, database_url: str, value: str) -> None:
    line = assert_bad_input(inv(project, "db.upgrade", "movements", "--lock-wait", value, url=database_url))
    assert line == f"--lock-wait: expected a number of seconds (0 or more), got {value!r}"
    assert "Traceback" not in output(inv(project, "db.status", url=database_url))
