"""`doctor`: every item of the seeds' troubleshooting lists, reproduced for real and diagnosed.

Each test builds the real failure (a wrong password, a closed port, a broken migration chain, an
interpreter without the driver, ...) in a copy of the project against the session's PostgreSQL, runs
the doctor core and checks the finding's level, subject and next step, that no message shows the
password, and, where it matters, that the database was not changed.

The tests run `inv db.doctor --json` in a subprocess (`findings` below) and check its exit code too:
1 when any finding is an error, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from _support import (
    CLOSED_URL,
    assert_ok,
    create_database,
    declared_services,
    drop_database,
    execute,
    head_of,
    inv,
    output,
    plant_migration,
    replace_once,
    revisions_of,
    snapshot,
    tables,
    version,
)

from dbtasks.database.localdb import LocalDatabase
from dbtasks.database.urls import secrets_of
from dbtasks.doctor.diagnose import Finding, diagnose

SECRET = "Sup3r-Secret-Doctor-pw"
VERSION_TABLE_LINE = "        version_table_schema=SCHEMA,\n"


# -- helpers ---------------------------------------------------------------------------------------


def findings(project: Path, url: str | None, **env: str) -> list[Finding]:
    """`inv db.doctor --json` on the project copy with DATABASE_URL=url (unset when None): its findings,
    after checking the exit code, the closing line and that no output shows a password."""
    result = inv(project, "db.doctor", "--json", url=url, env=env)
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    document = json.loads(result.stdout)
    found = [Finding(**item) for item in document["findings"]]
    count = len(errors(found))
    assert result.returncode == (1 if count else 0), text
    assert document["ok"] is (count == 0), text
    warnings = sum(1 for finding in found if finding.level == "warning")
    counts = f"doctor: {count} error{'s' if count != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
    verdict = f"{counts}; fix the errors in its findings, then run 'inv db.doctor' again" if count else counts
    assert result.stderr.strip().splitlines()[-1] == verdict, text
    for finding in found:
        assert finding.level in ("error", "warning", "ok"), finding
        assert "\n" not in finding.message, finding
    for secret in [*secrets_of(url or ""), SECRET]:
        assert secret not in text, text
    return found


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def one(found: list[Finding], level: str, subject: str, *words: str) -> str:
    """The message of the one finding of `level` about `subject` that holds all `words`."""
    matching = [f for f in found if f.level == level and f.subject == subject and all(w in f.message for w in words)]
    assert len(matching) == 1, show(found)
    return matching[0].message


def errors(found: list[Finding], subject: str | None = None) -> list[Finding]:
    return [f for f in found if f.level == "error" and subject in (None, f.subject)]


def show(found: list[Finding]) -> str:
    return "\n".join(f"{f.level:8} {f.subject}: {f.message}" for f in found)


def only(project: Path, *names: str) -> None:
    """Keep only `names` in the copy's migrations.yaml (each worker run costs time; most tests need one or two)."""
    path = project / "migrations.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["services"] = {name: spec for name, spec in document["services"].items() if name in names}
    for spec in document["services"].values():
        spec["depends_on"] = [dep for dep in spec.get("depends_on", []) if dep in names]
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def service_key(project: Path, service: str, key: str, value: Any) -> None:
    path = project / "migrations.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["services"][service][key] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def service_folder(project: Path, service: str) -> Path:
    return project / declared_services(project)[service]["path"]


def env_py(project: Path, service: str) -> Path:
    return service_folder(project, service) / "alembic" / "env.py"


def upgrade(project: Path, url: str, service: str, *extra: str) -> None:
    assert_ok(inv(project, "db.upgrade", service, *extra, url=url))


def with_url_parts(
    url: str, *, user: str | None = None, password: str | None = None, port: int | None = None, database: str | None = None
) -> str:
    """`url` with some of its parts replaced (the password written as given)."""
    parts = urlsplit(url)
    netloc = f"{user or parts.username}:{password or parts.password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}" if database else parts.path, parts.query, ""))


