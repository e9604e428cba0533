"""What comes before a service's first revision: migrations.yaml's extensions (created when missing) and prepare
files (run while no revision is applied), on a connection of our own, under the parent's migration lock. `operation`
is the worker's Operation (operation.py imports this module: it is not imported back)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from . import revisions
from .checksums import SCHEMA_LOCK
from .failures import Failure, server_line

# Services that share a new schema (each with its own version table, so under different migration locks) take turns
# under checksums.SCHEMA_LOCK; the DO block is one transaction.
CREATE_SCHEMA = 'DO $$BEGIN PERFORM pg_advisory_xact_lock({lock}); CREATE SCHEMA IF NOT EXISTS "{name}"; END$$'
DROP_EMPTY_SCHEMA = 'DROP SCHEMA IF EXISTS "{name}" RESTRICT'  # fails when anything is in it
CREATE_EXTENSION = 'DO $$BEGIN PERFORM pg_advisory_xact_lock({lock}); CREATE EXTENSION IF NOT EXISTS "{name}"; END$$'


def missing_schemas(rows: Callable[[str], Any], names: Sequence[str]) -> list[str]:
    """Those of the schemas `names` the database lacks, asked through `rows` (a connection's: the worker's own, or the
    parent's lock session); each is then made with CREATE_SCHEMA, and dropped after a failed run with DROP_EMPTY_SCHEMA."""
    listed = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
    present = {row[0] for row in rows(f"SELECT nspname FROM pg_namespace WHERE nspname IN ({listed})")}
    return [name for name in names if name not in present]


def prepare(operation: Any, db: Any = None) -> list[str]:
    """Before the service's first revision, in its lock: migrations.yaml's extensions created when missing, then its
    prepare files run (each in one transaction) when no revision is applied yet. Returns what it did."""
    extensions, files = operation.request.get("extensions") or [], operation.request.get("prepare") or []
    if not extensions and not files:
        return []
    from .catalog import Connection

    connection = db or Connection(operation.url)
    try:
        done = [f"extension {name}" for name in _create_extensions(connection, extensions)]
        if files and not has_applied(operation, connection):
            for path in files:
                try:
                    connection.script(revisions.text_of(path) or "")
                except Exception as error:
                    raise Failure("prepare", server_line(error), file=path) from None
                done.append(f"prepare {os.path.basename(path)}")
        return done
    finally:
        if db is None:
            connection.close()


def _create_extensions(connection: Any, names: list[str]) -> list[str]:
    if not names:
        return []
    listed = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
    present = {row[0] for row in connection.rows(f"SELECT extname FROM pg_extension WHERE extname IN ({listed})")}
    available = {row[0] for row in connection.rows(f"SELECT name FROM pg_available_extensions WHERE name IN ({listed})")}
    missing = [name for name in names if name not in present]
    for name in [name for name in missing if name not in available]:  # before any is created: nothing changes
        raise Failure("extension_missing", f"the server has no extension {name}", extension=name)
    created = []
    for name in missing:
        try:
            connection.rows(CREATE_EXTENSION.format(lock=SCHEMA_LOCK, name=name.replace('"', '""')))
        except Exception as error:
            raise Failure("extension_denied", server_line(error), extension=name) from None
        created.append(name)
    return created


def has_applied(operation: Any, connection: Any) -> bool:
    """Whether the service's version table (migrations.yaml's) exists and records a revision."""
    schema, table = (operation.request.get("version_table") or [operation.schema, "alembic_version"])[:2]
    name = '"' + str(schema).replace('"', '""') + '"."' + str(table).replace('"', '""') + '"'
    literal = name.replace("'", "''")
    if connection.rows(f"SELECT to_regclass('{literal}') IS NULL")[0][0]:
        return False
    return bool(connection.rows(f"SELECT EXISTS (SELECT 1 FROM {name})")[0][0])
