"""The worker's side of the applied-revision checksums (checksums.py): recording each applied step in its own
transaction, reading the recorded rows, the verdict on the applied revisions, and accepting an edit.

Standard library and Alembic/SQLAlchemy only; Python 3.8 at run time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import checksums
from .compat import exec_driver_sql, rows_driver_sql, scalar_driver_sql
from .failures import Failure

if TYPE_CHECKING:
    from .operation import Operation


def where(operation: Operation) -> tuple[str | None, str]:
    """(schema, checksum table): beside the version table env.py really uses (else the one migrations.yaml names)."""
    wanted = list(operation.request.get("version_table") or [operation.schema, "alembic_version"])
    configured = operation.version_table or {}
    schema = configured.get("schema") or wanted[0]
    return schema, checksums.table_for(str(configured.get("table") or wanted[1]))


def record_step(operation: Operation, ctx: Any, step: Any) -> None:
    """In the step's transaction: an upgrade or stamp up records its revision's checksum, a downgrade (or stamp
    down) deletes the rows of the revisions it takes back."""
    if ctx.as_sql or ctx.connection is None:
        return
    from sqlalchemy import text

    schema, table = where(operation)
    connection, name = ctx.connection, checksums.qualified(schema, table)
    revisions = [revision for revision in step.up_revision_ids if revision]
    if step.is_upgrade:
        exec_driver_sql(connection, checksums.create_sql(schema, table))
        for revision in revisions:
            path = step.revision_map.get_revision(revision).path
            values = {
                "revision": revision,
                "checksum": checksums.file_checksum(path) or "",
                "file": checksums.relative(path, os.getcwd()),
                "by": checksums.os_user(),
            }
            try:
                connection.execute(text(checksums.BOUND_UPSERT.format(table=name)), values)
            except Exception as error:  # a primary key or a column dropped by hand: say which table, and how to mend it
                reason = " ".join(str(getattr(error, "orig", error)).split())
                raise Failure("checksum_table", reason, table=name, revision=revision) from None
    elif revisions and scalar_driver_sql(connection, checksums.exists_sql(schema, table)):
        for revision in revisions:
            connection.execute(text(checksums.BOUND_DELETE.format(table=name)), {"revision": revision})


def recorded(operation: Operation, sqlalchemy_connection: Any = None) -> dict[str, dict[str, Any]] | None:
    """The recorded rows by revision, on env.py's connection when given (inside env.py, where an asyncpg-only service
    runs an event loop already), else on a connection of our own; None when the table does not exist."""
    from .catalog import Connection

    schema, table = where(operation)
    if sqlalchemy_connection is not None:
        if not scalar_driver_sql(sqlalchemy_connection, checksums.exists_sql(schema, table)):
            return None
        return checksums.as_recorded(rows_driver_sql(sqlalchemy_connection, checksums.select_sql(schema, table)))
    connection = Connection(operation.url)
    try:
        if not connection.rows(checksums.exists_sql(schema, table))[0][0]:
            return None
        return checksums.as_recorded(connection.rows(checksums.select_sql(schema, table)))
    finally:
        connection.close()


def applied_files(script: Any, heads: list[str]) -> list[tuple[str, str | None]]:
    """(revision, file) of every revision applied at `heads`, oldest first."""
    if not heads:
        return []
    walked = list(script.iterate_revisions(tuple(heads), "base"))
    return [(revision.revision, getattr(revision, "path", None)) for revision in reversed(walked)]


def verdict(operation: Operation, script: Any, heads: list[str], connection: Any = None) -> dict[str, Any]:
    """checksums.judge on the revisions applied at `heads` (the rows read on `connection`, see recorded)."""
    from .operation import defines

    return checksums.judge(
        applied_files(script, heads),
        recorded(operation, connection),
        lambda revision: defines(script, revision),
        checksums.file_checksum,
        os.getcwd(),
    )


def edited_failure(operation: Operation, found: list[dict[str, Any]]) -> Failure:
    return Failure("edited", "applied revisions edited", edited=found, revision=found[0]["revision"])


def accept(operation: Operation, script: Any, heads: list[str], wanted: str) -> list[str]:
    """Record the current checksum of applied revision `wanted` (a prefix will do), or of every applied one ('all')."""
    from .catalog import Connection

    files = dict(applied_files(script, heads))
    if wanted == "all":
        chosen = list(files)
    else:
        try:
            found = script.get_revision(wanted)
        except Exception as error:
            raise Failure("unknown_revision", str(error).splitlines()[0], revision=wanted) from None
        if found is None:
            raise Failure("unknown_revision", f"no revision {wanted!r}", revision=wanted)
        if found.revision not in files:
            raise Failure("not_applied", "not applied", revision=found.revision, current=list(heads))
        chosen = [found.revision]
    schema, table = where(operation)
    connection = Connection(operation.url)
    try:
        if chosen:
            connection.rows(checksums.create_sql(schema, table))
        for revision in chosen:
            path = files[revision] or ""
            digest = checksums.file_checksum(path) or ""
            statement = checksums.upsert_sql(
                schema, table, revision, digest, checksums.relative(path, os.getcwd()), checksums.os_user()
            )
            connection.rows(statement)
    finally:
        connection.close()
    return chosen
