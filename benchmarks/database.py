"""The PostgreSQL server the benchmark runs against (its own embedded one, or --database-url), the
databases it creates there, and the catalog queries that prove a run did its work."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from dbtasks.database.localdb import LocalDatabase

from .synthetic import SyntheticService


class BenchmarkError(Exception):
    """A step of the benchmark failed: the benchmark stops, since timing a failing command means nothing."""


class Server:
    """A server, the maintenance URL to reach it, and every database created on it (dropped by close())."""

    def __init__(self, admin_url: str, local: LocalDatabase | None = None) -> None:
        self.admin_url = admin_url
        self.local = local
        self.prefix = f"bench_{secrets.token_hex(3)}"
        self.created: list[str] = []

    @classmethod
    def start(cls, home: Path, url: str | None) -> Server:
        """The server at `url`, else a new embedded one under `home` (fsync off: the data is throwaway)."""
        if url:
            return cls(_libpq(url))
        local = LocalDatabase(home, fsync=False)
        return cls(local.start(), local)

    def version(self) -> str:
        return str(self._query("SHOW server_version")[0][0])

    def create(self, label: str) -> str:
        """A new empty database; its URL."""
        name = f"{self.prefix}_{len(self.created) + 1}_{label}".replace("-", "_")[:63]
        self._execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return with_database(self.admin_url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def databases_matching(self, regex: str) -> list[str]:
        rows = self._query("SELECT datname FROM pg_database WHERE datname ~ %s ORDER BY 1", (regex,))
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        """Drop what we created and stop the server we started; keep going past errors (cleanup)."""
        for name in list(self.created):
            with contextlib.suppress(psycopg2.Error):
                self.drop(with_database(self.admin_url, name))
        if self.local is not None:
            self.local.stop()

    def _execute(self, statement: str) -> None:
        connection = psycopg2.connect(self.admin_url)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def _query(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = psycopg2.connect(self.admin_url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, parameters or None)
                return list(cursor.fetchall())
        finally:
            connection.close()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _libpq(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+asyncpg://...) in the form psycopg2 and every env.py accept."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        raise BenchmarkError(f"--database-url: expected a postgresql:// URL, got scheme {parts.scheme!r}")
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# -- proof that a run did its work -------------------------------------------------------------------


def schema_states(url: str, schemas: Iterable[str]) -> dict[str, tuple[list[str], int]]:
    """For each schema: the revisions in its alembic_version (empty when there is none) and its table count (the
    version table and dbtasks' checksum table beside it, alembic_version_checksums, not counted)."""
    wanted = list(schemas)
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_schema, count(*), bool_or(table_name = 'alembic_version') FROM information_schema.tables "
                "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version_checksums' "
                "GROUP BY table_schema",
                (wanted,),
            )
            found = {schema: (count, has_version) for schema, count, has_version in cursor.fetchall()}
            states: dict[str, tuple[list[str], int]] = {}
            for schema in wanted:
                count, has_version = found.get(schema, (0, False))
                revisions: list[str] = []
                if has_version:
                    cursor.execute(f'SELECT version_num FROM "{schema}".alembic_version ORDER BY 1')
                    revisions = [row[0] for row in cursor.fetchall()]
                states[schema] = (revisions, count - (1 if has_version else 0))
            return states
    finally:
        connection.close()


def require_at_head(url: str, services: Iterable[SyntheticService], what: str) -> None:
    """Raise unless every service's schema records its head and holds exactly its tables."""
    services = list(services)
    states = schema_states(url, [service.schema for service in services])
    wrong = []
    for service in services:
        revisions, tables = states[service.schema]
        if revisions != [service.head] or tables != len(service.tables):
            wrong.append(
                f"{service.schema}: alembic_version {revisions or 'missing'} with {tables} tables, "
                f"expected [{service.head!r}] with {len(service.tables)}"
            )
    if wrong:
        raise BenchmarkError(f"{what}: the database is not at head afterwards:\n  " + "\n  ".join(wrong))
