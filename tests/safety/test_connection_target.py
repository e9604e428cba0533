"""One parsed connection target: a URL that names its database (or host, port, user, password) in its query reaches
the same database through every driver and every URL derived from it, or is refused with one line.

The attack these tests replay: `postgresql://user@host:port/?dbname=app` put the asyncpg services in the database
named after the user while psycopg2 ones went to `app`, and verify's scratch URL kept `?dbname=app`, so its
destructive checks dropped the tables of `app` itself. Every test here looks at what is in the databases afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _support import (
    assert_bad_input,
    assert_failure,
    assert_ok,
    dbtasks_command,
    declared_services,
    execute,
    head_of,
    inv,
    output,
    query,
    replace_once,
    schemas,
    show,
    snapshot,
    task_environment,
    version,
)
from safety_helpers import Owner, database_name, role_with_password

PASSWORD = "query-password-8f3"
ASYNCPG = [name for name, service in declared_services().items() if service.get("driver") == "asyncpg"]
PSYCOPG2 = [name for name, service in declared_services().items() if service.get("driver") == "psycopg2"]


@pytest.fixture
def owner(pg_server: str) -> Owner:  # type: ignore[misc]
    with role_with_password(pg_server, PASSWORD, PASSWORD) as made:
        yield made


def user_named_database(owner: Owner) -> str:
    """The database named after the role (where a driver that drops ?dbname= lands), created empty; its URL."""
    execute(owner.admin, f'CREATE DATABASE "{owner.role}" OWNER "{owner.role}"')
    parts = urlsplit(owner.admin)
    return f"postgresql://{owner.role}:{PASSWORD}@{parts.hostname}:{parts.port}/{owner.role}"


def in_query(url: str) -> str:
    """`url` with its database named only in the query: postgresql://user:pw@host:port/?dbname=NAME."""
    parts = urlsplit(url)
    return f"postgresql://{parts.netloc}/?dbname={database_name(url)}"


def own_tables(url: str) -> set[str]:
    return {f"{schema}.{table}" for schema, table in query(url, _OWN_TABLES)}


_OWN_TABLES = (
    "SELECT table_schema, table_name FROM information_schema.tables "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
)


def test_upgrade_all_puts_every_service_in_the_database_the_query_names(project: Path, owner: Owner) -> None:
    app, _ = owner.database()
    elsewhere = user_named_database(owner)
    result = assert_ok(inv(project, "db.upgrade-all", url=in_query(app)))
    assert result.stdout.strip().splitlines()[-1] == "6 ok, 0 failed, 0 skipped", show(result)
    for service in [*ASYNCPG, *PSYCOPG2]:  # both drivers: asyncpg used to land in the user-named database
        assert version(app, service) == [head_of(service)], service
    assert own_tables(elsewhere) == set()
    status = assert_ok(inv(project, "db.status", "--json", url=in_query(app)))
    assert {row["service"]: row["state"] for row in json.loads(status.stdout)["services"]} == dict.fromkeys(
        [*ASYNCPG, *PSYCOPG2], "up to date"
    )
    assert PASSWORD not in output(result) + output(status)


def test_verify_never_touches_the_database_the_query_names(project: Path, owner: Owner) -> None:
    app, admin = owner.database()
    assert_ok(inv(project, "db.upgrade", "movements", url=app))
    execute(app, "CREATE TABLE movements.sentinel (note text)", "INSERT INTO movements.sentinel VALUES ('keep me')")
    before = snapshot(app)
    result = assert_ok(inv(project, "db.verify", "movements", url=in_query(app)))
    assert result.stdout.strip().splitlines() == ["movements: verify ok, 12 checks passed"], show(result)
    assert query(app, "SELECT note FROM movements.sentinel") == [("keep me",)]
    assert snapshot(app) == before
    left = query(admin, "SELECT datname FROM pg_database WHERE datname LIKE %s", ("movements\\_verify\\_%",))
    assert left == []


