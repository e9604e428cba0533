"""Applied-migration checksums, against real PostgreSQL: recorded by upgrade and stamp, deleted by downgrade, reported
by status, check and check-all, enforced by upgrade in a protected environment, re-recorded by checksums --accept."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import (
    REPO,
    assert_bad_input,
    assert_failure,
    assert_ok,
    declared_services,
    error_lines,
    execute,
    inv,
    query,
    revisions_of,
    schemas,
    sessions_opened,
    show,
    snapshot,
    tables,
    version,
    versions_folder,
)

from dbtasks.config.project import BOOKKEEPING_SCHEMA
from dbtasks.database.urls import normalize
from dbtasks.worker.checksums import DEFAULT_SCHEMA
from dbtasks.worker.checksums import normalize as normalized

FIRST, HEAD = revisions_of("habits")  # habits has two revisions
TABLE = "dbtasks_state.checksums"
KEY = "habits.alembic_version"  # the rows' key: the service's version table
PROTECTED = "environments:\n  production: {protected: true, url_env: PROD_DATABASE_URL}\n"


def file_of(project: Path, revision: str) -> Path:
    [path] = versions_folder(project, "habits").glob(f"{revision}_*.py")
    return path


def relative(project: Path, revision: str) -> str:
    return file_of(project, revision).relative_to(project / "services" / "habits").as_posix()


def rows(url: str) -> dict[str, tuple[str, str, str]]:
    """revision -> (checksum, file, applied_by) of habits' rows in dbtasks_state.checksums ({} when it does not exist)."""
    if "checksums" not in tables(url, "dbtasks_state"):
        return {}
    found = query(url, f"SELECT revision, checksum, file, applied_by FROM {TABLE} WHERE version_table = %s", (KEY,))
    return {revision: (digest, file, by) for revision, digest, file, by in found}


def sha(path: Path) -> str:
    return hashlib.sha256(normalized(path.read_bytes())).hexdigest()


def edit(project: Path, revision: str = FIRST, line: str = "# edited after it was applied\n") -> Path:
    path = file_of(project, revision)
    path.write_text(path.read_text(encoding="utf-8") + line, encoding="utf-8")
    return path


def status_json(project: Path, url: str, **env: str) -> dict[str, dict[str, object]]:
    result = assert_ok(inv(project, "db.status", "--json", "--only", "habits", url=url, env=env))
    return {row["service"]: row for row in json.loads(result.stdout)["services"]}


@pytest.fixture
def protected(project: Path) -> Path:
    config = project / "migrations.yaml"
    config.write_text(config.read_text().replace("services:\n", PROTECTED + "services:\n", 1))
    return project


# -- recorded --------------------------------------------------------------------------------------------------------


