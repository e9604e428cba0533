"""`dbtasks init`: migrations.yaml and tasks.py written from the services' own files, compared with the committed
migrations.yaml of both example monorepos, then run; and what it refuses or cannot decide.

init reads; it never runs an env.py. Where it cannot know what a committed file says, the test names the
difference and asserts that init printed a line about it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import REPO, TABLE_MIGRATION, assert_ok, inv, query, replace_once, tables

from dbtasks import config
from dbtasks.config.project import Project, Service
from dbtasks.worker import revisions

LAYOUTS = REPO / "examples" / "layouts"


def dbtasks_init(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbtasks init ARGS` run in `folder`, as a user runs it (a process of its own)."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "dbtasks", "init", *args],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def described(project: Project, service: Service) -> dict[str, Any]:
    """What migrations.yaml decides for a service, with paths relative to the file."""
    return {
        "path": service.path.relative_to(project.root).as_posix(),
        "driver": service.driver,
        "schemas": service.owned_schemas,
        "version_table": service.expected_version_table,
        "database": service.database_key,
        "url_env": service.url_env,
        "env": dict(service.env),
        "python": service.python and Path(service.python).relative_to(service.path).as_posix(),
        "depends_on": service.depends_on,
        "expect_tables": service.expect_tables,
    }


def copy_monorepo(source: Path, target: Path, *folders: str) -> Path:
    """A copy of `source` (or of its `folders`) without migrations.yaml, tasks.py and caches."""
    ignore = shutil.ignore_patterns("__pycache__", ".dbtasks", "migrations.yaml", "tasks.py")
    if folders:
        target.mkdir(parents=True)
        for folder in folders:
            shutil.copytree(source / folder, target / folder, ignore=ignore)
    else:
        shutil.copytree(source, target, ignore=ignore)
    return target


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    return copy_monorepo(LAYOUTS, tmp_path / "layouts")


def test_init_on_the_layouts_example_writes_its_committed_migrations_yaml(layouts: Path) -> None:
    result = assert_ok(dbtasks_init(layouts))
    lines = result.stdout.splitlines()
    assert lines[0] == "found 6 Alembic services under .: accounts, billing, ledger, parts, plain_async, plain_sync"
    assert lines[1:4] == ["wrote migrations.yaml", "wrote tasks.py", "added .dbtasks/ to .gitignore"]
    assert lines[-1] == "next: inv db.status" and result.stderr == ""
    assert (layouts / "tasks.py").read_text() == (REPO / "tasks.py").read_text()
    assert (layouts / ".gitignore").read_text() == ".dbtasks/\n"

    committed, written = config.load(LAYOUTS / "migrations.yaml"), config.load(layouts / "migrations.yaml")
    assert list(written.services) == sorted(committed.services)
    for name, service in committed.services.items():
        expected, got = described(committed, service), described(written, written.services[name])
        # Not in the services' files, so init cannot know: the names of plain_sync's and plain_async's
        # databases (it names each after its service and says so), and the tables verify should expect
        # (written as a comment to uncomment).
        if service.database:
            assert expected.pop("database") == ("name", f"layouts_{name.split('_')[1]}")
            assert got.pop("database") == ("name", name)
        assert got.pop("expect_tables") == ()
        assert set(expected.pop("expect_tables")) <= set(expect_tables_comment(layouts, name))
        assert got == expected, name
    assert [line for line in lines if "alembic_version" in line] == [  # one line, one choice
        "plain_async, plain_sync: each keeps public.alembic_version, so each got a database of its own, named by init: "
        "plain_async, plain_sync (the local database creates them; on your server, inv db.upgrade-all --create-databases "
        "does, or put your databases' names in services.NAME.database); to keep them in one database instead, each with a version table of its own, run dbtasks init --force --one-database "
        "(it writes migrations.yaml and tasks.py anew)"
    ]
    assert (
        "depends_on and expect_tables: init took depends_on from the migrations (foreign keys, extensions, tables two services create) (billing -> accounts); "
        "add the others, and uncomment expect_tables for verify to check them (docs/configuration.md)"
    ) in lines


def expect_tables_comment(root: Path, service: str) -> list[str]:
    """The tables of the `# expect_tables: [...]` comment init wrote under `service`, as schema.table or table."""
    text = (root / "migrations.yaml").read_text()
    block = text.split(f"\n  {service}:\n", 1)[1].split("\n\n", 1)[0]
    listed = block.split("# expect_tables: [", 1)[1].split("]", 1)[0].split(", ")
    schema = config.load(root / "migrations.yaml").services[service].schema
    return [*listed, *(f"{schema}.{table}" for table in listed if "." not in table)]


def test_init_on_the_root_services_writes_the_committed_migrations_yaml(tmp_path: Path) -> None:
    root = copy_monorepo(REPO, tmp_path / "repo", "services")
    result = assert_ok(dbtasks_init(root))
    lines = result.stdout.splitlines()
    committed, written = config.load(REPO / "migrations.yaml"), config.load(root / "migrations.yaml")
    assert set(written.services) == set(committed.services)
    for name, service in committed.services.items():
        expected, got = described(committed, service), described(written, written.services[name])
        assert got.pop("expect_tables") == () and expected.pop("expect_tables")
        # depends_on: init finds meals -> users (a foreign key); habits, practices and journal depend on users
        # (and practices on movements) by what the services mean, which no file states.
        assert set(got.pop("depends_on")) <= set(expected.pop("depends_on"))
        if name == "journal":
            # journal's env.py reads its schema and driver through its own alembic_config package at run time:
            # init guesses both (and says so); ALEMBIC_ENV=local is a choice of the committed file.
            assert expected.pop("env") == {"ALEMBIC_ENV": "local"} and got.pop("env") == {}
        assert got == expected, name
    assert written.services["meals"].depends_on == ("users",)
    assert lines[5:8] == [
        "services/journal: env.py builds a sync or an async engine depending on the URL; driver: psycopg2 is a guess: "
        "set services.journal.driver to asyncpg to run it async",
        "services/journal: env.py computes its version table's schema; schema: journal is a guess (its folder name): "
        "check services.journal.schema",
        "depends_on and expect_tables: init took depends_on from the migrations (foreign keys, extensions, tables two services create) (meals -> users); "
        "add the others, and uncomment expect_tables for verify to check them (docs/configuration.md)",
    ], result.stdout


def test_the_written_layouts_file_upgrades_every_service_into_its_place(
    layouts: Path, database_url: str, make_database: Callable[[], str]
) -> None:
    assert_ok(dbtasks_init(layouts))
    own = {name: make_database() for name in ("plain_sync", "plain_async")}  # the databases init named after them
    for name, url in own.items():
        replace_once(layouts / "migrations.yaml", f"database: {name}", f"database: {url.rsplit('/', 1)[1]}")
    result = assert_ok(inv(layouts, "db.upgrade-all", url=database_url))
    heads = {name: head_of(layouts / name) for name in ("plain_sync", "plain_async", "accounts", "billing", "ledger", "parts")}
    for name, head in heads.items():
        assert f"-> {head}" in result.stdout, (name, result.stdout)
    for name, url in own.items():
        assert rows(url, "public.alembic_version") == [heads[name]]
    assert rows(database_url, "public.alembic_version_accounts") == [heads["accounts"]]
    assert rows(database_url, "public.alembic_version_billing") == [heads["billing"]]
    assert rows(database_url, "ledger.alembic_version") == [heads["ledger"]]
    assert rows(database_url, "parts.alembic_version") == [heads["parts"]]
    assert "alembic_version" not in tables(database_url, "public")
    assert tables(database_url, "audit") == {"entry_log"}


def test_the_one_database_alternative_init_prints_works_as_printed(layouts: Path, database_url: str) -> None:
    """plain_sync and plain_async both keep public.alembic_version: init's line says how to keep them in one database
    instead of one each; done as said, both reach head in one database, each in its own version table, env.py unchanged."""
    first = assert_ok(dbtasks_init(layouts.parent, layouts.name))  # the advice repeats the folder given
    assert first.stdout.splitlines()[-3].endswith(
        f"run dbtasks init {layouts.name} --force --one-database (it writes migrations.yaml and tasks.py anew)"
    )
    result = assert_ok(dbtasks_init(layouts, "--force", "--one-database"))
    assert [line for line in result.stdout.splitlines() if "alembic_version" in line] == [
        "plain_async, plain_sync: each keeps public.alembic_version, so in one database each got a version table of its "
        "own (public.alembic_version_plain_async, public.alembic_version_plain_sync), which dbtasks hands to Alembic; "
        "plain alembic in a service's folder uses it too once its env.py passes it to context.configure "
        "(version_table='alembic_version_plain_async' for plain_async)"
    ]
    written = config.load(layouts / "migrations.yaml").services
    assert {name: (written[name].database, written[name].version_table) for name in ("plain_sync", "plain_async")} == {
        name: (None, ("public", f"alembic_version_{name}")) for name in ("plain_sync", "plain_async")
    }
    assert_ok(inv(layouts, "db.upgrade-all", "--only", "plain_sync,plain_async", url=database_url))
    for name in ("plain_sync", "plain_async"):
        assert rows(database_url, f"public.alembic_version_{name}") == [head_of(layouts / name)]
    assert "alembic_version" not in tables(database_url, "public")  # neither went to the default one


def head_of(service: Path) -> str:
    graph = revisions.read_graph(revisions.version_files(str(service / "alembic.ini"), str(service)) or [])
    assert graph is not None
    (head,) = revisions.heads(graph)
    return head


def rows(url: str, table: str) -> list[str]:
    return sorted(row[0] for row in query(url, f"SELECT version_num FROM {table}"))


def test_an_existing_migrations_yaml_or_tasks_py_is_kept_without_force(layouts: Path) -> None:
    (layouts / "migrations.yaml").write_text("mine\n")
    assert one_error(dbtasks_init(layouts)) == (
        "dbtasks init: migrations.yaml already exists; nothing was written: rerun with --force to replace it (and tasks.py)"
    )
    assert (layouts / "migrations.yaml").read_text() == "mine\n"
    assert not (layouts / "tasks.py").exists() and not (layouts / ".gitignore").exists()

    (layouts / "migrations.yaml").unlink()
    (layouts / "tasks.py").write_text("# mine\n")
    assert one_error(dbtasks_init(layouts)).startswith("dbtasks init: tasks.py already exists; nothing was written:")
    assert (layouts / "tasks.py").read_text() == "# mine\n" and not (layouts / "migrations.yaml").exists()

    (layouts / "migrations.yaml").write_text("mine\n")
    assert_ok(dbtasks_init(layouts, "--force"))
    assert (layouts / "tasks.py").read_text() == (REPO / "tasks.py").read_text()
    assert set(config.load(layouts / "migrations.yaml").services) == set(config.load(LAYOUTS / "migrations.yaml").services)


def test_dry_run_prints_the_file_init_writes_and_writes_nothing(layouts: Path) -> None:
    (layouts / "migrations.yaml").write_text("version: 1\n", encoding="utf-8")  # an existing file: no obstacle, kept
    files = {path: path.read_bytes() for path in layouts.rglob("*") if path.is_file()}
    dry = dbtasks_init(layouts, "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("# The services whose Alembic migrations"), (dry.stdout, dry.stderr)
    assert dry.stderr.splitlines()[0] == "to check (init could not decide these):", dry.stderr
    assert {path: path.read_bytes() for path in layouts.rglob("*") if path.is_file()} == files  # nothing written
    assert_ok(dbtasks_init(layouts, "--force"))
    assert (layouts / "migrations.yaml").read_text(encoding="utf-8") == dry.stdout  # exactly what a real run writes


def test_gitignore_gets_one_dbtasks_line(layouts: Path) -> None:
    (layouts / ".gitignore").write_text("*.pyc")  # no newline at the end
    assert "added .dbtasks/ to .gitignore" in assert_ok(dbtasks_init(layouts)).stdout
    assert (layouts / ".gitignore").read_text() == "*.pyc\n.dbtasks/\n"
    result = assert_ok(dbtasks_init(layouts, "--force"))
    assert ".gitignore" not in result.stdout
    assert (layouts / ".gitignore").read_text() == "*.pyc\n.dbtasks/\n"


def test_a_folder_argument_and_bad_command_lines(tmp_path: Path, layouts: Path) -> None:
    result = assert_ok(dbtasks_init(tmp_path, "layouts"))
    assert result.stdout.splitlines()[1] == "wrote layouts/migrations.yaml" and (layouts / "tasks.py").is_file()
    assert not (tmp_path / "migrations.yaml").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert one_error(dbtasks_init(empty)) == (
        "dbtasks init: no alembic.ini under .; run 'alembic init' in each service first, "
        "or pass the monorepo's folder (dbtasks init FOLDER)"
    )
    assert list(empty.iterdir()) == []
    assert one_error(dbtasks_init(tmp_path, "missing")).startswith("dbtasks init: missing: no such folder;")
    assert one_error(dbtasks_init(layouts, "--forse")) == (
        "dbtasks init: unknown option '--forse'; usage: dbtasks init [FOLDER] [--force] [--dry-run] [--update] [--one-database] "
        "[--package NAME ...]"
    )
    assert dbtasks_init(layouts, "--help").stdout.startswith(
        "usage: dbtasks init [FOLDER] [--force] [--dry-run] [--update] [--one-database] [--package NAME ...]"
    )


def test_what_init_reads_beyond_the_examples(tmp_path: Path) -> None:
    """A computed version table name, a URL variable of its own, a driver named only in requirements.txt, a venv
    beside alembic.ini, a folder name that is no service name; alembic.ini files in skipped folders are left alone."""
    root = tmp_path / "mono"
    shutil.copytree(LAYOUTS / "billing", root / "Billing Service", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(LAYOUTS / "plain_sync", root / "apps" / "reports", ignore=shutil.ignore_patterns("__pycache__"))
    env_py = root / "Billing Service" / "alembic" / "env.py"
    text = env_py.read_text().replace('version_table="alembic_version_billing"', 'version_table=f"alembic_version_{NAME}"')
    env_py.write_text("NAME = __name__.upper()\n" + text)
    reports = root / "apps" / "reports"
    replace_once(
        reports / "alembic" / "env.py",
        "config = context.config\n",
        "config = context.config\nimport os\nconfig.set_main_option('sqlalchemy.url', os.environ['REPORTS_DB_URL'])\n",
    )
    (reports / "requirements.txt").write_text("alembic\npsycopg[binary]>=3.1\n")
    (reports / ".venv" / "bin").mkdir(parents=True)
    (reports / ".venv" / "bin" / "python").symlink_to(sys.executable)
    for skipped in ("node_modules/pkg", ".git/x", "apps/reports/.venv/lib", "build/venv-like"):
        (root / skipped).mkdir(parents=True, exist_ok=True)
        (root / skipped / "alembic.ini").write_text("[alembic]\nscript_location = nowhere\n")
    (root / "build" / "venv-like" / "pyvenv.cfg").write_text("home = /usr\n")

    result = assert_ok(dbtasks_init(root))
    lines = result.stdout.splitlines()
    assert lines[0] == "found 2 Alembic services under .: billing, reports"  # named as users say them: no "service"
    assert "Billing Service: env.py computes its version table name; add version_table: <name> to services.billing" in lines
    assert (
        "apps/reports: env.py reads its URL from REPORTS_DB_URL, which dbtasks sets to the URL of DATABASE_URL's database; "
        "for a database of its own, add database: {url_env: REPORTS_DB_URL} to services.reports"
    ) in lines
    project = config.load(root / "migrations.yaml")
    reports_service, billing = project.services["reports"], project.services["billing"]
    assert (reports_service.driver, reports_service.url_env, reports_service.schema) == ("psycopg", "REPORTS_DB_URL", "public")
    assert reports_service.python == str(reports / ".venv" / "bin" / "python")
    assert (billing.driver, billing.schema, billing.version_table) == ("psycopg2", "public", None)
    # Until billing's version table is named, migrations.yaml takes it to be public.alembic_version, as reports'
    # is: so each got a database of its own, and the file loads.
    assert (billing.database, reports_service.database) == ("billing", "reports")


def test_passwords_in_alembic_ini_and_env_py_stay_out_of_output_and_files(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    service = root / "app"
    shutil.copytree(LAYOUTS / "plain_sync", service, ignore=shutil.ignore_patterns("__pycache__"))
    replace_once(
        service / "alembic.ini",
        "sqlalchemy.url = driver://user:pass@localhost/dbname",
        "sqlalchemy.url = postgresql+psycopg://app:Ini-S3cret%%40@db.internal/app",
    )
    replace_once(
        service / "alembic" / "env.py",
        "target_metadata = None\n",
        'target_metadata = None\nFALLBACK = "postgresql+psycopg://app:EnvPy-S3cret@localhost/app"\n',
    )
    result = assert_ok(dbtasks_init(root))
    assert config.load(root / "migrations.yaml").services["app"].driver == "psycopg"
    written = [path.read_text() for path in root.iterdir() if path.is_file()]
    for secret in ("Ini-S3cret", "EnvPy-S3cret", "S3cret"):
        assert secret not in result.stdout + result.stderr
        assert all(secret not in text for text in written)


# -- hostile files: bounded, one line, never written through a link out of the tree ---------------------------------


@pytest.mark.parametrize("make", ["device", "pipe"])
def test_an_env_py_that_is_a_device_or_a_pipe_is_not_read(tmp_path: Path, make: str) -> None:
    root = copy_monorepo(LAYOUTS, tmp_path / "repo", "plain_sync")
    env_py = root / "plain_sync" / "alembic" / "env.py"
    env_py.unlink()
    if make == "device":
        env_py.symlink_to("/dev/zero")  # read whole, it was a MemoryError after 3.7 GB
    else:
        os.mkfifo(env_py)  # read, it hung forever
    result = dbtasks_init(root)  # its timeout fails the test on a hang
    assert result.returncode == 0 and "Traceback" not in result.stderr, (result.stdout, result.stderr)
    assert "plain_sync" in config.load(root / "migrations.yaml").services


def test_an_alembic_ini_that_is_not_utf8_is_read_as_nothing(tmp_path: Path) -> None:
    root = copy_monorepo(LAYOUTS, tmp_path / "repo", "plain_sync")
    ini = root / "plain_sync" / "alembic.ini"
    ini.write_bytes(ini.read_bytes().replace(b"script_location", b"# \xff\nscript_location", 1))
    result = dbtasks_init(root)
    assert "Traceback" not in result.stderr and "UnicodeDecodeError" not in result.stderr, result.stderr


def test_an_alembic_ini_linked_out_of_the_tree_is_not_a_service(tmp_path: Path) -> None:
    root = copy_monorepo(LAYOUTS, tmp_path / "repo", "plain_sync")
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "alembic.ini").symlink_to("/etc/passwd")
    result = dbtasks_init(root)
    assert result.returncode == 0, result.stderr
    assert list(config.load(root / "migrations.yaml").services) == ["plain_sync"]


@pytest.mark.parametrize("name", ["tasks.py", ".gitignore", "migrations.yaml"])
def test_init_never_writes_through_a_link_that_leaves_the_tree(tmp_path: Path, name: str) -> None:
    root = copy_monorepo(LAYOUTS, tmp_path / "repo", "plain_sync")
    outside = tmp_path / "outside" / name
    outside.parent.mkdir()
    (root / name).symlink_to(outside)
    line = one_error(dbtasks_init(root, "--force"))
    assert line == f"dbtasks init: {name} is a link to a file outside .; nothing was written: remove the link, then rerun"
    assert not outside.exists() and sorted(path.name for path in root.iterdir()) == sorted(["plain_sync", name])


def test_init_on_the_alembic_forms_example_finds_every_unit_and_says_what_it_cannot_fill(
    tmp_path: Path, make_database: Callable[[], str]
) -> None:
    """pyproject.toml's [tool.alembic] and an ini's named sections are units of their own; env.py's -x reads are named
    with the key to fill. With x: and prepare: filled in and the databases renamed, every unit reaches head (bootstrap
    is code init cannot see: that unit runs its migrations)."""
    forms = copy_monorepo(REPO / "examples" / "alembic_forms", tmp_path / "forms")
    result = assert_ok(dbtasks_init(forms))
    assert (
        result.stdout.splitlines()[0]
        == "found 7 Alembic services under .: bootstrap_unit, catalog, orders, multidb_unit, pyproject_unit, users, audit"
    )
    assert (
        "sections [audit]: env.py reads Alembic's -x arguments (schema); give them with x: {schema: VALUE} in services.audit"
    ) in result.stdout.splitlines(), result.stdout
    written = config.load(forms / "migrations.yaml")
    decided = {name: (service.ini_section, service.pyproject is not None) for name, service in written.services.items()}
    assert decided == {
        "bootstrap_unit": ("alembic", False),
        "catalog": ("alembic", False),
        "orders": ("alembic", False),
        "multidb_unit": ("alembic", False),
        "pyproject_unit": ("alembic", True),
        "users": ("users", False),
        "audit": ("audit", False),
    }
    text = (forms / "migrations.yaml").read_text(encoding="utf-8")
    assert (
        "  # [audit] of sections/alembic.ini\n" in text
        and "  # pyproject_unit/alembic.ini and pyproject_unit/pyproject.toml [tool.alembic]\n" in text
    )
    url, own, users, books = make_database(), make_database(), make_database(), make_database()
    replace_once(forms / "migrations.yaml", "database: bootstrap_unit", f"database: {books.rsplit('/', 1)[1]}")
    branches, engine1, engine2 = make_database(), make_database(), make_database()
    multi = {"multidb_unit_engine1": engine1, "multidb_unit_engine2": engine2}
    text = (forms / "migrations.yaml").read_text(encoding="utf-8")
    for name, made in multi.items():
        text = text.replace(name, made.rsplit("/", 1)[1])
    (forms / "migrations.yaml").write_text(text, encoding="utf-8")
    assert [engine for engine, _, _ in written.services["multidb_unit"].engines] == ["engine1", "engine2"]
    text = (
        (forms / "migrations.yaml")
        .read_text(encoding="utf-8")
        .replace("database: branches", f"database: {branches.rsplit('/', 1)[1]}")
    )
    (forms / "migrations.yaml").write_text(text, encoding="utf-8")
    assert [(s.branch, s.depends_on) for s in written.services.values() if s.branch] == [
        ("catalog", ()),
        ("orders", ("catalog",)),
    ]
    replace_once(forms / "migrations.yaml", "database: pyproject_unit", f"database: {own.rsplit('/', 1)[1]}")
    replace_once(forms / "migrations.yaml", "database: users", f"database: {users.rsplit('/', 1)[1]}")
    replace_once(forms / "migrations.yaml", "    ini_section: audit\n", "    ini_section: audit\n    x: {schema: audit}\n")
    replace_once(
        forms / "migrations.yaml", "    ini_section: users\n", "    ini_section: users\n    prepare: [prepare/users.sql]\n"
    )
    assert "    extensions: [pg_trgm]   # its migrations use them and create none\n" in text, text
    assert_ok(inv(forms, "db.upgrade-all", url=url))
    assert rows(own, "public.alembic_version") == ["a1b2c3d4e5f6"]
    assert rows(users, "public.alembic_version") == ["b1000000a001"]
    assert rows(books, "public.alembic_version") == ["d1000000b002"]  # by its migrations: init cannot see a bootstrap
    assert rows(branches, "public.alembic_version") == ["0b000000bb01", "c0000000aa02"]  # a row per branch head
    assert rows(engine1, "public.alembic_version") == rows(engine2, "public.alembic_version") == ["f1000000d001"]
    assert rows(url, "audit.alembic_version") == ["c1000000a001"] and "events" in tables(url, "audit")


def test_service_names_are_the_ones_users_type(tmp_path: Path) -> None:
    """A `_service`, `-service` or `service-` affix of the folder goes, unless that leaves no name or one another service
    has; an ini section's own name is kept as written."""
    from dbtasks.init.plan import _names

    folders = [
        tmp_path / name for name in ("habits_service", "Meals-Service", "service-users", "service", "orders", "orders_svc")
    ]
    sections = ["alembic"] * len(folders)
    assert _names(folders, sections) == ["habits", "meals", "users", "service", "orders", "orders_svc"]
    assert _names([tmp_path / "billing_service"], ["billing_service"]) == ["billing_service"]


