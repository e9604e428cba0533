"""The migration lock: a PostgreSQL session-level advisory lock per (database, version table).

Every writing operation holds it on a connection of its own, taken before the worker reads the
current revision, so two runs (laptop, CI, deploy) never migrate one service at once while different
services migrate in parallel (services sharing a version table would share its lock; config refuses that). The server releases it when the holding process dies.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import ServiceError
from .explain import cannot_connect
from .target import Target
from .worker.libpq import libpq

Emit = Callable[[str], None]

# The first key of every dbtasks lock ("dbts"); the second is the CRC-32 of its name (lock_name).
NAMESPACE = 0x64627473
DEFAULT_WAIT = 60.0
_HOLDER_SQL = """
SELECT a.pid, a.application_name, a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def key_of(name: str) -> tuple[int, int]:
    """The two int4 keys of the lock called `name` (see lock_name)."""
    crc = zlib.crc32(name.encode("utf-8"))
    return NAMESPACE, crc - 2**32 if crc >= 2**31 else crc


def lock_name(version_table: tuple[str, str]) -> str:
    """The lock of a version table: its schema's name for alembic_version (as every dbtasks so far), else schema.table."""
    schema, table = version_table
    return schema if table == "alembic_version" else f"{schema}.{table}"


def _subject(name: str) -> str:
    return f"version table {name}" if "." in name else f"schema {name!r}"


@contextmanager
def migration_lock(
    target: Target, service: str, name: str, *, wait: float, announce: Emit, sleep: Callable[[float], None] = time.sleep
) -> Iterator[None]:
    """Hold lock `name` (lock_name) on target's database for the duration of the block, waiting up to `wait` seconds."""
    import psycopg2

    assert target.url is not None
    try:
        connection = psycopg2.connect(
            libpq(target.url),
            connect_timeout=10,
            application_name=f"dbtasks {service} on {socket.gethostname()} pid {os.getpid()}"[:63],
        )
    except psycopg2.Error as error:  # OperationalError, or ProgrammingError for a DSN libpq cannot parse
        raise ServiceError(
            service, cannot_connect(target.redact(" ".join(str(error).split())), target.source), kind="connect"
        ) from None
    try:
        connection.autocommit = True
        _acquire(connection, service, name, wait, announce, sleep)
        try:
            yield
        finally:
            # A lost session has released its locks already.
            with contextlib.suppress(psycopg2.Error), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key_of(name))
    finally:
        connection.close()


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
    """'dbtasks habits on host pid 9 (server pid 123) since 14:02:11 UTC', or None when the lock was just released."""
    with connection.cursor() as cursor:
        cursor.execute(_HOLDER_SQL, tuple(key & 0xFFFFFFFF for key in key_of(name)))
        row = cursor.fetchone()
    if row is None:
        return None
    pid, application, started = row
    since = started.strftime("%H:%M:%S %Z").strip() if started is not None else "unknown"
    return f"{application or 'a session without application_name'} (server pid {pid}) since {since}"
