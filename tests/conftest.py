"""Shared fixtures and helpers: a real PostgreSQL for the session, one fresh database per test, a
throwaway copy of the project, a runner for `inv` and readers of the catalog.

Nothing here mocks anything: the tasks run through Invoke in a subprocess, against a server that the
session starts itself (or the one named by DBTASKS_TEST_DATABASE_URL)."""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import yaml

from dbtasks.database import owner
from dbtasks.database.localdb import LocalDatabase
from dbtasks.errors import LocalDatabaseError

REPO = Path(__file__).resolve().parents[1]
# A port nothing listens on: offline tasks must work with it, online ones fail cleanly.
CLOSED_URL = "postgresql://nobody:closed-port-password@127.0.0.1:1/nowhere"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


# -- the server and the databases --------------------------------------------------------------


# The session's servers keep their data in folders of the suite's own under the temporary folder, never under
# pytest's basetemp: any other pytest run of the same user resets <tmp>/pytest-of-<user> to mode 0700, and a
# server that runs as another account (as root: 'nobody') then cannot reach its data and PANICs.
SERVER_FOLDER_PREFIX = "dbtasks-tests-"
SERVERS: list[LocalDatabase] = []  # this process's session server, for the diagnosis of failed tests


def remove_abandoned_server_folders(parent: Path) -> list[Path]:
    """Stop the servers of, and remove, the server folders under `parent` whose session is gone (a crashed run)."""
    removed = []
    for folder in parent.glob(f"{SERVER_FOLDER_PREFIX}*"):
        try:
            owned_by = (folder / "owner").read_text()
        except OSError:  # being made by a session that starts right now, or not a folder of ours
            continue
        if not owner.is_gone(owned_by):
            continue
        with contextlib.suppress(Exception):  # a crashed session's server may still run
            LocalDatabase(folder / "home").stop()
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def server_trouble(server: LocalDatabase) -> str | None:
    """None while `server` answers; else why not, with its log's last PANIC and FATAL lines."""
    if server.running_port() is not None:
        return None
    try:
        lines = server.log_file.read_text(errors="replace").splitlines()
    except OSError as error:
        lines = [f"(no log: {error})"]
    telling = [line for line in lines if "PANIC:" in line or "FATAL:" in line] or lines[-1:]
    panics = [line for line in telling if "PANIC:" in line]
    # The last PANIC is the cause (a FATAL about the same trouble often follows it); the last line, the end.
    last_words = [*panics[-1:], *telling[-1:]] if panics[-1:] != telling[-1:] else telling[-1:]
    return f"the test PostgreSQL server in {server.data} is not running; its log ({server.log_file}) ends with:\n" + "\n".join(
        last_words
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """An admin URL (libpq form) to a PostgreSQL server for this (xdist worker) session."""
    external = os.environ.get("DBTASKS_TEST_DATABASE_URL")
    if external:
        yield external
        return
    temporary = Path(tempfile.gettempdir())
    remove_abandoned_server_folders(temporary)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    folder = Path(tempfile.mkdtemp(prefix=f"{SERVER_FOLDER_PREFIX}{worker}-", dir=temporary))
    try:
        folder.chmod(0o711)  # the server account passes through to home/, which LocalDatabase gives it
        (folder / "owner").write_text(owner.this_process())
        server = LocalDatabase(folder / "home", fsync=False)
        SERVERS.append(server)
        try:
            url = server.start()
        except LocalDatabaseError as error:
            pytest.fail(f"the test PostgreSQL server did not start: {error}\n{server_trouble(server) or ''}", pytrace=False)
        try:
            yield url
        finally:
            server.stop()
    finally:
        SERVERS.clear()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test that failed while the session's server was down says why the server is down (its log's last words)."""
    report = yield
    if report.failed and SERVERS:
        trouble = server_trouble(SERVERS[0])
        if trouble:
            report.sections.append(("dbtasks test server", trouble))
    return report


@pytest.fixture(scope="session", autouse=True)
def fork_server() -> None:
    """Tasks run in this process fork their workers from one server per interpreter, as a run of several
    services does; start it before the first test so that every test, not only the ones after the first
    *-all task, gets forked workers (tests that set DBTASKS_FORKSERVER=0 still spawn theirs)."""
    from dbtasks.run import forkserver
    from dbtasks.run.runner import WORKER

    forkserver.server_for(sys.executable, WORKER, start=True)


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def execute(url: str, *statements: str) -> None:
    """Run statements in autocommit mode."""
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database(server_url: str) -> str:
    """A new database with a random name on the server; returns its URL."""
    name = f"dbtasks_test_{secrets.token_hex(6)}"
    execute(server_url, f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_database(pg_server: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases on the session's server; all of them are dropped afterwards."""
    created: list[str] = []

    def make() -> str:
        created.append(create_database(pg_server))
        return created[-1]

    yield make
    for url in created:
        drop_database(pg_server, url)