def test_three_alembic_init_services_in_one_database_take_one_printed_choice(tmp_path: Path, database_url: str) -> None:
    """A new user's monorepo: `alembic init` with the generic, async and pyproject templates, each keeping
    public.alembic_version, all meant for one database. init prints one line with one choice; following it, every
    service reaches head in that database, each in a version table of its own, and no env.py is changed."""
    root = tmp_path / "mono"
    alembic = Path(sys.executable).with_name("alembic")
    templates = {"notes": "generic", "events": "async", "tasks": "pyproject"}
    for folder, template in templates.items():
        service = root / "services" / folder
        service.mkdir(parents=True)
        subprocess.run([str(alembic), "init", "-t", template, "alembic"], cwd=service, check=True, capture_output=True)
        revision = f"{folder[0]}0000000b001"
        (service / "alembic" / "versions" / f"{revision}_{folder}.py").write_text(
            TABLE_MIGRATION.format(table=folder, revision=revision), encoding="utf-8"
        )
    env_files = {path: path.read_bytes() for path in root.rglob("env.py")}
    assert len(env_files) == 3

    first = assert_ok(dbtasks_init(root))
    choices = [line for line in first.stdout.splitlines() if "alembic_version" in line]
    assert len(choices) == 1 and choices[0].startswith("services/events, services/notes, services/tasks: each keeps "), (
        first.stdout
    )
    assert choices[0].endswith("run dbtasks init --force --one-database (it writes migrations.yaml and tasks.py anew)")

    assert_ok(dbtasks_init(root, "--force", "--one-database"))
    result = assert_ok(inv(root, "db.upgrade-all", url=database_url))
    assert result.stdout.splitlines()[-1] == "3 ok, 0 failed, 0 skipped", result.stdout
    for folder in templates:
        revision = f"{folder[0]}0000000b001"
        assert rows(database_url, f"public.alembic_version_{folder}") == [revision]
    assert tables(database_url, "public") >= set(templates)
    assert "alembic_version" not in tables(database_url, "public")
    assert {path: path.read_bytes() for path in root.rglob("env.py")} == env_files  # env.py unchanged


