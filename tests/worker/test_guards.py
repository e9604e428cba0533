"""The guards added around a service's own env.py and around the inputs dbtasks reads: a version table
outside the service's schema, env.py connecting to another database, a wrong `schema:`, passwords
that look like words or hold a raw '@', a local cluster whose credentials file is gone, a status
that reports each service on its own, bad --jobs and unwritable outputs, .env inline comments,
`version: true`, an interpreter without Alembic, a reader that leaves the pipe early, and targets
that are already reached.

Every task runs through Invoke in a subprocess against the session's real PostgreSQL; every refusal is
checked for its exit code, its one line (no traceback) and an unchanged catalog."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import (
    assert_failure,
    assert_ok,
    create_database,
    declared_services,
    drop_database,
    error_lines,
    execute,
    expected_tables,
    head_of,
    inv,
    local_database_made,
    output,
    plant_migration,
    replace_once,
    revisions_of,
    show,
    snapshot,
    summary_states,
    tables,
    version,
    version_files,
)

from dbtasks.database.localdb import LocalDatabase

DRIVERS = ["movements", "habits"]  # psycopg2, asyncpg
VERSION_TABLE_LINE = "        version_table_schema=SCHEMA,\n"


# -- helpers ---------------------------------------------------------------------------------------


def add_service_key(project: Path, service: str, key: str, value: str) -> None:
    """Add `key: value` to services.<service> in the copy's migrations.yaml."""
    replace_once(project / "migrations.yaml", f"\n  {service}:\n", f"\n  {service}:\n    {key}: {value}\n")


def env_py(project: Path, service: str) -> Path:
    return project / declared_services(project)[service]["path"] / "alembic" / "env.py"


def drop_version_table_schema(project: Path, service: str) -> None:
    """env.py stops passing version_table_schema: alembic_version would go to the default schema."""
    replace_once(env_py(project, service), VERSION_TABLE_LINE, "")


def one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Exit `code`, no traceback anywhere, exactly one stderr line besides the workers' progress lines."""
    assert result.returncode == code, show(result)
    assert "Traceback" not in output(result), show(result)
    lines = error_lines(result)
    assert len(lines) == 1, show(result)
    return lines[0]


