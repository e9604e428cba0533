"""The worker's side of the applied-revision checksums (checksums.py): recording each applied step in its own
transaction, reading the recorded rows, the verdict on the applied revisions, and accepting an edit.

Standard library and Alembic/SQLAlchemy only; Python 3.8 at run time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import checksums
from .compat import rows_driver_sql
from .failures import Failure

if TYPE_CHECKING:
    from .operation import Operation


def where(operation: Operation) -> tuple[str, str]:
    """(the rows' key, the legacy checksum table): for the version table env.py really uses (else migrations.yaml's)."""
    wanted = list(operation.request.get("version_table") or [operation.schema, "alembic_version"])
    configured = operation.version_table or {}
    schema, table = configured.get("schema") or wanted[0], str(configured.get("table") or wanted[1])
    return checksums.key_of(schema, table), checksums.qualified(schema, checksums.legacy_table(table))


def ready(operation: Operation, run: Any, key: str, legacy: str) -> bool:
    """Make dbtasks_state.checksums ready on a connection (`run` executes one statement, returns its rows): created when
    missing, the legacy table's rows moved into it. False when the role may not create it: nothing is recorded then
    (operation.bookkeeping says why)."""
    has_table, has_legacy, may_create = run(checksums.state_sql(legacy))[0]
    if not has_table:
        if not may_create:
            operation.bookkeeping = (
                f"checksums not recorded: this role may not create the schema {checksums.SCHEMA}; create it "
                f"for the role (CREATE SCHEMA {checksums.SCHEMA} AUTHORIZATION <role>) to record them"
            )
            return False
        run(checksums.CREATE)
    if has_legacy:
        for statement in checksums.move_sql(key, legacy):
            run(statement)
    return True


def record_step(operation: Operation, ctx: Any, step: Any) -> None:
    """In the step's transaction: an upgrade or stamp up records its revision's checksum, a downgrade (or stamp
    down) deletes the rows of the revisions it takes back."""
    if ctx.as_sql or ctx.connection is None:
        return
    from sqlalchemy import text

    key, legacy = where(operation)
    connection = ctx.connection
    if not ready(operation, lambda statement: rows_driver_sql(connection, statement), key, legacy):
        return
    revisions = [revision for revision in step.up_revision_ids if revision]
    if step.is_upgrade:
        for revision in revisions:
            path = step.revision_map.get_revision(revision).path
            values = {
                "key": key,
                "revision": revision,
                "checksum": checksums.file_checksum(path) or "",
                "file": checksums.relative(path, os.getcwd()),
                "by": checksums.os_user(),
            }
            try:
                connection.execute(text(checksums.BOUND_UPSERT), values)
            except Exception as error:  # a primary key or a column dropped by hand: say which table, and how to mend it
                reason = " ".join(str(getattr(error, "orig", error)).split())
                raise Failure("checksum_table", reason, table=checksums.NAME, revision=revision) from None
    else:
        for revision in revisions:
            connection.execute(text(checksums.BOUND_DELETE), {"key": key, "revision": revision})


def recorded(operation: Operation, sqlalchemy_connection: Any = None) -> dict[str, dict[str, Any]] | None:
    """The recorded rows by revision (a legacy table's not moved yet under ours), on env.py's connection when given
    (inside env.py, where an asyncpg-only service runs an event loop already), else on a connection of our own; None
    when neither table exists."""
    from .catalog import Connection

    key, legacy = where(operation)
    if sqlalchemy_connection is not None:
        return _read(lambda statement: rows_driver_sql(sqlalchemy_connection, statement), key, legacy)
    connection = Connection(operation.url)
    try:
        return _read(connection.rows, key, legacy)
    finally:
        connection.close()


def _read(run: Any, key: str, legacy: str) -> dict[str, dict[str, Any]] | None:
    has_table, has_legacy, _ = run(checksums.state_sql(legacy))[0]
    if not has_table and not has_legacy:
        return None
    found = checksums.as_recorded(run(checksums.legacy_select_sql(legacy))) if has_legacy else {}
    if has_table:
        found.update(checksums.as_recorded(run(checksums.select_sql(key))))
    return found


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
    key, legacy = where(operation)
    connection = Connection(operation.url)
    try:
        if chosen and not ready(operation, connection.rows, key, legacy):
            raise Failure("checksum_table", operation.bookkeeping or "", table=checksums.NAME, revision=chosen[0])
        for revision in chosen:
            path = files[revision] or ""
            digest = checksums.file_checksum(path) or ""
            connection.rows(
                checksums.upsert_sql(key, revision, digest, checksums.relative(path, os.getcwd()), checksums.os_user())
            )
    finally:
        connection.close()
    return chosen
