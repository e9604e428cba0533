"""The suite's own PostgreSQL servers: another pytest of the same user cannot knock them over, one that died
says why in every failing test, and a crashed session's server and folder are removed by the next session."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from _support import (
    SERVER_FOLDER_PREFIX,
    SERVERS,
    assert_ok,
    create_database,
    drop_database,
    execute,
    head_of,
    inv,
    remove_abandoned_server_folders,
    server_trouble,
    show,
    version,
)
from safety_helpers import wait_for

from dbtasks.database import owner
from dbtasks.database.localdb import LocalDatabase
from dbtasks.errors import LocalDatabaseError


@pytest.fixture
def own_temporary_folder() -> Iterator[Path]:
    """A folder under the temporary folder (not pytest's), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="dbtasks-servers-test-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_session_server_survives_a_concurrent_pytest_of_the_same_user(
    pg_server: str,
    project: Path,
    database_url: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    own_temporary_folder: Path,
) -> None:
    """Another pytest of the same user resets <tmp>/pytest-of-<user> to mode 0700: the session's server keeps its data
    elsewhere. The other pytest runs with a temporary folder of its own: in ours it would also close the folders of
    this suite's tests that start a server under their tmp_path (a project's local database) while they run."""
    if not SERVERS:
        pytest.skip(
            "DBTASKS_TEST_DATABASE_URL names a server this session did not start, whose folders are not ours to check; "
            "unset it to run this test"
        )
    data = SERVERS[0].data
    ours = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"
    assert ours not in data.parents and tmp_path_factory.getbasetemp() not in data.parents, data

    other = tmp_path / "other"
    other.mkdir()
    (other / "test_tiny.py").write_text("def test_tiny(tmp_path):\n    assert tmp_path.is_dir()\n")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    environment["TMPDIR"] = str(own_temporary_folder)
    # The default basetemp: this run makes <its tmp>/pytest-of-<user> and resets it to mode 0700.
    other_run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py"],
        cwd=other,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert other_run.returncode == 0, show(other_run)
    pytests_folder = own_temporary_folder / f"pytest-of-{getpass.getuser()}"
    assert stat.S_IMODE(pytests_folder.stat().st_mode) & 0o077 == 0  # closed to others

    # A checkpoint writes global/pg_control: the first thing that fails when the server lost its way to its data.
    scratch = create_database(pg_server)
    execute(pg_server, "CHECKPOINT")
    drop_database(pg_server, scratch)
    assert server_trouble(SERVERS[0]) is None
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    assert version(database_url, "movements") == [head_of("movements")]


@pytest.mark.skipif(os.geteuid() != 0, reason="only a server running as another account loses its way to its data")
def test_a_server_that_lost_its_data_folder_is_reported_with_its_logs_panic_line(own_temporary_folder: Path) -> None:
    cage = own_temporary_folder / "cage"
    server = LocalDatabase(cage / "home", fsync=False)
    url = server.start()
    try:
        cage.chmod(0o700)  # what another pytest does to <tmp>/pytest-of-<user>
        with pytest.raises(psycopg2.Error):
            execute(url, "CHECKPOINT")
        # After the PANIC the server restarts its processes, fails to reach its data again and shuts down.
        assert wait_for(lambda: server.running_port() is None, 30), "the server still runs"
        trouble = server_trouble(server)
    finally:
        cage.chmod(0o711)
        with contextlib.suppress(LocalDatabaseError):
            server.stop()
    assert trouble is not None
    first, *rest = trouble.splitlines()
    assert first == f"the test PostgreSQL server in {server.data} is not running; its log ({server.log_file}) ends with:"
    assert "PANIC:" in rest[0] and 'global/pg_control": Permission denied' in rest[0], trouble


def test_the_next_session_stops_and_removes_a_crashed_sessions_server(own_temporary_folder: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    gone = f"{socket.gethostname()} {sleeper.pid} {owner.start_time(sleeper.pid)}"
    os.kill(sleeper.pid, signal.SIGKILL)
    sleeper.wait()

    def server_folder(owned_by: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{SERVER_FOLDER_PREFIX}gw9-", dir=own_temporary_folder))
        folder.chmod(0o711)
        (folder / "owner").write_text(owned_by)
        return folder

    crashed, running, elsewhere = server_folder(gone), server_folder(owner.this_process()), server_folder("ci-9.example 1 1")
    server = LocalDatabase(crashed / "home", fsync=False)
    server.start()
    port = server.running_port()
    try:
        assert remove_abandoned_server_folders(own_temporary_folder) == [crashed]
    finally:
        server.stop()
    assert not crashed.exists() and running.is_dir() and elsewhere.is_dir()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port or 1)) != 0, "the crashed session's server still runs"
