"""A snapshot of the PostgreSQL catalog, and the differences between two snapshots.

Verification compares snapshots to prove that migrations leave nothing behind and touch nothing
outside their schema. The snapshot covers more than autogenerate sees: tables, columns, indexes,
constraints, sequences, views, types and enums, domains, functions, triggers and policies.

Runs in the worker (standard library and the service's driver only, Python 3.8 at run time).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import checksums
from .libpq import libpq

if TYPE_CHECKING:  # annotations only: this file must run on Python 3.8
    # (kind, table, name) -> definition, per schema. `table` is the owner of columns, indexes,
    # constraints, triggers and policies; None for objects that stand on their own.
    from typing import Optional

    Key = tuple[str, Optional[str], str]  # mypy checks for Python 3.9: no `str | None` in an alias
    Snapshot = dict[str, dict[Key, str]]

# dbtasks' own bookkeeping schema (checksums.SCHEMA) is never a service's: no snapshot shows it (use() names it).
_SNAPSHOT = """
WITH ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', '{ours}') AND nspname NOT LIKE 'pg\\_%'
)
SELECT ns.nspname, 'schema', NULL, ns.nspname, '' FROM ns
UNION ALL
SELECT ns.nspname,
       CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'c' THEN 'type' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
       NULL, c.relname,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END
FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
UNION ALL
SELECT ns.nspname, 'column', c.relname, a.attname,
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN ns ON ns.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT ns.nspname, 'index', t.relname, i.relname, pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN ns ON ns.oid = i.relnamespace
UNION ALL
SELECT ns.nspname, 'constraint', t.relname, co.conname, pg_get_constraintdef(co.oid)
FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace LEFT JOIN pg_class t ON t.oid = co.conrelid
UNION ALL
SELECT ns.nspname,
       CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'type' END,
       NULL, t.typname,
       CASE t.typtype
           WHEN 'e' THEN (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
           WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
           ELSE '' END
FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'b' AND t.typelem = 0)
UNION ALL
SELECT ns.nspname, 'function', NULL, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', md5(p.prosrc)
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
UNION ALL
SELECT ns.nspname, 'trigger', c.relname, tg.tgname, pg_get_triggerdef(tg.oid)
FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN ns ON ns.oid = c.relnamespace
WHERE NOT tg.tgisinternal
UNION ALL
SELECT ns.nspname, 'policy', c.relname, po.polname, COALESCE(pg_get_expr(po.polqual, po.polrelid), '')
FROM pg_policy po JOIN pg_class c ON c.oid = po.polrelid JOIN ns ON ns.oid = c.relnamespace
"""
SNAPSHOT_SQL = _ALL_SCHEMAS = ""


def use(ours: str) -> None:
    """Leave the bookkeeping schema `ours` out of every snapshot (checksums.use, for this worker's request)."""
    global SNAPSHOT_SQL, _ALL_SCHEMAS
    name = ours.replace("'", "''")
    SNAPSHOT_SQL = _SNAPSHOT.replace("{ours}", name)
    _ALL_SCHEMAS = f"WHERE nspname NOT IN ('pg_catalog', 'information_schema', '{name}') AND nspname NOT LIKE 'pg\\_%'"


use(checksums.DEFAULT_SCHEMA)


def snapshot_sql(schemas: Iterable[str]) -> str:
    """SNAPSHOT_SQL for `schemas` only (cheaper, and with no % for a driver to read as a parameter)."""
    names = ", ".join("'" + name.replace("'", "''") + "'" for name in schemas) or "NULL"
    return SNAPSHOT_SQL.replace(_ALL_SCHEMAS, f"WHERE nspname IN ({names})", 1)


# Objects that only describe something already listed (the version table's pieces are filtered apart).
_PER_TABLE = ("column", "index", "constraint", "trigger", "policy")


def build(rows: Iterable[Any]) -> Snapshot:
    """A snapshot from the rows of SNAPSHOT_SQL."""
    snapshot: Snapshot = {}
    for schema, kind, table, name, definition in rows:
        snapshot.setdefault(schema, {})[(kind, table, name)] = definition or ""
    return snapshot


def without_table(objects: dict[Key, str], table: str) -> dict[Key, str]:
    """`objects` without `table` and its columns, indexes, constraints, triggers and policies."""
    return {
        key: value
        for key, value in objects.items()
        if not (key[1] == table and key[0] in _PER_TABLE) and not (key[0] == "table" and key[2] == table)
    }


def schema_objects(snapshot: Snapshot, schema: str, ignore_table: str | None = None) -> dict[Key, str]:
    """The objects of one schema (an absent schema and an empty one look the same)."""
    objects = {key: value for key, value in snapshot.get(schema, {}).items() if key[0] != "schema"}
    return without_table(objects, ignore_table) if ignore_table else objects


CHANGES = ("created", "dropped", "changed")
LEFTOVERS = ("left behind", "missing", "changed")  # after is expected to equal before again


def differences(before: dict[Key, str], after: dict[Key, str], schema: str, verbs: tuple[str, ...] = CHANGES) -> list[str]:
    """'created table x.y', 'dropped index x.z', 'changed column x.y.c' lines, most important first."""
    lines: list[tuple[int, str]] = []
    for key in set(before) | set(after):
        if key not in before:
            verb = verbs[0]
        elif key not in after:
            verb = verbs[1]
        elif before[key] != after[key]:
            verb = verbs[2]
        else:
            continue
        lines.append((_rank(key), f"{verb} {describe(schema, key)}"))
    return [line for _, line in sorted(lines)]


def schema_differences(before: Snapshot, after: Snapshot, schemas: Iterable[str]) -> list[str]:
    """Differences over several whole schemas, including schemas created or dropped."""
    lines: list[str] = []
    for schema in sorted(schemas):
        if (schema in before) != (schema in after):
            lines.append(f"{'created' if schema in after else 'dropped'} schema {schema}")
        lines.extend(differences(schema_objects(before, schema), schema_objects(after, schema), schema))
    return lines


def describe(schema: str, key: Key) -> str:
    kind, table, name = key
    if kind == "column":
        return f"column {schema}.{table}.{name}"
    if kind in ("constraint", "trigger", "policy") and table:
        return f"{kind} {name} on {schema}.{table}"
    return f"{kind} {schema}.{name}"


def _rank(key: Key) -> int:
    # Whole objects first: "created table x" explains its columns and indexes.
    return 1 if key[0] in _PER_TABLE else 0


def shorten(lines: list[str], limit: int = 5) -> str:
    """The first `limit` lines joined with '; ', and how many more there are."""
    shown = "; ".join(lines[:limit])
    return shown + (f"; and {len(lines) - limit} more" if len(lines) > limit else "")


class Connection:
    """A connection of our own for catalog snapshots (never env.py's): psycopg2, else asyncpg per query."""

    def __init__(self, url: str) -> None:
        self.url = libpq(url)
        self.connection: Any = None
        try:
            import psycopg2

            self.connection = psycopg2.connect(self.url)
            self.connection.autocommit = True
        except ImportError:
            self.connection = _psycopg3(self.url)  # else None: asyncpg, one short connection per query

    def rows(self, sql: str) -> list[Any]:
        if self.connection is not None:
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall()) if cursor.description else []
        import asyncio  # here: the orchestrator imports this module on every run, asyncio costs 20-40 ms

        return asyncio.run(self._asyncpg(sql))

    def script(self, sql: str) -> None:
        """Run `sql`, one or several statements, in one transaction (the simple query protocol's own)."""
        if self.connection is not None:
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
            return
        import asyncio

        asyncio.run(self._asyncpg(sql, script=True))

    async def _asyncpg(self, sql: str, script: bool = False) -> list[Any]:
        import asyncpg

        connection = await asyncpg.connect(self.url)
        try:
            if script:
                await connection.execute(sql)
                return []
            return [tuple(record) for record in await connection.fetch(sql)]
        finally:
            await connection.close()

    def snapshot(self) -> Any:
        return build(self.rows(SNAPSHOT_SQL))

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def _psycopg3(url: str) -> Any:
    """A psycopg 3 connection in autocommit mode, or None when the interpreter lacks psycopg 3 too."""
    try:
        import psycopg
    except ImportError:
        return None
    return psycopg.connect(url, autocommit=True)
