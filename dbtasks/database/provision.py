"""`--create-databases`: create each database migrations.yaml names that does not exist yet, through its server's
maintenance database, when the role may (CREATEDB or superuser); else one line naming the role and the grant.
The local database creates its own databases already: only configured URLs come here.

And a service's missing schemas, on its migration lock's session, before its first upgrade."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ServiceError, UsageError
from ..worker.libpq import libpq, with_database
from . import pg
from .target import Target, address, where

if TYPE_CHECKING:
    from ..config.project import Service

MAINTENANCE = ("postgres", "template1")  # where a server can always be asked which databases it has
MAY_CREATE = "SELECT CASE WHEN rolcreatedb OR rolsuper THEN 'yes' ELSE 'no' END FROM pg_roles WHERE rolname = current_user"


def create_missing(targets: Iterable[Target], announce: Callable[[str], None]) -> list[str]:
    """Create the database of each target (once per address) that its server lacks; return the names created."""
    created: list[str] = []
    seen: set[tuple[str, int, str]] = set()
    for target in targets:
        if target.url is None or address(target.url) in seen:
            continue
        seen.add(address(target.url))
        host, port, name = where(target.url)  # as written: the address the other lines of this run say
        with _maintenance(target) as server:
            if server.rows(f"SELECT 1 FROM pg_database WHERE datname = {server.literal(name)}"):
                continue
            if server.rows(MAY_CREATE) != [("yes",)]:
                user = server.rows("SELECT current_user")[0][0]
                raise UsageError(
                    f"database {name!r} does not exist on {host}:{port}, and role {user!r} may not create databases: "
                    f'create it as an admin (CREATE DATABASE "{name}" OWNER "{user}"), or let the role create them '
                    f'(ALTER ROLE "{user}" CREATEDB), then rerun'
                )
            try:
                server.rows(f"CREATE DATABASE {server.identifier(name)}")
            except pg.PgError as error:
                if "already exists" not in str(error):  # another run created it meanwhile: as good
                    raise UsageError(target.redact(f"cannot create database {name!r} on {host}:{port}: {error}")) from None
        created.append(name)
        announce(f"created database {name} on {host}:{port} (--create-databases)")
    return created


def _maintenance(target: Target) -> pg.Connection:
    """A connection to the target's server through a database that always exists, or the reason none could be made."""
    from ..explain import connect_problem

    assert target.url is not None
    reason = ""
    for database in MAINTENANCE:
        try:
            return pg.connect(libpq(with_database(target.url, database)))
        except pg.PgError as error:
            reason = str(error)
    raise UsageError(target.redact(connect_problem(replace(target, url=with_database(target.url, MAINTENANCE[0])), reason)))


def create_schemas(connection: pg.Connection, service: Service, made: list[str], redact: Callable[[str], str]) -> None:
    """Create the service's missing schemas on `connection` (its migration lock's session) as the worker would
    (worker/prerequisites.py: in turns with other runs, under SCHEMA_LOCK), each added to `made` once created; a
    one-line ServiceError when the server refuses."""
    from ..worker.checksums import SCHEMA_LOCK
    from ..worker.prerequisites import CREATE_SCHEMA, missing_schemas

    name = service.owned_schemas[0]
    try:
        for name in missing_schemas(connection.rows, service.owned_schemas):
            connection.rows(CREATE_SCHEMA.format(lock=SCHEMA_LOCK, name=name))
            made.append(name)
    except pg.PgError as error:
        raise ServiceError(
            service.name,
            redact(
                f"cannot create its schema {name!r} ({str(error).split(' CONTEXT:')[0]}); nothing was migrated: grant the "
                "URL's role CREATE on the database, or create the schema as an admin, then rerun"
            ),
        ) from None


def drop_empty_schemas(connection: pg.Connection, service: Service, made: Sequence[str]) -> None:
    """After a failed run: drop the schemas create_schemas `made`, if the service's version table records no
    revision (a migration that committed may have granted on a schema it left empty) and they are still empty."""
    from ..worker.prerequisites import DROP_EMPTY_SCHEMA

    if not made:
        return
    schema, table = service.expected_version_table
    found = f"SELECT 1 FROM pg_tables WHERE schemaname = {connection.literal(schema)} AND tablename = {connection.literal(table)}"
    try:
        if connection.rows(found) and connection.rows(
            f"SELECT 1 FROM {connection.identifier(schema)}.{connection.identifier(table)} LIMIT 1"
        ):
            return
        for name in made:
            with contextlib.suppress(pg.PgError):  # something is in it now: leave it
                connection.rows(DROP_EMPTY_SCHEMA.format(name=name))
    except pg.PgError:  # the lock's session is gone (the run failed for that): leave them
        return