def assert_only_empty_schemas_added(before: dict[str, Any], after: dict[str, Any]) -> None:
    """env.py's own CREATE SCHEMA IF NOT EXISTS is the one change doctor may cause: no table, no version row."""
    for schema, state in after.items():
        assert state == before.get(schema, {"tables": {}, "alembic_version": []}), (schema, before, after)
    assert set(before) <= set(after)


def interpreter(tmp_path: Path, *packages: str) -> Path:
    """A real venv of the base interpreter that sees only `packages` of the project's venv (symlinked, via a .pth)."""
    home = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, capture_output=True, timeout=120)
    python = home / "bin" / "python"
    if packages:
        exposed = tmp_path / "exposed"
        exposed.mkdir()
        site = Path(sysconfig.get_paths()["purelib"])
        for name in packages:
            source = site / name if (site / name).exists() else site / f"{name}.py"
            (exposed / source.name).symlink_to(source)
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        Path(purelib, "exposed.pth").write_text(f"{exposed}\n", encoding="utf-8")
    return python


# -- migrations.yaml -----------------------------------------------------------------------------------


def test_an_invalid_migrations_yaml_is_the_only_finding(project: Path) -> None:
    replace_once(project / "migrations.yaml", "    schema: meals\n", "    schema: users\n")  # two services, one version table
    replace_once(
        project / "migrations.yaml",
        "    driver: psycopg2\n    expect_tables: [exercises",
        "    driver: psycopg4\n    expect_tables: [exercises",
    )
    found = findings(project, CLOSED_URL)
    assert {(f.level, f.subject) for f in found} == {("error", "migrations.yaml")}, show(found)
    assert len(found) == 2, show(found)
    one(found, "error", "migrations.yaml", "services.meals:", "users.alembic_version, like 'users'")
    one(found, "error", "migrations.yaml", "services.movements.driver", "'psycopg4'")


# -- the URL -----------------------------------------------------------------------------------------


def test_unset_url_with_the_local_database_off(project: Path) -> None:
    only(project, "habits", "movements")
    replace_once(project / "migrations.yaml", "database:\n", "database:\n  local: false\n")
    found = findings(project, None)
    message = one(found, "error", "DATABASE_URL", "is not set", "database.local: false")
    assert "set DATABASE_URL to the database to migrate" in message
    one(found, "warning", "database", "skipped the database checks")
    for service in ("habits", "movements"):  # the offline checks still run
        one(found, "ok", service, "history: ")
        one(found, "ok", service, f"alembic_version is {service}.alembic_version")
        one(found, "ok", service, f"tables in '{service}'")
    assert len(errors(found)) == 1, show(found)
    assert not (project / ".dbtasks").exists()


def test_unset_url_uses_the_local_database(project: Path) -> None:
    only(project, "movements")
    try:
        found = findings(project, None)
    finally:
        LocalDatabase(project / ".dbtasks").stop()
    one(found, "ok", "DATABASE_URL", "no DATABASE_URL: the tasks use the local database under .dbtasks/")
    message = one(found, "ok", "database", "the local database was not running; doctor started it")
    assert "***" in message
    one(found, "ok", "database", "connected to 127.0.0.1:")
    one(found, "warning", "movements", "not initialized", "inv db.upgrade movements")
    assert errors(found) == [], show(found)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"postgresql://app:{SECRET}@127.0.0.1:99999/app", ("malformed URL",)),
        (f"mysql://app:{SECRET}@127.0.0.1/app", ("expected a postgresql:// URL",)),
        (f"postgresql://app:{SECRET}@127.0.0.1:5432", ("names no database", "/dbname")),
    ],
    ids=["port", "scheme", "no-database"],
)
def test_a_malformed_url(project: Path, url: str, words: tuple[str, ...]) -> None:
    only(project, "movements")
    found = findings(project, url)
    one(found, "error", "DATABASE_URL", "DATABASE_URL: ", *words)
    one(found, "warning", "database", "skipped the database checks")
    one(found, "ok", "movements", "history: ")