def test_upgrade_records_downgrade_deletes_stamp_records(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    recorded = rows(database_url)
    assert set(recorded) == {FIRST, HEAD}
    for revision in (FIRST, HEAD):
        digest, file, by = recorded[revision]
        assert digest == sha(file_of(project, revision)) and file == relative(project, revision)
        assert by.startswith(query(database_url, "SELECT current_user")[0][0] + " (") and by.endswith(")")

    assert_ok(inv(project, "db.downgrade", "habits", "--yes", url=database_url))
    assert set(rows(database_url)) == {FIRST}  # the row of the revision it took back is gone

    execute(database_url, f"DELETE FROM {TABLE}")
    result = assert_ok(inv(project, "db.stamp", "habits", "head", "--yes", url=database_url))
    assert "recorded revision is now" in result.stdout
    assert set(rows(database_url)) == {HEAD}  # the stamped revision only
    assert version(database_url, "habits") == [HEAD]


LEGACY = "habits.alembic_version_checksums"  # where dbtasks kept the rows before, beside the version table


@pytest.mark.parametrize("fast", ["1", "0"], ids=["fast-path", "worker"])
def test_rows_an_earlier_version_kept_beside_the_version_table_are_read_then_moved_by_the_next_writing_run(
    project: Path, database_url: str, fast: str
) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", "--to", FIRST, url=database_url))
    recorded = rows(database_url)[FIRST]
    execute(  # what an earlier dbtasks left: the table beside the version table, and no schema of its own
        database_url,
        f"CREATE TABLE {LEGACY} (revision VARCHAR(255) NOT NULL PRIMARY KEY, checksum VARCHAR(64) NOT NULL, "
        "file TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_by TEXT NOT NULL)",
        f"INSERT INTO {LEGACY} (revision, checksum, file, applied_by) SELECT revision, checksum, file, applied_by FROM {TABLE}",
        "DROP SCHEMA dbtasks_state CASCADE",
    )
    edit(project)
    edited = [{"revision": FIRST, "file": relative(project, FIRST)}]

    # Reading moves nothing, and still sees the edit.
    assert status_json(project, database_url, DBTASKS_FASTPATH=fast)["habits"]["checksums"]["edited"] == edited
    assert tables(database_url, "habits") == {"alembic_version", "alembic_version_checksums", *expected_habits()}
    assert "dbtasks_state" not in schemas(database_url)

    # The next writing run moves the rows into dbtasks.checksums and drops the legacy table: nothing is lost.
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url, env={"DBTASKS_FASTPATH": fast}))
    assert tables(database_url, "habits") == {"alembic_version", *expected_habits()}
    moved = rows(database_url)
    assert set(moved) == {FIRST, HEAD} and moved[FIRST] == recorded  # the checksum of the file as it was applied
    assert status_json(project, database_url, DBTASKS_FASTPATH=fast)["habits"]["checksums"]["edited"] == edited


def expected_habits() -> set[str]:
    return set(declared_services()["habits"]["expect_tables"])


def test_a_failed_migration_records_nothing(project: Path, database_url: str) -> None:
    from _support import plant_migration

    plant_migration(project, "habits", "c0ffee000001", HEAD, body="raise RuntimeError('planted')")
    assert_ok(inv(project, "db.upgrade", "habits", "--to", HEAD, url=database_url))
    assert_failure(inv(project, "db.upgrade", "habits", url=database_url), "habits")
    assert set(rows(database_url)) == {FIRST, HEAD}


# -- reported ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fastpath", ["1", "0"], ids=["fast-path", "worker"])
def test_an_edited_revision_is_reported_by_status_check_and_check_all(project: Path, upgraded_url: str, fastpath: str) -> None:
    env = {"DBTASKS_FASTPATH": fastpath}
    database_url = upgraded_url  # every service at head
    assert_ok(inv(project, "db.check", "habits", url=database_url, env=env))  # the table is no model's: no difference
    edit(project)
    file = relative(project, FIRST)

    status = assert_ok(inv(project, "db.status", url=database_url, env=env))
    note = f"habits: revision {FIRST} ({file}) was edited after it was applied"
    assert note in status.stdout and "up to date" in status.stdout, show(status)
    row = status_json(project, database_url, **env)["habits"]
    assert row["checksums"] == {"edited": [{"revision": FIRST, "file": file}], "missing": [], "unknown": []}

    line = assert_failure(inv(project, "db.check", "habits", url=database_url, env=env), "habits")
    assert line == (
        f"habits: revision {FIRST} ({file}) was edited after it was applied; restore the file, or review the change and "
        f"run 'inv db.checksums habits --accept {FIRST}'"
    )

    result = inv(project, "db.check-all", "--json", url=database_url, env=env)
    assert result.returncode == 1, show(result)
    entries = {entry["service"]: entry for entry in json.loads(result.stdout)["services"]}
    assert entries["habits"]["ok"] is False and entries["habits"]["differences"] == []
    assert entries["habits"]["checksums"]["edited"] == [{"revision": FIRST, "file": file}]
    assert all(entry["ok"] for name, entry in entries.items() if name != "habits")
    assert error_lines(result) == ["check failed for habits"]  # with --json there is no table to point at
    text = inv(project, "db.check-all", url=database_url, env=env)
    assert text.returncode == 1 and f"--accept {FIRST}" in text.stdout, show(text)


