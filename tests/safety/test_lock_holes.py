"""Safety of the migration lock under attack (issue 12): a terminal that goes away, a lock session the server
ends, many runs waiting at once, and the messages of a dead fork server, a killed worker and a bad --to.

Everything runs through `inv` against the real PostgreSQL server; every process a test starts is killed by id
(or by the process group it leads) on the way out."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from _support import (
    assert_failure,
    assert_ok,
    declared_services,
    execute,
    head_of,
    inv,
    plant_migration,
    query,
    revisions_of,
    schema_of,
    show,
    start_fork_server,
    summary_states,
    version,
)
from safety_helpers import (
    Background,
    advisory_lock_holders,
    background,
    inv_environment,
    start_inv,
    upgrades_logged,
    wait_for,
)

ALL = list(declared_services())

# Three slow migrations after movements' head; each records which run's lock was held while it ran.
SLOW = ("5afe10c00001", "5afe10c00002", "5afe10c00003")
RUNS_TABLE = "public.safety_migration_runs"
_HOLDER = (
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


def plant_slow_migrations(project: Path, url: str, seconds: float) -> None:
    """movements: SLOW after its head, each sleeping `seconds`, then recording itself and the lock's holder."""
    execute(url, f"CREATE TABLE {RUNS_TABLE} (revision text, holder text)")
    down = head_of("movements")
    for revision in SLOW:
        body = (
            "from alembic import op\n\n"
            f"    op.execute('SELECT pg_sleep({seconds})')\n"
            f"    op.execute(\"INSERT INTO {RUNS_TABLE} SELECT '{revision}', ({_HOLDER})\")"
        )
        plant_migration(project, "movements", revision, down, body=body)
        down = revision


def migration_runs(url: str) -> list[tuple[str, str | None]]:
    return [(row[0], row[1]) for row in query(url, f"SELECT revision, holder FROM {RUNS_TABLE} ORDER BY revision")]


def sleeping_migration(url: str) -> bool:
    return bool(
        query(
            url,
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE %s",
            ("SELECT pg_sleep(%",),
        )
    )


def start_inv_without_a_reader(project: Path, *args: str, url: str, stderr: str) -> subprocess.Popen[bytes]:
    """`inv ARGS` in its own session, stdout on a pipe; its stderr a pipe whose reader leaves after one line (as
    `2>&1 | head -1`), or closed before it starts (`2>&-`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=inv_environment(url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr == "reader-left" else None,
        preexec_fn=None if stderr == "reader-left" else lambda: os.close(2),
        start_new_session=True,
    )
    if process.stderr is not None:
        process.stderr.readline()
        process.stderr.close()
    return process


def kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


# == 1. the terminal goes away: the lock is held until the worker is done ==============================================


@pytest.mark.slow
@pytest.mark.parametrize("stderr", ["reader-left", "closed"])
def test_a_closed_stderr_keeps_the_lock_until_the_worker_is_done(
    project: Path, upgraded_url: str, tmp_path: Path, stderr: str
) -> None:
    """`inv db.upgrade-all 2>&1 | head -1` (the reader leaves after one line) and `2>&-`: the run must keep its lock
    while its worker migrates, a second run waits for it, and each migration runs once, under the first run's lock."""
    database_url = upgraded_url  # every service at head
    plant_slow_migrations(project, database_url, 2)
    first = start_inv_without_a_reader(project, "db.upgrade-all", url=database_url, stderr=stderr)
    second: Background | None = None
    try:
        assert wait_for(lambda: sleeping_migration(database_url) or first.poll() is not None, 120)
        time.sleep(2.5)  # the first run has tried to write the next 'Running upgrade' line by now
        second = start_inv(project, tmp_path / "runs", "db.upgrade-all", url=database_url)
        out, _ = first.communicate(timeout=120)
        later = second.finish(timeout=120)
    finally:
        kill_group(first)
        if second is not None and second.process.poll() is None:
            second.kill_group()

    assert first.returncode == 0, out.decode()
    assert "movements" in out.decode() and "3 migrations" in out.decode(), out.decode()
    assert_ok(later)
    assert "waiting for the migration lock" in later.stderr, show(later)
    assert summary_states(later)["movements"] == ("ok", "already at head"), show(later)
    runs = migration_runs(database_url)
    assert Counter(revision for revision, _ in runs) == {revision: 1 for revision in SLOW}, runs
    assert all(holder is not None and holder.endswith(f" pid {first.pid}") for _, holder in runs), (first.pid, runs)
    assert version(database_url, "movements") == [SLOW[-1]]
    assert not advisory_lock_holders(database_url)


