"""`inv db.verify` / `verify-all`: each defect planted in a throwaway copy of a service makes the right
check fail with a useful detail; the scratch database is always dropped and the configured database is
never touched."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from _support import (
    CLOSED_URL,
    assert_bad_input,
    assert_failure,
    assert_ok,
    ctrl_c_while,
    declared_services,
    execute,
    head_of,
    inv,
    output,
    parent_of,
    plant_model_column,
    query,
    replace_once,
    show,
    snapshot,
    summary_states,
    versions_folder,
)

CHECKS = [
    "history",
    "single-head",
    "upgrade",
    "stairway",
    "idempotent",
    "drift",
    "no-trace",
    "ownership",
    "version-table",
    "expected-tables",
    "offline-sql",
    "lint",  # run by the parent, after the worker's checks (tests/cli/test_lint.py)
]


def scratch_databases(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT datname FROM pg_database WHERE datname LIKE %s", ("%\\_verify\\_%",))]


def run_verify(project: Path, service: str, url: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`inv db.verify SERVICE --json`: the result, its report, and proof that nothing was left behind."""
    before = snapshot(url)
    result = inv(project, "db.verify", service, "--json", *extra, url=url)
    assert "Traceback" not in output(result), show(result)
    report = json.loads(result.stdout)
    assert report["service"] == service and [check["name"] for check in report["checks"]] == CHECKS, show(result)
    assert snapshot(url) == before, "verify touched the configured database"
    if "--keep" not in extra:
        assert scratch_databases(url) == [], "the scratch database was not dropped"
    return result, report


def checks(report: dict[str, Any]) -> dict[str, tuple[bool | None, str]]:
    return {check["name"]: (check["ok"], check["detail"]) for check in report["checks"]}


def assert_fails(project: Path, service: str, url: str, expected: set[str]) -> dict[str, tuple[bool | None, str]]:
    """verify exits 1 with one line naming exactly the `expected` failed checks; returns every check."""
    result, report = run_verify(project, service, url)
    found = checks(report)
    failed = {name for name, (ok, _) in found.items() if ok is False}
    assert failed == expected, show(result)
    assert report["ok"] is False
    line = assert_failure(result, service)
    assert line == f"{service}: verify failed ({', '.join(name for name in CHECKS if name in expected)})"  # --json: no details
    return found


def plant(project: Path, service: str, revision: str, down: str | None, upgrade: str, downgrade: str) -> Path:
    """A migration file with the given upgrade() and downgrade() bodies (4-space indented lines)."""
    path = versions_folder(project, service) / f"{revision}_planted.py"
    path.write_text(
        '"""planted by the tests"""\n\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade() -> None:\n{_indent(upgrade)}\n\n\n"
        f"def downgrade() -> None:\n{_indent(downgrade)}\n",
        encoding="utf-8",
    )
    return path


def _indent(body: str) -> str:
    return "\n".join(f"    {line}" for line in body.strip().splitlines())


# Objects autogenerate cannot see (no model declares them), so only the catalog snapshot catches them.
VIEW = 'op.execute("CREATE VIEW movements.planted AS SELECT 1 AS one")'


# -- the example services pass -----------------------------------------------------------------------


def test_verify_all_passes_on_the_example_services(project: Path, database_url: str, tmp_path: Path) -> None:
    before = snapshot(database_url)
    junit = tmp_path / "verify.xml"
    result = assert_ok(inv(project, "db.verify-all", "--json", "--junit", str(junit), url=database_url))
    reports = json.loads(result.stdout)
    assert [report["service"] for report in reports] == list(declared_services())
    for report in reports:
        assert report["ok"] is True, report
        assert all(check["ok"] is True for check in report["checks"]), report
        assert [check["name"] for check in report["checks"]] == CHECKS
    assert snapshot(database_url) == before  # the configured database was never touched
    assert scratch_databases(database_url) == []
    suites = ElementTree.parse(junit).getroot()
    assert [suite.get("name") for suite in suites] == list(declared_services())
    assert sum(int(suite.get("tests", "0")) for suite in suites) == len(CHECKS) * len(list(declared_services()))
    assert all(suite.get("failures") == "0" and suite.get("skipped") == "0" for suite in suites)


