"""Shared fixtures and helpers: a real PostgreSQL for the session, one fresh database per test, a
throwaway copy of the project, a runner for `inv` and readers of the catalog.

Nothing here mocks anything: the tasks run through Invoke in a subprocess, against a server that the
session starts itself (or the one named by DBTASKS_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _support import (
    SERVER_FOLDER_PREFIX,
    SERVERS,
    assert_ok,
    cheap_logins,
    copy_project,
    create_database,
    declared_services,
    drop_database,
    head_of,
    inv,
    remove_abandoned_server_folders,
    schema_of,
    server_trouble,
    start_fork_server,
    version,
)

from dbtasks.database import owner
from dbtasks.database.localdb import LocalDatabase
from dbtasks.errors import LocalDatabaseError

# A run started with SIGINT ignored (`cmd &` in a script, nohup, some CI runners) passes that on to every process it
# starts, and an ignored SIGINT stays ignored across exec: the Ctrl-C tests' processes would never see theirs. A
# handler of our own is reset to the default in each child, so the tests run as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# -- the server and the databases --------------------------------------------------------------


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
        cheap_logins(url)
        try:
            yield url
        finally:
            server.stop()
    finally:
        SERVERS.clear()
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first (each keeps its place among them): xdist hands them out before the short ones, so the
    run does not end with one long test on one worker while the others wait."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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
    start_fork_server()


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
def upgraded_template(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of a database where `inv db.upgrade-all` brought every example service to head, once per session:
    the template of `upgraded_url`'s copies."""
    url = create_database(pg_server)
    try:
        source = copy_project(tmp_path_factory.mktemp("upgraded-template") / "repo")
        assert_ok(inv(source, "db.upgrade-all", url=url))
        assert all(version(url, schema_of(service)) == [head_of(service)] for service in declared_services())
        yield urlsplit(url).path.lstrip("/")
    finally:
        drop_database(pg_server, url)


@pytest.fixture
def upgraded_url(pg_server: str, upgraded_template: str) -> Iterator[str]:
    """A fresh database with every example service at head, as `inv db.upgrade-all` leaves it (a copy of the
    session's upgraded template, which costs a tenth of the upgrade); dropped after the test."""
    url = create_database(pg_server, upgraded_template)
    try:
        yield url
    finally:
        drop_database(pg_server, url)


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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project that a test may change freely."""
    return copy_project(tmp_path / "repo")


# -- migrations.yaml and the migration files, read independently of dbtasks -----------------------


# -- the catalog -------------------------------------------------------------------------------


# -- assertions on a task's result -----------------------------------------------------------------