@pytest.mark.parametrize("pooler", ["port", "pgbouncer"])
def test_a_transaction_pooler_url(project: Path, database_url: str, pooler: str) -> None:
    only(project, "movements")
    url = with_url_parts(database_url, port=6543) if pooler == "port" else f"{database_url}?pgbouncer=true"
    found = findings(project, url)
    message = one(found, "warning", "DATABASE_URL", "transaction pooler", "session port 5432")
    assert ("port 6543" if pooler == "port" else "pgbouncer=true") in message
    assert "advisory locks" in message and "prepared statements" in message
    if pooler == "pgbouncer":  # the check connects without the option libpq does not know
        one(found, "ok", "database", "connected to")


def unfenced(service: str) -> tuple[str, str, str]:
    """The warning every example service gets: its env.py's include_schemas=True has no include_name."""
    return (
        "warning",
        service,
        "env.py passes include_schemas=True without include_name: plain 'alembic revision --autogenerate' here compares "
        "every schema of the database (other services' and dbtasks_state, dbtasks' bookkeeping) and proposes dropping "
        f"their tables; pass include_name=lambda name, type_, parent: type_ != 'schema' or name in ('{service}',) to "
        "context.configure (dbtasks' own runs see only this service's schemas already)",
    )


def test_sslmode_reaches_asyncpg_services_as_ssl(project: Path, database_url: str) -> None:
    only(project, "habits", "movements")
    upgrade(project, database_url, "habits")
    upgrade(project, database_url, "movements")
    found = findings(project, f"{database_url}?sslmode=disable")
    message = one(found, "ok", "DATABASE_URL", "sslmode=disable", "as ssl=disable")
    assert "habits" in message and "movements" not in message
    assert [(f.level, f.subject, f.message) for f in found if f.level != "ok"] == [unfenced("habits"), unfenced("movements")]


def test_env_handing_sslmode_to_asyncpg(project: Path, database_url: str) -> None:
    """The seeds' TypeError: an env.py that builds its own URL (here from MEALS_DSN) and keeps sslmode for asyncpg."""
    only(project, "meals")
    config = service_folder(project, "meals") / "meals" / "web" / "config.py"
    replace_once(config, 'url = os.environ.get("DATABASE_URL")', 'url = os.environ.get("MEALS_DSN")')
    replace_once(config, 'if parsed.drivername == DRIVER and "sslmode" in parsed.query:', "if False:")
    found = findings(project, database_url, MEALS_DSN=f"{database_url}?sslmode=disable")
    message = one(found, "error", "meals", "env.py passes sslmode to asyncpg")
    assert "unexpected keyword argument 'sslmode'" in message
    assert "read DATABASE_URL" in message and "ssl=" in message


# -- the connection ------------------------------------------------------------------------------------


def test_a_wrong_password(project: Path, database_url: str) -> None:
    only(project, "habits", "movements")
    before = snapshot(database_url)
    found = findings(project, with_url_parts(database_url, password=SECRET))
    user = urlsplit(database_url).username
    message = one(found, "error", "database", f"authentication failed for user '{user}'", "DATABASE_URL")
    assert urlsplit(database_url).hostname in message
    one(found, "warning", "database", "skipped the database checks")
    for service in ("habits", "movements"):
        one(found, "ok", service, "history: ")
    assert len(errors(found)) == 1, show(found)
    assert snapshot(database_url) == before  # offline: env.py did not even create its schema


def test_a_closed_port(project: Path) -> None:
    only(project, "movements")
    found = findings(project, CLOSED_URL)
    one(found, "error", "database", "nothing listens on 127.0.0.1:1", "connection refused", "DATABASE_URL")
    one(found, "ok", "movements", "history: ")
    assert len(errors(found)) == 1, show(found)
    table = inv(project, "db.doctor", url=CLOSED_URL)  # without --json the verdict points at the table
    warnings = sum(1 for finding in found if finding.level == "warning")
    assert table.returncode == 1, output(table)
    assert table.stderr.strip().splitlines()[-1] == (
        f"doctor: 1 error, {warnings} warning{'s' if warnings != 1 else ''}; fix the errors above, then run 'inv db.doctor' again"
    ), output(table)