def test_verify_prints_a_line_or_with_verbose_a_table_and_brings_dependencies_to_head_first(
    project: Path, database_url: str
) -> None:
    result = assert_ok(inv(project, "db.verify", "practices", url=database_url))
    assert result.stdout.splitlines() == [f"practices: verify ok, {len(CHECKS)} checks passed"], show(result)
    verbose = assert_ok(inv(project, "db.verify", "practices", "--verbose", url=database_url))
    assert declared_services()["practices"]["depends_on"] == ["users", "movements"]
    rows = {line.split()[0]: line.split()[1] for line in verbose.stdout.splitlines()[3:] if line.strip()}
    assert rows == dict.fromkeys(CHECKS, "ok"), show(verbose)
    assert "nothing outside practices changed" in verbose.stdout  # users and movements were there, unchanged
    drift = next(line for line in verbose.stdout.splitlines() if line.startswith("drift "))
    assert drift.split(None, 2)[2] == "models match the database at head (autogenerate, on what the service owns)"  # whole
    assert scratch_databases(database_url) == []


# -- the migration files ---------------------------------------------------------------------------


def test_the_seeds_broken_chain_is_named_by_file_and_revision(project: Path, database_url: str) -> None:
    # The real case: 189b1231afd4_bootstrap_tables.py declaring 2a3f4c9d1cde on top of 189b1231afd4.
    path = versions_folder(project, "habits") / "189b1231afd4_bootstrap_tables.py"
    replace_once(path, 'revision: str = "189b1231afd4"', 'revision: str = "2a3f4c9d1cde"')
    replace_once(
        path,
        "down_revision: Union[str, Sequence[str], None] = None",
        'down_revision: Union[str, Sequence[str], None] = "189b1231afd4"',
    )
    found = assert_fails(project, "habits", database_url, {"history"})
    detail = found["history"][1]
    assert "189b1231afd4_bootstrap_tables.py declares revision 2a3f4c9d1cde, but its name starts with 189b1231afd4" in detail
    assert "declares down_revision 189b1231afd4, which no file defines" in detail
    assert "KeyError" not in detail
    assert all(found[name][0] is None for name in CHECKS[1:])  # nothing else can be judged


def test_two_heads_fail_single_head_and_suggest_merge(project: Path, database_url: str) -> None:
    parent = parent_of("habits", head_of("habits"))
    plant(project, "habits", "5eco0dhead01", parent, "pass", "pass")
    found = assert_fails(project, "habits", database_url, {"single-head"})
    assert "2 heads" in found["single-head"][1] and "5eco0dhead01" in found["single-head"][1]
    assert head_of("habits") in found["single-head"][1] and "inv db.merge habits" in found["single-head"][1]
    assert found["history"][0] is True


# -- upgrade and downgrade ---------------------------------------------------------------------------


def test_a_missing_downgrade_fails_stairway_and_no_trace(project: Path, database_url: str) -> None:
    plant(project, "movements", "f00d00000002", head_of("movements"), VIEW, "pass")
    found = assert_fails(project, "movements", database_url, {"stairway", "no-trace"})
    assert "downgrade of f00d00000002 does not undo its upgrade: left behind view movements.planted" in found["stairway"][1]
    assert "left behind view movements.planted" in found["no-trace"][1]
    assert found["upgrade"][0] is True and found["idempotent"][0] is True


def test_a_broken_downgrade_names_its_revision(project: Path, database_url: str) -> None:
    plant(project, "movements", "f00d00000002", head_of("movements"), VIEW, 'op.drop_table("no_such_table", schema="movements")')
    found = assert_fails(project, "movements", database_url, {"stairway", "no-trace"})
    assert found["stairway"][1].startswith("downgrade of f00d00000002 fails: "), found["stairway"]
    assert "no_such_table" in found["stairway"][1]
    assert "f00d00000002" in found["no-trace"][1] and "no_such_table" in found["no-trace"][1]


def test_a_failing_upgrade_names_its_revision_and_skips_the_rest(project: Path, database_url: str) -> None:
    plant(
        project,
        "movements",
        "f00d00000002",
        head_of("movements"),
        'op.execute("SELECT no_such_column FROM movements.exercises")',
        "pass",
    )
    found = assert_fails(project, "movements", database_url, {"upgrade"})
    assert found["upgrade"][1].startswith("f00d00000002 fails: "), found["upgrade"]
    assert "no_such_column" in found["upgrade"][1]
    assert found["stairway"] == (None, "skipped: upgrade stopped at f00d00000002")


