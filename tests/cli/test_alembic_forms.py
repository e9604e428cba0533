"""Units made with Alembic's own tools (examples/alembic_forms), driven as their authors left them: configuration in
pyproject.toml's [tool.alembic] (`alembic init -t pyproject`), one alembic.ini with a section per unit (`alembic -n`),
and an env.py that reads its schema from Alembic's -x arguments."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import (
    CLOSED_URL,
    REPO,
    assert_bad_input,
    assert_failure,
    assert_ok,
    execute,
    inv,
    inv_process,
    query,
    replace_once,
    show,
    summary_states,
    tables,
    with_database,
)

from dbtasks.worker.verify_checks import CHECKS

EXAMPLES = REPO / "examples" / "alembic_forms"
HEADS = {"notes": "a1b2c3d4e5f6", "users": "b1000000a001", "audit": "c1000000a001"}
BOOKS_HEAD = "d1000000b002"


@dataclass
class Forms:
    root: Path
    notes_url: str  # notes' database of its own
    users_url: str  # users (public) and audit (audit_log) share this one
    books_url: str  # books', built by bootstrap
    multi_urls: tuple[str, str]  # multi's two engines
    branches_url: str  # catalog's and orders', two branches of one environment

    def inv(self, *args: str) -> subprocess.CompletedProcess[str]:
        return inv(self.root, *args, url=self.users_url)


@pytest.fixture
def forms(tmp_path: Path, make_database: Callable[[], str]) -> Forms:
    root = tmp_path / "forms"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("__pycache__", ".dbtasks"))
    notes_url, users_url, books_url, branches_url = make_database(), make_database(), make_database(), make_database()
    multi_urls = (make_database(), make_database())
    config = root / "migrations.yaml"
    replace_once(config, "database: forms_notes", f"database: {notes_url.rsplit('/', 1)[1]}")
    replace_once(config, "database: forms_books", f"database: {books_url.rsplit('/', 1)[1]}")
    text = config.read_text(encoding="utf-8").replace("database: forms_branches", f"database: {branches_url.rsplit('/', 1)[1]}")
    one, two = (url.rsplit("/", 1)[1] for url in multi_urls)
    text = text.replace("forms_multi_one", one).replace("forms_multi_two", two)
    config.write_text(text, encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace("database: forms_users", f"database: {users_url.rsplit('/', 1)[1]}")
    config.write_text(text, encoding="utf-8")
    return Forms(root, notes_url, users_url, books_url, multi_urls=multi_urls, branches_url=branches_url)


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def recorded(url: str, schema: str) -> list[str]:
    return [row[0] for row in query(url, f'SELECT version_num FROM "{schema}".alembic_version')]


def test_every_form_is_driven_to_head_and_back_with_its_files_unchanged(forms: Forms) -> None:
    before = {path: path.read_bytes() for path in forms.root.rglob("*") if path.is_file()}
    upgraded = assert_ok(forms.inv("db.upgrade-all"))
    assert "notes | Running upgrade  -> a1b2c3d4e5f6, create notes" in upgraded.stderr, show(upgraded)
    assert recorded(forms.notes_url, "public") == [HEADS["notes"]]  # script_location read from [tool.alembic]
    assert recorded(forms.users_url, "public") == [HEADS["users"]]  # [users] of the shared alembic.ini
    assert recorded(forms.users_url, "audit_log") == [HEADS["audit"]]  # -x schema=audit_log reached env.py
    assert "notes" in tables(forms.notes_url, "public") and "users" in tables(forms.users_url, "public")
    assert tables(forms.users_url, "audit_log") >= {"events"}
    status = json.loads(assert_ok(forms.inv("db.status", "--json")).stdout)["services"]
    assert [(row["service"], row["schema"], row["current"], row["state"]) for row in status] == [
        ("notes", "public", HEADS["notes"], "up to date"),
        ("users", "public", HEADS["users"], "up to date"),
        ("audit", "audit_log", HEADS["audit"], "up to date"),
        ("books", "public", BOOKS_HEAD, "up to date"),
        ("catalog", "public", "c0000000aa02", "up to date"),
        ("orders", "public", "0b000000bb01", "up to date"),
        ("multi", "public", "f1000000d001", "up to date"),
        ("multi.engine2", "public", "f1000000d001", "up to date"),  # its other engine's database: a row of its own
    ], status
    for name in HEADS:
        assert_ok(forms.inv("db.check", name))  # no models: nothing to compare, and at head
        assert assert_ok(forms.inv("db.current", name)).stdout.strip().startswith(HEADS[name])
    assert_ok(forms.inv("db.downgrade-all", "--to", "base", "--yes"))
    assert recorded(forms.users_url, "audit_log") == [] and "events" not in tables(forms.users_url, "audit_log")
    assert recorded(forms.notes_url, "public") == [] and "notes" not in tables(forms.notes_url, "public")
    assert {path: path.read_bytes() for path in before} == before  # no file of theirs was touched


def test_verbose_shows_the_x_arguments_handed_to_env_py(forms: Forms) -> None:
    replace_once(forms.root / "migrations.yaml", "x: {schema: audit_log}", "x: {schema: audit_log, who: '${db.user}'}")
    upgraded = assert_ok(forms.inv("db.upgrade", "audit", "--verbose"))
    user = urlsplit(forms.users_url).username
    assert recorded(forms.users_url, "audit_log") == [HEADS["audit"]], show(upgraded)
    sql = assert_ok(inv(forms.root, "db.sql", "audit")).stdout  # offline: -x reaches env.py there too
    assert "CREATE TABLE audit_log.events" in sql, sql
    plan = assert_ok(forms.inv("db.upgrade-all", "--only", "users,audit", "--verbose"))
    assert f"; lock audit_log; -x schema=audit_log, who={user}\n" in plan.stderr, show(plan)


def test_an_unknown_section_and_a_missing_tool_alembic_are_one_line_each(forms: Forms) -> None:
    replace_once(forms.root / "migrations.yaml", "ini_section: audit", "ini_section: audti")
    assert assert_bad_input(forms.inv("db.status")) == (
        "migrations.yaml:25: services.audit.ini_section: sections/alembic.ini has no [audti] section (sections with a "
        "script_location: users, audit); fix ini_section"
    )
    replace_once(forms.root / "migrations.yaml", "ini_section: audti", "ini_section: audit")
    toml = forms.root / "pyproject_unit" / "pyproject.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[tool.alembic]", "[tool.other]"), encoding="utf-8")
    assert assert_bad_input(forms.inv("db.status")) == (
        "migrations.yaml:9: services.notes.alembic_ini: pyproject_unit/alembic.ini has no script_location in [alembic], "
        "and no pyproject.toml beside it has [tool.alembic]; add script_location (alembic init writes one), name the "
        "TOML file that has it with toml_file, or fix alembic_ini"
    )
    assert recorded_tables(forms) == set()


def test_toml_file_names_the_toml_file_alembic_reads_after_the_ini(forms: Forms) -> None:
    """`alembic --toml-file alembic.toml`: [tool.alembic] in a file of another name, declared with toml_file."""
    folder, config = forms.root / "pyproject_unit", forms.root / "migrations.yaml"
    (folder / "pyproject.toml").rename(folder / "alembic.toml")
    replace_once(config, "    path: pyproject_unit\n", "    path: pyproject_unit\n    toml_file: missing.toml\n")
    assert assert_bad_input(forms.inv("db.status")) == (
        "migrations.yaml:10: services.notes.toml_file: pyproject_unit/missing.toml does not exist; fix toml_file"
    )
    replace_once(config, "toml_file: missing.toml", "toml_file: alembic.toml")
    upgraded = assert_ok(inv(forms.root, "db.upgrade", "notes", url=forms.notes_url))
    assert upgraded.stdout.strip() == f"notes: upgraded base -> {HEADS['notes']} (1 migration)", show(upgraded)
    assert recorded(forms.notes_url, "public") == [HEADS["notes"]]
    replace_once(config, "toml_file: alembic.toml", "toml_file: alembic.ini")
    assert assert_bad_input(forms.inv("db.status")) == (
        "migrations.yaml:10: services.notes.toml_file: expected a .toml file holding [tool.alembic], relative to path "
        "(what 'alembic --toml-file' takes), got 'alembic.ini'"
    )


def recorded_tables(forms: Forms) -> set[str]:
    return tables(forms.notes_url, "public") | tables(forms.users_url, "public")


def test_pyproject_configuration_on_an_alembic_before_1_16_names_the_version_needed(
    forms: Forms, stack_interpreters: Callable[[str], Path]
) -> None:
    python = stack_interpreters("py38-sa13")  # Alembic 1.7.7
    replace_once(
        forms.root / "migrations.yaml", "    path: pyproject_unit\n", f"    path: pyproject_unit\n    python: {python}\n"
    )
    line = assert_failure(forms.inv("db.upgrade", "notes"), "notes")
    assert line == (
        "notes: pyproject_unit/pyproject.toml configures Alembic in [tool.alembic], which needs Alembic 1.16 or later, "
        "and this interpreter has Alembic 1.7.7; upgrade Alembic in notes's environment (pip install 'alembic>=1.16')"
    ), line
    assert tables(forms.notes_url, "public") == set()


def test_every_other_form_runs_on_the_oldest_stack(forms: Forms, stack_interpreters: Callable[[str], Path]) -> None:
    """Python 3.8 with SQLAlchemy 1.3 and Alembic 1.7.7 as every service's interpreter but notes' (pyproject
    configuration needs Alembic 1.16: the test above): named sections, -x, branches, multidb and prepare files work;
    books' models need SQLAlchemy 1.4 (sqlalchemy.orm.declarative_base), which its bootstrap says in one line."""
    python = stack_interpreters("py38-sa13")
    config = forms.root / "migrations.yaml"
    text = config.read_text(encoding="utf-8")
    for service in ("users", "audit", "books", "catalog", "orders", "multi"):
        text = text.replace(f"\n  {service}:\n", f"\n  {service}:\n    python: {python}\n", 1)
    config.write_text(text, encoding="utf-8")
    result = inv(forms.root, "db.upgrade-all", "--exclude", "notes", url=forms.users_url)
    assert result.returncode == 1, show(result)
    assert summary_states(result) == {
        "users": ("ok", f"base -> {HEADS['users']} (1 migration)"),
        "audit": ("ok", f"base -> {HEADS['audit']} (1 migration)"),
        "books": ("failed", "(in full below)"),
        "catalog": ("ok", "base -> c0000000aa02 (2 migrations)"),
        "orders": ("ok", "c0000000aa01 -> 0b000000bb01 (1 migration)"),
        "multi": ("ok", "base -> f1000000d001 (1 migration)"),
    }, show(result)
    assert (
        "books: importing 'models', where bootstrap's metadata lives, failed (ImportError: cannot import name "
        "'declarative_base' from 'sqlalchemy.orm'"
    ) in result.stdout + result.stderr, show(result)
    assert recorded(forms.users_url, "public") == [HEADS["users"]] and recorded(forms.users_url, "audit_log") == [HEADS["audit"]]
    assert sorted(recorded(forms.branches_url, "public")) == ["0b000000bb01", "c0000000aa02"]
    assert [recorded(url, "public") for url in forms.multi_urls] == [["f1000000d001"], ["f1000000d001"]]
    assert tables(forms.books_url, "public") == set()
    down = inv(forms.root, "db.downgrade-all", "--exclude", "notes,books", "--to", "base", "--yes", url=forms.users_url)
    assert down.stdout.splitlines()[-1] == "5 ok, 0 failed, 0 skipped", show(down)
    assert recorded(forms.users_url, "public") == [] and recorded(forms.branches_url, "public") == []
    assert [recorded(url, "public") for url in forms.multi_urls] == [[], []]