def test_a_fleet_member_lands_in_its_own_database_not_the_one_the_query_names(project: Path, owner: Owner) -> None:
    main, _ = owner.database()
    members = [owner.database()[0] for _ in range(2)]
    with (project / "migrations.yaml").open("a", encoding="utf-8") as handle:
        names = ", ".join(database_name(url) for url in members)
        handle.write(f"targets:\n  tenants:\n    services: [users, movements]\n    databases: [{names}]\n")
    result = assert_ok(inv(project, "db.upgrade-all", "--targets", "tenants", url=in_query(main)))
    assert "2 targets: 2 ok" in output(result), show(result)
    for url in members:
        assert version(url, "users") == [head_of("users")] and version(url, "movements") == [head_of("movements")]
    assert own_tables(main) == set()


def test_a_query_host_and_port_with_no_host_in_the_url_are_used(project: Path, database_url: str) -> None:
    parts = urlsplit(database_url)
    url = f"postgresql://{parts.username}:{parts.password}@/{database_name(database_url)}?host={parts.hostname}&port={parts.port}"
    result = assert_ok(dbtasks_command(project, "upgrade-all", "--only", "users,movements", url=url))
    assert version(database_url, "users") == [head_of("users")], show(result)
    assert version(database_url, "movements") == [head_of("movements")]


@pytest.mark.parametrize(
    ("query_part", "line"),
    [
        (
            "?host=db.elsewhere.example",
            "DATABASE_URL: the URL names host '127.0.0.1' and 'db.elsewhere.example' in ?host= (libpq takes the second); keep one",
        ),
        ("?dbname=other", "DATABASE_URL: the URL names dbname '{db}' and 'other' in ?dbname= (libpq takes the second); keep one"),
        (
            "?service=prod",
            "DATABASE_URL: the URL's ?service= names a pg_service.conf entry, which asyncpg and SQLAlchemy do not read; write its host, port and database in the URL",
        ),
        ("?port=%C2%B2", "DATABASE_URL: the URL names port '{port}' and '²' in ?port= (libpq takes the second); keep one"),
    ],
)
def test_a_query_that_contradicts_the_url_is_one_line_and_changes_nothing(
    project: Path, database_url: str, query_part: str, line: str
) -> None:
    parts = urlsplit(database_url)
    before = schemas(database_url)
    result = inv(project, "db.upgrade-all", url=database_url + query_part)
    assert assert_bad_input(result) == line.format(db=database_name(database_url), port=parts.port)
    assert schemas(database_url) == before


def test_a_password_in_the_query_authenticates_every_driver_and_is_never_shown(project: Path, owner: Owner) -> None:
    app, _ = owner.database()
    parts = urlsplit(app)
    url = f"postgresql://{parts.hostname}:{parts.port}/{database_name(app)}?user={owner.role}&password={PASSWORD}"
    result = assert_ok(inv(project, "db.upgrade-all", "--only", "users,movements", url=url))
    assert version(app, "users") == [head_of("users")] and version(app, "movements") == [head_of("movements")]
    doctor = inv(project, "db.doctor", url=url)
    assert f"DATABASE_URL is postgresql://{owner.role}:***@" in doctor.stdout, show(doctor)
    assert PASSWORD not in output(result) + output(doctor)


def test_env_py_whose_driver_reaches_another_database_is_refused_by_what_the_server_says(
    project: Path, database_url: str, make_database: object
) -> None:
    other = make_database()  # type: ignore[operator]
    # env.py keeps the URL dbtasks hands it (same host, port and database on paper) but overrides the database the
    # driver connects to: only the server can tell.
    replace_once(
        project / "services" / "movements" / "alembic" / "env.py",
        "poolclass=pool.NullPool,",
        f"poolclass=pool.NullPool, connect_args={{'dbname': {database_name(other)!r}}},",
    )
    before = {url: own_tables(url) for url in (database_url, other)}
    line = assert_failure(inv(project, "db.upgrade", "movements", url=database_url), "movements")
    host, port = urlsplit(database_url).hostname, urlsplit(database_url).port  # as the URL spells it: 127.0.0.1
    assert host == "127.0.0.1" and f"target: dbtasks@{host}:{port}/" in output(inv(project, "db.status", url=database_url))
    assert line == (
        f"movements: env.py's connection reached {host}:{port}/{database_name(other)}, although the URL handed to it in "
        f"DATABASE_URL names {host}:{port}/{database_name(database_url)}: its engine overrides the database "
        "(connect_args, or a URL its driver reads differently); let env.py connect with the URL as handed"
    )
    assert {url: own_tables(url) for url in (database_url, other)} == before  # env.py's own CREATE SCHEMA aside


