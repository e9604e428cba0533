"""The worker in a service's own, older or newer, interpreter (migrations.yaml `python:`): a plain `alembic init`
service driven through every kind of task on Python 3.8 with SQLAlchemy 1.3, Alembic 1.7 and psycopg2, and
on Python 3.13 with SQLAlchemy 2.0 and psycopg 3 (the venvs come from tests/stacks.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _support import (
    REPO,
    assert_failure,
    assert_ok,
    ctrl_c_while,
    execute,
    head_of,
    inv,
    query,
    replace_once,
    show,
    tables,
    version,
)
from stacks import STACKS, Stack

from dbtasks.run import forkserver
from dbtasks.run.runner import WORKER

PLAIN = REPO / "examples" / "layouts" / "plain_sync"
FIRST = "4a1b2c3d4e5f"  # plain_sync's one migration: creates public.notes
SERVICE = "plain_sync"


@dataclass(frozen=True)
class Service:
    """A copy of a service with a migrations.yaml that runs it with a stack's interpreter."""

    root: Path  # holds migrations.yaml and tasks.py
    folder: Path  # the service's own folder (alembic.ini)
    stack: Stack
    python: Path


def write_project(root: Path, service: str, schema: str, driver: str, python: Path, extra: str = "") -> None:
    shutil.copy2(REPO / "tasks.py", root / "tasks.py")
    (root / "migrations.yaml").write_text(
        f"version: 1\n{extra}services:\n  {service}:\n    path: {service}\n    schema: {schema}\n"
        f"    driver: {driver}\n    python: {python}\n",
        encoding="utf-8",
    )


@pytest.fixture(params=list(STACKS))
def plain(request: pytest.FixtureRequest, tmp_path: Path, stack_interpreters: Callable[[str], Path]) -> Service:
    """examples/layouts/plain_sync (no models, everything in public) run by the stack's interpreter."""
    stack = STACKS[request.param]
    python = stack_interpreters(stack.name)
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(PLAIN, root / SERVICE, ignore=shutil.ignore_patterns("__pycache__"))
    write_project(root, SERVICE, "public", stack.driver, python)
    return Service(root, root / SERVICE, stack, python)


def public_version(url: str) -> list[str]:
    return version(url, "public")


def versions_of(service: Service) -> Path:
    return service.folder / "alembic" / "versions"


# -- every kind of task ---------------------------------------------------------------------------------


def test_upgrade_status_current_history_heads_and_downgrade(plain: Service, database_url: str) -> None:
    upgraded = assert_ok(inv(plain.root, "db.upgrade", SERVICE, url=database_url))
    assert upgraded.stdout.strip() == f"{SERVICE}: upgraded base -> {FIRST} (1 migration)"
    assert public_version(database_url) == [FIRST]
    assert tables(database_url, "public") == {"alembic_version", "notes"}

    [status] = json.loads(assert_ok(inv(plain.root, "db.status", "--json", url=database_url)).stdout)["services"]
    assert {key: status[key] for key in ("service", "schema", "current", "head", "pending", "state")} == {
        "service": SERVICE,
        "schema": "public",
        "current": FIRST,
        "head": FIRST,
        "pending": 0,
        "state": "up to date",
    }
    assert assert_ok(inv(plain.root, "db.current", SERVICE, url=database_url)).stdout.strip() == f"{FIRST} (head)"
    history = assert_ok(inv(plain.root, "db.history", SERVICE, url=database_url))
    assert history.stdout.strip() == f"<base> -> {FIRST} (head), notes"
    assert assert_ok(inv(plain.root, "db.heads", SERVICE, url=database_url)).stdout.strip() == f"{FIRST} (head)"

    downgraded = assert_ok(inv(plain.root, "db.downgrade", SERVICE, "--yes", url=database_url))
    assert downgraded.stdout.strip() == f"{SERVICE}: downgraded {FIRST} -> base (1 migration)"
    assert public_version(database_url) == []
    assert tables(database_url, "public") == {"alembic_version"}


