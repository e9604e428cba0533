"""Failures in a worker: the classified Failure, and classify() for what env.py, Alembic or a driver raised.

Each turns into a protocol kind with a message and data; the parent words it (dbtasks.explain).
"""

from __future__ import annotations

import re
from typing import Any

# SQLAlchemy's "(psycopg2.errors.QueryCanceled) " wrapper; with asyncpg, SQLAlchemy 2.0 adds "<class '...Error'>: ".
_DRIVER_PREFIX = re.compile(r"^\([\w.]+\)\s*(<class '[\w.]+'>:\s*)?")


class Failure(Exception):
    """A failure already classified: `kind` (from protocol.KINDS) tells the parent which message to build."""

    def __init__(self, kind: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.data = data

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": str(self), "data": self.data}


def classify(error: BaseException) -> dict[str, Any]:
    """Turn an exception raised by env.py, Alembic or the driver into {"kind", "message", "data"}."""
    if isinstance(error, Failure):
        return error.as_dict()
    text = f"{type(error).__name__}: {error}".strip()
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, ImportError):
        return {"kind": "import", "message": first, "data": {"module": error.name or ""}}
    if isinstance(error, KeyboardInterrupt):
        return {"kind": "interrupted", "message": "interrupted", "data": {}}
    if is_connection_lost(error):
        return {"kind": "connection_lost", "message": connection_reason(error), "data": {"revision": failing_revision(error)}}
    if is_connection_error(error):
        return {"kind": "connect", "message": connection_reason(error), "data": {}}
    revision = failing_revision(error)
    if revision is not None:
        # The server's words matter, SQLAlchemy's wrapper does not.
        return {"kind": "migration", "message": _DRIVER_PREFIX.sub("", first), "data": {"revision": revision}}
    from alembic.util import CommandError

    if isinstance(error, CommandError):
        return {"kind": "command", "message": first, "data": {}}
    return {"kind": "unexpected", "message": text.splitlines()[0], "data": {}}


def server_line(error: BaseException) -> str:
    """The first line of an error raised by our own connection (worker/catalog.py): the server's message as is."""
    text = str(error).strip()
    return _DRIVER_PREFIX.sub("", text.splitlines()[0]) if text else type(error).__name__


def first_line(error: BaseException) -> str:
    """The error's first line; a database error keeps the server's message (without SQLAlchemy's
    "(psycopg2.errors.X) " prefix), anything else gets its type."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    stripped = _DRIVER_PREFIX.sub("", first)
    return stripped if stripped != first else f"{type(error).__name__}: {first}".rstrip(": ")


_CONNECT_ERRORS = frozenset(
    (
        "InvalidPasswordError",
        "InvalidAuthorizationSpecificationError",
        "InvalidCatalogNameError",
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "gaierror",
    )
)


def is_connection_error(error: BaseException) -> bool:
    """The database could not be reached or refused us (before any migration ran)."""
    names = {cls.__name__ for cls in type(error).__mro__}
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in _CONNECT_ERRORS:
            return True
        seen = seen.__cause__ or seen.__context__
    if "OperationalError" in names and "connection" in str(error).lower():
        return failing_revision(error) is None
    return False


_LOST = (
    "server closed the connection unexpectedly",
    "terminating connection",
    "connection already closed",
    "connection was closed in the middle of operation",
    "could not receive data from server",
    "ssl syscall error",
    "cannot switch to state",  # asyncpg's protocol, when the connection died under an operation (a restart)
)


def is_connection_lost(error: BaseException) -> bool:
    """The server went away during the run (restart, failover, network): not a fault of the migration."""
    seen: BaseException | None = error
    while seen is not None:
        text = str(seen).lower()
        if any(phrase in text for phrase in _LOST) or type(seen).__name__ in (
            "AdminShutdownError",
            "ConnectionDoesNotExistError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def connection_reason(error: BaseException) -> str:
    text = _DRIVER_PREFIX.sub("", str(error).strip())
    text = text.split("\n(Background on this error")[0]
    return " ".join(text.split())


def failing_revision(error: BaseException) -> str | None:
    """The revision id of the migration file in whose code `error` was raised, if any."""
    tb = error.__traceback__
    found = None
    while tb is not None:
        globals_ = tb.tb_frame.f_globals
        if "revision" in globals_ and "down_revision" in globals_ and isinstance(globals_["revision"], str):
            found = globals_["revision"]
        tb = tb.tb_next
    return found