@pytest.mark.parametrize("service", ["habits", "movements"])  # asyncpg, psycopg2
def test_check_reads_the_checksums_on_env_py_s_connection(project: Path, upgraded_url: str, service: str) -> None:
    """One session per check, env.py's own: the checksums are read there, not on a connection of ours."""
    import psycopg2

    name = urlsplit(upgraded_url).path.lstrip("/")
    connection = psycopg2.connect(upgraded_url)
    connection.autocommit = True  # each look a transaction of its own: the statistics read afresh
    try:
        before = sessions_opened(connection, name)
        checked = assert_ok(inv(project, "db.check", service, url=upgraded_url))
        assert checked.stdout.startswith(f"{service}: OK"), show(checked)
        assert sessions_opened(connection, name) - before == 1
    finally:
        connection.close()


def test_line_endings_and_trailing_whitespace_are_not_edits(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    path = file_of(project, FIRST)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_bytes(("\r\n".join(line + "  \t" for line in lines) + "\r\n\r\n   \r\n").encode())
    assert_ok(inv(project, "db.check", "habits", url=database_url))
    assert status_json(project, database_url)["habits"]["checksums"]["edited"] == []
    assert "edited" not in assert_ok(inv(project, "db.status", url=database_url)).stdout


def test_a_revision_applied_without_dbtasks_is_unknown_never_an_error(project: Path, database_url: str) -> None:
    folder = project / declared_services(project)["habits"]["path"]
    environment = {**os.environ, "DATABASE_URL": normalize(database_url, "asyncpg"), "PYTHONDONTWRITEBYTECODE": "1"}
    execute(database_url, "CREATE SCHEMA IF NOT EXISTS habits")
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=folder, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert version(database_url, "habits") == [HEAD] and rows(database_url) == {}

    assert status_json(project, database_url)["habits"]["checksums"] == {"edited": [], "missing": [], "unknown": [FIRST, HEAD]}
    assert_ok(inv(project, "db.check", "habits", url=database_url))
    listed = assert_ok(inv(project, "db.checksums", "habits", url=database_url))
    assert [line.split()[:2] for line in listed.stdout.splitlines()[2:]] == [[FIRST, "unknown"], [HEAD, "unknown"]]


def test_a_recorded_revision_no_file_defines_is_missing(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    execute(
        database_url,
        f"INSERT INTO {TABLE} (version_table, revision, checksum, file, applied_by) "
        f"VALUES ('{KEY}', 'dead0000beef', 'x', 'alembic/versions/gone.py', 'test')",
    )
    missing = [{"revision": "dead0000beef", "file": "alembic/versions/gone.py"}]
    assert status_json(project, database_url)["habits"]["checksums"]["missing"] == missing
    check = assert_ok(inv(project, "db.check", "habits", url=database_url))  # reported, never a failure
    assert (
        "habits: revision dead0000beef (alembic/versions/gone.py) has a recorded checksum but no file defines it" in check.stdout
    )
    listed = assert_ok(inv(project, "db.checksums", "habits", "--json", url=database_url))
    states = {entry["revision"]: entry["state"] for entry in json.loads(listed.stdout)["revisions"]}
    assert states == {FIRST: "ok", HEAD: "ok", "dead0000beef": "missing"}


# -- enforced and accepted --------------------------------------------------------------------------------------------


def test_a_protected_upgrade_refuses_an_edited_revision(protected: Path, database_url: str) -> None:
    prod = {"PROD_DATABASE_URL": database_url}
    assert_ok(inv(protected, "db.upgrade", "habits", "--to", FIRST, "--env", "production", env=prod))
    edit(protected)
    before = snapshot(database_url)

    line = assert_failure(inv(protected, "db.upgrade", "habits", "--env", "production", env=prod), "habits")
    assert line.startswith(f"habits: revision {FIRST} ({relative(protected, FIRST)}) was edited after it was applied"), line
    assert f"'inv db.checksums habits --accept {FIRST} --yes'" in line and line.endswith("or rerun with --allow-edited")
    assert snapshot(database_url) == before and version(database_url, "habits") == [FIRST]
    assert_failure(inv(protected, "db.upgrade-all", "--only", "users,habits", "--env", "production", env=prod), "failed")
    assert version(database_url, "habits") == [FIRST]

    result = assert_ok(inv(protected, "db.upgrade", "habits", "--env", "production", "--allow-edited", env=prod))
    assert version(database_url, "habits") == [HEAD]
    assert f"habits: warning: revision {FIRST}" in result.stderr, show(result)


def test_an_unprotected_upgrade_warns_and_goes_ahead(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", "--to", FIRST, url=database_url))
    edit(project)
    result = assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    assert version(database_url, "habits") == [HEAD]
    warning = f"habits: warning: revision {FIRST} ({relative(project, FIRST)}) was edited after it was applied; see 'inv db.checksums habits'"
    assert warning in result.stderr.splitlines(), show(result)
    nothing = assert_ok(inv(project, "db.upgrade", "habits", url=database_url))  # nothing to apply: nothing to say
    assert "warning" not in nothing.stderr, show(nothing)


def test_accept_rerecords_an_edit(protected: Path, database_url: str) -> None:
    prod = {"PROD_DATABASE_URL": database_url}
    assert_ok(inv(protected, "db.upgrade", "habits", "--env", "production", env=prod))
    old = rows(database_url)[FIRST]
    path = edit(protected)

    line = assert_bad_input(inv(protected, "db.checksums", "habits", "--accept", FIRST, "--env", "production", env=prod))
    assert line.startswith("habits: --accept") and line.endswith("rerun with --yes to confirm"), line
    assert rows(database_url)[FIRST] == old

    result = assert_ok(inv(protected, "db.checksums", "habits", "--accept", FIRST[:6], "--env", "production", "--yes", env=prod))
    assert f"habits: recorded the checksum of {FIRST} as it is now" in result.stdout
    assert rows(database_url)[FIRST][0] == sha(path) != old[0]
    assert_ok(inv(protected, "db.check", "habits", "--env", "production", env=prod))
    listed = assert_ok(inv(protected, "db.checksums", "habits", "--env", "production", env=prod))
    assert [line.split()[:2] for line in listed.stdout.splitlines()[2:]] == [[FIRST, "ok"], [HEAD, "ok"]]


def test_accept_needs_an_applied_revision(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", "--to", FIRST, url=database_url))
    line = assert_failure(inv(project, "db.checksums", "habits", "--accept", HEAD, url=database_url), "habits", code=2)
    assert line == (
        f"habits: revision {HEAD} is not applied (the database is at {FIRST}): there is no checksum to accept; "
        "run 'inv db.checksums habits' for the applied ones"
    )
    assert_failure(inv(project, "db.checksums", "habits", "--accept", "nope", url=database_url), "habits", code=2)
    execute(database_url, f"DROP TABLE {TABLE}")  # a service from before: --accept all records every applied one
    result = assert_ok(inv(project, "db.checksums", "habits", "--accept", "all", url=database_url))
    assert f"habits: recorded the checksum of {FIRST} as it is now" in result.stdout
    assert set(rows(database_url)) == {FIRST}


# -- ignored where the version table is -------------------------------------------------------------------------------


def test_verify_and_doctor_ignore_the_checksum_table(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    verify = assert_ok(inv(project, "db.verify", "habits", "--json", url=database_url))
    assert all(check["ok"] is not False for check in json.loads(verify.stdout)["checks"]), verify.stdout
    doctor = inv(project, "db.doctor", "--json", url=database_url)
    assert "checksums" not in doctor.stdout, show(doctor)
    assert_ok(inv(project, "db.downgrade", "habits", "--to", "base", "--yes", url=database_url))
    status = status_json(project, database_url)["habits"]
    assert status["state"] == "not initialized", status  # the empty checksum table is no untracked table


# -- fleets -----------------------------------------------------------------------------------------------------------


def test_a_fleet_reports_an_edited_revision_per_member(tmp_path: Path, database_url: str) -> None:
    import shutil

    from _support import REPO

    tenants = Path(
        shutil.copytree(REPO / "examples" / "tenants", tmp_path / "tenants", ignore=shutil.ignore_patterns("__pycache__"))
    )
    assert_ok(inv(tenants, "db.upgrade-all", "--targets", "tenants", url=database_url))
    [path] = (tenants / "notes" / "alembic" / "versions").glob("*.py")
    path.write_text(path.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    file = path.relative_to(tenants / "notes").as_posix()

    status = assert_ok(inv(tenants, "db.status", "--targets", "tenants", "--json", url=database_url))
    members = json.loads(status.stdout)["targets"]
    assert [member["state"] for member in members] == ["up to date"] * 3
    for member in members:
        [row] = member["services"]
        assert row["checksums"]["edited"] == [{"revision": path.name.split("_")[0], "file": file}], member

    checked = inv(tenants, "db.check-all", "--targets", "tenants", "--json", url=database_url)
    assert checked.returncode == 1, show(checked)
    document = json.loads(checked.stdout)
    assert document["counts"] == {"failed": 3}, document
    for member in document["targets"]:
        [entry] = member["services"]
        assert entry["ok"] is False and entry["checksums"]["edited"][0]["file"] == file, member


def test_values_read_from_the_database_cannot_forge_lines_or_move_the_cursor(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    forged = "dead\x1b[2J\nhabits: all good"  # clears the screen, then prints a line of its own
    execute(
        database_url,
        f"INSERT INTO {TABLE} (version_table, revision, checksum, file, applied_by) "
        f"VALUES ('{KEY}', E'dead\\x1b[2J\\nhabits: all good', 'x', 'f\\x07.py', 't')",
    )
    check = assert_ok(inv(project, "db.check", "habits", url=database_url))
    assert "\x1b" not in check.stdout and "\x07" not in check.stdout
    assert "habits: revision dead\\x1b[2J\\nhabits: all good (f\\x07.py) has a recorded checksum but no file defines it" in (
        check.stdout.splitlines()
    )
    listed = assert_ok(inv(project, "db.checksums", "habits", url=database_url))
    assert "\x1b" not in listed.stdout and not any(line.startswith("habits: all good") for line in listed.stdout.splitlines())
    assert forged not in listed.stdout


def test_a_checksum_table_without_its_primary_key_is_named_and_the_advice_works(project: Path, database_url: str) -> None:
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    assert_ok(inv(project, "db.downgrade", "habits", "--yes", url=database_url))
    execute(database_url, f"ALTER TABLE {TABLE} DROP CONSTRAINT checksums_pkey")
    line = assert_failure(inv(project, "db.upgrade", "habits", url=database_url), "habits")
    table = '"dbtasks_state"."checksums"'
    assert line == (
        f"habits: cannot record the checksum of {HEAD} in {table} (there is no unique or exclusion constraint matching the "
        f"ON CONFLICT specification); rolled back, the service stays at {FIRST}; mend the table (ALTER TABLE {table} ADD "
        "PRIMARY KEY (version_table, revision)), or drop it to have it made anew (the revisions applied before then show "
        "as unknown), then rerun"
    )
    assert version(database_url, "habits") == [FIRST]
    execute(database_url, f"ALTER TABLE {table} ADD PRIMARY KEY (version_table, revision)")  # the advice, followed
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    assert version(database_url, "habits") == [HEAD]


def test_a_protected_reset_refuses_an_edited_revision_instead_of_erasing_the_evidence(protected: Path, database_url: str) -> None:
    prod = {"PROD_DATABASE_URL": database_url}
    assert_ok(inv(protected, "db.upgrade", "habits", "--env", "production", env=prod))
    edit(protected)
    before = snapshot(database_url)
    result = inv(protected, "db.reset", "habits", "--yes", "--env", "production", env=prod)
    assert result.returncode == 1 and "Traceback" not in result.stderr, show(result)
    assert result.stderr.strip().splitlines()[1:] == [
        "habits: production is protected; --yes given and no terminal attached, going ahead",
        (
            f"habits: revision {FIRST} ({relative(protected, FIRST)}) was edited after it was applied, and the environment is "
            f"protected: nothing was reset; restore the file, or review the change and run 'inv db.checksums habits --accept REV "
            "--yes', or rerun with --allow-edited"
        ),
    ]
    assert snapshot(database_url) == before and rows(database_url)[FIRST][0] != sha(file_of(protected, FIRST))
    assert inv(protected, "db.reset-all", "--only", "habits", "--yes", "--env", "production", env=prod).returncode == 1
    assert snapshot(database_url) == before
    assert_ok(inv(protected, "db.reset", "habits", "--yes", "--allow-edited", "--env", "production", env=prod))
    assert rows(database_url)[FIRST][0] == sha(file_of(protected, FIRST))  # re-recorded, as asked


def test_a_deleted_checksum_row_counts_as_an_edit(protected: Path, database_url: str) -> None:
    prod = {"PROD_DATABASE_URL": database_url}
    assert_ok(inv(protected, "db.upgrade", "habits", "--to", FIRST, "--env", "production", env=prod))
    assert_ok(inv(protected, "db.upgrade", "habits", "--env", "production", env=prod))
    execute(database_url, f"DELETE FROM {TABLE} WHERE revision = '{HEAD}'")  # recording had begun with FIRST
    check = assert_failure(inv(protected, "db.check", "habits", "--env", "production", env=prod), "habits")
    assert f"revision {HEAD} ({relative(protected, HEAD)}) lost its recorded checksum (so it may have been edited)" in check
    listed = assert_ok(inv(protected, "db.checksums", "habits", "--json", "--env", "production", env=prod))
    states = {entry["revision"]: entry["state"] for entry in json.loads(listed.stdout)["revisions"]}
    assert states == {FIRST: "ok", HEAD: "unrecorded"}


def test_a_role_that_may_not_create_dbtasks_schema_migrates_and_is_told_nothing_is_recorded(
    tmp_path: Path, database_url: str
) -> None:
    """A role with CREATE on schema public only (no CREATE on the database): the migration runs, nothing of dbtasks'
    is created, and one warning line says why no checksum was recorded and what makes it work."""
    root = tmp_path / "repo"
    shutil.copytree(
        REPO / "examples" / "layouts" / "plain_sync", root / "plain_sync", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(REPO / "tasks.py", root / "tasks.py")
    (root / "migrations.yaml").write_text(
        "version: 1\nservices:\n  plain_sync:\n    path: plain_sync\n    schema: public\n    driver: psycopg2\n", encoding="utf-8"
    )
    role = f"limited_{secrets.token_hex(4)}"
    execute(database_url, f"CREATE ROLE {role} LOGIN PASSWORD 'limited-pass'", f"GRANT CREATE ON SCHEMA public TO {role}")
    parts = urlsplit(database_url)
    limited = urlunsplit(parts._replace(netloc=f"{role}:limited-pass@{parts.hostname}:{parts.port}"))
    try:
        result = assert_ok(inv(root, "db.upgrade", "plain_sync", url=limited))
        assert error_lines(result) == [
            "plain_sync: warning: checksums not recorded: this role may not create the schema dbtasks_state; create it "
            "for the role (CREATE SCHEMA dbtasks_state AUTHORIZATION <role>) to record them"
        ], show(result)
        assert version(database_url, "public") == ["4a1b2c3d4e5f"]
        assert "dbtasks_state" not in schemas(database_url)
        status = assert_ok(inv(root, "db.status", "--json", url=limited))
        [row] = json.loads(status.stdout)["services"]
        assert row["checksums"] == {"edited": [], "missing": [], "unknown": ["4a1b2c3d4e5f"]}
    finally:
        execute(
            database_url,
            "DROP TABLE IF EXISTS public.notes, public.alembic_version",
            f"DROP OWNED BY {role}",
            f"DROP ROLE {role}",
        )


def test_many_first_migrations_at_once_create_the_checksum_table_without_a_catalog_race(database_url: str) -> None:
    """What each service's first recording does in its migration's transaction (state_sql, then CREATE when the table
    is missing), by 16 sessions at once, 12 times over: none may fail. When state_sql looked the table up by name
    (to_regclass), about one session in 30 kept a stale "no such schema" in its catalog cache past the other's commit
    and failed on pg_namespace's unique index, which rolled its migrations back and ran them a second time."""
    import threading

    import psycopg2

    from dbtasks.worker import checksums

    failures: list[str] = []

    def first_recording(number: int, start: threading.Barrier) -> None:
        connection = psycopg2.connect(database_url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE TABLE "own_{number}" (id int PRIMARY KEY)')  # the migration's own work
                start.wait()
                cursor.execute(checksums.state_sql('"public"."alembic_version_checksums"'))
                if not cursor.fetchone()[0]:
                    cursor.execute(checksums.CREATE)
                cursor.execute(checksums.upsert_sql(f"public.v{number}", "0001", "0" * 64, "x.py", "tester"))
            connection.commit()
        except psycopg2.Error as error:
            failures.append(str(error).splitlines()[0])
        finally:
            connection.close()

    for _ in range(12):
        start = threading.Barrier(16)
        threads = [threading.Thread(target=first_recording, args=(number, start)) for number in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert query(database_url, f"SELECT count(*) FROM {checksums.NAME}") == [(16,)]
        execute(database_url, f'DROP SCHEMA "{checksums.SCHEMA}" CASCADE', *(f'DROP TABLE "own_{n}"' for n in range(16)))


def test_bookkeeping_schema_names_dbtasks_own_schema(project: Path, database_url: str) -> None:
    """bookkeeping_schema: ops_meta puts the checksums there (and nothing in dbtasks_state); the fast path and the
    workers both read them there, and no service may own that schema."""
    assert BOOKKEEPING_SCHEMA == DEFAULT_SCHEMA == "dbtasks_state"  # the core's default and the worker's own copy
    config = project / "migrations.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("version: 1\n", "version: 1\nbookkeeping_schema: ops_meta\n"))
    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    assert "dbtasks_state" not in schemas(database_url) and tables(database_url, "ops_meta") == {"checksums"}
    recorded = query(database_url, "SELECT revision FROM ops_meta.checksums WHERE version_table = 'habits.alembic_version'")
    assert sorted(row[0] for row in recorded) == sorted([FIRST, HEAD])
    edit(project)
    note = f"habits: revision {FIRST} ({relative(project, FIRST)}) was edited after it was applied"
    for fastpath in ("1", "0"):
        status = assert_ok(inv(project, "db.status", "--only", "habits", url=database_url, env={"DBTASKS_FASTPATH": fastpath}))
        assert note in status.stdout, show(status)
    text = config.read_text(encoding="utf-8")
    at = text.splitlines().index("bookkeeping_schema: ops_meta") + 1
    config.write_text(text.replace("    schema: habits\n", "    schema: ops_meta\n", 1))
    assert assert_bad_input(inv(project, "db.status", url=database_url)) == (
        f"migrations.yaml:{at}: bookkeeping_schema: ops_meta is a schema of habits; give dbtasks a schema no service owns"
    )
    config.write_text(text.replace("bookkeeping_schema: ops_meta", "bookkeeping_schema: public"))
    assert assert_bad_input(inv(project, "db.status", url=database_url)) == (
        f"migrations.yaml:{at}: bookkeeping_schema: expected a schema of dbtasks' own (ASCII letters, digits, _ and $; "
        "not public, not pg_...), got 'public'"
    )