def test_check_sql_generate_and_stamp(plain: Service, database_url: str) -> None:
    # The stack's fork server (serve.py on the stack's Python), as a run of several services starts it.
    assert forkserver.server_for(str(plain.python), WORKER, start=True) is not None
    upgraded = assert_ok(inv(plain.root, "db.upgrade-all", url=database_url, env={"DBTASKS_DEBUG": "1"}))
    assert f"{SERVICE} | worker: upgrade (forked by the fork server, pid " in upgraded.stderr, show(upgraded)
    assert public_version(database_url) == [FIRST]
    checked = assert_ok(inv(plain.root, "db.check", SERVICE, url=database_url))
    assert checked.stdout.strip() == (
        f"{SERVICE}: OK (head {FIRST}, database at head, no models to compare: env.py has no target_metadata)"
    )

    sql = assert_ok(inv(plain.root, "db.sql", SERVICE, url=database_url)).stdout
    assert "CREATE TABLE alembic_version" in sql and "CREATE TABLE notes (" in sql
    assert f"INSERT INTO alembic_version (version_num) VALUES ('{FIRST}')" in sql  # RETURNING ... in newer Alembic
    assert public_version(database_url) == [FIRST]  # offline: nothing ran

    before = set(os.listdir(versions_of(plain)))
    generated = assert_ok(inv(plain.root, "db.generate", SERVICE, "--empty", "-m", "x", url=database_url))
    [written] = set(os.listdir(versions_of(plain))) - before
    assert generated.stdout.strip() == f"{SERVICE}/alembic/versions/{written}"
    new = written.split("_")[0]
    assert f"Revises: {FIRST}\n" in (versions_of(plain) / written).read_text()
    assert assert_ok(inv(plain.root, "db.heads", SERVICE, url=database_url)).stdout.strip() == f"{new} (head)"

    stamped = assert_ok(inv(plain.root, "db.stamp", SERVICE, "head", "--yes", url=database_url))
    assert stamped.stdout.strip() == f"{SERVICE}: recorded revision is now {new} (no migration ran)"
    assert public_version(database_url) == [new]
    assert tables(database_url, "public") == {"alembic_version", "notes"}
    # A recorded revision that no file defines is replaced (Alembic's stamp --purge).
    execute(database_url, "UPDATE public.alembic_version SET version_num = 'feedfacecafe'")
    assert_ok(inv(plain.root, "db.stamp", SERVICE, "head", "--yes", url=database_url))
    assert public_version(database_url) == [new]

    status = json.loads(assert_ok(inv(plain.root, "db.status", "--json", url=database_url)).stdout)
    assert status["services"][0]["current"] == new and status["services"][0]["state"] == "up to date"
    downgraded = assert_ok(inv(plain.root, "db.downgrade", SERVICE, "--to", "base", "--yes", url=database_url))
    assert downgraded.stdout.strip() == f"{SERVICE}: downgraded {new} -> base (2 migrations)"
    assert public_version(database_url) == [] and "notes" not in tables(database_url, "public")


def test_verify_and_doctor(plain: Service, database_url: str) -> None:
    verified = json.loads(assert_ok(inv(plain.root, "db.verify", SERVICE, "--json", url=database_url)).stdout)
    results = {check["name"]: check["ok"] for check in verified["checks"]}
    assert verified["ok"] is True
    assert results.pop("drift") is None and results.pop("expected-tables") is None  # no models, no expect_tables
    assert set(results.values()) == {True}, verified
    assert tables(database_url, "public") == set()  # verify works in a scratch database

    assert_ok(inv(plain.root, "db.upgrade", SERVICE, url=database_url))
    doctor = assert_ok(inv(plain.root, "db.doctor", url=database_url))
    versions = {"py38-sa13": "alembic 1.7.7, sqlalchemy 1.3.24 and psycopg2"}.get(plain.stack.name, "and psycopg")
    line = next(line for line in doctor.stdout.splitlines() if f"{plain.python} has " in line)
    assert line.startswith("ok ") and line.endswith(versions), doctor.stdout
    assert f"database at head {FIRST}" in doctor.stdout
    assert public_version(database_url) == [FIRST]  # doctor writes nothing


