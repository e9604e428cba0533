"""What differs between the SQLAlchemy and Alembic releases a service may run the worker with (SQLAlchemy
1.3 to 2.x, Alembic 1.7 and later): one function per difference, so the rest reads as for the newest.

Standard library at import time; Python 3.8 at run time.
"""

from __future__ import annotations

from typing import Any


def exec_driver_sql(connection: Any, statement: str) -> None:
    """Run `statement` as the driver gets it, with no bind parameters parsed (SQLAlchemy 1.4 added the method;
    1.3's execute() hands a plain string to the driver the same way)."""
    run = getattr(connection, "exec_driver_sql", None)
    if run is not None:
        run(statement)
    else:
        connection.execute(statement)


def scalar_driver_sql(connection: Any, statement: str) -> Any:
    """The first column of the first row of `statement`, run as exec_driver_sql runs it (None without rows)."""
    run = getattr(connection, "exec_driver_sql", None)
    return (run(statement) if run is not None else connection.execute(statement)).scalar()


def dbapi_connection(connection: Any) -> Any:
    """The driver's own connection under a SQLAlchemy Connection, or None (not connected, or not SQLAlchemy).

    SQLAlchemy 1.4.24 named it `.dbapi_connection` on the pool's connection; before, it was `.connection`
    (still there in 2.0, deprecated)."""
    pooled = getattr(connection, "connection", None)
    if pooled is None:
        return None
    found = getattr(pooled, "dbapi_connection", None)
    return found if found is not None else getattr(pooled, "connection", None)


def rows_driver_sql(connection: Any, statement: str) -> list[Any]:
    """Every row of `statement`, run as exec_driver_sql runs it (none for a statement that returns no rows)."""
    run = getattr(connection, "exec_driver_sql", None)
    result = run(statement) if run is not None else connection.execute(statement)
    return list(result.fetchall()) if result.returns_rows else []