@pytest.fixture
def database_url(make_database: Callable[[], str]) -> str:
    """The URL of a fresh, empty database, dropped after the test."""
    return make_database()


@pytest.fixture(scope="session")
def stack_interpreters() -> Callable[[str], Path]:
    """Stack name (tests/stacks.py) -> the interpreter of its venv, built on first use and kept across runs;
    the test that asks is skipped, with the reason, when this machine lacks the stack's pyenv Python."""
    from stacks import stack_python

    built: dict[str, Path] = {}

    def interpreter(name: str) -> Path:
        if name not in built:
            built[name] = stack_python(name)
        return built[name]

    return interpreter


# -- the project copy ------------------------------------------------------------------------------


def local_database_made(project: Path) -> bool:
    """Whether the embedded local database was set up under `project`/.dbtasks/ (which also holds the revision cache)."""
    home = project / ".dbtasks"
    return any((home / name).exists() for name in ("pgdata", "local.json", "local.lock"))


def copy_project(root: Path) -> Path:
    """Copy migrations.yaml, tasks.py and services/ (without __pycache__) into `root`."""
    root.mkdir(parents=True)
    shutil.copy2(REPO / "migrations.yaml", root / "migrations.yaml")
    shutil.copy2(REPO / "tasks.py", root / "tasks.py")
    shutil.copytree(REPO / "services", root / "services", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project that a test may change freely."""
    return copy_project(tmp_path / "repo")


def task_environment(url: str | None, env: dict[str, str] | None) -> dict[str, str]:
    """The environment a task runs with: ours without DATABASE_URL and DBTASKS_DEBUG, plus `url` and `env`."""
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DBTASKS_DEBUG")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in the real repo
    if url is not None:
        environment["DATABASE_URL"] = url
    environment.update(env or {})
    return environment


def inv(project: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `inv ARGS` in `project` inside this test process, as `python -m invoke` would (cwd, environment,
    tasks.py, exit code, stdout and stderr), with DATABASE_URL=url when given (and never inherited).

    Workers still run as processes of their own (forked from this process's fork server, which the first
    task that needs one starts); `inv_process` runs the whole task in a new interpreter instead."""
    from invoke import Program

    return _in_process(project, ["inv", *args], lambda: Program(version="test").run(["inv", *args]), url, env)


def dbtasks_command(
    project: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `dbtasks ARGS` (the tasks without Invoke) in `project` inside this test process, as `inv` does."""
    from dbtasks.__main__ import main

    return _in_process(project, ["dbtasks", *args], lambda: sys.exit(main(list(args))), url, env)


def _in_process(
    project: Path, argv: list[str], run: Callable[[], object], url: str | None, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    saved_environ, saved_cwd, saved_path = dict(os.environ), os.getcwd(), list(sys.path)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.clear()
        os.environ.update(task_environment(url, env))
        os.chdir(project)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                run()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except Exception:  # what an uncaught error looks like from a process: a traceback and exit 1
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
    return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())


def inv_process(
    project: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `inv ARGS` in `project` as a process of its own (`python -m invoke`)."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=task_environment(url, env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# -- migrations.yaml and the migration files, read independently of dbtasks -----------------------


def declared_services(root: Path = REPO) -> dict[str, dict[str, Any]]:
    """The services of `root`/migrations.yaml, as plain YAML."""
    document = yaml.safe_load((root / "migrations.yaml").read_text(encoding="utf-8"))
    return dict(document["services"])


def schema_of(service: str, root: Path = REPO) -> str:
    return str(declared_services(root)[service]["schema"])


def expected_tables(service: str, root: Path = REPO) -> set[str]:
    return set(declared_services(root)[service].get("expect_tables") or [])


def migration_graph(service: str, root: Path = REPO) -> dict[str, tuple[str, ...]]:
    """revision -> its down_revisions, read from the version files' assignments (nothing is executed)."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(versions_folder(root, service).glob("*.py")):
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value is not None:
                values[target.id] = ast.literal_eval(node.value)
        down = values.get("down_revision")
        graph[values["revision"]] = (down,) if isinstance(down, str) else tuple(down or ())
    return graph


def heads_of(service: str, root: Path = REPO) -> list[str]:
    graph = migration_graph(service, root)
    below = {down for downs in graph.values() for down in downs}
    return sorted(revision for revision in graph if revision not in below)


def head_of(service: str, root: Path = REPO) -> str:
    """The single head revision of `service`."""
    heads = heads_of(service, root)
    assert len(heads) == 1, f"{service} has heads {heads}"
    return heads[0]


def parent_of(service: str, revision: str, root: Path = REPO) -> str | None:
    downs = migration_graph(service, root)[revision]
    return downs[0] if downs else None


def revisions_of(service: str, root: Path = REPO) -> list[str]:
    """The service's revisions, oldest first (a linear history)."""
    chain: list[str] = []
    current: str | None = head_of(service, root)
    while current is not None:
        chain.append(current)
        current = parent_of(service, current, root)
    return chain[::-1]


def versions_folder(project: Path, service: str) -> Path:
    return project / declared_services(project)[service]["path"] / "alembic" / "versions"


def version_files(project: Path, service: str) -> set[str]:
    return {path.name for path in versions_folder(project, service).glob("*.py")}


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in `path` with `new` (a test editing a copy must hit exactly one place)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: expected exactly one {old!r}, found {text.count(old)}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def plant_migration(project: Path, service: str, revision: str, down_revision: str | None, body: str = "pass") -> Path:
    """Write a hand-made migration file into the copy's versions folder."""
    path = versions_folder(project, service) / f"{revision}_planted.py"
    path.write_text(
        f'"""planted by the tests"""\n\n'
        f"revision = {revision!r}\n"
        f"down_revision = {down_revision!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        f"    {body}\n\n\n"
        "def downgrade() -> None:\n"
        "    pass\n",
        encoding="utf-8",
    )
    return path


def plant_model_column(project: Path, service: str, column: str = "color") -> str:
    """Add a nullable String column to the first declarative model of the service's code; return its table."""
    folder = project / declared_services(project)[service]["path"]
    for path in sorted(folder.rglob("*.py")):
        if "alembic" in path.relative_to(folder).parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "import sqlalchemy as sa" not in text or "mapped_column" not in text:
            continue
        match = re.search(r'^(    )__tablename__ = "(\w+)"\n', text, re.M)
        if match is None:
            continue
        # nullable=True rather than Mapped[str | None]: SQLAlchemy evaluates the annotation, which fails on Python 3.9.
        line = f"{match[1]}{column}: Mapped[str] = mapped_column(sa.String(20), nullable=True)\n"
        path.write_text(text[: match.end()] + line + text[match.end() :], encoding="utf-8")
        return match[2]
    raise AssertionError(f"no declarative model found under {folder}")


# -- the catalog -------------------------------------------------------------------------------


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def tables(url: str, schema: str) -> set[str]:
    return {row[0] for row in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}


def columns(url: str, schema: str, table: str) -> set[str]:
    rows = query(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    return {row[0] for row in rows}


def schemas(url: str) -> set[str]:
    rows = query(url, "SELECT nspname FROM pg_namespace")
    return {row[0] for row in rows if row[0] not in SYSTEM_SCHEMAS and not row[0].startswith("pg_")}


def version(url: str, schema: str) -> list[str]:
    """The rows of schema.alembic_version, [] when that table does not exist."""
    if "alembic_version" not in tables(url, schema):
        return []
    return sorted(row[0] for row in query(url, f'SELECT version_num FROM "{schema}".alembic_version'))


_SNAPSHOT_COLUMNS = """
SELECT n.nspname, c.relname, a.attname
FROM pg_namespace n
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'
"""


def snapshot(url: str) -> dict[str, Any]:
    """Every non-system schema with its tables (and their columns) and alembic_version rows, read on one connection."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(_SNAPSHOT_COLUMNS)
            state: dict[str, Any] = {}
            for schema, table, column in cursor.fetchall():
                tables_of = state.setdefault(schema, {"tables": {}, "alembic_version": []})["tables"]
                if table is not None:
                    columns_of = tables_of.setdefault(table, [])
                    if column is not None:
                        columns_of.append(column)
            for schema, entry in state.items():
                entry["tables"] = {table: sorted(cols) for table, cols in sorted(entry["tables"].items())}
                if "alembic_version" in entry["tables"]:
                    cursor.execute(f'SELECT version_num FROM "{schema}".alembic_version')
                    entry["alembic_version"] = sorted(row[0] for row in cursor.fetchall())
        connection.rollback()
    finally:
        connection.close()
    return dict(sorted(state.items()))


def table_comment(url: str, schema: str, table: str) -> str | None:
    rows = query(url, "SELECT obj_description(%s::regclass, 'pg_class')", (f'"{schema}"."{table}"',))
    return rows[0][0]


# -- assertions on a task's result -----------------------------------------------------------------

_PROGRESS = re.compile(r"^[a-z][a-z0-9_-]* \| ")


def show(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, show(result)
    assert "Traceback" not in output(result), show(result)
    return result


# The lines saying which database a task targets and that the local database started (not errors).
_ANNOUNCEMENT = re.compile(r"^(target( of \S+)?: |(initialized and )?started the local PostgreSQL )")


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's non-empty lines, without the worker progress lines (prefixed 'service | ') and the target lines."""
    return [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not _PROGRESS.match(line) and not _ANNOUNCEMENT.match(line)
    ]


def assert_bad_input(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """Bad configuration or usage: exit `code` and exactly one non-empty stderr line (besides the target line), no traceback."""
    assert result.returncode == code, show(result)
    assert "Traceback" not in output(result), show(result)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not _ANNOUNCEMENT.match(line)]
    assert len(lines) == 1, show(result)
    return lines[0]


def assert_failure(result: subprocess.CompletedProcess[str], service: str, code: int = 1) -> str:
    """A failed service operation: exit `code`, one error line naming the service, no traceback."""
    assert result.returncode == code, show(result)
    assert "Traceback" not in output(result), show(result)
    lines = error_lines(result)
    assert len(lines) == 1, show(result)
    assert lines[0].startswith(f"{service}: "), show(result)
    return lines[0]


def summary_states(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """service -> (result, detail) from the summary table a *-all task prints."""
    states: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^(\S+)\s+(ok|failed|skipped)(?:\s+(.*))?$", line)
        if match:
            states[match[1]] = (match[2], match[3] or "")
    return states


def ctrl_c_while(cwd: Path, url: str, args: list[str], running: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `python -m invoke ARGS` in its own process group (as a terminal's Ctrl-C reaches it), send SIGINT to the
    group once a query starting with `running` shows in pg_stat_activity: how the process ended, and how many
    seconds after the signal."""
    import signal
    import time

    # An ignored SIGINT is inherited by the child, which would then never see the Ctrl-C: say so, not a timeout.
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN, "SIGINT is ignored in the test process"
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=cwd,
        env=task_environment(url, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not query(url, "SELECT 1 FROM pg_stat_activity WHERE query LIKE %s", (running + "%",)):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        interrupted_at = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        took = time.monotonic() - interrupted_at
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), took


def typed_at_a_terminal(cwd: Path, env: dict[str, str], args: list[str], typed: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m invoke ARGS` with a terminal as its stdin and `typed` (and Enter) typed on it."""
    import pty

    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=cwd,
            env=env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(controller, f"{typed}\n".encode())
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
