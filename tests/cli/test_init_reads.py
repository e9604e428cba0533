"""`dbtasks init` follows env.py's imports into the service's own modules for the URL: a module building it from
`POSTGRES_*` variables (os.environ.get), and a pydantic BaseSettings class with an env_prefix. It writes the `env:`
mapping that fills them from the database's URL; database-looking names only (not REDIS_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import PARTS_ENV, TABLE_MIGRATION, assert_ok, inv, query, show

DATABASE_PY = """import os

HOST = os.environ.get("POSTGRES_HOST", "db")
PORT = os.environ.get("POSTGRES_PORT", "5432")
USER = os.environ.get("POSTGRES_USER", "app")
PASSWORD = os.environ.get("POSTGRES_PASSWORD", "app")
NAME = os.environ.get("POSTGRES_DB", "app")
REDIS_URL = os.environ.get("REDIS_URL", "redis://cache")
SQLALCHEMY_DATABASE_URL = f"postgresql://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}"
"""
SETTINGS_PY = """from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_DB_")

    host: str = "db"
    port: int = 5432
    user: str = "app"
    password: str = "app"
    name: str = "events"


settings = Settings()
URL = f"postgresql://{settings.user}:{settings.password}@{settings.host}:{settings.port}/{settings.name}"
"""


def service(root: Path, folder: str, package: str, module: str, text: str, line: str, revision: str) -> None:
    where = root / "services" / folder
    where.mkdir(parents=True)
    alembic = Path(sys.executable).with_name("alembic")
    subprocess.run([str(alembic), "init", "alembic"], cwd=where, check=True, capture_output=True)
    env_py = where / "alembic" / "env.py"
    env_py.write_text(
        env_py.read_text(encoding="utf-8").replace(
            "config = context.config", f'{line}\n\nconfig = context.config\nconfig.set_main_option("sqlalchemy.url", URL)'
        ),
        encoding="utf-8",
    )
    (where / "alembic" / "versions" / f"{revision}_{folder}.py").write_text(
        TABLE_MIGRATION.format(table=folder, revision=revision), encoding="utf-8"
    )
    (where / package).mkdir()
    (where / package / "__init__.py").write_text("", encoding="utf-8")
    (where / package / f"{module}.py").write_text(text, encoding="utf-8")


def init(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "dbtasks", "init", *args]
    return subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, check=False)


def test_init_fills_the_url_parts_a_service_module_reads_and_the_service_reaches_head(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "mono"
    line = "from notes_app.database import SQLALCHEMY_DATABASE_URL as URL"
    service(root, "notes", "notes_app", "database", DATABASE_PY, line, "c0000000f001")
    written = init(root)
    assert written.returncode == 0 and written.stderr == "", show(written)
    text = (root / "migrations.yaml").read_text(encoding="utf-8")
    assert PARTS_ENV in text, text
    assert "# its URL is built in notes_app/database.py from POSTGRES_HOST" in text and "REDIS" not in text, text
    upgraded = assert_ok(inv(root, "db.upgrade-all", url=database_url))  # init's file as written
    assert upgraded.stdout.splitlines()[-1] == "1 ok, 0 failed, 0 skipped", show(upgraded)
    assert [row[0] for row in query(database_url, "SELECT version_num FROM public.alembic_version")] == ["c0000000f001"]


def test_init_reads_a_pydantic_settings_class_with_an_env_prefix(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    service(root, "events", "events_app", "settings", SETTINGS_PY, "from events_app.settings import URL", "d0000000f001")
    dry = init(root, "--dry-run")
    assert dry.returncode == 0, show(dry)
    assert (
        "    env:\n"
        '      EVENTS_DB_HOST: "${db.host}"\n'
        '      EVENTS_DB_PORT: "${db.port}"\n'
        '      EVENTS_DB_USER: "${db.user}"\n'
        '      EVENTS_DB_PASSWORD: "${db.password}"\n'
        '      EVENTS_DB_NAME: "${db.name}"\n'
    ) in dry.stdout, show(dry)


def test_init_takes_each_database_name_from_the_repository_before_inventing_one(tmp_path: Path) -> None:
    """Three `alembic init` services keeping public.alembic_version, so a database each: the name comes from the ini's
    sqlalchemy.url, from a compose file's container built from the service's folder, and from the folder's .env."""
    root = tmp_path / "mono"
    alembic = Path(sys.executable).with_name("alembic")
    for folder in ("notes", "events", "tasks"):
        (root / "services" / folder).mkdir(parents=True)
        subprocess.run([str(alembic), "init", "alembic"], cwd=root / "services" / folder, check=True, capture_output=True)
    ini = root / "services" / "notes" / "alembic.ini"
    ini.write_text(
        ini.read_text(encoding="utf-8").replace(
            "driver://user:pass@localhost/dbname", "postgresql://app:app@localhost:5432/mono_notes"
        ),
        encoding="utf-8",
    )
    (root / "docker-compose.yml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_DB: mono\n"
        "  events-api:\n    build: ./services/events\n    environment:\n"
        "      - DATABASE_URL=postgresql://app:app@db:5432/mono_events\n      - REDIS_URL=redis://cache\n",
        encoding="utf-8",
    )
    (root / "services" / "tasks" / ".env").write_text(
        "# local settings\nPOSTGRES_HOST=db\nPOSTGRES_DB=mono_tasks\n", encoding="utf-8"
    )
    dry = init(root, "--dry-run")
    assert dry.returncode == 0, show(dry)
    databases = {line.split()[1] for line in dry.stdout.splitlines() if line.startswith("    database: ")}
    assert databases == {"mono_notes", "mono_events", "mono_tasks"}, show(dry)
    notes = [line for line in dry.stderr.splitlines() if "alembic_version" in line]
    assert notes == [
        "services/events, services/notes, services/tasks: each keeps public.alembic_version, so each has a database of "
        "its own: mono_events (as docker-compose.yml (service events-api) names it), mono_notes (as "
        "services/notes/alembic.ini's sqlalchemy.url names it), mono_tasks (as services/tasks/.env names it); to keep them in one database instead, each with a version table of its own, run dbtasks init --dry-run --one-database "
        "> migrations.yaml"
    ], show(dry)


