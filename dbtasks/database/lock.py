"""The migration lock: a PostgreSQL session-level advisory lock per (database, version table).

Every writing operation holds it on a connection of its own, taken before the worker reads the
current revision, so two runs (laptop, CI, deploy) never migrate one service at once while different
services migrate in parallel (services sharing a version table would share its lock; config refuses that). The server releases it when the holding process dies.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .. import settings
from ..errors import DbtasksError, ServiceError
from ..explain import Emit, refused
from ..worker.libpq import libpq
from .target import Target

if TYPE_CHECKING:
    from .pg import Connection

T = TypeVar("T")

# The first key of every dbtasks lock ("dbts"); the second is the CRC-32 of its name (plan.lock_name).
NAMESPACE = 0x64627473
DEFAULT_WAIT = settings.DEFAULT_WAIT
_HOLDER_SQL = """
SELECT a.pid, a.application_name, a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
# Whether this session still holds the lock: asked between migrations by the watcher, and before success.
_HELD_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
  AND objsubid = 2 AND classid = %s::bigint::oid AND objid = %s::bigint::oid)
"""
# The lock's session is idle while the worker migrates: a server (or role) setting must not end it.
_NO_IDLE_TIMEOUTS = """
SELECT set_config(name, '0', false) FROM pg_settings
WHERE name IN ('idle_session_timeout', 'idle_in_transaction_session_timeout')
"""
WATCH_INTERVAL = 0.5  # seconds between the watcher's looks at the lock's session


def key_of(name: str) -> tuple[int, int]:
    """The two int4 keys of the lock called `name` (see plan.lock_name)."""
    crc = zlib.crc32(name.encode("utf-8"))
    return NAMESPACE, crc - 2**32 if crc >= 2**31 else crc


def _subject(name: str) -> str:
    return f"version table {name}" if "." in name else f"schema {name!r}"


@contextmanager
def migration_lock(
    target: Target,
    service: str,
    name: str,
    *,
    wait: float,
    announce: Emit,
    sleep: Callable[[float], None] = time.sleep,
    spares: Spares | None = None,
) -> Iterator[Held]:
    """Hold lock `name` (plan.lock_name) on target's database for the duration of the block, waiting up to `wait` seconds.

    The block gets the Held lock: its session is watched until the block ends (see Held). With `spares`, the session
    is one another lock of the run released on the same database, when there is one, and is kept there once released."""
    import psycopg2

    assert target.url is not None
    application = f"dbtasks {service} on {socket.gethostname()} pid {os.getpid()}"[:63]
    connection, started = _spare(spares, target.url, application)
    if connection is None:
        try:
            connection = psycopg2.connect(libpq(target.url), connect_timeout=10, application_name=application)
        except psycopg2.Error as error:  # OperationalError, or ProgrammingError for a DSN libpq cannot parse
            raise ServiceError(service, refused(target, " ".join(str(error).split())), kind="connect") from None
    released = False
    try:
        try:
            connection.autocommit = True
            if not started:
                with connection.cursor() as cursor:
                    cursor.execute(_NO_IDLE_TIMEOUTS)
            _acquire(connection, service, name, wait, announce, sleep)
            if not started:
                with connection.cursor() as cursor:  # a later start time tells a restart from a session ended alone
                    cursor.execute("SELECT pg_postmaster_start_time()::text")
                    started = str(cursor.fetchone()[0])
        except psycopg2.Error as error:  # the server ended the session (restart, pg_terminate_backend) while it waited
            raise ServiceError(service, _lost_while_waiting(target, name, error), kind="connection_lost") from None
        held = Held(connection, service, name, target, started)
        try:
            yield held
        finally:
            held.stop_watching()
            # A lost session has released its locks already.
            with contextlib.suppress(psycopg2.Error), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key_of(name))
                released = bool(cursor.fetchone()[0]) and held.lost is None
    finally:
        if released and spares is not None:
            spares.give(target.url, connection, started)
        else:
            connection.close()


class Spares:
    """The lock sessions a run over several services has released, by URL, for its next locks on the same database:
    one connection per thread and database instead of one per service. One kept longer than KEEP_FOR seconds is not
    used again (a network that dropped it silently would hold the next lock up); close() ends those left, and any
    given back after it."""

    KEEP_FOR = 30.0

    def __init__(self) -> None:
        self._idle: dict[str, list[tuple[Any, str, float]]] = {}
        self._guard = threading.Lock()
        self._closed = False

    def take(self, url: str) -> tuple[Any, str] | None:
        """A released session to `url` and its server's start time, if one is kept."""
        with self._guard:
            idle = self._idle.get(url) or []
            stale = [kept for kept in idle if time.monotonic() - kept[2] > self.KEEP_FOR]
            fresh = [kept for kept in idle if kept not in stale]
            found = fresh.pop() if fresh else None
            self._idle[url] = fresh
        for connection, _, _ in stale:
            connection.close()
        return None if found is None else (found[0], found[1])

    def give(self, url: str, connection: Any, started: str) -> None:
        with self._guard:
            if not self._closed:
                self._idle.setdefault(url, []).append((connection, started, time.monotonic()))
                return
        connection.close()  # the run is over (a thread that outlived it)

    def close(self) -> None:
        with self._guard:
            idle, self._idle, self._closed = self._idle, {}, True
        for connection, _, _ in (kept for sessions in idle.values() for kept in sessions):
            connection.close()


