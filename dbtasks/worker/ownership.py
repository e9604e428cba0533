"""What a service owns: the one rule check, generate and verify judge by.

A service owns every object of the schemas it alone uses (migrations.yaml's `schema`/`schemas`). In a
schema it shares with other services of its database (often `public`), it owns only the tables of its
models (those its env.py's include_object keeps) and the tables its own migrations create, with their
columns, indexes, constraints and triggers; never another service's version table. Sequences, types and
functions in a shared schema cannot be told apart by owner and count as its own.

Standard library only, Python 3.8 at run time.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable

from . import catalog, checksums, revisions, sources

_PER_TABLE = ("column", "index", "constraint", "trigger", "policy")
View = Dict[str, Dict[Any, str]]  # schema -> its owned objects in a catalog snapshot


class Ownership:
    def __init__(self, request: dict[str, Any]) -> None:
        self.schemas: list[str] = list(request.get("schemas") or [request["schema"]])
        self.shared: set[str] = set(request.get("shared") or [])
        self.version_table: tuple[str, ...] = tuple(request.get("version_table") or (self.schemas[0], "alembic_version"))
        self.checksum_table = (self.version_table[0], checksums.legacy_table(self.version_table[-1]))
        foreign = [tuple(table) for table in request.get("foreign_version_tables") or []]
        self.foreign: set[tuple[str, ...]] = {*foreign, *((table[0], checksums.legacy_table(table[-1])) for table in foreign)}
        self.tables: set[tuple[str, str]] = set()  # in shared schemas: its models' and its migrations' tables
        self._source = (str(request.get("ini") or ""), str(request.get("ini_section") or "alembic"), request.get("toml"))
        self._learned_files = False

    def learn_migrations(self, default_schema: str | None) -> None:
        """Add the tables its migration files create (once; only shared schemas need it)."""
        if self._learned_files or not self.shared:
            return
        self._learned_files = True
        ini, section, toml = self._source
        files = revisions.version_files(ini, os.getcwd(), section, toml) or []
        self.tables |= sources.created_tables(files, default_schema or self.schemas[0])

    def learn_models(self, metadata: Any, default_schema: str | None, keep: Any = None) -> None:
        """Add its models' tables; `keep` is env.py's include_object, which may leave out stubs of others' tables."""
        for item in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
            for table in getattr(item, "tables", {}).values():
                if keep is None or keep(table, table.name, "table", False, None):
                    self.tables.add((table.schema or default_schema or self.schemas[0], table.name))

    def owns_schema(self, schema: str | None) -> bool:
        return schema in self.schemas

    def owns(self, schema: str | None, table: str | None) -> bool:
        """Does the service own table `table` of `schema`?"""
        if schema not in self.schemas or table is None:
            return schema in self.schemas and schema not in self.shared
        if (schema, table) in self.foreign:
            return False
        if schema not in self.shared:
            return True
        return (schema, table) in self.tables or self.bookkeeping(schema, table)

    def bookkeeping(self, schema: str | None, table: str | None) -> bool:
        """Is it its version table or the checksum table beside it (Alembic's and dbtasks' own, never a model's)?"""
        return (schema, table) in (self.version_table, self.checksum_table)

    def owns_object(self, schema: str, key: tuple[str, Any, str]) -> bool:
        """Does the service own a catalog snapshot's object (kind, table, name) of `schema`?"""
        kind, table, name = key
        if kind == "table":
            return self.owns(schema, name)
        if kind in _PER_TABLE:
            return self.owns(schema, table)
        return schema in self.schemas  # sequences, types, functions: no owner to tell in a shared schema

    # -- catalog views, for verify ---------------------------------------------------------------------

    def view(self, snapshot: catalog.Snapshot, ignore_table: str | None = None) -> View:
        """Its objects in `snapshot`, by schema (without its own version table, and the checksum table beside it, when
        `ignore_table` names it)."""
        found: View = {}
        for schema in self.schemas:
            objects = catalog.schema_objects(snapshot, schema, ignore_table if schema == self.version_table[0] else None)
            if ignore_table and schema == self.version_table[0]:
                objects = catalog.without_table(objects, checksums.legacy_table(ignore_table))
            found[schema] = {key: value for key, value in objects.items() if self.owns_object(schema, key)}
        return found

    def outside(self, snapshot: catalog.Snapshot) -> View:
        """Everything in `snapshot` that is not its own, by schema."""
        found: View = {}
        for schema, objects in snapshot.items():
            found[schema] = {key: value for key, value in objects.items() if not self.owns_object(schema, key)}
        return found

    def restore_statements(self, before: catalog.Snapshot, tables: Iterable[tuple[str, str]]) -> list[str]:
        """SQL that puts its schemas back as they were in `before` (its own tables only, in a shared schema)."""
        statements: list[str] = []
        for schema in self.schemas:
            if schema in self.shared:
                statements += [f'DROP TABLE IF EXISTS "{s}"."{t}" CASCADE' for s, t in sorted(tables) if s == schema]
                continue
            statements.append(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            if schema in before:
                statements.append(f'CREATE SCHEMA "{schema}"')
        return statements


def differences(before: View, after: View, verbs: tuple[str, ...] = catalog.CHANGES) -> list[str]:
    """catalog.differences over every schema of two views."""
    lines: list[str] = []
    for schema in sorted(set(before) | set(after)):
        lines += catalog.differences(before.get(schema, {}), after.get(schema, {}), schema, verbs)
    return lines


def unfenced(configured: dict[str, Any], schemas: list[str]) -> str | None:
    """doctor's warning for an env.py whose plain autogenerate compares every schema of the database (dbtasks' own
    runs are fenced to the service's schemas; plain alembic is not), with the include_name line to add."""
    if not configured.get("include_schemas") or configured.get("include_name") or configured.get("include_object"):
        return None
    listed = ", ".join(repr(schema) for schema in schemas)
    return (
        "env.py passes include_schemas=True without include_name: plain 'alembic revision --autogenerate' here compares "
        f"every schema of the database (other services' and {checksums.SCHEMA}, dbtasks' bookkeeping) and proposes "
        "dropping their tables; pass include_name=lambda name, type_, parent: type_ != 'schema' or name in "
        f"({listed},) to context.configure (dbtasks' own runs see only this service's schemas already)"
    )
