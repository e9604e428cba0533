"""The layout examples (examples/layouts): services as real monorepos write them (plain `alembic init`, a database
of their own, a shared public schema with a version table each, several schemas, a URL from parts), driven with
no edit to their files, through a copy of tasks.py beside their own migrations.yaml."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from _support import (
    REPO,
    assert_bad_input,
    assert_failure,
    assert_ok,
    execute,
    inv,
    query,
    replace_once,
    show,
    summary_states,
    tables,
)

EXAMPLES = REPO / "examples" / "layouts"
HEADS = {
    "plain_sync": "4a1b2c3d4e5f",
    "plain_async": "e4603e834921",
    "accounts": "3cf517c46e77",
    "billing": "239a3b9a207f",
    "ledger": "dc24bafd4ce4",
    "parts": "31d81228003b",
}


@dataclass
class Layouts:
    root: Path
    url: str  # the default database: accounts, billing (public), ledger (ledger, audit), parts (parts)
    sync_url: str  # plain_sync's database of its own
    async_url: str  # plain_async's

    def inv(self, *args: str) -> subprocess.CompletedProcess[str]:
        return inv(self.root, *args, url=self.url)


@pytest.fixture
def layouts(tmp_path: Path, make_database: Callable[[], str]) -> Layouts:
    root = tmp_path / "layouts"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("__pycache__", ".dbtasks"))
    url, sync_url, async_url = make_database(), make_database(), make_database()
    # The example names its databases layouts_sync and layouts_async; each test gets fresh ones.
    replace_once(root / "migrations.yaml", "database: layouts_sync", f"database: {sync_url.rsplit('/', 1)[1]}")
    replace_once(root / "migrations.yaml", "database: layouts_async", f"database: {async_url.rsplit('/', 1)[1]}")
    return Layouts(root, url, sync_url, async_url)


def versions(url: str, table: str) -> list[str]:
    return sorted(row[0] for row in query(url, f"SELECT version_num FROM {table}"))


def schemas(url: str) -> set[str]:
    return {row[0] for row in query(url, "SELECT nspname FROM pg_namespace")}


def upgrade_all(layouts: Layouts) -> None:
    assert_ok(inv(layouts.root, "db.upgrade-all", url=layouts.url))


def test_every_layout_upgrades_into_its_own_database_schema_and_version_table(layouts: Layouts) -> None:
    result = assert_ok(inv(layouts.root, "db.upgrade-all", url=layouts.url))
    for service, head in HEADS.items():
        assert f"-> {head}" in result.stdout, (service, result.stdout)
    # a database per service, each with the default public.alembic_version
    assert versions(layouts.sync_url, "public.alembic_version") == [HEADS["plain_sync"]]
    assert versions(layouts.async_url, "public.alembic_version") == [HEADS["plain_async"]]
    assert "notes" in tables(layouts.sync_url, "public") and "events" in tables(layouts.async_url, "public")
    # two services in the default database's public, a version table each; nothing of plain_* here
    public = tables(layouts.url, "public")
    assert {"accounts", "account_notes", "invoices", "alembic_version_accounts", "alembic_version_billing"} <= public
    assert not {"alembic_version", "notes", "events"} & public
    assert versions(layouts.url, "public.alembic_version_accounts") == [HEADS["accounts"]]
    assert versions(layouts.url, "public.alembic_version_billing") == [HEADS["billing"]]
    # schemas no migration creates were created before the first upgrade
    assert {"ledger", "audit", "parts"} <= schemas(layouts.url)
    assert tables(layouts.url, "ledger") == {"entries", "alembic_version"} and tables(layouts.url, "audit") == {"entry_log"}
    assert versions(layouts.url, "ledger.alembic_version") == [HEADS["ledger"]]
    assert tables(layouts.url, "parts") == {
        "widgets",
        "alembic_version",
    }  # parts' env.py built its URL from POSTGRES_*


def test_status_names_each_services_database_when_there_are_several(layouts: Layouts) -> None:
    upgrade_all(layouts)
    rows = json.loads(assert_ok(layouts.inv("db.status", "--json")).stdout)["services"]
    by_name = {row["service"]: row for row in rows}
    assert by_name["plain_sync"]["database"] == layouts.sync_url.rsplit("/", 1)[1]
    assert by_name["accounts"]["database"] == by_name["parts"]["database"] == layouts.url.rsplit("/", 1)[1]
    assert by_name["ledger"]["schema"] == "ledger, audit"
    assert all(row["state"] == "up to date" and row["current"] == HEADS[row["service"]] for row in rows), rows
    table = assert_ok(layouts.inv("db.status")).stdout
    assert table.splitlines()[0].split()[:3] == ["service", "database", "schema"]


def test_check_in_a_shared_schema_sees_only_what_each_service_owns(layouts: Layouts) -> None:
    upgrade_all(layouts)
    result = assert_ok(layouts.inv("db.check-all"))
    for service in ("accounts", "billing", "ledger", "parts"):
        assert f"{service}  " in result.stdout and "models match" in result.stdout, result.stdout
    # drift planted in billing's table: billing's check names it, accounts' (same schema) stays clean
    execute(layouts.url, "ALTER TABLE public.invoices ADD COLUMN planted integer", "CREATE TABLE public.stray (id int)")
    result = layouts.inv("db.check", "billing")
    assert_failure(result, "billing")
    assert "planted" in result.stdout and "stray" not in result.stdout and "account" not in result.stdout, result.stdout
    clean = assert_ok(layouts.inv("db.check", "accounts")).stdout
    assert "models match" in clean and "invoices" not in clean and "stray" not in clean, clean
    # and the other way round
    execute(layouts.url, "ALTER TABLE public.invoices DROP COLUMN planted", "ALTER TABLE public.accounts ADD COLUMN planted int")
    result = layouts.inv("db.check", "accounts")
    assert_failure(result, "accounts")
    assert "accounts.planted" in result.stdout and "invoices" not in result.stdout, result.stdout
    assert_ok(layouts.inv("db.check", "billing"))


def test_generate_in_a_shared_schema_writes_only_the_services_own_changes(layouts: Layouts) -> None:
    upgrade_all(layouts)
    # billing's own change (its model has a column the database lacks) among changes that are not billing's
    execute(
        layouts.url,
        "ALTER TABLE public.invoices DROP COLUMN amount",
        "ALTER TABLE public.accounts ADD COLUMN planted int",
        "CREATE TABLE public.stray (id int)",
    )
    assert_ok(layouts.inv("db.generate", "billing", "-m", "only mine"))
    written = sorted((layouts.root / "billing" / "alembic" / "versions").glob("*only_mine.py"))
    assert len(written) == 1
    text = written[0].read_text()
    assert "op.add_column('invoices', sa.Column('amount'" in text, text
    assert "stray" not in text and "planted" not in text and "account_notes" not in text and "alembic_version" not in text, text
    assert "drop_table" not in text, text


def test_every_single_service_task_on_the_multi_schema_and_database_per_service_layouts(layouts: Layouts) -> None:
    upgrade_all(layouts)
    sql = assert_ok(layouts.inv("db.sql", "ledger")).stdout
    assert "CREATE TABLE ledger.entries" in sql and "CREATE TABLE audit.entry_log" in sql
    assert HEADS["ledger"] in assert_ok(layouts.inv("db.current", "ledger")).stdout
    assert HEADS["ledger"] in assert_ok(layouts.inv("db.heads", "ledger")).stdout
    assert HEADS["plain_async"] in assert_ok(layouts.inv("db.history", "plain_async")).stdout

    assert_ok(layouts.inv("db.downgrade", "ledger", "--yes"))
    assert versions(layouts.url, "ledger.alembic_version") == []
    assert tables(layouts.url, "ledger") == {"alembic_version"} and tables(layouts.url, "audit") == set()
    assert_ok(layouts.inv("db.stamp", "ledger", "head", "--yes"))
    assert versions(layouts.url, "ledger.alembic_version") == [HEADS["ledger"]]
    assert_ok(layouts.inv("db.stamp", "ledger", "base", "--yes"))
    assert_ok(layouts.inv("db.upgrade", "ledger"))
    assert tables(layouts.url, "audit") == {"entry_log"}

    assert_ok(layouts.inv("db.reset", "plain_sync", "--yes"))  # in its own database
    assert versions(layouts.sync_url, "public.alembic_version") == [HEADS["plain_sync"]]
    assert_ok(layouts.inv("db.downgrade", "plain_async", "--yes"))
    assert versions(layouts.async_url, "public.alembic_version") == [] and "events" not in tables(layouts.async_url, "public")
    assert versions(layouts.sync_url, "public.alembic_version") == [HEADS["plain_sync"]]  # the other database untouched

    assert_ok(layouts.inv("db.generate", "plain_sync", "--empty", "-m", "by hand"))
    written = list((layouts.root / "plain_sync" / "alembic" / "versions").glob("*by_hand.py"))
    assert len(written) == 1
    new_head = written[0].name.split("_", 1)[0]
    assert new_head in assert_ok(layouts.inv("db.heads", "plain_sync")).stdout
    assert_ok(layouts.inv("db.upgrade", "plain_sync"))
    assert versions(layouts.sync_url, "public.alembic_version") == [new_head]


def test_the_all_tasks_across_several_databases(layouts: Layouts) -> None:
    upgrade_all(layouts)
    assert_ok(layouts.inv("db.sql-all", "--output-dir", str(layouts.root / "sql")))
    assert "alembic_version_billing" in (layouts.root / "sql" / "billing.sql").read_text()
    assert "CREATE TABLE parts.widgets" in (layouts.root / "sql" / "parts.sql").read_text()
    assert_ok(layouts.inv("db.downgrade-all", "--yes", "--to", "base"))
    assert versions(layouts.sync_url, "public.alembic_version") == []
    assert versions(layouts.url, "public.alembic_version_accounts") == []
    assert "invoices" not in tables(layouts.url, "public")
    assert_ok(layouts.inv("db.reset-all", "--yes"))
    assert versions(layouts.async_url, "public.alembic_version") == [HEADS["plain_async"]]
    assert versions(layouts.url, "public.alembic_version_billing") == [HEADS["billing"]]
    assert_ok(layouts.inv("db.stamp-all", "base", "--yes"))
    assert versions(layouts.url, "parts.alembic_version") == []
    assert "widgets" in tables(layouts.url, "parts")  # stamp writes the version table only


def test_downgrade_all_to_base_of_services_never_migrated_has_nothing_to_revert(layouts: Layouts) -> None:
    before = {url: schemas(url) for url in (layouts.url, layouts.sync_url, layouts.async_url)}
    result = assert_ok(layouts.inv("db.downgrade-all", "--yes", "--to", "base"))
    assert summary_states(result) == {name: ("ok", "nothing to revert") for name in HEADS}, show(result)
    assert {url: schemas(url) for url in before} == before  # the schemas of ledger and parts were not made for it


def test_verify_all_and_doctor_pass_on_every_layout(layouts: Layouts) -> None:
    verified = assert_ok(layouts.inv("db.verify-all", "--json")).stdout
    results = {item["service"]: item for item in json.loads(verified)}
    assert set(results) == set(HEADS)
    for service, result in results.items():
        checks = {check["name"]: check["ok"] for check in result["checks"]}
        assert checks["ownership"] is True and checks["no-trace"] is True and checks["version-table"] is True, (service, checks)
        assert checks["drift"] is (None if service.startswith("plain") else True), (service, checks)
    assert tables(layouts.url, "public") == set() and "ledger" not in schemas(layouts.url)  # verify used scratch databases
    upgrade_all(layouts)
    doctor = assert_ok(layouts.inv("db.doctor"))
    assert "error" not in doctor.stdout.split(), doctor.stdout
    for service, head in HEADS.items():
        assert f"{service}" in doctor.stdout and f"database at head {head}" in doctor.stdout, doctor.stdout


def test_two_services_sharing_one_version_table_are_refused_naming_both_before_anything_runs(layouts: Layouts) -> None:
    replace_once(
        layouts.root / "migrations.yaml", "version_table: alembic_version_billing", "version_table: alembic_version_accounts"
    )
    line = assert_bad_input(layouts.inv("db.upgrade-all"))
    assert "services.billing" in line and "public.alembic_version_accounts" in line and "'accounts'" in line, line
    assert tables(layouts.url, "public") == set() and "ledger" not in schemas(layouts.url)


def test_a_version_table_read_from_env_py_counts_too(layouts: Layouts) -> None:
    # Without version_table in migrations.yaml, the names env.py passes literally are used; make them equal.
    config = layouts.root / "migrations.yaml"
    replace_once(config, "    version_table: alembic_version_accounts\n", "")
    replace_once(config, "    version_table: alembic_version_billing\n", "")
    for service in ("accounts", "billing"):
        env_py = layouts.root / service / "alembic" / "env.py"
        env_py.write_text(env_py.read_text().replace(f'"alembic_version_{service}"', '"alembic_version_shared"'))
    line = assert_bad_input(layouts.inv("db.status"))
    assert "public.alembic_version_shared, like 'accounts'" in line and "services.billing" in line, line


def test_env_py_keeping_its_version_table_elsewhere_than_declared_is_refused(layouts: Layouts) -> None:
    replace_once(
        layouts.root / "migrations.yaml", "version_table: alembic_version_billing", "version_table: alembic_version_bills"
    )
    assert_ok(layouts.inv("db.upgrade", "accounts"))
    line = assert_failure(layouts.inv("db.upgrade", "billing"), "billing")
    assert "public.alembic_version_billing" in line and "public.alembic_version_bills" in line, line
    assert "services.billing.version_table" in line, line
    assert not {"invoices", "alembic_version_billing", "alembic_version_bills"} & tables(layouts.url, "public")


def test_create_schema_false_leaves_schema_creation_to_the_service(layouts: Layouts) -> None:
    replace_once(
        layouts.root / "migrations.yaml",
        "    schemas: [ledger, audit]\n",
        "    schemas: [ledger, audit]\n    create_schema: false\n",
    )
    result = layouts.inv("db.upgrade", "ledger")
    line = assert_failure(result, "ledger")
    assert "ledger" in line, line
    assert not {"ledger", "audit"} & schemas(layouts.url)


def test_a_url_of_its_own_per_environment(layouts: Layouts) -> None:
    config = layouts.root / "migrations.yaml"
    name = layouts.sync_url.rsplit("/", 1)[1]
    replace_once(config, f"database: {name}", "database: {url_env: SYNC_DATABASE_URL}")
    replace_once(
        config,
        "services:\n",
        "environments:\n  staging: {url_env: STAGING_URL, url_envs: {plain_sync: STAGING_SYNC_URL}}\nservices:\n",
    )
    env = {"STAGING_URL": layouts.url, "STAGING_SYNC_URL": layouts.sync_url}
    assert_ok(inv(layouts.root, "db.upgrade", "plain_sync", "--env", "staging", env=env))
    assert versions(layouts.sync_url, "public.alembic_version") == [HEADS["plain_sync"]]
    # outside the environment its own variable counts; unset while DATABASE_URL is set, it is an error
    line = assert_bad_input(inv(layouts.root, "db.status", "--only", "plain_sync", url=layouts.url))
    assert line.startswith("SYNC_DATABASE_URL is not set") and "'plain_sync'" in line, line
    # an environment must say where such a service's database is
    replace_once(config, ", url_envs: {plain_sync: STAGING_SYNC_URL}", "")
    line = assert_bad_input(inv(layouts.root, "db.status", "--env", "staging", env=env))
    assert "environments.staging" in line and "'plain_sync'" in line and "url_envs" in line, line


def test_the_local_database_creates_each_services_database(layouts: Layouts) -> None:
    from dbtasks.database.localdb import LocalDatabase

    try:
        assert_ok(inv(layouts.root, "db.upgrade-all", "--only", "plain_sync,plain_async,parts"))
        local = LocalDatabase(layouts.root / ".dbtasks")
        sync_name = layouts.sync_url.rsplit("/", 1)[1]
        for service, database in (("plain_sync", sync_name), ("plain_async", layouts.async_url.rsplit("/", 1)[1])):
            url = local.ensure_database(database)  # exists already: created by the first task
            assert versions(url, "public.alembic_version") == [HEADS[service]]
        assert versions(local.url(), "parts.alembic_version") == [HEADS["parts"]]
        shown = assert_ok(inv(layouts.root, "db.local-url", "--service", "plain_sync")).stdout.strip()
        assert shown.endswith(f"/{sync_name}") and ":***@" in shown, shown
    finally:
        LocalDatabase(layouts.root / ".dbtasks").stop()


def test_every_layout_with_conflicting_stacks_per_service(layouts: Layouts, stack_interpreters: Callable[[str], Path]) -> None:
    """Services pinned apart in one monorepo: Python 3.8 + SQLAlchemy 1.3 + Alembic 1.7 for the sync psycopg2 ones,
    Python 3.13 + SQLAlchemy 2.0 + psycopg 3 for parts, and this interpreter (SQLAlchemy 2.1, asyncpg) for plain_async."""
    old, new = stack_interpreters("py38-sa13"), stack_interpreters("py313-psycopg3")
    config = layouts.root / "migrations.yaml"
    for service in ("plain_sync", "accounts", "billing", "ledger"):
        replace_once(config, f"    path: {service}\n", f"    path: {service}\n    python: {old}\n")
    replace_once(config, "    path: parts\n", f"    path: parts\n    python: {new}\n")
    upgraded = assert_ok(layouts.inv("db.upgrade-all"))
    assert upgraded.stdout.count(" ok ") == len(HEADS), upgraded.stdout
    assert versions(layouts.url, "public.alembic_version_billing") == [HEADS["billing"]]
    assert versions(layouts.url, "ledger.alembic_version") == [HEADS["ledger"]]
    assert versions(layouts.url, "parts.alembic_version") == [HEADS["parts"]]
    checked = assert_ok(layouts.inv("db.check-all"))
    assert checked.stdout.count("models match") == 4, checked.stdout
    execute(layouts.url, "ALTER TABLE public.invoices ADD COLUMN planted integer")
    result = layouts.inv("db.check", "billing")  # the fence on SQLAlchemy 1.3
    assert_failure(result, "billing")
    assert "planted" in result.stdout and "account" not in result.stdout, result.stdout
    assert_ok(layouts.inv("db.check", "accounts"))
    execute(layouts.url, "ALTER TABLE public.invoices DROP COLUMN planted")
    verified = json.loads(assert_ok(layouts.inv("db.verify-all", "--json")).stdout)
    assert all(item["ok"] for item in verified), verified
    assert_ok(layouts.inv("db.downgrade-all", "--yes", "--to", "base"))
    assert versions(layouts.sync_url, "public.alembic_version") == [] and tables(layouts.url, "ledger") == {
        "alembic_version",
    }


def test_merge_on_a_plain_service_in_its_own_database(layouts: Layouts) -> None:
    versions_folder = layouts.root / "plain_sync" / "alembic" / "versions"
    assert_ok(layouts.inv("db.generate", "plain_sync", "--empty", "-m", "one"))
    (versions_folder / "b0b0b0b0b0b0_two.py").write_text(
        f'"""two"""\nrevision = "b0b0b0b0b0b0"\ndown_revision = "{HEADS["plain_sync"]}"\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    line = assert_failure(layouts.inv("db.upgrade", "plain_sync"), "plain_sync")
    assert "heads" in line, line
    assert_ok(layouts.inv("db.merge", "plain_sync", "-m", "join"))
    assert_ok(layouts.inv("db.upgrade", "plain_sync"))
    merged = [path for path in versions_folder.glob("*_join.py")]
    assert len(merged) == 1
    assert versions(layouts.sync_url, "public.alembic_version") == [merged[0].name.split("_", 1)[0]]


def test_adopt_in_a_schema_two_services_share_tells_another_s_tables_from_its_own(layouts: Layouts) -> None:
    """billing and accounts share public: accounts' tables are not billing's, so billing is not recorded, not 'tables
    without revision'; once billing's own tables are there without its row, adopt matches them and records its head."""
    assert_ok(layouts.inv("db.upgrade", "accounts"))
    report = json.loads(assert_ok(layouts.inv("db.adopt", "--service", "billing", "--json")).stdout)["services"][0]
    assert (report["state"], report["action"]) == ("not recorded", "none"), report

    assert_ok(layouts.inv("db.upgrade", "billing"))
    execute(layouts.url, "DELETE FROM public.alembic_version_billing")
    report = json.loads(assert_ok(layouts.inv("db.adopt", "--service", "billing", "--json")).stdout)["services"][0]
    assert (report["state"], report["revision"], report["action"]) == ("tables without revision", HEADS["billing"], "stamp")
    assert_ok(layouts.inv("db.adopt", "--service", "billing", "--yes"))
    assert versions(layouts.url, "public.alembic_version_billing") == [HEADS["billing"]]
    assert versions(layouts.url, "public.alembic_version_accounts") == [HEADS["accounts"]]