@contextmanager
def sessions_kept(holder: Any) -> Iterator[None]:
    """For the block, `holder.spares` (a Session's) keeps the lock sessions it releases for its next locks (Spares),
    unless an outer block does already; they are closed when the block ends."""
    if holder.spares is not None:
        yield
        return
    holder.spares = Spares()
    try:
        yield
    finally:
        spares, holder.spares = holder.spares, None
        spares.close()


def _spare(spares: Spares | None, url: str, application: str) -> tuple[Any, str]:
    """A kept session to `url`, named for its new holder; (None, "") when none is kept or the one kept has ended."""
    import psycopg2

    kept = spares.take(url) if spares is not None else None
    if kept is None:
        return None, ""
    connection, started = kept
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('application_name', %s, false)", (application,))
    except psycopg2.Error:  # ended while it was kept (the server restarted, or terminated it)
        connection.close()
        return None, ""
    return connection, started


def _lost_while_waiting(target: Target, name: str, error: Exception) -> str:
    reason = " ".join(str(error).strip().splitlines()[0].split()) if str(error).strip() else type(error).__name__
    return (
        f"the connection that waits for the migration lock of {_subject(name)} failed ({target.redact(reason)}); "
        f"nothing was migrated: check the server ('inv db.doctor'), then rerun"
    )