def extensions(url: str) -> set[str]:
    return {row[0] for row in query(url, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")}


def domains(url: str) -> set[str]:
    return {
        row[0] for row in query(url, "SELECT typname FROM pg_type WHERE typtype = 'd' AND typnamespace = 'public'::regnamespace")
    }


def test_extensions_and_prepare_files_come_before_the_first_revision_and_may_come_again(forms: Forms) -> None:
    assert extensions(forms.notes_url) == set() and domains(forms.users_url) == set()
    assert_ok(forms.inv("db.upgrade-all"))
    assert extensions(forms.notes_url) == {"pg_trgm"}  # the trigram index of notes' first revision needed it
    assert domains(forms.users_url) == {"email_address"}  # prepare/users.sql ran before users' first revision
    assert_ok(forms.inv("db.downgrade-all", "--to", "base", "--yes"))
    assert extensions(forms.notes_url) == {"pg_trgm"} and domains(forms.users_url) == {"email_address"}  # not theirs to drop
    again = assert_ok(forms.inv("db.upgrade-all"))  # at base again: prepare runs again, and may
    assert "7 ok, 0 failed" in again.stdout, show(again)
    assert recorded(forms.users_url, "public") == [HEADS["users"]]
    verified = assert_ok(forms.inv("db.verify", "notes"))  # its scratch database gets the extension too
    assert "FAILED" not in verified.stdout, show(verified)


def test_an_extension_the_server_lacks_or_the_role_may_not_create_is_one_line(forms: Forms, pg_server: str) -> None:
    replace_once(forms.root / "migrations.yaml", "extensions: [pg_trgm]", "extensions: [pg_trgm, postgis]")
    line = assert_failure(forms.inv("db.upgrade", "notes"), "notes")
    assert line == (
        "notes: the server has no extension 'postgis' (migrations.yaml's extensions); install it on the server (its "
        "package: postgresql-contrib, postgis, pgvector, ...), then rerun"
    ), line
    assert extensions(forms.notes_url) == set() and tables(forms.notes_url, "public") == set()  # not even pg_trgm
    replace_once(forms.root / "migrations.yaml", "extensions: [pg_trgm, postgis]", "extensions: [pg_trgm]")
    role = f"forms_{secrets.token_hex(4)}"
    execute(pg_server, f"CREATE ROLE {role} LOGIN PASSWORD 'forms-secret-{role}'")
    try:
        parts = urlsplit(forms.notes_url)
        url = urlunsplit((parts.scheme, f"{role}:forms-secret-{role}@{parts.hostname}:{parts.port}", parts.path, "", ""))
        line = assert_failure(inv(forms.root, "db.upgrade", "notes", url=url), "notes")
        assert line == (
            "notes: cannot create extension 'pg_trgm' (permission denied to create extension \"pg_trgm\"); ask a "
            "superuser or the database's owner to run 'CREATE EXTENSION IF NOT EXISTS \"pg_trgm\"' in this database, "
            "then rerun"
        ), line
        assert extensions(forms.notes_url) == set() and tables(forms.notes_url, "public") == set()
    finally:
        execute(pg_server, f"DROP ROLE IF EXISTS {role}")


def test_a_failing_prepare_file_is_rolled_back_and_named(forms: Forms) -> None:
    (forms.root / "sections" / "prepare" / "users.sql").write_text(
        "CREATE DOMAIN email_address AS text;\nCREATE TABLE half_done (id int);\nSELEC 1;\n", encoding="utf-8"
    )
    line = assert_failure(forms.inv("db.upgrade", "users"), "users")
    assert line == (
        'users: prepare file sections/prepare/users.sql failed: syntax error at or near "SELEC"; rolled back, nothing '
        "was migrated: fix the file and rerun"
    ), line
    assert domains(forms.users_url) == set() and tables(forms.users_url, "public") == set()  # one transaction


def test_doctor_on_an_unreachable_database_leaves_the_multidb_folder_as_it_was(forms: Forms) -> None:
    """Offline, the multidb template's env.py writes engine1.sql and engine2.sql into its folder: doctor runs it with a
    buffer for each, so it reads env.py's configure and writes nothing."""

    def files() -> list[str]:  # (bytecode aside, which Python writes as plain alembic does)
        return sorted(path.name for path in (forms.root / "multidb_unit").rglob("*") if "__pycache__" not in path.parts)

    before = files()
    result = inv(forms.root, "db.doctor", "--json", url=CLOSED_URL)
    assert result.returncode == 1, show(result)
    said = [(item["level"], item["message"]) for item in json.loads(result.stdout)["findings"] if item["subject"] == "multi"]
    assert ("ok", "history: 1 migration, head f1000000d001") in said, said
    assert any(message.startswith("env.py passes no version_table_schema") for _, message in said), said  # it ran
    assert not [message for _, message in said if "not run" in message], said
    assert files() == before and not [name for name in files() if name.endswith(".sql")]


def test_doctor_says_which_extensions_are_created_and_which_the_server_lacks(forms: Forms) -> None:
    def said(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
        found = json.loads(result.stdout)["findings"]
        return [
            (item["level"], item["message"]) for item in found if item["subject"] == "notes" and "extension" in item["message"]
        ]

    first = inv(forms.root, "db.doctor", "--json", url=forms.notes_url)
    # alembic init's placeholder URLs (driver://user:pass@localhost/dbname) that env.py never uses are no finding
    placeholders = [
        item for item in json.loads(first.stdout)["findings"] if re.search(r"driver:|dbname|localhost", item["message"])
    ]
    assert placeholders == [] and (forms.root / "sections" / "alembic.ini").read_text().count("driver://") == 2
    layout = [item["message"] for item in json.loads(first.stdout)["findings"] if item["subject"] == "migrations.yaml"]
    assert layout == [  # true of this layout: catalog and orders share public, and their environment's version table
        "valid: 7 services: 5 with a schema of their own, 2 sharing public (catalog, orders); each with its own version "
        "table, branches of one environment sharing theirs"
    ], layout
    before = said(first)
    assert before == [
        ("ok", "extension pg_trgm is not created yet; upgrade creates it (the role needs CREATE on the database)")
    ], before
    assert_ok(forms.inv("db.upgrade", "notes"))
    replace_once(forms.root / "migrations.yaml", "extensions: [pg_trgm]", "extensions: [pg_trgm, postgis]")
    result = inv(forms.root, "db.doctor", "--json", url=forms.notes_url)
    assert result.returncode == 1, show(result)
    assert said(result) == [
        ("ok", "extension pg_trgm is created"),
        (
            "error",
            "the server has no extension 'postgis' (migrations.yaml's extensions); install it on the server (its "
            "package: postgresql-contrib, postgis, pgvector, ...), then rerun",
        ),
    ], said(result)


def columns(url: str, table: str) -> list[str]:
    rows = query(
        url, f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position"
    )
    return [row[0] for row in rows]


def test_bootstrap_builds_an_empty_database_from_the_models_then_migrations_take_over(forms: Forms) -> None:
    upgraded = assert_ok(inv(forms.root, "db.upgrade", "books", url=forms.books_url))
    assert upgraded.stdout.strip() == f"books: upgraded bootstrapped base -> {BOOKS_HEAD} (create_all, then stamp)", show(
        upgraded
    )
    assert "Running upgrade" not in upgraded.stderr, show(upgraded)  # no migration ran: create_all did
    assert recorded(forms.books_url, "public") == [BOOKS_HEAD] and columns(forms.books_url, "books") == ["id", "title", "note"]
    sums = json.loads(assert_ok(inv(forms.root, "db.checksums", "books", "--json", url=forms.books_url)).stdout)
    states = [(entry["revision"], entry["state"]) for entry in sums["revisions"]]
    assert states == [("d1000000b001", "unknown"), ("d1000000b002", "ok")], sums  # the head's, as a stamp records
    assert_ok(inv(forms.root, "db.check", "books", url=forms.books_url))  # the models and the database agree
    versions = forms.root / "bootstrap_unit" / "alembic" / "versions"
    (versions / "d1000000b003_add_isbn.py").write_text(
        'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "d1000000b003"\ndown_revision = "d1000000b002"\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        '    op.add_column("books", sa.Column("isbn", sa.String(13)))\n\n\ndef downgrade():\n'
        '    op.drop_column("books", "isbn")\n',
        encoding="utf-8",
    )
    later = assert_ok(inv(forms.root, "db.upgrade", "books", url=forms.books_url))
    assert later.stdout.strip() == f"books: upgraded {BOOKS_HEAD} -> d1000000b003 (1 migration)", show(later)
    assert columns(forms.books_url, "books") == ["id", "title", "note", "isbn"]


def test_bootstrap_refuses_a_database_holding_the_tables_and_names_bad_metadata(forms: Forms) -> None:
    execute(forms.books_url, "CREATE TABLE public.books (id int)")
    line = assert_failure(inv(forms.root, "db.upgrade", "books", url=forms.books_url), "books")
    assert line == (
        "books: bootstrap builds an empty database only, and public.books exist with no revision recorded: nothing was "
        "changed; drop them and rerun, or let 'inv db.adopt --service books' find the revision they are and record it"
    ), line
    assert columns(forms.books_url, "books") == ["id"] and recorded_or_none(forms.books_url) is None
    execute(forms.books_url, "DROP TABLE public.books")
    replace_once(forms.root / "migrations.yaml", '"models:Base.metadata"', '"models:Base.metadataa"')
    line = assert_failure(inv(forms.root, "db.upgrade", "books", url=forms.books_url), "books")
    assert line == (
        "books: bootstrap's metadata 'models:Base.metadataa' cannot be loaded (AttributeError: type object 'Base' has no "
        "attribute 'metadataa'); point bootstrap.metadata in migrations.yaml at the models' MetaData (module:Base.metadata, "
        "importable from the service's folder)"
    ), line
    assert tables(forms.books_url, "public") <= {"alembic_version"}
    assert recorded_or_none(forms.books_url) in (None, [])


def recorded_or_none(url: str) -> list[str] | None:
    if not query(url, "SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'alembic_version'"):
        return None
    return recorded(url, "public")


def test_verify_compares_what_bootstrap_builds_with_what_the_revisions_build(forms: Forms) -> None:
    verified = json.loads(assert_ok(inv(forms.root, "db.verify", "books", "--json", url=forms.books_url)).stdout)
    checks = {check["name"]: (check["ok"], check["detail"]) for check in verified["checks"]}
    assert checks["bootstrap"] == (True, "create_all builds what the revisions build"), checks
    assert all(ok is not False for ok, _ in checks.values()), checks
    models = forms.root / "bootstrap_unit" / "models.py"
    replace_once(models, "    note = Column(Text)\n", "    note = Column(Text)\n    isbn = Column(String(13))\n")
    result = inv(forms.root, "db.verify", "books", "--json", url=forms.books_url)
    assert result.returncode == 1, show(result)
    checks = {check["name"]: (check["ok"], check["detail"]) for check in json.loads(result.stdout)["checks"]}
    assert checks["bootstrap"][0] is False and "isbn" in checks["bootstrap"][1], checks["bootstrap"]
    assert checks["bootstrap"][1].startswith("create_all differs from every revision applied: "), checks["bootstrap"]
    assert tables(forms.books_url, "public") == set()  # verify works in a scratch database


def installed_package(site: Path) -> None:
    """A package `ledgerpkg` shipping alembic.ini and its migrations, importable from `site` (as from site-packages:
    the service's interpreter finds it by import, which is all an installed package is to Alembic)."""
    package = site / "ledgerpkg"
    shutil.copytree(EXAMPLES / "bootstrap_unit" / "alembic", package / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    for old in (package / "migrations" / "versions").glob("*.py"):
        old.unlink()
    env_py = package / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text(encoding="utf-8").replace(
            "from models import Base  # noqa: E402\n\ntarget_metadata = Base.metadata", "target_metadata = None"
        ),
        encoding="utf-8",
    )
    (package / "__init__.py").write_text("")
    ini = (EXAMPLES / "bootstrap_unit" / "alembic.ini").read_text(encoding="utf-8")  # alembic init's, logging included
    ini = re.sub(r"(?m)^script_location = .*$", "script_location = ledgerpkg:migrations", ini)
    (package / "alembic.ini").write_text(re.sub(r"(?m)^prepend_sys_path = .*$", "", ini), encoding="utf-8")
    (package / "migrations" / "versions" / "e1000000c001_entries.py").write_text(
        'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "e1000000c001"\ndown_revision = None\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        '    op.create_table("entries", sa.Column("id", sa.Integer, primary_key=True))\n\n\ndef downgrade():\n'
        '    op.drop_table("entries")\n',
        encoding="utf-8",
    )


def test_an_ini_and_migrations_shipped_in_an_installed_package(forms: Forms, tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed_package(site)
    (forms.root / "ledger").mkdir()
    with (forms.root / "migrations.yaml").open("a", encoding="utf-8") as config:
        config.write(
            '\n  ledger:\n    path: ledger\n    alembic_ini: "ledgerpkg:alembic.ini"\n    schema: public\n    driver: psycopg2\n'
        )
    env = {"PYTHONPATH": str(site)}
    upgraded = assert_ok(inv(forms.root, "db.upgrade", "ledger", url=forms.notes_url, env=env))
    assert upgraded.stdout.strip() == "ledger: upgraded base -> e1000000c001 (1 migration)", show(upgraded)
    assert recorded(forms.notes_url, "public") == ["e1000000c001"] and "entries" in tables(forms.notes_url, "public")
    status = json.loads(
        assert_ok(inv(forms.root, "db.status", "--only", "ledger", "--json", url=forms.notes_url, env=env)).stdout
    )
    assert status["services"][0]["state"] == "up to date", status
    assert_ok(inv(forms.root, "db.downgrade", "ledger", "--yes", url=forms.notes_url, env=env))
    assert recorded(forms.notes_url, "public") == [] and "entries" not in tables(forms.notes_url, "public")
    line = assert_bad_input(inv(forms.root, "db.status", url=forms.notes_url))  # not importable without PYTHONPATH
    # (the configuration cache knows the package was found through PYTHONPATH: without it, the file is read again)
    assert line.startswith("migrations.yaml:") and line.endswith(
        f"services.ledger.alembic_ini: package ledgerpkg is not installed for {sys.executable}; install it into the "
        "service's environment, or fix alembic_ini"
    ), line


def test_init_reads_migrations_kept_in_a_package_or_says_how_to_let_it(tmp_path: Path, database_url: str) -> None:
    """A service folder whose alembic.ini says script_location = ledgerpkg:migrations: init finds the package where
    the interpreter would (PYTHONPATH here) without importing it, and reads its env.py and revisions; without it, one
    line says what to do, and nothing claims to know what env.py does."""
    site = tmp_path / "site"
    installed_package(site)
    repo = tmp_path / "repo"
    (repo / "ledger").mkdir(parents=True)
    shutil.copy(site / "ledgerpkg" / "alembic.ini", repo / "ledger" / "alembic.ini")

    def init(**env: str) -> list[str]:
        environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONDONTWRITEBYTECODE": "1", **env}
        command = [sys.executable, "-m", "dbtasks", "init", "--force"]
        result = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0 and result.stderr == "", show(result)
        return [line for line in result.stdout.splitlines() if line.startswith("ledger")]

    assert init() == [
        "ledger: its migrations are in package ledgerpkg (script_location), which is not importable here: run dbtasks "
        "init with the package installed (or on PYTHONPATH) to read its env.py and revisions; check driver and schema "
        "in services.ledger",
        "ledger: init did not read env.py; driver: psycopg2 is a guess: check services.ledger.driver",
        "ledger: init did not read env.py; schema: ledger is a guess (its folder name): check services.ledger.schema",
    ]
    assert init(PYTHONPATH=str(site)) == []  # env.py and the revisions read: nothing left to guess
    written = (repo / "migrations.yaml").read_text(encoding="utf-8")
    assert "    schema: public\n" in written and "# expect_tables: [entries]" in written, written
    upgraded = assert_ok(inv(repo, "db.upgrade", "ledger", url=database_url, env={"PYTHONPATH": str(site)}))
    assert upgraded.stdout.strip() == "ledger: upgraded base -> e1000000c001 (1 migration)", show(upgraded)
    assert recorded(database_url, "public") == ["e1000000c001"] and "entries" in tables(database_url, "public")


def test_init_package_adds_a_service_whose_ini_ships_in_an_installed_package(tmp_path: Path, database_url: str) -> None:
    """No folder of the repository holds ledgerpkg's alembic.ini: `dbtasks init --package ledgerpkg` finds it where the
    interpreter would (PYTHONPATH here), reads env.py and the revisions, and writes alembic_ini: ledgerpkg:alembic.ini."""
    site = tmp_path / "site"
    installed_package(site)
    repo = tmp_path / "repo"
    repo.mkdir()

    def init(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONDONTWRITEBYTECODE": "1", **env}
        command = [sys.executable, "-m", "dbtasks", "init", *args]
        return subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, timeout=120, check=False)

    missing = init("--package", "ledgerpkg")
    assert (missing.returncode, missing.stdout) == (2, ""), show(missing)
    assert missing.stderr.splitlines() == [
        f"dbtasks init: --package ledgerpkg: package ledgerpkg is not installed for {sys.executable} (nor on PYTHONPATH); "
        "install it there, or put the folder holding it on PYTHONPATH, then rerun"
    ], show(missing)
    assert not (repo / "migrations.yaml").exists()
    written = init("--package=ledgerpkg", PYTHONPATH=str(site))
    assert written.returncode == 0 and written.stderr == "", show(written)
    assert written.stdout.splitlines()[0] == "found 1 Alembic service under .: ledgerpkg", show(written)
    text = (repo / "migrations.yaml").read_text(encoding="utf-8")
    assert '  ledgerpkg:\n    path: .\n    alembic_ini: "ledgerpkg:alembic.ini"\n' in text, text
    assert "# expect_tables: [entries]" in text, text  # its revisions were read
    upgraded = assert_ok(inv(repo, "db.upgrade", "ledgerpkg", url=database_url, env={"PYTHONPATH": str(site)}))
    assert upgraded.stdout.strip() == "ledgerpkg: upgraded base -> e1000000c001 (1 migration)", show(upgraded)
    assert recorded(database_url, "public") == ["e1000000c001"] and "entries" in tables(database_url, "public")


def multidb_revision(upgrade: str, downgrade: str) -> str:
    """A second revision of the multidb unit (after f1000000d001): `upgrade` and `downgrade` are the bodies of its
    functions, which the template calls once per engine with engine_name."""
    return (
        'from alembic import op\n\nrevision = "f1000000d002"\ndown_revision = "f1000000d001"\nbranch_labels = None\n'
        f"depends_on = None\n\n\ndef upgrade(engine_name):\n{upgrade}\n\n\ndef downgrade(engine_name):\n{downgrade}\n"
    )


SLOW_MULTI = multidb_revision(
    '    op.execute("CREATE TABLE slow_%s (id integer)" % engine_name)\n    if engine_name == "engine1":\n'
    '        op.execute("SELECT pg_sleep(4)")',
    '    op.execute("DROP TABLE slow_%s" % engine_name)',
)


def test_the_multidb_lock_ended_in_another_engine_s_database_stops_the_run(forms: Forms) -> None:
    """The lock's session in engine2's database is ended by the server while engine1 migrates: the run stops its
    worker, which rolls back both engines' transactions, and fails naming that database's session."""
    import threading

    one, two = forms.multi_urls
    assert_ok(inv(forms.root, "db.upgrade", "multi", url=forms.notes_url))
    (forms.root / "multidb_unit" / "migrations" / "versions" / "f1000000d002_slow.py").write_text(SLOW_MULTI, encoding="utf-8")
    results: list[subprocess.CompletedProcess[str]] = []
    run = threading.Thread(target=lambda: results.append(inv_process(forms.root, "db.upgrade", "multi", url=forms.notes_url)))
    run.start()
    sleeping = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(%%'"
    holders = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    deadline = time.monotonic() + 60
    while not query(one, sleeping) and run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [row[0] for row in query(two, holders)]
    assert len(pids) == 1, (pids, results)
    execute(two, f"SELECT pg_terminate_backend({pids[0]})")
    run.join(120)
    line = assert_failure(results[0], "multi")
    assert line.startswith("multi: the migration lock's session was ended by the server ("), line
    assert f", the lock's session in database {name_of(two)}); the run may have overlapped another" in line, line
    assert recorded(one, "public") == recorded(two, "public") == ["f1000000d001"]  # both engines rolled back
    assert "slow_engine1" not in tables(one, "public") and "slow_engine2" not in tables(two, "public")


def test_create_databases_makes_each_missing_one_and_migrates_it(forms: Forms, pg_server: str) -> None:
    """notes' database and multi's second engine's are not on the server: without --create-databases the first is
    one line naming the option; with it each is created (and said) before anything connects, then migrated."""
    config = forms.root / "migrations.yaml"
    notes, books, engine2 = (f"qz{secrets.token_hex(6)}" for _ in range(3))  # like no other name: no "did you mean"
    replace_once(config, f"database: {name_of(forms.notes_url)}", f"database: {notes}")
    replace_once(config, f"database: {name_of(forms.books_url)}", f"database: {books}")
    replace_once(config, f"engine2: {name_of(forms.multi_urls[1])}", f"engine2: {engine2}")
    host, port = urlsplit(pg_server).hostname, urlsplit(pg_server).port
    try:
        missing = forms.inv("db.upgrade-all")  # every missing one in one line
        assert missing.returncode == 1, show(missing)
        assert missing.stderr.splitlines()[-1] == (
            f"2 databases do not exist: '{notes}' on {host}:{port}, '{books}' on {host}:{port}; create them (CREATE "
            "DATABASE ...), let 'inv db.upgrade-all --create-databases' create them, or fix their names in migrations.yaml"
        ), show(missing)
        created = assert_ok(forms.inv("db.upgrade-all", "--create-databases"))
        said = [line for line in created.stderr.splitlines() if line.startswith("created database")]
        assert said == [f"created database {name} on {host}:{port} (--create-databases)" for name in (notes, books, engine2)], (
            show(created)
        )
        assert recorded(with_database(pg_server, notes), "public") == [HEADS["notes"]]
        assert recorded(with_database(pg_server, engine2), "public") == ["f1000000d001"]
        again = assert_ok(forms.inv("db.upgrade-all", "--create-databases"))
        assert "created database" not in again.stderr and again.stdout.splitlines()[-1] == "7 ok, 0 failed, 0 skipped"
    finally:
        execute(pg_server, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in (notes, books, engine2)))


def test_create_databases_is_refused_without_the_right_or_in_a_protected_environment(forms: Forms, pg_server: str) -> None:
    config = forms.root / "migrations.yaml"
    notes = f"dbtasks_new_{secrets.token_hex(4)}"
    replace_once(config, f"database: {name_of(forms.notes_url)}", f"database: {notes}")
    role, password = f"no_createdb_{secrets.token_hex(3)}", secrets.token_hex(8)
    parts = urlsplit(forms.users_url)
    url = urlunsplit((parts.scheme, f"{role}:{password}@{parts.hostname}:{parts.port}", parts.path, "", ""))
    execute(pg_server, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        line = assert_bad_input(inv(forms.root, "db.upgrade", "notes", "--create-databases", url=url))
        assert line == (
            f"database '{notes}' does not exist on {parts.hostname}:{parts.port}, and role '{role}' may not create "
            f'databases: create it as an admin (CREATE DATABASE "{notes}" OWNER "{role}"), or let the role create them '
            f'(ALTER ROLE "{role}" CREATEDB), then rerun'
        ), line
        assert not query(pg_server, "SELECT 1 FROM pg_database WHERE datname = %s", (notes,))
    finally:
        execute(pg_server, f"DROP ROLE {role}")
    with config.open("a", encoding="utf-8") as file:
        file.write("environments:\n  production: {protected: true, url_env: PROD_DATABASE_URL}\n")
    refused = inv(forms.root, "db.upgrade-all", "--env", "production", "--create-databases", env={"PROD_DATABASE_URL": pg_server})
    assert assert_bad_input(refused) == (
        "--create-databases is refused in protected environment 'production': create its databases as an admin "
        "(CREATE DATABASE ...), then rerun without it"
    )
    assert not query(pg_server, "SELECT 1 FROM pg_database WHERE datname = %s", (notes,))


def test_a_declared_version_table_is_handed_to_an_env_py_that_passes_none(forms: Forms) -> None:
    """notes and books (alembic init's env.py, no version table passed) in one database: books declares its own
    version table, which dbtasks hands to context.configure; doctor says plain alembic would not see it."""
    config = forms.root / "migrations.yaml"
    replace_once(config, f"    database: {name_of(forms.books_url)}\n", f"    database: {name_of(forms.notes_url)}\n")
    refused = assert_bad_input(inv(forms.root, "db.status", url=forms.users_url))
    assert "services.books: keeps its version table in public.alembic_version, like 'notes'" in refused, refused
    replace_once(
        config,
        f"    database: {name_of(forms.notes_url)}\n    bootstrap:",
        f"    database: {name_of(forms.notes_url)}\n    version_table: public.alembic_version_books\n    bootstrap:",
    )
    before = {path: path.read_bytes() for path in (forms.root / "bootstrap_unit").rglob("*.py")}
    assert_ok(inv(forms.root, "db.upgrade-all", "--only", "notes,books", url=forms.users_url))
    assert recorded(forms.notes_url, "public") == [HEADS["notes"]]
    assert query(forms.notes_url, "SELECT version_num FROM public.alembic_version_books") == [(BOOKS_HEAD,)]
    found = json.loads(inv(forms.root, "db.doctor", "--json", url=forms.users_url).stdout)["findings"]
    assert [item["message"] for item in found if item["subject"] == "books" and "version_table" in item["message"]] == [
        "env.py passes no version_table or version_table_schema: dbtasks hands it public.alembic_version_books "
        "(migrations.yaml's version_table), but plain alembic in this folder keeps its own elsewhere; pass "
        "version_table_schema='public', version_table='alembic_version_books' to context.configure so that both agree"
    ]
    assert {path: path.read_bytes() for path in before} == before  # env.py untouched


def test_the_advice_for_a_version_table_env_py_does_not_place_is_followed_and_works(forms: Forms) -> None:
    config = forms.root / "migrations.yaml"
    replace_once(config, "    path: pyproject_unit\n", "    path: pyproject_unit\n    schema: notes_own\n")
    line = assert_failure(inv(forms.root, "db.upgrade", "notes", url=forms.users_url), "notes")
    assert line == (
        "notes: env.py passes no version_table_schema, so its version table goes to public.alembic_version, not to "
        "notes_own.alembic_version; declare services.notes.version_table: notes_own.alembic_version in migrations.yaml "
        "(dbtasks then hands it to env.py), and for plain alembic pass version_table_schema='notes_own' to "
        "context.configure in env.py"
    ), line
    assert tables(forms.notes_url, "public") == set()  # refused before anything was written
    replace_once(config, "    schema: notes_own\n", "    schema: notes_own\n    version_table: notes_own.alembic_version\n")
    assert_ok(inv(forms.root, "db.upgrade", "notes", url=forms.users_url))
    assert recorded(forms.notes_url, "notes_own") == [HEADS["notes"]]


def test_two_branches_of_one_environment_are_two_services_sharing_its_version_table(forms: Forms) -> None:
    url = forms.branches_url
    fresh = json.loads(assert_ok(inv(forms.root, "db.status", "--only", "catalog,orders", "--json", url=url)).stdout)
    assert [(row["service"], row["head"], row["pending"]) for row in fresh["services"]] == [
        ("catalog", "c0000000aa02", 2),
        ("orders", "0b000000bb01", 2),  # its own revision and the catalog one it depends on
    ], fresh
    up = assert_ok(inv(forms.root, "db.upgrade", "orders", url=url))  # depends_on brings catalog's first revision
    assert up.stdout.strip() == "orders: upgraded base -> 0b000000bb01 (2 migrations)", show(up)
    assert recorded(url, "public") == ["0b000000bb01"]  # Alembic keeps no row for the revision it depends on...
    current = assert_ok(inv(forms.root, "db.current", "catalog", url=url)).stdout
    assert current.split()[0] == "c0000000aa01", current  # ...which is catalog's current revision all the same
    status = json.loads(assert_ok(inv(forms.root, "db.status", "--only", "catalog", "--json", url=url)).stdout)
    assert (status["services"][0]["current"], status["services"][0]["pending"]) == ("c0000000aa01", 1), status
    assert_ok(inv(forms.root, "db.upgrade-all", "--only", "catalog,orders", url=url))
    assert sorted(recorded(url, "public")) == ["0b000000bb01", "c0000000aa02"]
    assert columns(url, "products") == ["id", "name", "price"] and "orders" in tables(url, "public")
    doctor = json.loads(inv(forms.root, "db.doctor", "--json", url=url).stdout)["findings"]
    said = {(item["subject"], item["level"], item["message"]) for item in doctor if item["subject"] in ("catalog", "orders")}
    assert ("catalog", "ok", "database at head c0000000aa02") in said and (
        "orders",
        "ok",
        "database at head 0b000000bb01",
    ) in said
    assert not [item for item in said if item[1] == "error"], said  # no "multiple heads" for two branches
    shared = [item["message"] for item in doctor if item["level"] == "error"]
    assert shared == [], shared  # nor "they overwrite each other's revision": a row each
    heads = assert_ok(inv(forms.root, "db.heads", "catalog", url=url)).stdout.split()
    assert heads[0] == "c0000000aa02", heads
    history = assert_ok(inv(forms.root, "db.history", "orders", url=url)).stdout
    assert "0b000000bb01" in history and "c0000000aa02" not in history, history
    down = assert_ok(inv(forms.root, "db.downgrade", "catalog", "--yes", url=url))  # one step, within catalog
    assert down.stdout.strip() == "catalog: downgraded c0000000aa02 -> c0000000aa01 (1 migration)", show(down)
    assert recorded(url, "public") == ["0b000000bb01"] and columns(url, "products") == ["id", "name"]  # aa01: implied
    assert_ok(inv(forms.root, "db.downgrade", "orders", "--to", "base", "--yes", url=url))
    assert recorded(url, "public") == ["c0000000aa01"] and "orders" not in tables(url, "public")


def verify_checks(forms: Forms, service: str, code: int = 0) -> dict[str, tuple[bool | None, str]]:
    result = inv(forms.root, "db.verify", service, "--json", url=forms.branches_url)
    assert result.returncode == code, show(result)
    return {check["name"]: (check["ok"], check["detail"]) for check in json.loads(result.stdout)["checks"]}


def test_verify_walks_one_branch_and_leaves_the_others_rows_alone(forms: Forms) -> None:
    """catalog alone; orders after catalog, its dependency, in the scratch database: each walks its own revisions,
    to LABEL@head and back to LABEL@base, and counts its own row of the version table the branches share."""
    for service, revisions in (("catalog", ["c0000000aa01", "c0000000aa02"]), ("orders", ["0b000000bb01"])):
        checks = verify_checks(forms, service)
        count = f"{len(revisions)} revision{'s' if len(revisions) > 1 else ''}"
        assert checks["upgrade"] == (True, f"base -> {revisions[-1]}, {count} one at a time"), checks
        assert checks["stairway"] == (True, f"{count}: upgrade, downgrade one step, upgrade again"), checks
        assert checks["version-table"] == (True, f"public.alembic_version at {revisions[-1]}"), checks
        assert checks["no-trace"] == (True, "downgrade to base leaves public as before the first upgrade"), checks
        assert checks["ownership"] == (True, "nothing outside public (its own tables) changed"), checks
        assert checks["offline-sql"][0] is True and f"upgrade base:{service}@head --sql" in checks["offline-sql"][1], checks
    orders = next((forms.root / "branches" / "alembic" / "versions").glob("*_orders.py"))
    replace_once(orders, '    op.drop_table("orders")', "    pass")  # a downgrade that leaves its table behind
    checks = verify_checks(forms, "orders", code=1)
    assert checks["stairway"][0] is False, checks
    assert checks["stairway"][1].startswith("downgrade of 0b000000bb01 does not undo its upgrade: left behind "), checks
    assert "public.orders" in checks["stairway"][1] and "products" not in checks["stairway"][1], checks
    assert checks["upgrade"] == (True, "base -> 0b000000bb01, 1 revision one at a time"), checks
    skipped = (None, "skipped: the stairway failed at 0b000000bb01 of branch orders")
    after_the_stairway = CHECKS[CHECKS.index("idempotent") : CHECKS.index("offline-sql")]  # idempotent ... expected-tables
    assert [name for name, verdict in checks.items() if verdict == skipped] == list(after_the_stairway), checks
    assert verify_checks(forms, "catalog")["stairway"][0] is True  # the other branch's verify is its own
    assert tables(forms.branches_url, "public") == set()  # everything happened in scratch databases


def test_an_environments_x_goes_over_the_services_own(forms: Forms) -> None:
    config = forms.root / "migrations.yaml"
    replace_once(config, "x: {schema: audit_log}", "x: {schema: audit_log, stage: dev}")
    replace_once(config, "services:\n", "environments:\n  staging: {url_env: STAGING_URL, x: {stage: staging}}\nservices:\n")
    args = ("db.upgrade-all", "--only", "users,audit", "--verbose", "--env", "staging")
    staged = assert_ok(inv(forms.root, *args, url=None, env={"STAGING_URL": forms.users_url}))
    assert "; lock audit_log; -x schema=audit_log, stage=staging\n" in staged.stderr, show(staged)
    assert recorded(forms.users_url, "audit_log") == [HEADS["audit"]]
    plain = assert_ok(inv(forms.root, "db.upgrade-all", "--only", "users,audit", "--verbose", url=forms.users_url))
    assert "; lock audit_log; -x schema=audit_log, stage=dev\n" in plain.stderr, show(plain)
    replace_once(config, "x: {stage: staging}", "x: [stage]")
    line = assert_bad_input(inv(forms.root, "db.status", url=forms.users_url))
    assert line == (
        "migrations.yaml:6: environments.staging.x: expected a mapping of name: value (Alembic's -x name=value), got ['stage']"
    ), line


def test_the_multidb_template_migrates_each_engine_s_database(forms: Forms) -> None:
    one, two = forms.multi_urls
    upgraded = assert_ok(inv(forms.root, "db.upgrade", "multi", url=forms.notes_url))
    assert upgraded.stdout.strip() == "multi: upgraded base -> f1000000d001 (1 migration)", show(upgraded)
    assert recorded(one, "public") == ["f1000000d001"] and recorded(two, "public") == ["f1000000d001"]
    assert "ledger" in tables(one, "public") and "audit_trail" not in tables(one, "public")  # upgrade_engine1 here
    assert "audit_trail" in tables(two, "public") and "ledger" not in tables(two, "public")  # upgrade_engine2 there
    status = json.loads(assert_ok(inv(forms.root, "db.status", "--only", "multi", "--json", url=forms.notes_url)).stdout)
    rows = [(row["service"], row["database"], row["current"], row["pending"], row["state"]) for row in status["services"]]
    assert rows == [
        ("multi", name_of(one), "f1000000d001", 0, "up to date"),
        ("multi.engine2", name_of(two), "f1000000d001", 0, "up to date"),
    ], status
    # engine2's database restored from before the migration: its row says so, and upgrade migrates only it
    execute(two, "DROP TABLE audit_trail", "DELETE FROM alembic_version")
    behind = assert_ok(inv(forms.root, "db.status", "--only", "multi", url=forms.notes_url)).stdout.splitlines()
    assert [line.split() for line in behind[2:]] == [
        ["multi", name_of(one), "public", "f1000000d001", "f1000000d001", "0", "up", "to", "date"],
        ["multi.engine2", name_of(two), "public", "-", "f1000000d001", "1", "not", "initialized"],
    ], behind
    assert_ok(inv(forms.root, "db.upgrade", "multi", url=forms.notes_url))
    assert recorded(one, "public") == ["f1000000d001"] and recorded(two, "public") == ["f1000000d001"]
    assert "audit_trail" in tables(two, "public") and "ledger" in tables(one, "public")
    assert_ok(inv(forms.root, "db.downgrade", "multi", "--yes", url=forms.notes_url))
    assert recorded(one, "public") == [] and recorded(two, "public") == []
    assert "ledger" not in tables(one, "public") and "audit_trail" not in tables(two, "public")


def test_the_multidb_template_s_sql_and_lint_cover_every_engine_and_write_no_file(forms: Forms) -> None:
    """Offline, the template writes `<engine>.sql` into the folder it runs in: sql prints each engine's SQL under a
    header of its own instead, lint reads both, and the service's folder gets no file."""
    (forms.root / "multidb_unit" / "migrations" / "versions" / "f1000000d002_index.py").write_text(
        INDEX_ON_ENGINE2, encoding="utf-8"
    )
    rendered = assert_ok(inv(forms.root, "db.sql", "multi", "--from", "f1000000d001", url=None)).stdout
    one, two = rendered.split("-- engine engine2\n")
    assert one.startswith("-- engine engine1\nBEGIN;") and "CREATE INDEX" not in one, rendered
    assert "CREATE INDEX ix_audit_trail_what ON audit_trail (what);" in two, rendered
    assert [line for line in rendered.splitlines() if line.startswith("-- Running")] == [
        "-- Running upgrade f1000000d001 -> f1000000d002"
    ] * 2, rendered
    full = assert_ok(inv(forms.root, "db.sql", "multi", url=None)).stdout
    assert "CREATE TABLE ledger" in full.split("-- engine engine2")[0] and "CREATE TABLE audit_trail" in full, full
    linted = inv(forms.root, "db.lint", "multi", url=None)
    assert linted.returncode == 1, show(linted)
    assert (
        "multidb_unit/migrations/versions/f1000000d002_index.py:11: multi f1000000d002: require-concurrent-index-creation:"
        in linted.stdout + linted.stderr
    ), show(linted)
    assert not list((forms.root / "multidb_unit").rglob("*.sql")) and not (forms.root / ".dbtasks" / "pgdata").exists()
    assert tables(forms.multi_urls[0], "public") == tables(forms.multi_urls[1], "public") == set()


def test_verify_of_the_multidb_template_checks_every_engine_in_a_scratch_database_of_its_own(forms: Forms) -> None:
    one, two = forms.multi_urls
    result = inv(forms.root, "db.verify", "multi", "--json", url=forms.notes_url)
    assert result.returncode == 0, show(result)
    checks = {check["name"]: (check["ok"], check["detail"]) for check in json.loads(result.stdout)["checks"]}
    assert checks["upgrade"] == (True, "base -> f1000000d001, 1 revision one at a time in 2 databases"), checks
    assert checks["version-table"] == (True, "public.alembic_version at f1000000d001 in every engine's database"), checks
    assert checks["no-trace"] == (True, "downgrade to base leaves every engine's database as before"), checks
    assert checks["idempotent"][0] is True and checks["ownership"][0] is True and checks["offline-sql"][0] is True, checks
    assert checks["stairway"][0] is None and checks["stairway"][1].startswith("skipped: the multidb template"), checks
    assert "multi | verifying engine2 in scratch database multi_engine2_verify_" in result.stderr, show(result)
    revision = forms.root / "multidb_unit" / "migrations" / "versions" / "f1000000d001_create_ledger_and_audit.py"
    replace_once(revision, '    op.drop_table("audit_trail")', "    pass")  # engine2's downgrade leaves its table
    failed = inv(forms.root, "db.verify", "multi", "--json", url=forms.notes_url)
    assert failed.returncode == 1, show(failed)
    checks = {check["name"]: (check["ok"], check["detail"]) for check in json.loads(failed.stdout)["checks"]}
    assert checks["no-trace"][0] is False, checks
    assert checks["no-trace"][1].startswith("after downgrade to base: engine2: left behind "), checks
    assert "audit_trail" in checks["no-trace"][1] and "ledger" not in checks["no-trace"][1], checks
    assert tables(one, "public") == tables(two, "public") == set()  # both engines were verified in scratch databases
    assert not list((forms.root / "multidb_unit").rglob("*.sql"))


INDEX_ON_ENGINE2 = multidb_revision(
    '    if engine_name == "engine2":\n        op.create_index("ix_audit_trail_what", "audit_trail", ["what"])',
    '    if engine_name == "engine2":\n        op.drop_index("ix_audit_trail_what", "audit_trail")',
)


def test_the_multidb_lock_is_taken_in_every_engine_s_database(forms: Forms) -> None:
    import psycopg2

    from dbtasks.database.lock import key_of
    from dbtasks.worker.libpq import libpq

    one, two = forms.multi_urls
    holder = psycopg2.connect(libpq(two))  # another run holding the service's lock in engine2's database only
    try:
        holder.autocommit = True
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", key_of("public"))
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        result = inv(forms.root, "db.upgrade", "multi", "--lock-wait", "1", url=forms.notes_url)
    finally:
        holder.close()
    line = assert_failure(result, "multi")
    assert "--lock-wait" in line and str(pid) in result.stderr, show(result)
    assert tables(one, "public") == set() and tables(two, "public") == set()  # neither engine migrated
    assert_ok(inv(forms.root, "db.upgrade", "multi", url=forms.notes_url))  # the lock released: it goes ahead
    assert recorded(one, "public") == recorded(two, "public") == ["f1000000d001"]
