"""The *-all tasks and status over every service of migrations.yaml, in one database."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import (
    CLOSED_URL,
    REPO,
    assert_bad_input,
    assert_ok,
    declared_services,
    error_lines,
    execute,
    expected_tables,
    head_of,
    inv,
    plant_migration,
    plant_model_column,
    revisions_of,
    schema_of,
    schemas,
    sessions_opened,
    show,
    snapshot,
    summary_states,
    table_comment,
    tables,
    version,
)

ALL = list(declared_services())
STATUS_KEYS = {"service", "database", "schema", "current", "head", "pending", "state", "checksums"}


def upgrade_all(project: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return assert_ok(inv(project, "db.upgrade-all", *extra, url=url))


def assert_all_at_head(url: str, services: list[str] = ALL) -> None:
    for service in services:
        schema = schema_of(service)
        assert version(url, schema) == [head_of(service)], service
        assert expected_tables(service) <= tables(url, schema), service


def assert_untouched(url: str, service: str) -> None:
    schema = schema_of(service)
    assert version(url, schema) == [], service
    assert tables(url, schema) <= {"alembic_version"}, service


def json_document(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert set(document) == {"services"}, document
    return dict(document)


def status_json(project: Path, url: str) -> dict[str, dict[str, Any]]:
    document = json_document(assert_ok(inv(project, "db.status", "--json", url=url)))
    entries = document["services"]
    assert [entry["service"] for entry in entries] == ALL
    for entry in entries:
        assert set(entry) == STATUS_KEYS, entry
    return {entry["service"]: entry for entry in entries}


def status_table(result: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["service", "schema", "current", "head", "pending", "state"], show(result)
    assert set(lines[1].replace(" ", "")) == {"-"}
    rows = {}
    for line in lines[2:]:
        cells = line.split(None, 5)
        if cells and cells[0] in ALL:
            rows[cells[0]] = cells
    return rows


def execution_order(result: subprocess.CompletedProcess[str], word: str) -> list[str]:
    """Services in the order their worker logged `word` (e.g. 'Running downgrade')."""
    order: list[str] = []
    for line in result.stderr.splitlines():
        match = re.match(r"^([a-z][a-z0-9_-]*) \| .*" + word, line)
        if match and match[1] not in order:
            order.append(match[1])
    return order


def dependents_of(service: str) -> list[str]:
    return [name for name, spec in declared_services().items() if service in (spec.get("depends_on") or [])]


# -- upgrade-all and status -----------------------------------------------------------------------


def test_upgrade_all_brings_every_service_to_head(project: Path, database_url: str) -> None:
    result = upgrade_all(project, database_url)
    assert_all_at_head(database_url)
    states = summary_states(result)
    assert {service: states[service][0] for service in ALL} == dict.fromkeys(ALL, "ok"), show(result)

    again = upgrade_all(project, database_url)
    assert {service: state for service, (state, _) in summary_states(again).items()} == dict.fromkeys(ALL, "ok")
    assert_all_at_head(database_url)


def test_a_fresh_upgrade_all_connects_once_for_its_locks_and_once_per_worker(project: Path, database_url: str) -> None:
    """On an empty database, `upgrade-all -j 1` of two services opens four sessions: the catalog's look (the fast
    path), one lock session that takes each service's lock in turn (kept from one to the next), and each worker's,
    env.py's own: the services' schemas are made on the lock's session, not on a connection of the worker's."""
    import psycopg2

    name = urlsplit(database_url).path.lstrip("/")
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    try:
        before = sessions_opened(connection, name)
        assert_ok(upgrade_all(project, database_url, "-j", "1", "--only", "users,meals"))
        assert sessions_opened(connection, name) - before == 4
    finally:
        connection.close()
    for service in ("users", "meals"):
        assert version(database_url, schema_of(service)) == [head_of(service)]


def test_a_fresh_service_whose_run_fails_leaves_no_schema_behind(project: Path, database_url: str) -> None:
    """The schemas made on the lock's session for a run that then fails (here env.py cannot be imported) are dropped
    again while still empty: the database is as it was."""
    env_py = project / "services" / "movements" / "alembic" / "env.py"
    env_py.write_text('raise RuntimeError("env.py is broken")\n' + env_py.read_text())
    before = snapshot(database_url)
    result = inv(project, "db.upgrade", "movements", url=database_url)
    assert result.returncode == 1 and "env.py is broken" in result.stderr, show(result)
    assert schema_of("movements") not in schemas(database_url)
    assert snapshot(database_url) == before


def test_a_role_that_may_not_create_the_service_s_schema_gets_one_line(project: Path, database_url: str) -> None:
    """The schema is made on the lock's session: the server's refusal there is one line naming the service, the
    schema and the grant, and nothing changes."""
    role = f"nocreate_{secrets.token_hex(4)}"
    execute(database_url, f"CREATE ROLE {role} LOGIN PASSWORD 'nocreate-pass'")
    parts = urlsplit(database_url)
    limited = urlunsplit(parts._replace(netloc=f"{role}:nocreate-pass@{parts.hostname}:{parts.port}"))
    try:
        before = snapshot(database_url)
        result = inv(project, "db.upgrade", "users", url=limited)
        assert result.returncode == 1 and "Traceback" not in result.stderr, show(result)
        assert error_lines(result) == [
            f"users: cannot create its schema 'users' (permission denied for database {parts.path.lstrip('/')}); nothing "
            "was migrated: grant the URL's role CREATE on the database, or create the schema as an admin, then rerun"
        ], show(result)
        assert snapshot(database_url) == before
    finally:
        execute(database_url, f"DROP ROLE {role}")


def test_the_schemas_a_failed_run_made_stay_once_its_version_table_records_a_revision(database_url: str) -> None:
    """A migration that committed may have granted on, or commented, a schema it left empty: once the version table
    (here in another of the service's schemas) records a revision, the schemas the failed run made are kept; while
    it records none, they are dropped."""
    from dataclasses import replace

    from dbtasks import config
    from dbtasks.database import pg, provision
    from dbtasks.worker.libpq import libpq

    users = config.load(REPO / "migrations.yaml").service("users")
    service = replace(users, schemas=("users", "users_audit"), version_table=("users", "alembic_version"))
    with pg.connect(libpq(database_url)) as connection:
        made: list[str] = []
        provision.create_schemas(connection, service, made, str)
        assert made == ["users", "users_audit"] and {"users", "users_audit"} <= schemas(database_url)
        connection.rows("CREATE TABLE users.alembic_version (version_num varchar(32) PRIMARY KEY)")
        connection.rows("INSERT INTO users.alembic_version VALUES ('aaaa')")
        provision.drop_empty_schemas(connection, service, made)
        assert {"users", "users_audit"} <= schemas(database_url)
        connection.rows("DELETE FROM users.alembic_version")
        provision.drop_empty_schemas(connection, service, made)
        assert "users_audit" not in schemas(database_url) and "users" in schemas(database_url)  # not empty: kept


def test_upgrade_all_applies_dependencies_first(project: Path, database_url: str) -> None:
    result = upgrade_all(project, database_url, "--jobs", "3")
    order = execution_order(result, "Running upgrade")
    assert sorted(order) == sorted(ALL), show(result)
    for service in ALL:
        for dependency in declared_services()[service].get("depends_on") or []:
            assert order.index(dependency) < order.index(service), (dependency, service, order)


def test_status_counts_pending_migrations_before_and_after(project: Path, database_url: str) -> None:
    before = status_json(project, database_url)
    table = status_table(assert_ok(inv(project, "db.status", url=database_url)))
    for service in ALL:
        head, pending = head_of(service), len(revisions_of(service))
        assert before[service] == {
            "service": service,
            "database": urlsplit(database_url).path.lstrip("/"),
            "schema": schema_of(service),
            "current": None,
            "head": head,
            "pending": pending,
            "state": "not initialized",
            "checksums": None,  # nothing applied
        }
        assert table[service] == [service, schema_of(service), "-", head, str(pending), "not initialized"]

    upgrade_all(project, database_url)
    after = status_json(project, database_url)
    table = status_table(assert_ok(inv(project, "db.status", url=database_url)))
    for service in ALL:
        head = head_of(service)
        assert after[service] == {
            "service": service,
            "database": urlsplit(database_url).path.lstrip("/"),
            "schema": schema_of(service),
            "current": head,
            "head": head,
            "pending": 0,
            "state": "up to date",
            "checksums": {"edited": [], "missing": [], "unknown": []},  # each revision recorded by this upgrade
        }
        assert table[service] == [service, schema_of(service), head, head, "0", "up to date"]

    behind = next(name for name in ALL if len(revisions_of(name)) >= 2)
    assert_ok(inv(project, "db.downgrade", behind, "--yes", url=database_url))
    entry = status_json(project, database_url)[behind]
    assert (entry["current"], entry["pending"], entry["state"]) == (revisions_of(behind)[-2], 1, "behind")


# -- check-all ------------------------------------------------------------------------------------


def test_check_all_passes_then_fails_on_a_planted_model_change(project: Path, database_url: str) -> None:
    upgrade_all(project, database_url)
    before = snapshot(database_url)
    result = assert_ok(inv(project, "db.check-all", url=database_url))
    assert {service: state for service, (state, _) in summary_states(result).items()} == dict.fromkeys(ALL, "ok")
    document = json_document(assert_ok(inv(project, "db.check-all", "--json", url=database_url)))
    clean = {"edited": [], "missing": [], "unknown": []}
    assert document["services"] == [{"service": service, "ok": True, "differences": [], "checksums": clean} for service in ALL]
    assert snapshot(database_url) == before

    table = plant_model_column(project, "habits", "color")
    difference = f"habits.{table}.color"
    result = inv(project, "db.check-all", url=database_url)
    assert result.returncode == 1, show(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert summary_states(result)["habits"][0] == "failed"
    assert any(line.startswith("habits:") and difference in line for line in result.stdout.splitlines()), show(result)
    assert "habits" in result.stderr.splitlines()[-1]

    document = json_document(inv(project, "db.check-all", "--json", url=database_url))
    entries = {entry["service"]: entry for entry in document["services"]}
    assert entries["habits"]["ok"] is False
    assert [d for d in entries["habits"]["differences"] if difference in d], entries["habits"]
    for service in ALL:
        if service != "habits":
            assert entries[service] == {
                "service": service,
                "ok": True,
                "differences": [],
                "checksums": {"edited": [], "missing": [], "unknown": []},
            }
    assert snapshot(database_url) == before


def test_check_all_names_a_service_that_is_not_at_head(project: Path, database_url: str) -> None:
    upgrade_all(project, database_url, "--exclude", "movements")
    result = inv(project, "db.check-all", "--json", url=database_url)
    assert result.returncode == 1, show(result)
    entries = {entry["service"]: entry for entry in json_document(result)["services"]}
    assert entries["movements"]["ok"] is False
    assert head_of("movements") in entries["movements"]["error"]
    for service in ALL:
        if service not in ("movements", *dependents_of("movements")):
            assert entries[service]["ok"] is True, entries[service]


# -- downgrade-all, reset-all, stamp-all ------------------------------------------------------------


def test_downgrade_all_to_base_goes_dependents_first(project: Path, database_url: str) -> None:
    upgrade_all(project, database_url)
    result = assert_ok(inv(project, "db.downgrade-all", "--to", "base", "--yes", url=database_url))
    for service in ALL:
        assert_untouched(database_url, service)
    order = execution_order(result, "Running downgrade")
    assert sorted(order) == sorted(ALL), show(result)
    for service in ALL:
        for dependency in declared_services()[service].get("depends_on") or []:
            assert order.index(service) < order.index(dependency), (service, dependency, order)


@pytest.mark.parametrize("task", [("db.downgrade-all", "--to", "base"), ("db.reset-all",), ("db.stamp-all", "base")])
def test_all_tasks_that_drop_or_rewrite_need_yes(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    upgrade_all(project, database_url)
    before = snapshot(database_url)
    line = assert_bad_input(inv(project, *task, url=database_url))
    assert "--yes" in line
    assert snapshot(database_url) == before


def test_reset_all_recreates_every_service(project: Path, database_url: str) -> None:
    upgrade_all(project, database_url)
    marked = {service: sorted(expected_tables(service))[0] for service in ALL}
    for service, table in marked.items():
        execute(database_url, f'COMMENT ON TABLE "{schema_of(service)}"."{table}" IS \'before reset\'')
    assert_ok(inv(project, "db.reset-all", "--yes", url=database_url))
    assert_all_at_head(database_url)
    for service, table in marked.items():
        assert table_comment(database_url, schema_of(service), table) is None, service


def test_stamp_all_rewrites_versions_and_not_tables(project: Path, database_url: str) -> None:
    upgrade_all(project, database_url)
    before = {service: tables(database_url, schema_of(service)) for service in ALL}
    assert_ok(inv(project, "db.stamp-all", "base", "--yes", url=database_url))
    for service in ALL:
        assert version(database_url, schema_of(service)) == []
        assert tables(database_url, schema_of(service)) == before[service]
    assert_ok(inv(project, "db.stamp-all", "head", "--yes", url=database_url))
    assert_all_at_head(database_url)


# -- sql-all ------------------------------------------------------------------------------------------


def test_sql_all_writes_one_file_per_service_offline(project: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    result = assert_ok(inv(project, "db.sql-all", "--output-dir", str(folder), url=CLOSED_URL))
    assert sorted(path.name for path in folder.iterdir()) == sorted(f"{service}.sql" for service in ALL), show(result)
    for service in ALL:
        text = (folder / f"{service}.sql").read_text(encoding="utf-8")
        for table in expected_tables(service):
            assert f"CREATE TABLE {schema_of(service)}.{table} " in text, (service, table)


def test_sql_all_needs_an_output_dir(project: Path) -> None:
    line = assert_bad_input(inv(project, "db.sql-all", url=CLOSED_URL))
    assert "--output-dir" in line


# -- selection and parallelism -----------------------------------------------------------------------


def test_only_selects_services(project: Path, database_url: str) -> None:
    result = upgrade_all(project, database_url, "--only", "habits,movements")
    assert sorted(summary_states(result)) == ["habits", "movements"]
    assert_all_at_head(database_url, ["habits", "movements"])
    for service in ALL:
        if service not in ("habits", "movements"):
            assert schema_of(service) not in snapshot(database_url)


def test_exclude_leaves_services_out(project: Path, database_url: str) -> None:
    result = upgrade_all(project, database_url, "--exclude", "practices,meals")
    assert sorted(summary_states(result)) == sorted(set(ALL) - {"practices", "meals"})
    assert_all_at_head(database_url, [service for service in ALL if service not in ("practices", "meals")])
    assert schema_of("practices") not in snapshot(database_url)
    assert schema_of("meals") not in snapshot(database_url)


def test_jobs_1_and_3_give_the_same_database(project: Path, make_database: Callable[[], str]) -> None:
    sequential, parallel = make_database(), make_database()
    upgrade_all(project, sequential, "--jobs", "1")
    upgrade_all(project, parallel, "--jobs", "3")
    assert_all_at_head(sequential)
    assert snapshot(sequential) == snapshot(parallel)


# -- one broken service ------------------------------------------------------------------------------


def plant_broken_migration(project: Path, service: str) -> str:
    """A migration after the head that creates a table, then raises; returns its revision."""
    revision = "badbadbad001"
    plant_migration(
        project,
        service,
        revision,
        head_of(service),
        body=f"from alembic import op\n\n    op.execute('CREATE TABLE {schema_of(service)}.half_done (id int)')\n"
        "    raise RuntimeError('planted failure')",
    )
    return revision


def assert_stays_at_previous_head(url: str, service: str) -> None:
    schema = schema_of(service)
    assert version(url, schema) == [head_of(service)]
    assert "half_done" not in tables(url, schema)


def test_keep_going_skips_dependents_of_the_failed_service(project: Path, database_url: str) -> None:
    broken = "movements"
    upgrade_all(project, database_url, "--only", broken)
    revision = plant_broken_migration(project, broken)

    result = inv(project, "db.upgrade-all", url=database_url)
    assert result.returncode == 1, show(result)
    assert "Traceback" not in result.stdout + result.stderr
    states = summary_states(result)
    assert states[broken][0] == "failed"
    assert states[broken][1] == "(in full below)", states[broken]  # too long for its cell: said once, whole, below
    assert f"{broken}: migration {revision} failed: planted failure; rolled back, the service stays at " in result.stdout
    dependents = dependents_of(broken)
    assert dependents, "the broken service needs a dependent for this test"
    for service in dependents:
        assert states[service][0] == "skipped", show(result)
        assert broken in states[service][1]
        assert_untouched(database_url, service)
    independent = [service for service in ALL if service != broken and service not in dependents]
    for service in independent:
        assert states[service][0] == "ok", show(result)
    assert_all_at_head(database_url, independent)
    assert_stays_at_previous_head(database_url, broken)
    assert broken in result.stderr.splitlines()[-1]


def test_fail_fast_starts_nothing_after_the_first_failure(project: Path, database_url: str) -> None:
    broken = "movements"
    upgrade_all(project, database_url, "--only", broken)
    plant_broken_migration(project, broken)

    result = inv(project, "db.upgrade-all", "--fail-fast", "--jobs", "1", url=database_url)
    assert result.returncode == 1, show(result)
    states = summary_states(result)
    assert states[broken][0] == "failed"
    assert_stays_at_previous_head(database_url, broken)

    # With one job, services run one after the other: none may start once the broken one failed.
    lines = result.stderr.splitlines()
    failed_at = max(index for index, line in enumerate(lines) if line.startswith(f"{broken} | "))
    started_after = {
        match[1]
        for line in lines[failed_at + 1 :]
        if (match := re.match(r"^([a-z][a-z0-9_-]*) \| ", line)) and match[1] != broken
    }
    assert not started_after, show(result)
    for service in ALL:
        if service == broken:
            continue
        if states[service][0] == "skipped":
            assert_untouched(database_url, service)
        else:
            assert states[service][0] == "ok"
            assert version(database_url, schema_of(service)) == [head_of(service)]
    for service in dependents_of(broken):
        assert states[service][0] == "skipped"