def address(url: str) -> str:
    """':port/dbname' of a URL, as the wrong-database message prints it (after the host)."""
    parts = urlsplit(url)
    return f":{parts.port}{parts.path}"


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` with its user and password replaced (the password written as given, not encoded)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{user}:{password}@{parts.hostname}:{parts.port}", parts.path, "", ""))


def assert_only_empty_schemas_added(before: dict[str, Any], after: dict[str, Any]) -> None:
    """`after` equals `before`, except for new schemas that hold no table at all.

    A service's env.py runs `CREATE SCHEMA IF NOT EXISTS` on its own connection before it calls
    context.configure, which is where dbtasks' guards run: an empty schema is the most a refused run
    on a fresh database may leave. Tables and version rows must not appear anywhere."""
    for schema, state in after.items():
        if schema in before:
            assert state == before[schema], (schema, before, after)
        else:
            assert state == {"tables": {}, "alembic_version": []}, (schema, after)
    assert set(before) <= set(after)


def status_table_rows(stdout: str) -> dict[str, list[str]]:
    """service -> [schema, current, head, pending, state] from the status table."""
    names = set(declared_services())
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] in names and len(cells) == 6:
            rows[cells[0]] = cells[1:]
    return rows


# -- 1. env.py without version_table_schema ------------------------------------------------------------


@pytest.mark.parametrize("service", DRIVERS)
def test_env_without_version_table_schema_is_refused(project: Path, database_url: str, service: str) -> None:
    drop_version_table_schema(project, service)
    # env.py's own CREATE SCHEMA IF NOT EXISTS runs before configure(): with the schema there, the
    # refusal must leave the catalog exactly as it was.
    execute(database_url, f'CREATE SCHEMA "{service}"')
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.upgrade", service, url=database_url), service)
    assert line == (  # where it would have gone, and the two ways to place it (the declared one works: test_alembic_forms)
        f"{service}: env.py passes no version_table_schema, so its version table goes to public.alembic_version, not to "
        f"{service}.alembic_version; declare services.{service}.version_table: {service}.alembic_version in "
        f"migrations.yaml (dbtasks then hands it to env.py), and for plain alembic pass version_table_schema='{service}' "
        "to context.configure in env.py"
    ), line
    assert snapshot(database_url) == before
    assert "alembic_version" not in tables(database_url, "public")
    assert tables(database_url, service) == set()


def test_env_without_version_table_schema_on_a_fresh_database(project: Path, database_url: str) -> None:
    drop_version_table_schema(project, "movements")
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.upgrade", "movements", url=database_url), "movements")
    assert line.startswith("movements: ") and "version_table_schema='movements'" in line, line
    after = snapshot(database_url)
    assert_only_empty_schemas_added(before, after)
    assert "alembic_version" not in tables(database_url, "public")


@pytest.mark.parametrize(
    "task",
    [("db.upgrade",), ("db.downgrade", "--yes"), ("db.stamp", "base", "--yes"), ("db.check",)],
    ids=["upgrade", "downgrade", "stamp", "check"],
)
def test_version_table_guard_runs_before_any_migration(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    """At head with a pending migration planted: whatever the task, nothing is applied or rewritten."""
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    head = head_of("movements")
    plant_migration(
        project,
        "movements",
        "9a1de0000001",
        head,
        body="from alembic import op\n\n    op.execute('CREATE TABLE movements.planted_guard (id int)')",
    )
    drop_version_table_schema(project, "movements")
    files = version_files(project, "movements")
    before = snapshot(database_url)
    result = inv(project, task[0], "movements", *task[1:], url=database_url)
    line = assert_failure(result, "movements")
    assert "version_table_schema='movements'" in line, line
    assert snapshot(database_url) == before
    assert version(database_url, "movements") == [head]
    assert "planted_guard" not in tables(database_url, "movements")
    assert "alembic_version" not in tables(database_url, "public")
    assert version_files(project, "movements") == files


# -- 2. env.py reading another variable than the one dbtasks sets ------------------------------------


def make_habits_read_its_own_variable(project: Path) -> None:
    replace_once(
        project / "services" / "habits" / "habits_service" / "app" / "config.py",
        'url = os.environ.get("DATABASE_URL")',
        'url = os.environ.get("HABITS_DATABASE_URL") or os.environ.get("DATABASE_URL")',
    )


def test_env_connecting_to_another_database_is_refused_until_url_env_is_set(project: Path, pg_server: str) -> None:
    first = create_database(pg_server)  # what dbtasks targets (DATABASE_URL)
    second = create_database(pg_server)  # what env.py would read (HABITS_DATABASE_URL)
    try:
        make_habits_read_its_own_variable(project)
        for url in (first, second):  # env.py creates its schema before configure(); see above
            execute(url, 'CREATE SCHEMA "habits"')
        before = {url: snapshot(url) for url in (first, second)}
        elsewhere = {"HABITS_DATABASE_URL": second}

        line = assert_failure(inv(project, "db.upgrade", "habits", url=first, env=elsewhere), "habits")
        assert re.search(rf"connected to \S*{re.escape(address(second))}, not to \S*{re.escape(address(first))}", line), line
        assert "url_env" in line, line
        assert {url: snapshot(url) for url in (first, second)} == before

        add_service_key(project, "habits", "url_env", "HABITS_DATABASE_URL")
        result = assert_ok(inv(project, "db.upgrade", "habits", url=first, env=elsewhere))
        assert f"habits: upgraded base -> {head_of('habits')}" in result.stdout, show(result)
        assert version(first, "habits") == [head_of("habits")]
        assert expected_tables("habits") <= tables(first, "habits")
        assert snapshot(second) == before[second]

        status = assert_ok(inv(project, "db.status", "--json", "--only", "habits", url=first, env=elsewhere))
        [entry] = json.loads(status.stdout)["services"]
        assert (entry["current"], entry["state"]) == (head_of("habits"), "up to date"), show(status)
    finally:
        drop_database(pg_server, first)
        drop_database(pg_server, second)


# -- 3. a wrong schema: in migrations.yaml --------------------------------------------------------------


@pytest.mark.parametrize(
    "task", [("db.upgrade",), ("db.check",), ("db.generate", "-m", "x")], ids=["upgrade", "check", "generate"]
)
def test_wrong_schema_in_migrations_yaml_is_refused(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    replace_once(project / "migrations.yaml", "    schema: movements\n", "    schema: movement\n")
    files = version_files(project, "movements")
    before = snapshot(database_url)
    result = inv(project, task[0], "movements", *task[1:], url=database_url)
    line = assert_failure(result, "movements")
    assert "OK" not in result.stdout, show(result)
    assert "'movement'" in line, line
    # The typo is in migrations.yaml: the fix named must be there, not a change to env.py.
    assert "migrations.yaml" in line, line
    assert snapshot(database_url) == before
    assert version(database_url, "movements") == [head_of("movements")]
    assert version_files(project, "movements") == files


@pytest.mark.parametrize("task", [("db.check",), ("db.generate", "-m", "x")], ids=["check", "generate"])
def test_models_outside_the_service_schema_are_refused(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    """Version table and schema: agree, but no model lives there: autogenerate would see nothing."""
    replace_once(project / "migrations.yaml", "    schema: movements\n", "    schema: movement\n")
    replace_once(env_py(project, "movements"), VERSION_TABLE_LINE, '        version_table_schema="movement",\n')
    execute(database_url, 'CREATE SCHEMA "movement"', 'CREATE SCHEMA "movements"')
    files = version_files(project, "movements")
    before = snapshot(database_url)
    result = inv(project, task[0], "movements", *task[1:], url=database_url)
    line = assert_failure(result, "movements")
    assert "OK" not in result.stdout, show(result)
    assert "movements" in line.removeprefix("movements: ") and "'movement'" in line, line
    assert "fix 'schema' in migrations.yaml" in line, line
    assert snapshot(database_url) == before
    assert version_files(project, "movements") == files


# -- 4. passwords --------------------------------------------------------------------------------------


@contextmanager
def database_owned_by(pg_server: str, password: str) -> Iterator[tuple[str, str]]:
    """A new database owned by a new role with `password`: (the role's URL, the admin URL); both dropped after."""
    admin = create_database(pg_server)
    role = f"guard_{secrets.token_hex(4)}"
    name = urlsplit(admin).path.lstrip("/")
    try:
        execute(pg_server, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'", f'ALTER DATABASE "{name}" OWNER TO {role}')
        yield with_credentials(admin, role, password), admin
    finally:
        drop_database(pg_server, admin)
        execute(pg_server, f"DROP ROLE IF EXISTS {role}")


@pytest.mark.parametrize("password", ["head", "ok"])
def test_a_password_that_is_a_common_word_does_not_break_the_output(project: Path, pg_server: str, password: str) -> None:
    with database_owned_by(pg_server, password) as (url, admin):
        upgraded = assert_ok(inv(project, "db.upgrade-all", "--only", "habits,movements", url=url))
        states = summary_states(upgraded)
        assert {name: state for name, (state, _) in states.items()} == {"habits": "ok", "movements": "ok"}, show(upgraded)
        assert version(admin, "habits") == [head_of("habits")]
        assert version(admin, "movements") == [head_of("movements")]

        history = assert_ok(inv(project, "db.history", "habits", url=url))
        first, second = revisions_of("habits")
        lines = history.stdout.splitlines()
        assert lines[0].startswith(f"{first} -> {second} (head), "), show(history)
        assert lines[1].startswith(f"<base> -> {first}, "), show(history)

        status = assert_ok(inv(project, "db.status", "--json", url=url))
        entries = {entry["service"]: entry for entry in json.loads(status.stdout)["services"]}
        assert set(entries) == set(declared_services())
        for service in ("habits", "movements"):
            entry = entries[service]
            assert (entry["current"], entry["head"], entry["pending"], entry["state"]) == (
                head_of(service),
                head_of(service),
                0,
                "up to date",
            ), show(status)
        assert (entries["users"]["current"], entries["users"]["head"], entries["users"]["state"]) == (
            None,
            head_of("users"),
            "not initialized",
        ), show(status)


RAW_AT_PASSWORD = "Tr0ub@dor:xK9secret"


@pytest.mark.parametrize(
    "task",
    [
        ("db.upgrade", "habits"),
        ("db.upgrade", "movements"),
        ("db.status", "--json"),
        ("db.upgrade-all", "--only", "habits,movements"),
        ("db.sql", "habits"),
    ],
    ids=["upgrade-asyncpg", "upgrade-psycopg2", "status-json", "upgrade-all", "sql"],
)
def test_a_raw_at_in_the_password_says_to_percent_encode_it(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    url = with_credentials(database_url, str(urlsplit(database_url).username), RAW_AT_PASSWORD)
    before = snapshot(database_url)
    for debug in ({}, {"DBTASKS_DEBUG": "1"}):
        result = inv(project, *task, url=url, env=debug)
        for piece in ("xK9secret", "Tr0ub", RAW_AT_PASSWORD):
            assert piece not in output(result), show(result)
        line = one_line(result, 2)
        assert "percent-encode" in line and "%40" in line, line
    assert snapshot(database_url) == before


# -- 5. the local database without its credentials file -------------------------------------------


@pytest.fixture
def local_project(project: Path) -> Iterator[Path]:
    """The copy with no URL configured; its local server is stopped afterwards, whatever happened."""
    assert not (project / ".env").exists()
    yield project
    LocalDatabase(project / ".dbtasks").stop()


def test_missing_local_credentials_are_reported_and_no_data_is_deleted(local_project: Path) -> None:
    project = local_project
    home = project / ".dbtasks"
    assert_ok(inv(project, "db.local-start"))
    assert_ok(inv(project, "db.upgrade", "movements"))
    assert_ok(inv(project, "db.local-stop"))
    pgdata = sorted(path.name for path in (home / "pgdata").iterdir())
    credentials = home / "local.json"
    kept = project / "local.json.moved"
    credentials.rename(kept)

    for task in (("db.status",), ("db.upgrade", "movements")):
        result = inv(project, *task)
        assert result.returncode != 0, show(result)
        line = one_line(result, result.returncode)
        assert "local.json" in line and "missing" in line, line
        assert "restore" in line, line  # how to recover, without losing data
        assert (home / "pgdata" / "PG_VERSION").is_file()
        assert not credentials.exists()
        assert sorted(path.name for path in (home / "pgdata").iterdir()) == pgdata

    kept.rename(credentials)
    status = assert_ok(inv(project, "db.status", "--json", "--only", "movements"))
    [entry] = json.loads(status.stdout)["services"]
    assert (entry["current"], entry["state"]) == (head_of("movements"), "up to date"), show(status)
    assert version(LocalDatabase(home).url(), "movements") == [head_of("movements")]
    assert_ok(inv(project, "db.local-stop"))
    assert LocalDatabase(home).running_port() is None


# -- 6. status with one service broken -------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_status_reports_every_other_service_when_one_is_broken(project: Path, upgraded_url: str, jobs: str) -> None:
    database_url = upgraded_url  # every service at head
    assert_ok(inv(project, "db.downgrade", "meals", "--yes", url=database_url))
    env = env_py(project, "users")
    env.write_text(
        'raise ImportError("users_broken_dependency is not installed", name="users_broken_dependency")\n'
        + env.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    expected: dict[str, tuple[str | None, str, int, str]] = {
        service: (head_of(service), head_of(service), 0, "up to date") for service in declared_services() if service != "users"
    }
    expected["meals"] = (revisions_of("meals")[-2], head_of("meals"), 1, "behind")
    before = snapshot(database_url)

    # The fast path reports users from the catalog without running its env.py; the workers' path is tested here.
    slow = {"DBTASKS_FASTPATH": "0"}
    table = inv(project, "db.status", "--jobs", jobs, url=database_url, env=slow)
    line = one_line(table, 1)
    assert "status" in line, line
    rows = status_table_rows(table.stdout)
    assert set(rows) == set(declared_services()), show(table)
    for service, (current, head, pending, state) in expected.items():
        assert rows[service] == [service, current, head, str(pending), state], show(table)
    assert rows["users"][4] == "(in full below)", show(table)  # too long for its cell: said once, whole, below
    below = [line for line in table.stdout.splitlines() if line.startswith("users: ")]
    assert len(below) == 1 and below[0].startswith("users: error: env.py cannot import 'users_broken_dependency'"), show(table)

    as_json = inv(project, "db.status", "--json", "--jobs", jobs, url=database_url, env=slow)
    one_line(as_json, 1)
    entries = {entry["service"]: entry for entry in json.loads(as_json.stdout)["services"]}
    assert set(entries) == set(declared_services()), show(as_json)
    for service, (current, head, pending, state) in expected.items():
        entry = entries[service]
        assert (entry["schema"], entry["current"], entry["head"], entry["pending"], entry["state"]) == (
            service,
            current,
            head,
            pending,
            state,
        ), show(as_json)
    assert entries["users"]["state"].startswith("error: "), show(as_json)
    assert "users_broken_dependency" in entries["users"]["state"], show(as_json)
    assert "skipped" not in as_json.stdout and "skipped" not in table.stdout
    # With the fast path, users is read from the catalog (its env.py is not run): the others are the same.
    fast = {
        entry["service"]: entry for entry in json.loads(inv(project, "db.status", "--json", url=database_url).stdout)["services"]
    }
    assert fast["users"]["state"] == "up to date"
    assert {name: entry for name, entry in fast.items() if name != "users"} == {n: e for n, e in entries.items() if n != "users"}
    assert snapshot(database_url) == before


# -- 7. --jobs and output paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "value"),
    [
        (("db.status",), "abc"),
        (("db.status",), "0"),
        (("db.status", "--json"), "-1"),
        (("db.upgrade-all",), "abc"),
        (("db.upgrade-all",), "0"),
        (("db.downgrade-all", "--yes"), "abc"),
        (("db.reset-all", "--yes"), "0"),
        (("db.stamp-all", "base", "--yes"), "abc"),
        (("db.check-all",), "abc"),
    ],
)
def test_jobs_must_be_a_positive_number(project: Path, database_url: str, task: tuple[str, ...], value: str) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))  # something a destructive task could undo
    before = snapshot(database_url)
    line = one_line(inv(project, *task, "--jobs", value, url=database_url), 2)
    assert line == f"--jobs: expected a positive number, got {value!r}", line
    assert snapshot(database_url) == before


def test_sql_all_jobs_must_be_a_positive_number(project: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    line = one_line(inv(project, "db.sql-all", "--output-dir", str(folder), "--jobs", "abc"), 2)
    assert line == "--jobs: expected a positive number, got 'abc'", line
    assert not folder.exists()


def test_sql_output_to_an_existing_folder(project: Path, database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    before = snapshot(database_url)
    result = inv(project, "db.sql", "habits", "--output", str(folder), url=database_url)
    line = one_line(result, 2)
    assert str(folder) in line, line
    assert list(folder.iterdir()) == []
    assert snapshot(database_url) == before


def test_sql_all_output_dir_that_is_a_file(project: Path, database_url: str, tmp_path: Path) -> None:
    regular = tmp_path / "not-a-folder.txt"
    regular.write_text("keep me\n", encoding="utf-8")
    before = snapshot(database_url)
    result = inv(project, "db.sql-all", "--output-dir", str(regular), url=database_url)
    assert result.returncode != 0, show(result)
    assert "Traceback" not in output(result), show(result)
    assert str(regular) in output(result), show(result)
    assert not re.search(r"\b\w+Error\b", output(result)), show(result)
    assert regular.read_text(encoding="utf-8") == "keep me\n"
    assert snapshot(database_url) == before


# -- 8. .env with an inline comment ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "DATABASE_URL={url}  # local dev",
        "export DATABASE_URL={url}\t# local dev",
        'DATABASE_URL="{url}"  # local dev',
        "DATABASE_URL='{url}' # local dev",
    ],
    ids=["plain", "export-tab", "double-quoted", "single-quoted"],
)
def test_dotenv_value_with_an_inline_comment(project: Path, database_url: str, line: str) -> None:
    (project / ".env").write_text(f"# settings for this checkout\n{line.format(url=database_url)}\n", encoding="utf-8")
    result = assert_ok(inv(project, "db.upgrade", "movements"))  # DATABASE_URL not in the environment
    assert "movements: upgraded base -> 0001" in result.stdout, show(result)
    assert version(database_url, "movements") == [head_of("movements")]
    assert expected_tables("movements") <= tables(database_url, "movements")
    assert not local_database_made(project)  # the embedded database was never involved


# -- 9. version: true ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [("true", "True"), ("1.0", "1.0"), ('"1"', "'1'")])
def test_version_must_be_the_integer_one(project: Path, database_url: str, value: str, shown: str) -> None:
    config = project / "migrations.yaml"
    replace_once(config, "\nversion: 1\n", f"\nversion: {value}\n")
    number = config.read_text(encoding="utf-8").splitlines().index(f"version: {value}") + 1
    before = snapshot(database_url)
    line = one_line(inv(project, "db.upgrade", "movements", url=database_url), 2)
    assert line == f"migrations.yaml:{number}: version: expected 1, got {shown}", line
    assert snapshot(database_url) == before


# -- 10. an interpreter without Alembic ----------------------------------------------------------------


def test_interpreter_without_alembic_says_to_install_it(project: Path, database_url: str, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, capture_output=True, timeout=120)
    interpreter = bare / "bin" / "python"
    add_service_key(project, "movements", "python", str(interpreter))
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.upgrade", "movements", url=database_url), "movements")
    assert "install" in line and str(interpreter) in line, line
    assert "alembic" in line, line
    assert "pythonpath" not in line and "prepend_sys_path" not in line, line
    assert snapshot(database_url) == before


# -- 11. a reader that leaves the pipe early ---------------------------------------------------------


def inv_process(project: Path, *args: str, url: str) -> subprocess.Popen[bytes]:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.pop("DBTASKS_DEBUG", None)
    environment.update({"PYTHONDONTWRITEBYTECODE": "1", "DATABASE_URL": url})
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    ("task", "read"),
    [(("db.status", "--json"), 0), (("db.status",), 1), (("db.history", "habits"), 1), (("db.sql", "habits"), 0)],
    ids=["status-json-closed-at-once", "status-after-one-byte", "history-after-one-byte", "sql-closed-at-once"],
)
def test_a_closed_stdout_is_not_an_error(project: Path, database_url: str, task: tuple[str, ...], read: int) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    before = snapshot(database_url)
    process = inv_process(project, *task, url=database_url)
    assert process.stdout is not None and process.stderr is not None
    if read:
        assert process.stdout.read(read)
    process.stdout.close()  # like `| head -c1`: the reader is gone
    try:
        stderr = process.stderr.read().decode("utf-8", "replace")
        code = process.wait(timeout=300)
    finally:
        process.kill()
        process.stderr.close()
    for word in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert word not in stderr, stderr
    assert code == 0, (code, stderr)
    assert_only_empty_schemas_added(before, snapshot(database_url))  # status runs each env.py (CREATE SCHEMA)


# -- 12. targets already reached ---------------------------------------------------------------------


def test_upgrade_to_a_revision_below_the_current_one_is_a_no_op(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade-all", "--only", "users,meals", url=database_url))  # meals has a key into users
    first = revisions_of("meals")[0]
    assert version(database_url, "meals") == [head_of("meals")] and first != head_of("meals")
    before = snapshot(database_url)
    result = assert_ok(inv(project, "db.upgrade", "meals", "--to", first, url=database_url))
    assert result.stdout.strip() == f"meals: nothing to apply (already at or past {first})", show(result)
    assert error_lines(result) == [], show(result)
    assert snapshot(database_url) == before
    assert version(database_url, "meals") == [head_of("meals")]


def test_downgrade_at_base_suggests_looking_at_current(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    assert_ok(inv(project, "db.downgrade", "movements", "--yes", url=database_url))
    assert version(database_url, "movements") == []
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.downgrade", "movements", "--yes", url=database_url), "movements", code=2)
    assert "inv db.current movements" in line, line
    assert snapshot(database_url) == before


def test_downgrade_on_a_fresh_database_suggests_looking_at_current(project: Path, database_url: str) -> None:
    before = snapshot(database_url)
    line = assert_failure(inv(project, "db.downgrade", "movements", "--yes", url=database_url), "movements", code=2)
    assert "inv db.current movements" in line, line
    assert_only_empty_schemas_added(before, snapshot(database_url))


# -- stamp reports what is recorded; generate names a file its hook failed on ----------------------


def test_stamp_with_a_relative_revision_reports_the_recorded_revision(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade-all", "--only", "users,meals", url=database_url))
    result = inv(project, "db.stamp", "meals", "-1", "--yes", url=database_url)
    assert_ok(result)
    below_head = revisions_of("meals")[-2]
    assert f"meals: recorded revision is now {below_head} (no migration ran)" in result.stdout
    assert version(database_url, "meals") == [below_head]
    assert {"foods", "meals", "meal_items"} <= tables(database_url, "meals")  # no migration ran


def test_generate_names_the_file_a_failing_post_write_hook_left(project: Path, database_url: str) -> None:
    ini = project / "services" / "meals" / "alembic.ini"
    ini.write_text(ini.read_text().replace("ruff_format.module = ruff", "ruff_format.module = no_such_formatter"))
    versions = project / "services" / "meals" / "alembic" / "versions"
    before = set(versions.glob("*.py"))
    line = assert_failure(inv(project, "db.generate", "meals", "-m", "hooked", "--empty", url=database_url), "meals")
    written = set(versions.glob("*.py")) - before
    assert len(written) == 1
    assert written.pop().name in line
    assert "post-write hook" in line and "no_such_formatter" in line