def test_one_database_gives_a_hyphenated_service_a_version_table_postgresql_accepts(tmp_path: Path, database_url: str) -> None:
    """A service folder named billing-api (a service name may hold a '-', a table name may not): the dry run's one
    choice is the dry run again with --one-database, whose file is the one `dbtasks init --one-database` writes, and
    with it both services reach head in one database, billing-api's revision in public.alembic_version_billing_api."""
    root = tmp_path / "mono"
    alembic = Path(sys.executable).with_name("alembic")
    for folder in ("billing-api", "orders"):
        service = root / "services" / folder
        service.mkdir(parents=True)
        subprocess.run([str(alembic), "init", "alembic"], cwd=service, check=True, capture_output=True)
        (service / "alembic" / "versions" / f"{folder[0]}0000000c001_{folder[0]}.py").write_text(
            TABLE_MIGRATION.format(table=folder.replace("-", "_"), revision=f"{folder[0]}0000000c001"), encoding="utf-8"
        )

    dry = assert_ok(dbtasks_init(root, "--dry-run"))
    choices = [line for line in dry.stderr.splitlines() if "alembic_version" in line]
    assert len(choices) == 1 and choices[0].endswith("run dbtasks init --dry-run --one-database > migrations.yaml"), dry.stderr
    followed = assert_ok(dbtasks_init(root, "--dry-run", "--one-database")).stdout
    assert_ok(dbtasks_init(root, "--one-database"))
    assert (root / "migrations.yaml").read_text(encoding="utf-8") == followed
    result = assert_ok(inv(root, "db.upgrade-all", url=database_url))
    assert result.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped", result.stdout
    assert query(database_url, "SELECT version_num FROM public.alembic_version_billing_api") == [("b0000000c001",)]
    assert query(database_url, "SELECT version_num FROM public.alembic_version_orders") == [("o0000000c001",)]