def services_in_one_database(root: Path, bodies: dict[str, str]) -> None:
    """`alembic init` services keeping version tables of their own names in public, each one revision whose upgrade
    is `bodies[folder]`."""
    alembic = Path(sys.executable).with_name("alembic")
    for folder, body in bodies.items():
        where = root / "services" / folder
        where.mkdir(parents=True)
        subprocess.run([str(alembic), "init", "alembic"], cwd=where, check=True, capture_output=True)
        env_py = where / "alembic" / "env.py"
        text = env_py.read_text(encoding="utf-8").replace(
            "target_metadata=target_metadata,", f'target_metadata=target_metadata, version_table="{folder}_version",'
        )
        env_py.write_text(
            text.replace(
                "config = context.config",
                'config = context.config\nconfig.set_main_option("sqlalchemy.url", __import__("os").environ["DATABASE_URL"])',
            ),
            encoding="utf-8",
        )
        migration = TABLE_MIGRATION.format(table=folder, revision=f"{folder[0]}0000000a001").replace(
            f'op.create_table("{folder}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text))', body
        )
        (where / "alembic" / "versions" / f"{folder}.py").write_text(migration, encoding="utf-8")


def depends_on_line(found: str) -> str:
    return (
        "depends_on and expect_tables: init took depends_on from the migrations (foreign keys, extensions, tables two "
        f"services create) ({found}); add the others, and uncomment expect_tables for verify to check them "
        "(docs/configuration.md)"
    )


def versions_of_both(url: str) -> None:
    versions = {folder: query(url, f"SELECT version_num FROM public.{folder}_version")[0][0] for folder in ("ledger", "audit")}
    assert versions == {"ledger": "l0000000a001", "audit": "a0000000a001"}