# -- runs that must wait for another ----------------------------------------------------------------------------------


def upgrade_in_background(project: Path, url: str) -> subprocess.Popen[str]:
    """`inv db.upgrade movements` as a process of its own (the caller waits for it with communicate)."""
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", "db.upgrade", "movements"],
        cwd=project,
        env=task_environment(url, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def until_waiting(process: subprocess.Popen[str], url: str, sql: str, params: tuple[object, ...]) -> bool:
    """Whether `sql` finds a session waiting before `process` ends (within two minutes)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if query(url, sql, params):
            return True
        time.sleep(0.1)
    return False


# -- schema creation takes turns ---------------------------------------------------------------------------------------


def test_schema_creation_waits_for_the_schema_lock_so_parallel_first_deploys_cannot_collide(
    project: Path, database_url: str
) -> None:
    import psycopg2

    from dbtasks.worker.prerequisites import SCHEMA_LOCK

    holder = psycopg2.connect(database_url)
    holder.autocommit = True
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        with upgrade_in_background(project, database_url) as process:
            waits = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s AND objsubid = 1"
            assert until_waiting(process, database_url, waits, (SCHEMA_LOCK,)), "the upgrade never waited for the schema lock"
            assert "movements" not in schemas(database_url)  # nothing created while another run creates schemas
            with holder.cursor() as cursor:  # the other run creates the schema, then lets go
                cursor.execute('CREATE SCHEMA "movements"')
                cursor.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
            stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (stdout, stderr)
        assert version(database_url, "movements") == [head_of("movements")]
    finally:
        holder.close()


# -- secrets env.py may print ------------------------------------------------------------------------------------------


def test_what_env_py_prints_of_a_secret_is_masked_in_every_spelling(project: Path, pg_server: str) -> None:
    from urllib.parse import quote

    password = 'q"u\\\u00f6-pw-9'  # a quote, a backslash and a letter JSON escapes: json.dumps spells it otherwise
    token = "tok-s3cret-42"
    with role_with_password(pg_server, password, quote(password, safe="")) as made:
        url, _ = made.database()
        config = project / "migrations.yaml"
        replace_once(
            config,
            "    driver: psycopg2\n    expect_tables: [exercises",
            f"    driver: psycopg2\n    env: {{API_TOKEN: {token}}}\n    expect_tables: [exercises",
        )
        env_py = project / "services" / "movements" / "alembic" / "env.py"
        env_py.write_text(
            "import json, os\nfrom sqlalchemy.engine import make_url\n"
            "print(json.dumps({'token': os.environ['API_TOKEN'], 'password': make_url(os.environ['DATABASE_URL']).password}))\n"
            + env_py.read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        result = assert_ok(inv(project, "db.upgrade", "movements", "--verbose", url=url))
        shown = output(result)
        assert '{"token": "***", "password": "***"}' in shown, shown
        import json as json_module

        for spelling in (token, password, json_module.dumps(password)[1:-1], quote(password, safe="")):
            assert spelling not in shown, spelling
        assert version(url, "movements") == [head_of("movements")]


def test_a_migration_that_loses_a_create_if_not_exists_race_is_run_again(project: Path, database_url: str) -> None:
    """Another run creates the same schema at the same moment (its transaction still open): the migration's CREATE
    SCHEMA IF NOT EXISTS waits, then fails on pg_namespace's unique index once the other commits; the migration was
    rolled back, and the worker runs the upgrade again, which finds the schema there."""
    import psycopg2
    from _support import plant_migration

    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_migration(
        project,
        "movements",
        "a0ce0000beef",
        head_of("movements"),
        "from alembic import op\n\n    op.execute('CREATE SCHEMA IF NOT EXISTS raced')",
    )
    other = psycopg2.connect(database_url)
    try:
        with other.cursor() as cursor:
            cursor.execute("CREATE SCHEMA raced")  # not committed yet
        with upgrade_in_background(project, database_url) as process:
            waits = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s"
            assert until_waiting(process, database_url, waits, ("%CREATE SCHEMA IF NOT EXISTS raced%",)), "it never waited"
            other.commit()
            stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (stdout, stderr)
        assert version(database_url, "movements") == ["a0ce0000beef"]
    finally:
        other.close()