# == 2. the server ends the lock's session: the run fails, and no migration commits without a lock =====================


def lock_session(url: str) -> int | None:
    holders = advisory_lock_holders(url)
    return holders[0] if len(holders) == 1 else None


@pytest.mark.slow
def test_a_lock_session_ended_by_the_server_fails_the_run(project: Path, database_url: str, tmp_path: Path) -> None:
    """pg_terminate_backend of the lock's session during a slow migration: the run stops its worker (the migration
    rolls back) and fails naming what happened; a second run started at once migrates alone."""
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_slow_migrations(project, database_url, 1.5)
    with background(project, tmp_path / "runs", "db.upgrade", "movements", url=database_url) as first:
        assert wait_for(lambda: sleeping_migration(database_url) or first.process.poll() is not None, 120)
        holder = lock_session(database_url)
        assert holder is not None and first.process.poll() is None, show(first.read())
        execute(database_url, f"SELECT pg_terminate_backend({holder})")
        with background(project, tmp_path / "runs", "db.upgrade", "movements", url=database_url) as second:
            lost = first.finish(timeout=120)
            later = second.finish(timeout=120)

    line = assert_failure(lost, "movements")
    assert re.search(r"the migration lock's session was ended by the server \((terminating connection|server closed)", line), line
    assert "the run may have overlapped another: run 'inv db.status'" in line, line
    assert_ok(later)
    runs = migration_runs(database_url)
    assert Counter(revision for revision, _ in runs) == {revision: 1 for revision in SLOW}, runs
    assert all(holder is not None and holder.endswith(f" pid {second.pid}") for _, holder in runs), (second.pid, runs)
    assert version(database_url, "movements") == [SLOW[-1]]