@pytest.mark.parametrize(
    ("upgrade", "downgrade", "leftover"),
    [
        (
            f'op.execute("CREATE SEQUENCE movements.planted_seq")\n{VIEW}',
            'op.execute("DROP VIEW movements.planted")',
            "sequence movements.planted_seq",
        ),
        # The classic: a type created for a column outlives the object a downgrade drops.
        (
            "op.execute(\"CREATE TYPE movements.mood AS ENUM ('happy', 'sad')\")\n"
            "op.execute(\"CREATE VIEW movements.planted AS SELECT 'happy'::movements.mood AS mood\")",
            'op.execute("DROP VIEW movements.planted")',
            "enum movements.mood",
        ),
    ],
    ids=["sequence", "enum"],
)
def test_an_object_left_behind_after_downgrade(
    project: Path, database_url: str, upgrade: str, downgrade: str, leftover: str
) -> None:
    plant(project, "movements", "f00d00000002", head_of("movements"), upgrade, downgrade)
    found = assert_fails(project, "movements", database_url, {"stairway", "no-trace"})
    assert f"left behind {leftover}" in found["stairway"][1], found["stairway"]
    assert f"after downgrade to base: left behind {leftover}" in found["no-trace"][1], found["no-trace"]
    assert found["upgrade"][0] is True


def test_env_py_that_fails_on_a_second_run(project: Path, database_url: str) -> None:
    env = project / "services" / "habits" / "alembic" / "env.py"
    replace_once(
        env, "    connection.execute(CreateSchema(SCHEMA, if_not_exists=True))", "    connection.execute(CreateSchema(SCHEMA))"
    )
    # dbtasks creates the service's schema before the first upgrade (as a second run of env.py finds it), so an
    # env.py that cannot run with its schema present fails from its first run.
    found = assert_fails(project, "habits", database_url, {"upgrade"})
    assert found["upgrade"][1].startswith("env.py fails when it runs a first time: "), found["upgrade"]
    assert "already exists" in found["upgrade"][1]
    assert found["idempotent"] == (None, "skipped: env.py fails when it runs a first time")


# -- where migrations write ------------------------------------------------------------------------


def test_a_migration_writing_into_another_schema_fails_ownership(project: Path, database_url: str) -> None:
    create = 'op.create_table("audit_log", sa.Column("id", sa.Integer, primary_key=True), schema="public")'
    plant(project, "movements", "f00d00000002", head_of("movements"), create, 'op.drop_table("audit_log", schema="public")')
    found = assert_fails(project, "movements", database_url, {"ownership"})
    assert found["ownership"][1].startswith("migrations changed objects outside movements: "), found["ownership"]
    assert "created table public.audit_log" in found["ownership"][1]


def test_the_version_table_in_public_fails_version_table(project: Path, database_url: str) -> None:
    env = project / "services" / "habits" / "alembic" / "env.py"
    replace_once(env, "        version_table_schema=SCHEMA,\n", "")
    found = assert_fails(project, "habits", database_url, {"version-table", "ownership"})
    assert "alembic_version is in public, not in habits" in found["version-table"][1]
    assert "version_table_schema='habits'" in found["version-table"][1]
    assert "created table public.alembic_version" in found["ownership"][1]


def test_a_missing_expected_table(project: Path, database_url: str) -> None:
    config = project / "migrations.yaml"
    replace_once(config, "expect_tables: [exercises, movements, muscle_groups]", "expect_tables: [exercises, ghosts, movements]")
    found = assert_fails(project, "movements", database_url, {"expected-tables"})
    assert found["expected-tables"][1] == "missing after upgrade to head: ghosts (expect_tables in migrations.yaml)"


def test_model_drift_names_the_difference(project: Path, database_url: str) -> None:
    table = plant_model_column(project, "habits", "color")
    found = assert_fails(project, "habits", database_url, {"drift"})
    assert f"add column habits.{table}.color" in found["drift"][1]
    assert "inv db.generate habits" in found["drift"][1]


def test_a_data_migration_that_cannot_render_offline(project: Path, database_url: str) -> None:
    reads = 'count = op.get_bind().execute(sa.text("SELECT count(*) FROM movements.exercises")).scalar()'
    plant(project, "movements", "f00d00000002", head_of("movements"), reads, "pass")
    found = assert_fails(project, "movements", database_url, {"offline-sql"})
    assert found["offline-sql"][1].startswith("f00d00000002 cannot render offline: "), found["offline-sql"]
    assert "context.is_offline_mode()" in found["offline-sql"][1]


# -- verify-all, --keep, failures of the run itself -------------------------------------------------