def test_an_unknown_host(project: Path) -> None:
    only(project, "movements")
    found = findings(project, f"postgresql://app:{SECRET}@nonexistent.invalid:5432/app")
    one(found, "error", "database", "host 'nonexistent.invalid' does not resolve", "DATABASE_URL")


def test_a_database_that_does_not_exist(project: Path, database_url: str) -> None:
    only(project, "movements")
    name = urlsplit(database_url).path.lstrip("/")
    found = findings(project, with_url_parts(database_url, database=f"{name}_typo"))
    message = one(found, "error", "database", f"database '{name}_typo' does not exist", f'CREATE DATABASE "{name}_typo"')
    assert f"did you mean '{name}'?" in message


def test_a_server_that_never_answers(project: Path) -> None:
    only(project, "movements")
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        found = findings(project, f"postgresql://app:{SECRET}@127.0.0.1:{port}/app")
    one(found, "error", "database", f"no answer from 127.0.0.1:{port} within 5 s", "timeout")


def test_a_user_without_create_rights(project: Path, pg_server: str) -> None:
    only(project, "habits", "movements")
    admin = create_database(pg_server)
    role = f"doctor_{secrets.token_hex(4)}"
    try:
        execute(pg_server, f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
        execute(admin, 'CREATE SCHEMA "movements"')  # owned by the admin: no CREATE for the role
        before = snapshot(admin)
        found = findings(project, with_url_parts(admin, user=role, password=SECRET))
        one(
            found,
            "warning",
            "habits",
            "schema 'habits' does not exist",
            f"user '{role}' may not CREATE in database",
            "GRANT CREATE ON DATABASE",
        )
        one(found, "warning", "movements", f"user '{role}' may not CREATE in schema 'movements'", "GRANT CREATE ON SCHEMA")
        one(found, "error", "habits", "env.py fails", "permission denied")
        assert snapshot(admin) == before
    finally:
        drop_database(pg_server, admin)
        execute(pg_server, f"DROP ROLE IF EXISTS {role}")


# -- the service's interpreter and env.py -----------------------------------------------------------------


def test_an_interpreter_without_the_driver(project: Path, database_url: str, tmp_path: Path) -> None:
    only(project, "habits")
    tomli = ("tomli",) if sys.version_info < (3, 11) else ()  # Alembic imports it on Python 3.9 and 3.10
    python = interpreter(tmp_path, "alembic", "sqlalchemy", "mako", "markupsafe", "typing_extensions", *tomli)
    service_key(project, "habits", "python", str(python))
    before = snapshot(database_url)
    found = findings(project, database_url)
    one(found, "error", "habits", f"asyncpg is not installed in {python}", "pip install asyncpg", "'python' in migrations.yaml")
    one(found, "error", "habits", f"greenlet is not installed in {python}")
    one(found, "ok", "habits", "history: ")
    assert len(errors(found)) == 2, show(found)
    assert snapshot(database_url) == before  # env.py was not run


def test_an_interpreter_without_alembic(project: Path, database_url: str, tmp_path: Path) -> None:
    only(project, "movements")
    python = interpreter(tmp_path)
    service_key(project, "movements", "python", str(python))
    found = findings(project, database_url)
    one(found, "error", "movements", f"alembic is not installed in {python}", "install it", "'python' in migrations.yaml")
    assert len(errors(found)) == 1, show(found)


def test_env_importing_a_module_that_is_not_installed(project: Path, database_url: str) -> None:
    only(project, "movements")
    path = env_py(project, "movements")
    path.write_text("import surely_not_installed_pkg  # noqa\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    found = findings(project, database_url)
    one(found, "error", "movements", "'surely_not_installed_pkg'", "install it")


def test_a_service_package_that_moved(project: Path, database_url: str) -> None:
    """The seeds' "No module named 'src'": the package is in the folder, but not where sys.path looks."""
    only(project, "habits")
    folder = service_folder(project, "habits")
    (folder / "src").mkdir()
    shutil.move(folder / "habits_service", folder / "src" / "habits_service")
    found = findings(project, database_url)
    message = one(found, "error", "habits", "'habits_service'")
    assert "pythonpath" in message and "prepend_sys_path" in message


def test_env_connecting_to_another_database(project: Path, pg_server: str, database_url: str) -> None:
    only(project, "habits")
    config = service_folder(project, "habits") / "habits_service" / "app" / "config.py"
    replace_once(config, 'url = os.environ.get("DATABASE_URL")', 'url = os.environ.get("HABITS_DATABASE_URL")')
    other = create_database(pg_server)
    try:
        found = findings(project, database_url, HABITS_DATABASE_URL=other)
        message = one(found, "error", "habits", "env.py connected to", "url_env")
        assert urlsplit(other).path in message and urlsplit(database_url).path in message
    finally:
        drop_database(pg_server, other)


def test_the_deprecated_async_engine_constructor(project: Path, database_url: str) -> None:
    only(project, "meals")
    replace_once(
        env_py(project, "meals"),
        "engine = create_async_engine(database_url(), poolclass=pool.NullPool)",
        "from sqlalchemy.ext.asyncio import AsyncEngine\n\n    engine = AsyncEngine(pool.NullPool, url=database_url())",
    )
    found = findings(project, database_url)
    one(found, "warning", "meals", "AsyncEngine(...) constructor", "deprecated", "create_async_engine")
    one(found, "error", "meals", "env.py fails")  # and that env.py indeed cannot run


# -- the migration history ---------------------------------------------------------------------------------


def test_a_broken_chain(project: Path, database_url: str) -> None:
    only(project, "movements")
    path = plant_migration(project, "movements", "b40ce0000001", "feedface0000")
    found = findings(project, database_url)
    message = one(found, "error", "movements", path.name, "'feedface0000'", "down_revision")
    assert "inv db.history movements" in message
    one(found, "ok", "movements", "tables in 'movements'")  # env.py still ran


def test_a_migration_file_that_does_not_parse(project: Path, database_url: str) -> None:
    only(project, "movements")
    plant_migration(project, "movements", "5e0000000001", head_of("movements"), body="return (")
    found = findings(project, database_url)
    one(found, "error", "movements", "cannot read the migration files", "SyntaxError", "inv db.history movements")


def test_two_heads(project: Path, database_url: str) -> None:
    only(project, "movements")
    head = head_of("movements")
    plant_migration(project, "movements", "aaaa00000001", head)
    plant_migration(project, "movements", "bbbb00000002", head)
    found = findings(project, database_url)
    message = one(found, "error", "movements", "multiple heads", "inv db.merge movements")
    assert "aaaa00000001" in message and "bbbb00000002" in message


def test_a_database_revision_no_file_defines(project: Path, database_url: str) -> None:
    only(project, "movements")
    upgrade(project, database_url, "movements")
    execute(database_url, "UPDATE movements.alembic_version SET version_num = 'deadbeef0000'")
    before = snapshot(database_url)
    found = findings(project, database_url)
    one(
        found,
        "error",
        "movements",
        "'deadbeef0000'",
        "no migration file of movements defines",
        "'inv db.adopt' says whose",
        "inv db.stamp movements",
    )
    assert snapshot(database_url) == before


def test_a_database_behind_head_then_at_head(project: Path, database_url: str) -> None:
    only(project, "habits")
    first, last = revisions_of("habits")
    upgrade(project, database_url, "habits", "--to", first)
    before = snapshot(database_url)
    found = findings(project, database_url)
    one(found, "warning", "habits", f"database at {first}, head is {last}", "1 migration pending", "inv db.upgrade habits")
    assert snapshot(database_url) == before
    upgrade(project, database_url, "habits")
    one(findings(project, database_url), "ok", "habits", f"database at head {last}")


def test_tables_created_before_alembic(project: Path, database_url: str) -> None:
    only(project, "movements")
    execute(database_url, 'CREATE SCHEMA "movements"', "CREATE TABLE movements.exercises (id int)")
    before = snapshot(database_url)
    found = findings(project, database_url)
    one(found, "warning", "movements", "1 table (exercises)", "relation already exists", "inv db.adopt --service movements")
    assert snapshot(database_url) == before  # in particular no alembic_version


# -- where the revision is kept -------------------------------------------------------------------------


def test_env_without_version_table_schema_shared_by_two_services(project: Path, database_url: str) -> None:
    only(project, "movements", "meals")
    for service in ("movements", "meals"):
        replace_once(env_py(project, service), VERSION_TABLE_LINE, "")
    before = snapshot(database_url)
    found = findings(project, database_url)
    for service in ("movements", "meals"):
        one(found, "error", service, "goes to public.alembic_version", f"version_table: {service}.alembic_version in migrations")
    message = one(found, "error", "database", "public.alembic_version of ", "overwrite each other's revision")
    assert "movements" in message and "meals" in message
    assert_only_empty_schemas_added(before, snapshot(database_url))
    assert "alembic_version" not in tables(database_url, "public")


def test_env_without_version_table_schema_relying_on_search_path(project: Path, database_url: str) -> None:
    only(project, "movements")
    replace_once(env_py(project, "movements"), VERSION_TABLE_LINE, "")
    name = urlsplit(database_url).path.lstrip("/")
    execute(database_url, 'CREATE SCHEMA "movements"', f'ALTER DATABASE "{name}" SET search_path TO movements')
    found = findings(project, database_url)
    one(found, "warning", "movements", "only because search_path", "version_table_schema='movements'")
    assert errors(found) == [], show(found)


# -- the models -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ("None", ("passes no target_metadata", "target_metadata=Base.metadata")),
        ("__import__('sqlalchemy').MetaData()", ("holds no tables", "import the modules")),
    ],
    ids=["none", "no-tables"],
)
def test_models_autogenerate_cannot_see(project: Path, database_url: str, metadata: str, words: tuple[str, ...]) -> None:
    only(project, "movements")
    replace_once(env_py(project, "movements"), "target_metadata = Base.metadata\n", f"target_metadata = {metadata}\n")
    found = findings(project, database_url)
    one(found, "warning", "movements", *words)
    assert errors(found) == [], show(found)