class Held:
    """A migration lock being held. A thread looks at its session every WATCH_INTERVAL seconds; when the server has
    ended it (idle timeout, pg_terminate_backend, restart) `lost` says how, and the work registered with `on_lost`
    is stopped (a worker rolls back the migration in progress)."""

    def __init__(self, connection: Any, service: str, name: str, target: Target | None = None, started: str = "") -> None:
        self.connection = connection
        self.service = service
        self.name = name
        self.target = target  # to tell, once the session is gone, whether the whole server restarted
        self.started = started  # the server's pg_postmaster_start_time() when the lock was taken
        self.server_pid: int = connection.get_backend_pid()
        self.lost: str | None = None
        self._stops: list[Callable[[], None]] = []
        self._others: list[Held] = []  # the same lock in the other databases a multidb env.py migrates
        self._guard = threading.Lock()
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"lock watcher {service}", daemon=True)
        self._watcher.start()

    def catalog(self) -> Connection:
        """The lock's own session as a pg.Connection for catalog reads while it is held (no second connection): the
        watcher takes turns with them."""
        from .pg import borrowed

        return borrowed(self.connection, self._guard)

    @property
    def oids(self) -> tuple[int, int]:
        """The lock's two keys as pg_locks shows them (classid, objid)."""
        first, second = key_of(self.name)
        return first & 0xFFFFFFFF, second & 0xFFFFFFFF

    def on_lost(self, stop: Callable[[], None]) -> Callable[[], None]:
        """Call `stop` if the lock is lost (at once if it is already); returns the function that unregisters it."""
        with self._guard:
            lost = self.lost is not None
            if not lost:
                self._stops.append(stop)
        if lost:
            stop()

        def unregister() -> None:
            with self._guard:
                if stop in self._stops:
                    self._stops.remove(stop)

        return unregister

    def include(self, other: Held) -> None:
        """Another database's session of this same lock (the multidb template's other engines): when the server ends
        that one, this lock is lost too, with the same consequences (the worker is stopped and rolls back)."""
        self._others.append(other)
        where = urlsplit(other.target.url or "").path.lstrip("/") if other.target is not None else "?"
        other.on_lost(lambda: self._lose(f"{other.lost}, the lock's session in database {where}"))

    def guard(self, work: Callable[[], T]) -> T:
        """Run `work` under this lock: its result only if the lock was still held when it ended, else the lost-lock
        error (also in place of the error of work stopped because the lock went)."""
        try:
            result = work()
        except ServiceError as error:
            if error.kind == "connection_lost":  # the server went away (a restart): the worker's words say it best
                raise
            self.check(quietly=True)
            if self.lost is not None:
                raise self.error() from None
            raise
        except DbtasksError:
            self.check(quietly=True)
            if self.lost is not None:
                raise self.error() from None
            raise
        self.check()
        return result

    def check(self, *, quietly: bool = False) -> None:
        """Ask the server now whether the lock is held; raise the lost-lock error if not (unless `quietly`)."""
        self._look()
        for other in self._others:
            other._look()  # a loss there is this lock's loss (include)
        if self.lost is not None and not quietly:
            raise self.error()

    def error(self) -> ServiceError:
        if self._server_restarted():  # every session went: the worker's may not have noticed yet (asyncpg)
            return ServiceError(
                self.service,
                f"lost the connection to the database: the server went down or restarted during the run ({self.lost}); it rolls back "
                f"the migration in progress, so the service stays at its last completed revision; check that the server "
                f"is up, then rerun",
                kind="connection_lost",
            )
        return ServiceError(
            self.service,
            f"the migration lock's session was ended by the server ({self.lost}); the run may have overlapped "
            f"another: run 'inv db.status' to see where each service stands, then rerun",
            kind="lock_lost",
        )

    def _server_restarted(self) -> bool:
        """Whether the server is down or has started again since the lock was taken (not just this session ended)."""
        if self.target is None or self.target.url is None or not self.started:
            return False
        from . import pg

        try:
            with pg.connect(libpq(self.target.url)) as connection:
                return connection.rows("SELECT pg_postmaster_start_time()::text") != [(self.started,)]
        except pg.PgError:
            return True  # down (or still starting): the server went, not only the lock's session

    def stop_watching(self) -> None:
        self._done.set()
        self._watcher.join()

    def _watch(self) -> None:
        while not self._done.wait(WATCH_INTERVAL) and self.lost is None:
            self._look()

    def _look(self) -> None:
        import psycopg2

        with self._guard:
            if self.lost is not None:
                return
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute(_HELD_SQL, self.oids)
                    held = bool(cursor.fetchone()[0])
                reason = None if held else f"server pid {self.server_pid} no longer holds it"
            except psycopg2.Error as error:
                reason = " ".join(str(error).strip().splitlines()[0].split()) or type(error).__name__
        if reason is not None:
            self._lose(reason)

    def _lose(self, reason: str) -> None:
        """The lock is lost (the first reason stands): stop the work registered with on_lost."""
        with self._guard:
            if self.lost is not None:
                return
            self.lost = reason
            stops, self._stops = self._stops, []
        for stop in stops:
            with contextlib.suppress(Exception):
                stop()


def _acquire(connection: Any, service: str, name: str, wait: float, announce: Emit, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + wait
    delay, reported = 0.05, None
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key_of(name))
            if cursor.fetchone()[0]:
                return
        holder = _holder(connection, name)
        if time.monotonic() >= deadline:
            raise ServiceError(
                service,
                f"another migration of {_subject(name)} is running ({holder or 'holder gone'}); "
                f"wait for it to finish, or rerun with a larger --lock-wait (now {wait:g} s)",
                kind="locked",
            )
        if holder is not None and holder != reported:  # say who holds it once, and again when the holder changes
            announce(f"{service} | waiting for the migration lock of {_subject(name)}, held by {holder}; up to {wait:g} s")
            reported = holder
        sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 1.0)


def _holder(connection: Any, name: str) -> str | None:
    """'dbtasks habits on host pid 9 (server pid 123, its session since 14:02:11 UTC)', or None when the lock was just
    released. The session may have taken other services' locks before (Spares): its start, not this lock's."""
    with connection.cursor() as cursor:
        cursor.execute(_HOLDER_SQL, tuple(key & 0xFFFFFFFF for key in key_of(name)))
        row = cursor.fetchone()
    if row is None:
        return None
    pid, application, started = row
    since = started.strftime("%H:%M:%S %Z").strip() if started is not None else "unknown"
    return f"{application or 'a session without application_name'} (server pid {pid}, its session since {since})"