def invoices_reference_users(url: str) -> None:
    assert query(url, "SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'") == [("users",)]


@pytest.mark.parametrize(
    ("bodies", "found", "check"),
    [
        pytest.param(  # in alphabetical order ledger would fail on the table audit made only if it was missing
            {
                "ledger": 'op.create_table("entries", sa.Column("id", sa.Integer, primary_key=True))',
                "audit": 'op.execute("CREATE TABLE IF NOT EXISTS entries (id integer PRIMARY KEY)")',
            },
            "audit -> ledger",
            versions_of_both,
            id="a-table-two-services-create",
        ),
        pytest.param(  # billing's foreign key to users, written in SQL (op.execute(sa.text(...)))
            {
                "users": 'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))',
                "billing": 'op.execute(sa.text("CREATE TABLE invoices (id integer PRIMARY KEY, owner integer REFERENCES users (id))"))',
            },
            "billing -> users",
            invoices_reference_users,
            id="a-foreign-key-in-raw-sql",
        ),
    ],
)
def test_the_migrations_order_services_that_share_a_database(
    tmp_path: Path, database_url: str, bodies: dict[str, str], found: str, check: Callable[[str], None]
) -> None:
    """What one service's migrations need of another's (a table it creates first, a foreign key) becomes depends_on,
    and upgrade-all then passes in that order."""
    root = tmp_path / "mono"
    services_in_one_database(root, bodies)
    written = init(root)
    assert written.returncode == 0 and written.stderr == "", show(written)
    assert depends_on_line(found) in written.stdout.splitlines(), show(written)
    upgraded = assert_ok(inv(root, "db.upgrade-all", url=database_url))
    assert upgraded.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped", show(upgraded)
    check(database_url)


def test_init_update_adds_the_new_service_and_keeps_every_edit(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    alembic = Path(sys.executable).with_name("alembic")

    def alembic_init(folder: str) -> None:
        (root / "services" / folder).mkdir(parents=True)
        subprocess.run([str(alembic), "init", "alembic"], cwd=root / "services" / folder, check=True, capture_output=True)

    alembic_init("notes")
    alembic_init("events")
    assert init(root).returncode == 0
    config = root / "migrations.yaml"
    edited = (
        config.read_text(encoding="utf-8").replace("    database: notes\n", "    database: mono_notes   # ours\n")
        + "environments:\n  # production runs from CI only\n  production: {url_env: PROD_URL, protected: true}\n"
    )
    config.write_text(edited, encoding="utf-8")
    alembic_init("tasks")
    updated = init(root, "--update")
    assert updated.returncode == 0 and updated.stderr == "", show(updated)
    assert updated.stdout.splitlines()[0] == "added 1 service to migrations.yaml: tasks", show(updated)
    assert updated.stdout.splitlines()[-1] == "next: inv db.status", show(updated)
    assert [line for line in updated.stdout.splitlines() if "alembic_version" in line] == [  # the new one, alone
        "services/tasks: keeps public.alembic_version, as events and notes do, so it got a database of its own, tasks "
        "(named by init: the local database creates it); to keep it in the default database instead, replace its "
        "database: line with schema: public and version_table: public.alembic_version_tasks"
    ], show(updated)
    text = config.read_text(encoding="utf-8")
    head, _, rest = edited.partition("environments:\n")
    assert text.startswith(head) and text.endswith("environments:\n" + rest), text  # every edit and comment kept
    assert "  tasks:\n    path: services/tasks\n" in text[len(head) :], text  # the new block, inside services:
    again = init(root, "--update")
    assert again.returncode == 0 and again.stdout == (
        "migrations.yaml declares every service init finds under .; nothing written\n"
    ), show(again)
    assert config.read_text(encoding="utf-8") == text
    missing = init(tmp_path, "--update")
    assert (missing.returncode, missing.stderr) == (
        2,
        "dbtasks init: migrations.yaml does not exist: nothing to update; run dbtasks init without --update\n",
    ), show(missing)