def test_models_with_tables_in_another_services_schema(project: Path, database_url: str) -> None:
    only(project, "movements", "users")
    models = service_folder(project, "movements") / "movements" / "repository" / "models.py"
    models.write_text(
        models.read_text(encoding="utf-8")
        + '\n\nstray = sa.Table("stray", Base.metadata, sa.Column("id", sa.Integer, primary_key=True), schema="users")\n',
        encoding="utf-8",
    )
    found = findings(project, database_url)
    one(found, "warning", "movements", "1 table (stray) in schema 'users'", "service 'users' owns")
    one(found, "ok", "movements", "tables in 'movements'")


# -- all is well -------------------------------------------------------------------------------------------


def test_a_healthy_project_has_ok_findings_but_a_warning_for_each_unfiltered_autogenerate(
    project: Path, upgraded_url: str
) -> None:
    database_url = upgraded_url  # every service at head
    before = snapshot(database_url)
    lines: list[str] = []
    with environment(DATABASE_URL=database_url):
        found = diagnose(project / "migrations.yaml", jobs=4, emit=lines.append).findings  # the core, with its progress lines
    assert findings(project, database_url) == found  # the task reports exactly what the core found
    # the examples' env.py files compare every schema in plain alembic's autogenerate: the one warning each
    assert [(f.level, f.subject, f.message) for f in found if f.level != "ok"] == [
        unfenced(service) for service in declared_services(project)
    ], show(found)
    # meals describes users.users for its foreign key: a dependency's table, not a schema it claims
    one(found, "ok", "meals", "describe 1 table (users) of schema 'users', which 'users' owns and 'meals' depends on")
    one(found, "ok", "migrations.yaml", "valid: 6 services, each with its own schema")
    for service in declared_services(project):
        one(found, "ok", service, f"database at head {head_of(service)}")
        one(found, "ok", service, f"alembic_version is {service}.alembic_version")
        assert version(database_url, service) == [head_of(service)]
    password = urlsplit(database_url).password
    assert password and all(password not in line and password not in f.message for line in lines for f in found)
    assert all(re.match(r"^[a-z]+ \| ", line) for line in lines), lines
    assert snapshot(database_url) == before
