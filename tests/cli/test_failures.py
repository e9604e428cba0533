"""Known Alembic failures become one line naming the service, the cause and the next step: exit 1,
no traceback, and the database as it was. Passwords never show up in any output."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import (
    assert_failure,
    assert_ok,
    execute,
    head_of,
    inv,
    output,
    parent_of,
    plant_migration,
    query,
    revisions_of,
    schema_of,
    show,
    snapshot,
    tables,
    version,
    version_files,
    versions_folder,
)

DRIVERS = ["habits", "movements"]  # asyncpg, psycopg2


def upgrade(project: Path, service: str, url: str, *extra: str) -> None:
    assert_ok(inv(project, "db.upgrade", service, *extra, url=url))


def fails_unchanged(project: Path, url: str, service: str, *task: str, code: int = 1) -> str:
    """Run a task that must fail for `service` with exit `code`; return its one line after checking the catalog."""
    before = snapshot(url)
    line = assert_failure(inv(project, *task, url=url), service, code)
    assert snapshot(url) == before
    return line


# -- multiple heads ------------------------------------------------------------------------------


# Each task once, the two drivers taking turns: the refusal comes from the revision files, before any driver connects.
@pytest.mark.parametrize(
    ("service", "task"),
    [
        ("habits", ("db.upgrade",)),
        ("movements", ("db.check",)),
        ("habits", ("db.generate", "-m", "more")),
        ("movements", ("db.stamp", "head", "--yes")),
    ],
)
def test_multiple_heads(project: Path, database_url: str, service: str, task: tuple[str, ...]) -> None:
    upgrade(project, service, database_url)
    plant_migration(project, service, "5eco0dhead01", parent_of(service, head_of(service)))
    files = version_files(project, service)
    line = fails_unchanged(project, database_url, service, task[0], service, *task[1:])
    assert head_of(service) in line and "5eco0dhead01" in line
    assert "multiple heads" in line
    assert f"inv db.merge {service}" in line
    assert version_files(project, service) == files


# -- a revision argument no file defines --------------------------------------------------------------


@pytest.mark.parametrize(
    "task",
    [
        ("db.upgrade", "habits", "--to", "feedface9999"),
        ("db.downgrade", "habits", "--to", "feedface9999", "--yes"),
        ("db.stamp", "habits", "feedface9999", "--yes"),
        ("db.sql", "habits", "--to", "feedface9999"),
        ("db.upgrade", "movements", "--to", "feedface9999"),
    ],
)
def test_unknown_revision_argument(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    service = task[1]
    upgrade(project, service, database_url)
    line = fails_unchanged(project, database_url, service, *task, code=2)  # a revision the user typed: bad input
    assert "'feedface9999'" in line
    assert f"inv db.history {service}" in line


# -- the database is at a revision no file defines ----------------------------------------------------


def plant_unknown_database_revision(project: Path, service: str, url: str) -> None:
    upgrade(project, service, url)
    execute(url, f"UPDATE \"{schema_of(service)}\".alembic_version SET version_num = 'deadbeef0000'")


@pytest.mark.parametrize(
    ("service", "task"),
    [
        ("movements", ("db.upgrade",)),
        ("habits", ("db.downgrade", "--yes")),
        ("movements", ("db.check",)),
        ("habits", ("db.generate", "-m", "x")),
    ],
)
def test_database_at_a_revision_no_file_defines(project: Path, database_url: str, service: str, task: tuple[str, ...]) -> None:
    plant_unknown_database_revision(project, service, database_url)
    files = version_files(project, service)
    line = fails_unchanged(project, database_url, service, task[0], service, *task[1:])
    assert "'deadbeef0000'" in line
    assert f"inv db.stamp {service}" in line
    assert version_files(project, service) == files


@pytest.mark.parametrize("service", DRIVERS)
def test_the_advice_for_an_unknown_database_revision_works(project: Path, database_url: str, service: str) -> None:
    """The message says to stamp the revision the schema really is at; doing so must succeed."""
    plant_unknown_database_revision(project, service, database_url)
    assert_ok(inv(project, "db.stamp", service, head_of(service), "--yes", url=database_url))
    assert version(database_url, schema_of(service)) == [head_of(service)]
    assert_ok(inv(project, "db.check", service, url=database_url))


def test_status_reports_an_unknown_database_revision(project: Path, database_url: str) -> None:
    plant_unknown_database_revision(project, "habits", database_url)
    result = inv(project, "db.status", "--only", "habits", url=database_url)
    row = next(line for line in result.stdout.splitlines() if line.startswith("habits "))
    assert "deadbeef0000" in row and "unknown revision" in row, show(result)


# -- not up to date ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", DRIVERS)
@pytest.mark.parametrize("task", [("db.check",), ("db.generate", "-m", "too early")])
def test_database_not_up_to_date(project: Path, database_url: str, service: str, task: tuple[str, ...]) -> None:
    history = revisions_of(service)
    if len(history) >= 2:
        upgrade(project, service, database_url, "--to", history[-2])
        current = history[-2]
    else:  # a service with one migration: apply it, then go back to base
        upgrade(project, service, database_url)
        assert_ok(inv(project, "db.downgrade", service, "--yes", url=database_url))
        current = "base"
    files = version_files(project, service)
    line = fails_unchanged(project, database_url, service, task[0], service, *task[1:])
    assert current in line and head_of(service) in line
    assert f"inv db.upgrade {service}" in line
    assert version_files(project, service) == files


# -- a file whose down_revision no file defines (the seeds' habits case) ----------------------------


def break_chain_like_the_seeds(project: Path) -> Path:
    """189b1231afd4_bootstrap_tables.py declares revision 2a3f4c9d1cde, down_revision 189b1231afd4."""
    path = versions_folder(project, "habits") / "189b1231afd4_bootstrap_tables.py"
    text = path.read_text(encoding="utf-8")
    text, revisions = re.subn(r'^(revision(?::[^=]*)?= )"189b1231afd4"', r'\1"2a3f4c9d1cde"', text, flags=re.M)
    text, downs = re.subn(r"^(down_revision(?::[^=]*)?= )None", r'\1"189b1231afd4"', text, flags=re.M)
    assert revisions == downs == 1
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("task", [("db.upgrade",), ("db.check",), ("db.history",), ("db.sql",), ("db.downgrade", "--yes")])
def test_broken_chain_names_the_file_and_the_missing_revision(project: Path, database_url: str, task: tuple[str, ...]) -> None:
    upgrade(project, "habits", database_url)
    path = break_chain_like_the_seeds(project)
    line = fails_unchanged(project, database_url, "habits", task[0], "habits", *task[1:])
    assert path.name in line, line
    assert "189b1231afd4" in line.replace(path.name, ""), line  # the missing revision, not just the file name
    assert "down_revision" in line
    assert not re.search(r"\w+Error\b", line), line  # a sentence, not a Python exception


# -- env.py cannot import ----------------------------------------------------------------------


def test_env_import_error_names_the_module_and_the_path_settings(project: Path, database_url: str) -> None:
    ini = project / "services" / "habits" / "alembic.ini"
    text = ini.read_text(encoding="utf-8")
    assert "prepend_sys_path = .\n" in text
    ini.write_text(text.replace("prepend_sys_path = .\n", ""), encoding="utf-8")
    line = fails_unchanged(project, database_url, "habits", "db.upgrade", "habits")
    assert "'habits_service'" in line
    assert "pythonpath" in line and "prepend_sys_path" in line


def test_env_import_error_of_a_missing_dependency_says_to_install_it(project: Path, database_url: str) -> None:
    env = project / "services" / "movements" / "alembic" / "env.py"
    env.write_text("import surely_not_installed_pkg  # noqa\n" + env.read_text(encoding="utf-8"), encoding="utf-8")
    line = fails_unchanged(project, database_url, "movements", "db.upgrade", "movements")
    assert "'surely_not_installed_pkg'" in line
    assert "install" in line


# -- the database cannot be reached -------------------------------------------------------------


@pytest.mark.parametrize("service", DRIVERS)
@pytest.mark.parametrize("task", [("db.upgrade",), ("db.check",), ("db.current",)])
def test_connection_refused(project: Path, service: str, task: tuple[str, ...]) -> None:
    result = inv(project, task[0], service, *task[1:], url="postgresql://app:pw@127.0.0.1:1/app")
    line = assert_failure(result, service)
    assert "cannot connect" in line
    assert re.search(r"refused|connect call failed", line, re.I), line
    assert "DATABASE_URL" in line


# -- a migration that raises --------------------------------------------------------------------------


@pytest.mark.parametrize("service", DRIVERS)
def test_a_migration_that_raises_leaves_the_previous_revision(project: Path, database_url: str, service: str) -> None:
    upgrade(project, service, database_url)
    schema = schema_of(service)
    plant_migration(
        project,
        service,
        "0badc0de0001",
        head_of(service),
        body=f"from alembic import op\n\n    op.execute('CREATE TABLE {schema}.half_done (id int)')\n"
        "    raise RuntimeError('planted failure')",
    )
    line = fails_unchanged(project, database_url, service, "db.upgrade", service)
    assert "0badc0de0001" in line and "planted failure" in line
    assert version(database_url, schema) == [head_of(service)]
    assert "half_done" not in tables(database_url, schema)


def test_a_migration_that_raises_midway_keeps_the_ones_before(project: Path, database_url: str) -> None:
    """From base, the good migrations are applied and recorded; the failing one is not."""
    plant_migration(project, "habits", "0badc0de0002", head_of("habits"), body="raise RuntimeError('planted failure')")
    result = inv(project, "db.upgrade", "habits", url=database_url)
    line = assert_failure(result, "habits")
    assert "0badc0de0002" in line
    assert version(database_url, "habits") == [head_of("habits")]


# -- passwords ----------------------------------------------------------------------------------------

SECRET = "Zebra%2FQuokka-7731"  # percent-encoded '/': both spellings are secrets
SPELLINGS = ("Zebra%2FQuokka-7731", "Zebra/Quokka-7731", "Quokka-7731")
TASKS = [
    ("db.upgrade", "habits"),  # asyncpg
    ("db.check", "movements"),  # psycopg2
    ("db.status", "--json"),
    ("db.upgrade-all",),
]


def assert_no_password(result_text: str, *spellings: str) -> None:
    for spelling in spellings:
        assert spelling not in result_text, result_text


@pytest.mark.parametrize("debug", [{}, {"DBTASKS_DEBUG": "1"}], ids=["plain", "debug"])
def test_password_never_shown_for_a_closed_port(project: Path, debug: dict[str, str]) -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:1/app?sslmode=disable"
    for task in TASKS:
        result = inv(project, *task, url=url, env=debug)
        assert result.returncode == 1, show(result)
        assert_no_password(output(result), *SPELLINGS)


def wrong_password_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    netloc = f"{parts.username}:{SECRET}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def test_password_never_shown_for_a_wrong_password(project: Path, database_url: str) -> None:
    url = wrong_password_url(database_url)
    before = snapshot(database_url)
    for task in TASKS:
        result = inv(project, *task, url=url, env={"DBTASKS_DEBUG": "1"})
        assert result.returncode == 1, show(result)
        assert_no_password(output(result), *SPELLINGS)
    for service in DRIVERS:
        line = assert_failure(inv(project, "db.upgrade", service, url=url), service)
        assert "password authentication failed" in line
    assert snapshot(database_url) == before


def test_password_never_shown_when_everything_works(project: Path, database_url: str) -> None:
    password = urlsplit(database_url).password
    assert password
    for task in [("db.upgrade-all",), ("db.check-all", "--json")]:
        result = assert_ok(inv(project, *task, url=database_url, env={"DBTASKS_DEBUG": "1"}))
        assert_no_password(output(result), password)


def test_password_never_shown_for_a_malformed_url(project: Path) -> None:
    for url in (f"mysql://app:{SECRET}@127.0.0.1/app", f"postgresql://app:{SECRET}@127.0.0.1:99999/app"):
        result = inv(project, "db.upgrade", "habits", url=url)
        assert result.returncode == 2, show(result)
        assert_no_password(output(result), *SPELLINGS)


@pytest.mark.parametrize("task", [("db.upgrade", "habits"), ("db.current", "habits"), ("db.verify", "habits")])
def test_one_service_whose_database_is_missing_is_told_to_create_it(
    project: Path, database_url: str, task: tuple[str, ...]
) -> None:
    """The lock (upgrade), the worker (current) and verify's scratch database each meet the missing database first:
    all say it as a run of several services does, with the statement that creates it, and create nothing."""
    config = project / "migrations.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("  habits:\n", "  habits:\n    database: qzmissing_habits\n", 1))
    parts, before = urlsplit(database_url), snapshot(database_url)
    line = assert_failure(inv(project, *task, url=database_url), "habits")
    assert line == (
        f"habits: database 'qzmissing_habits' does not exist on {parts.hostname}:{parts.port}: create it (CREATE DATABASE "
        f'"qzmissing_habits"), or fix the database name in DATABASE_URL (database qzmissing_habits)'
    ), line
    assert snapshot(database_url) == before  # DATABASE_URL's own database untouched, and no database created:
    assert not query(database_url, "SELECT 1 FROM pg_database WHERE datname = 'qzmissing_habits'")