def test_an_idle_session_timeout_does_not_end_the_lock(project: Path, database_url: str) -> None:
    """A database whose sessions end after 1 s idle: the lock's session (idle while the worker migrates) stays."""
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_slow_migrations(project, database_url, 1.5)
    name = database_url.rsplit("/", 1)[-1]
    execute(database_url, f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '1s'")

    result = assert_ok(inv(project, "db.upgrade", "movements", url=database_url))

    assert f"movements: upgraded {head_of('movements')} -> {SLOW[-1]} (3 migrations)" in result.stdout, show(result)
    runs = migration_runs(database_url)
    assert [revision for revision, _ in runs] == list(SLOW)
    assert all(holder is not None and holder.endswith(f" pid {os.getpid()}") for _, holder in runs), runs  # held throughout
    assert version(database_url, "movements") == [SLOW[-1]]


# == 11. many runs waiting at once: the ones that find a service at head after the wait start no worker ==============


@pytest.mark.slow
def test_sixteen_concurrent_upgrade_all_finish_within_the_default_lock_wait(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    runs: list[Background] = []
    started = time.monotonic()
    try:
        for _ in range(16):  # all started before any is waited for; default --lock-wait (60 s)
            runs.append(start_inv(project, tmp_path / "runs", "db.upgrade-all", url=database_url, env={"DBTASKS_DEBUG": "1"}))
        results = [run.finish(timeout=600) for run in runs]
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.kill_group()
    elapsed = time.monotonic() - started

    every = "\n\n".join(show(result) for result in results)
    assert all(result.returncode == 0 for result in results), every
    assert all("Traceback" not in result.stdout + result.stderr for result in results), every
    applied = Counter(step for result in results for step in upgrades_logged(result.stderr))
    expected = {(service, revision) for service in ALL for revision in revisions_of(service)}
    assert set(applied) == expected, every
    assert all(count == 1 for count in applied.values()), applied
    for service in ALL:
        assert version(database_url, schema_of(service)) == [head_of(service)], service
    # A run that waited for a lock and found the service at head after the wait started no worker (DBTASKS_DEBUG=1
    # says each worker start): one upgrade worker per service in all.
    started = Counter(
        m[1] for r in results for line in r.stderr.splitlines() if (m := re.match(r"^(\S+) \| worker: upgrade ", line))
    )
    print(f"16 concurrent upgrade-all: {elapsed:.1f} s; upgrade workers started: {dict(started)}")
    assert started == {service: 1 for service in ALL}, started


# == 8. the messages of a dead fork server, a killed worker and a lost asyncpg connection ===============================


def test_a_dead_fork_server_falls_back_to_spawned_workers(project: Path, database_url: str) -> None:
    """The fork server's socket breaks (as when the server is killed mid-request) while its process looks alive:
    the workers are spawned instead, and no service is told to fix its 'python'."""
    from dbtasks.run import forkserver
    from dbtasks.run.runner import WORKER

    server = forkserver.server_for(sys.executable, WORKER, start=True)
    assert server is not None and server.process.poll() is None
    server.sock.close()
    try:
        result = assert_ok(inv(project, "db.upgrade-all", url=database_url))
    finally:
        forkserver.discard(sys.executable, server)
        start_fork_server()  # the session's other tests fork from a new one

    assert "cannot start interpreter" not in result.stdout + result.stderr, show(result)
    assert {state for state, _ in summary_states(result).values()} == {"ok"}, show(result)
    for service in ALL:
        assert version(database_url, schema_of(service)) == [head_of(service)], service


def worker_pids(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == parent and fields[0] != "Z" and b"dbtasks/worker/__main__.py" in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_killed_worker_is_said_to_be_killed(project: Path, database_url: str, tmp_path: Path) -> None:
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    plant_slow_migrations(project, database_url, 30)
    with background(project, tmp_path / "runs", "db.upgrade", "movements", url=database_url) as run:
        assert wait_for(lambda: sleeping_migration(database_url) or run.process.poll() is not None, 120)
        [worker] = worker_pids(run.pid)  # one service: a spawned worker, a child of inv
        os.kill(worker, signal.SIGKILL)
        result = run.finish(timeout=60)

    line = assert_failure(result, "movements")
    assert "the worker process was killed (signal 9)" in line, line
    assert "alembic installed" not in line, line
    assert version(database_url, "movements") == [head_of("movements")]
    assert migration_runs(database_url) == []


def test_asyncpg_losing_its_connection_mid_operation_is_connection_lost() -> None:
    """asyncpg's protocol says 'cannot switch to state 11' when the server went away under an operation (seen once
    in a restart); SQLAlchemy wraps it in InternalError. Real exception types, classified as the worker does."""
    from asyncpg.exceptions._base import InternalClientError
    from sqlalchemy.exc import InternalError

    from dbtasks.worker.failures import classify

    cause = InternalClientError("cannot switch to state 11; another operation (2) is in progress")
    error = InternalError("SELECT 1", {}, cause)
    error.__cause__ = cause

    found = classify(error)

    assert found["kind"] == "connection_lost", found
    assert "cannot switch to state 11" in found["message"], found


def test_a_lock_session_ended_while_it_waits_is_one_line(database_url: str) -> None:
    """The server ends the session that waits for a held lock: a one-line error that names the service, not a raw
    psycopg2 exception, and nothing was migrated."""
    import psycopg2

    from dbtasks.database.lock import key_of, migration_lock
    from dbtasks.database.target import Target
    from dbtasks.errors import ServiceError

    holder = psycopg2.connect(database_url)
    holder.autocommit = True
    announced: list[str] = []

    def end_the_waiting_session(line: str) -> None:
        announced.append(line)
        execute(
            database_url,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'dbtasks habits on %pid {os.getpid()}'",
        )

    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", key_of("habits"))
        with (
            pytest.raises(ServiceError) as caught,
            migration_lock(
                Target.of(database_url, "DATABASE_URL"), "habits", "habits", wait=30, announce=end_the_waiting_session
            ),
        ):
            pytest.fail("the lock was taken while another session held it")
    finally:
        holder.close()
    assert announced and "waiting for the migration lock of schema 'habits'" in announced[0]
    error = caught.value
    assert error.kind == "connection_lost" and error.service == "habits"
    message = str(error)
    assert "\n" not in message and "migration lock of schema 'habits' failed" in message and "nothing was migrated" in message
    assert "(server closed the connection unexpectedly)" in message  # the driver's reason, in one line


def test_a_lost_lock_tells_a_server_restart_from_a_session_ended_alone(database_url: str, tmp_path: Path) -> None:
    """When the watcher sees the lock's session gone before the worker sees its own connection go (asyncpg under
    load), the run must still say the server went away: the lock compares the server's start time."""
    from dbtasks.database.localdb import LocalDatabase
    from dbtasks.database.lock import migration_lock
    from dbtasks.database.target import Target

    # Ended alone (pg_terminate_backend): the server's start time is unchanged, the lost-lock words.
    with migration_lock(Target.of(database_url, "DATABASE_URL"), "habits", "habits", wait=5, announce=print) as held:
        execute(database_url, f"SELECT pg_terminate_backend({held.server_pid})")
        held.check(quietly=True)
        assert held.lost is not None
        alone = held.error()
    assert alone.kind == "lock_lost" and "the migration lock's session was ended by the server" in str(alone)

    # A restart: down, then up again with a new start time; both are the lost connection's words.
    server = LocalDatabase(tmp_path / "pg", fsync=False)
    url = server.start()
    try:
        with migration_lock(Target.of(url, "DATABASE_URL"), "habits", "habits", wait=5, announce=print) as held:
            server.stop()
            held.check(quietly=True)
            assert held.lost is not None
            down = held.error()
            server.start()
            again = held.error()
    finally:
        server.stop()
    for error in (down, again):
        assert error.kind == "connection_lost" and str(error).startswith("habits: lost the connection to the database"), error
        assert "the server went down or restarted during the run" in str(error)


def test_the_state_read_under_the_lock_goes_through_the_lock_s_own_session(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """upgrade reads the version table again once it holds the lock: through the lock's session, which the watcher
    keeps using, not a new connection; with a service at head, that read alone decides (no worker)."""
    from dbtasks import config
    from dbtasks.database.lock import migration_lock
    from dbtasks.database.target import Target
    from dbtasks.session import Session

    assert_ok(inv(project, "db.upgrade", "habits", url=database_url))
    with migration_lock(Target.of(database_url, "DATABASE_URL"), "habits", "habits", wait=5, announce=print) as held:
        assert held.catalog().rows("SELECT pg_backend_pid()") == [(str(held.server_pid),)]
        monkeypatch.setenv("DATABASE_URL", database_url)
        session = Session(config.load(project / "migrations.yaml"))
        state = session.known_state(session.service("habits"), fresh=True, held=held)
        held.check()  # the watcher's session is still the lock's, and still holds it
    assert state is not None and (state.current, state.pending) == ((head_of("habits"),), 0)


def test_a_run_over_several_services_keeps_its_lock_session_for_the_next_lock(database_url: str) -> None:
    """With a run's Spares, the session a released lock held takes the next lock on the same database, named for its
    new holder; a session the server ended while it was kept, or one that lost its lock, is never used again; the
    sessions left are closed when the run's block ends."""
    import socket

    from dbtasks.database.lock import migration_lock, sessions_kept
    from dbtasks.database.target import Target

    target = Target.of(database_url, "DATABASE_URL")
    ours = (
        "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() "
        f"AND application_name LIKE 'dbtasks %%pid {os.getpid()}'"
    )

    class Run:
        spares = None

    run = Run()
    with sessions_kept(run):
        spares = run.spares
        assert spares is not None
        with migration_lock(target, "users", "users", wait=5, announce=print, spares=spares) as first:
            pass
        assert [pid for pid, _ in query(database_url, ours)] == [first.server_pid]  # released, kept open
        with migration_lock(target, "meals", "meals", wait=5, announce=print, spares=spares) as second:
            assert second.server_pid == first.server_pid
            assert query(database_url, ours) == [(first.server_pid, f"dbtasks meals on {socket.gethostname()} pid {os.getpid()}")]
            assert advisory_lock_holders(database_url) == [second.server_pid]
        execute(database_url, f"SELECT pg_terminate_backend({first.server_pid}, 5000)")  # ended while kept
        with migration_lock(target, "habits", "habits", wait=5, announce=print, spares=spares) as third:
            assert third.server_pid != first.server_pid
            execute(database_url, f"SELECT pg_terminate_backend({third.server_pid}, 5000)")
            third.check(quietly=True)
            assert third.lost is not None
        with migration_lock(target, "journal", "journal", wait=5, announce=print, spares=spares) as fourth:
            assert fourth.server_pid not in (first.server_pid, third.server_pid)  # the lost one was not kept
        assert [pid for pid, _ in query(database_url, ours)] == [fourth.server_pid]
        spares.KEEP_FOR = 0.0  # kept too long (a network may have dropped it silently): closed, not used
        with migration_lock(target, "users", "users", wait=5, announce=print, spares=spares) as fifth:
            assert fifth.server_pid != fourth.server_pid
        assert settled(database_url, ours, [fifth.server_pid]) == [fifth.server_pid]
    assert run.spares is None
    assert settled(database_url, ours, []) == []


def settled(url: str, sql: str, expected: list[int]) -> list[int]:
    """The pids `sql` finds once they are `expected`, or after 5 s: a closed session leaves pg_stat_activity a moment
    after its client closed it."""
    deadline = time.monotonic() + 5
    while True:
        found = [row[0] for row in query(url, sql)]
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.02)