# -- what the plain service does not reach: models, timeouts, Ctrl-C ------------------------------------

MODELS = """import sqlalchemy as sa

target_metadata = sa.MetaData()
sa.Table(
    "notes",
    target_metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("color", sa.String(20)),
)
"""


def test_check_and_generate_compare_the_models_with_the_database(plain: Service, database_url: str) -> None:
    replace_once(plain.folder / "alembic" / "env.py", "target_metadata = None\n", MODELS)
    assert_ok(inv(plain.root, "db.upgrade", SERVICE, url=database_url))
    drifted = inv(plain.root, "db.check", SERVICE, url=database_url)
    line = assert_failure(drifted, SERVICE)
    assert "the models differ from the database (1 difference above)" in line, line
    assert drifted.stdout == "  - add column notes.color\n", show(drifted)  # a table in the default schema: no prefix

    generated = assert_ok(inv(plain.root, "db.generate", SERVICE, "-m", "add color", url=database_url))
    assert generated.stdout.splitlines()[0] == "  - add column notes.color", show(generated)
    written = plain.root / generated.stdout.strip().splitlines()[-1]
    assert written.parent == versions_of(plain) and written.name.endswith("_add_color.py"), show(generated)
    assert "op.add_column('notes', sa.Column('color'" in written.read_text()
    assert_ok(inv(plain.root, "db.upgrade", SERVICE, url=database_url))
    assert public_version(database_url) == [written.name.split("_")[0]]
    assert "color" in {
        row[0] for row in query(database_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes'")
    }
    assert assert_ok(inv(plain.root, "db.check", SERVICE, url=database_url)).stdout.startswith(f"{SERVICE}: OK (head ")

    verified = json.loads(assert_ok(inv(plain.root, "db.verify", SERVICE, "--json", url=database_url)).stdout)
    drift = next(check for check in verified["checks"] if check["name"] == "drift")
    assert drift["ok"] is True and drift["detail"].startswith("models match the "), drift
    doctor = assert_ok(inv(plain.root, "db.doctor", url=database_url)).stdout
    assert re.search(r"models: 1 tables? in 'public'", doctor) and "no target_metadata" not in doctor, doctor


ENVIRONMENTS = "environments:\n  production: {url_env: PROD_DATABASE_URL, statement_timeout: 1s, lock_timeout: 5s}\n"


def test_an_environments_statement_timeout_stops_a_slow_migration(plain: Service, database_url: str) -> None:
    write_project(plain.root, SERVICE, "public", plain.stack.driver, plain.python, extra=ENVIRONMENTS)
    env = {"PROD_DATABASE_URL": database_url, "DBTASKS_ENV": "production"}
    assert_ok(inv(plain.root, "db.upgrade", SERVICE, env=env))  # the timeouts are SET LOCAL in its transaction
    assert public_version(database_url) == [FIRST]
    body = 'from alembic import op\n    op.execute("CREATE TABLE slow (id int)")\n    op.execute("SELECT pg_sleep(3)")'
    plant_migration_in(plain, "5100000000aa", FIRST, body)
    line = assert_failure(inv(plain.root, "db.upgrade", SERVICE, env=env), SERVICE)
    assert "migration 5100000000aa failed: canceling statement due to statement timeout" in line, line
    assert f"stays at {FIRST}" in line
    assert public_version(database_url) == [FIRST] and "slow" not in tables(database_url, "public")


def test_ctrl_c_cancels_the_running_query(plain: Service, database_url: str) -> None:
    """psycopg2 and psycopg 3 block in C while a query runs: the worker must cancel it, not wait for it."""
    plant_migration_in(plain, "c0000000000c", FIRST, 'from alembic import op\n    op.execute("SELECT pg_sleep(60)")')
    process, took = ctrl_c_while(plain.root, database_url, ["db.upgrade", SERVICE], "SELECT pg_sleep(60)")
    stdout, stderr = process.stdout, process.stderr
    assert process.returncode == 1 and "Traceback" not in stdout + stderr, (stdout, stderr)
    assert f"{SERVICE}: interrupted; the migration in progress was rolled back" in stderr, stderr
    assert took < 20, f"the run ended {took:.0f} s after Ctrl-C: the query was not cancelled"
    assert public_version(database_url) == [FIRST]  # the first migration committed, the second rolled back


def plant_migration_in(service: Service, revision: str, down_revision: str, body: str) -> Path:
    """plant_migration for a service outside the repository's own layout (alembic/versions under its folder)."""
    path = versions_of(service) / f"{revision}_planted.py"
    path.write_text(
        f'"""planted by the tests"""\n\nrevision = {revision!r}\ndown_revision = {down_revision!r}\n'
        f"branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n    {body}\n\n\n"
        "def downgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )
    return path


# -- a service of the monorepo with models --------------------------------------------------------------


def test_movements_runs_on_python_3_13_with_psycopg3(
    tmp_path: Path, database_url: str, stack_interpreters: Callable[[str], Path]
) -> None:
    """services/movements with psycopg 3, in the 3.13 stack. Not in the 3.8 one: its models need SQLAlchemy 2.0
    (DeclarativeBase, Mapped, mapped_column), as does its env.py (Connection.commit, CreateSchema(if_not_exists=))."""
    stack = STACKS["py313-psycopg3"]
    python = stack_interpreters(stack.name)
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "services" / "movements", root / "movements", ignore=shutil.ignore_patterns("__pycache__"))
    write_project(root, "movements", "movements", "psycopg", python)
    head = head_of("movements")
    upgraded = assert_ok(inv(root, "db.upgrade", "movements", url=database_url))
    assert upgraded.stdout.strip() == f"movements: upgraded base -> {head} (1 migration)"
    assert version(database_url, "movements") == [head]
    assert {"exercises", "movements", "muscle_groups"} <= tables(database_url, "movements")
    assert assert_ok(inv(root, "db.check", "movements", url=database_url)).stdout.startswith(f"movements: OK (head {head}")

    models = root / "movements" / "movements" / "repository" / "models.py"
    replace_once(
        models,
        '    __tablename__ = "movements"\n',
        '    __tablename__ = "movements"\n    color: Mapped[Optional[str]] = mapped_column(sa.String(20))\n',
    )
    drifted = inv(root, "db.check", "movements", url=database_url)
    line = assert_failure(drifted, "movements")
    assert "the models differ from the database (1 difference above)" in line, line
    assert "add column movements.movements.color" in drifted.stdout, show(drifted)
    generated = assert_ok(inv(root, "db.generate", "movements", "-m", "add color", url=database_url))
    assert generated.stdout.splitlines()[0] == "  - add column movements.movements.color", show(generated)
    written = root / generated.stdout.strip().splitlines()[-1]
    assert written.name.endswith("_add_color.py") and 'sa.Column("color"' in written.read_text(), show(generated)
    verified = json.loads(assert_ok(inv(root, "db.verify", "movements", "--json", url=database_url)).stdout)
    assert {check["name"]: check["ok"] for check in verified["checks"]} == {
        "history": True,
        "single-head": True,
        "upgrade": True,
        "stairway": True,
        "idempotent": True,
        "drift": True,
        "no-trace": True,
        "ownership": True,
        "version-table": True,
        "expected-tables": None,
        "offline-sql": True,
        "lint": True,  # each revision's SQL rendered in the Python 3.8 / SQLAlchemy 1.3 / Alembic 1.7 interpreter too
    }, verified
    assert version(database_url, "movements") == [head]  # verify ran in a scratch database