def test_verify_all_reports_the_failing_service_and_keeps_going(project: Path, database_url: str, tmp_path: Path) -> None:
    plant(project, "movements", "f00d00000002", head_of("movements"), VIEW, "pass")
    junit = tmp_path / "out" / "verify.xml"
    result = inv(project, "db.verify-all", "--only", "users,movements", "--junit", str(junit), url=database_url)
    assert result.returncode == 1, show(result)
    assert "Traceback" not in output(result)
    summary = result.stdout[result.stdout.rindex("service ") :]  # the closing table, after the per-service ones
    assert summary_states(subprocess.CompletedProcess([], 1, summary, "")) == {
        "users": ("ok", "all checks passed"),
        "movements": ("failed", "failed: stairway, no-trace"),
    }
    assert result.stderr.strip().splitlines()[-1] == "verify failed for movements; see the tables above"
    suites = {suite.get("name"): suite for suite in ElementTree.parse(junit).getroot()}
    assert suites["movements"].get("failures") == "2" and suites["users"].get("failures") == "0"
    failure = suites["movements"].find("testcase[@name='stairway']/failure")
    assert failure is not None and "left behind view movements.planted" in (failure.get("message") or "")
    assert scratch_databases(database_url) == []


def test_keep_leaves_the_scratch_database_and_prints_its_masked_url(project: Path, database_url: str, pg_server: str) -> None:
    result, report = run_verify(project, "movements", database_url, "--keep")
    kept = report["database"]
    password = urlsplit(database_url).password
    assert "***" in kept and (not password or password not in output(result))
    name = urlsplit(kept).path.lstrip("/")
    try:
        assert scratch_databases(database_url) == [name] and name.startswith("movements_verify_")
    finally:
        execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_verify_of_an_unknown_service_is_bad_input(project: Path, database_url: str) -> None:
    line = assert_bad_input(inv(project, "db.verify", "habbits", url=database_url))
    assert "habbits" in line and "habits" in line


def test_verify_without_a_server_is_one_line(project: Path) -> None:
    line = assert_failure(inv(project, "db.verify", "movements", url=CLOSED_URL), "movements")
    assert "cannot connect" in line and "closed-port-password" not in line


def test_env_py_that_connects_elsewhere_never_touches_that_database(project: Path, database_url: str) -> None:
    # env.py reads DATABASE_URL (the configured database) while dbtasks hands the scratch one in MOVEMENTS_URL.
    config = project / "migrations.yaml"
    replace_once(
        config,
        "    driver: psycopg2\n    expect_tables: [exercises",
        "    driver: psycopg2\n    url_env: MOVEMENTS_URL\n    expect_tables: [exercises",
    )
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.verify", "movements", url=database_url), "movements")
    assert "env.py connected to" in line and "MOVEMENTS_URL" in line, line
    after = snapshot(database_url)
    assert {schema: state for schema, state in after.items() if state["tables"] or state["alembic_version"]} == {
        schema: state for schema, state in before.items() if state["tables"] or state["alembic_version"]
    }
    assert scratch_databases(database_url) == []


def test_ctrl_c_drops_the_scratch_database(project: Path, database_url: str) -> None:
    plant(project, "movements", "f00d00000002", head_of("movements"), 'op.execute("SELECT pg_sleep(60)")', "pass")
    result, _ = ctrl_c_while(project, database_url, ["db.verify", "movements"], "SELECT pg_sleep(60)")
    process, stdout, stderr = result, result.stdout, result.stderr
    assert process.returncode != 0 and "Traceback" not in stdout + stderr, (stdout, stderr)
    assert "interrupted" in stderr
    assert scratch_databases(database_url) == []


def test_a_user_without_createdb_is_told_what_to_grant(project: Path, database_url: str, pg_server: str) -> None:
    role, password = "verify_no_createdb", "no-createdb-secret"
    database = urlsplit(database_url).path.lstrip("/")
    execute(
        pg_server, f"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD '{password}'", f'GRANT ALL ON DATABASE "{database}" TO {role}'
    )
    parts = urlsplit(database_url)
    limited = parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}").geturl()
    try:
        line = assert_failure(inv(project, "db.verify", "movements", url=limited), "movements")
    finally:
        execute(pg_server, f'REVOKE ALL ON DATABASE "{database}" FROM {role}', f"DROP ROLE {role}")
    assert "CREATEDB" in line and "unset DATABASE_URL" in line, line
    assert password not in line
    assert scratch_databases(database_url) == []
