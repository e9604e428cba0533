"""What a database holds, read straight from the catalog: schemas, tables, columns, version tables, snapshots."""

from __future__ import annotations

import time
from typing import Any

import psycopg2

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def tables(url: str, schema: str) -> set[str]:
    return {row[0] for row in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}


def columns(url: str, schema: str, table: str) -> set[str]:
    rows = query(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    return {row[0] for row in rows}


def schemas(url: str) -> set[str]:
    rows = query(url, "SELECT nspname FROM pg_namespace")
    return {row[0] for row in rows if row[0] not in SYSTEM_SCHEMAS and not row[0].startswith("pg_")}


def version(url: str, schema: str) -> list[str]:
    """The rows of schema.alembic_version, [] when that table does not exist (one session for both questions)."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(format('%%I.alembic_version', %s::text)) IS NOT NULL", (schema,))
            if not cursor.fetchone()[0]:
                return []
            cursor.execute(f'SELECT version_num FROM "{schema}".alembic_version')
            return sorted(row[0] for row in cursor.fetchall())
    finally:
        connection.close()


_SNAPSHOT_COLUMNS = """
SELECT n.nspname, c.relname, a.attname
FROM pg_namespace n
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'
"""


def snapshot(url: str) -> dict[str, Any]:
    """Every non-system schema with its tables (and their columns) and alembic_version rows, read on one connection."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(_SNAPSHOT_COLUMNS)
            state: dict[str, Any] = {}
            for schema, table, column in cursor.fetchall():
                tables_of = state.setdefault(schema, {"tables": {}, "alembic_version": []})["tables"]
                if table is not None:
                    columns_of = tables_of.setdefault(table, [])
                    if column is not None:
                        columns_of.append(column)
            for schema, entry in state.items():
                entry["tables"] = {table: sorted(cols) for table, cols in sorted(entry["tables"].items())}
                if "alembic_version" in entry["tables"]:
                    cursor.execute(f'SELECT version_num FROM "{schema}".alembic_version')
                    entry["alembic_version"] = sorted(row[0] for row in cursor.fetchall())
        connection.rollback()
    finally:
        connection.close()
    return dict(sorted(state.items()))


def table_comment(url: str, schema: str, table: str) -> str | None:
    rows = query(url, "SELECT obj_description(%s::regclass, 'pg_class')", (f'"{schema}"."{table}"',))
    return rows[0][0]


def sessions_opened(connection: Any, name: str) -> int:
    """How many sessions the server has opened on database `name`, read on `connection` (open throughout: its looks
    open none) once the count is still (a session's count reaches the shared statistics as it ends)."""
    seen = -1
    for _ in range(50):
        with connection.cursor() as cursor:
            cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,))
            count = int(cursor.fetchone()[0])
        if count == seen:
            return count
        seen = count
        time.sleep(0.1)
    raise AssertionError(f"the session count of {name} kept changing")
