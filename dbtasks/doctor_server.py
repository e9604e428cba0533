"""doctor's look at the server itself: its own connection, the user's rights, and advice on the URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from . import explain
from .project import Project, closest
from .settings import CONNECT_TIMEOUT
from .target import Target
from .urls import dropped_parameters
from .worker.libpq import database_name, libpq

ERROR, WARNING, OK = "error", "warning", "ok"
POOLER_PORT = 6543  # Supabase's (and the usual PgBouncer) transaction-pooling port


@dataclass(frozen=True)
class Finding:
    """One diagnosis: level is error, warning or ok; the message is one line without any password."""

    level: str
    subject: str
    message: str


@dataclass(frozen=True)
class Server:
    """What the parent's own connection learned, before any env.py runs (env.py creates schemas)."""

    address: str
    user: str
    database: str
    can_create: bool
    schemas: dict[str, bool]  # existing schema -> may the user CREATE in it


def url_advice(project: Project, url: str, source: str) -> list[Finding]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    advice = []
    pooled = parts.port == POOLER_PORT or query.get("pgbouncer", "").lower() == "true"
    if pooled:
        why = f"port {POOLER_PORT}" if parts.port == POOLER_PORT else "pgbouncer=true"
        extra = (
            "; pgbouncer=true is left out of the URL each service is handed (no driver accepts it)"
            if "pgbouncer" in query
            else ""
        )
        advice.append(
            Finding(
                WARNING,
                project.url_env,
                f"{source} points at a transaction pooler ({why}): advisory locks, prepared statements and session "
                f"settings break there, so migrations fail or hang; use the session port 5432 (or a direct connection){extra}",
            )
        )
    asyncpg = [service.name for service in project.services.values() if service.driver == "asyncpg"]
    if "sslmode" in query and asyncpg:
        value = query["sslmode"]
        advice.append(
            Finding(
                OK,
                project.url_env,
                f"sslmode={value} reaches the asyncpg services ({', '.join(asyncpg)}) as ssl={value}: asyncpg "
                f"rejects sslmode (connect() got an unexpected keyword argument 'sslmode')",
            )
        )
    for driver in sorted({service.driver for service in project.services.values()}):
        dropped = [key for key in dropped_parameters(url, driver) if key != "pgbouncer"]
        if dropped:
            names = ", ".join(service.name for service in project.services.values() if service.driver == driver)
            advice.append(
                Finding(
                    OK,
                    project.url_env,
                    f"{', '.join(dropped)} in {source} left out of the URL the {driver} services ({names}) are handed: "
                    f"{driver} does not accept {'them' if len(dropped) > 1 else 'it'}",
                )
            )
    return advice


# -- the server --------------------------------------------------------------------------------------


def server(target: Target, findings: list[Finding]) -> Server | None:
    """Connect as the tasks would (with psycopg2, without the service's driver); None when that fails."""
    import psycopg2

    assert target.url is not None
    try:
        connection = psycopg2.connect(libpq(target.url), connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error as error:
        findings.append(Finding(ERROR, "database", connect_problem(target, " ".join(str(error).split()))))
        return None
    try:
        server, version = _inspect(connection, address(target.url))
        findings += _abandoned_scratch_databases(connection)
    except psycopg2.Error as error:
        reason = " ".join(str(error).split())
        findings.append(Finding(ERROR, "database", f"connected, but cannot read the catalog ({reason}); check the user's rights"))
        return None
    finally:
        connection.close()
    findings.append(Finding(OK, "database", f"connected to {server.address} as {server.user!r} (PostgreSQL {version})"))
    return server


def _abandoned_scratch_databases(connection: Any) -> list[Finding]:
    """Scratch databases whose verify was killed (-9 cleans nothing up); the next verify drops them."""
    from . import owner
    from .verify import SCRATCH_OWNER

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE shobj_description(oid, 'pg_database') LIKE %s ORDER BY 1",
            (SCRATCH_OWNER.replace("%", r"\%") + "%",),
        )
        left = [name for name, comment in cursor.fetchall() if owner.is_gone(comment[len(SCRATCH_OWNER) :])]
    return [
        Finding(
            WARNING,
            "database",
            f"scratch database {name!r} was left by a verify that was killed; the next 'inv db.verify' drops it "
            f'(or DROP DATABASE "{name}")',
        )
        for name in left
    ]


def _inspect(connection: Any, address: str) -> tuple[Server, str]:
    """What the server says it is: the database and address reached (read back, not taken from the URL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, current_database(), has_database_privilege(current_database(), 'CREATE'), "
            "current_setting('server_version'), host(inet_server_addr()), inet_server_port()"
        )
        user, database, can_create, version, host, port = cursor.fetchone()
        address = f"{address.rsplit('/', 1)[0]}/{database}"
        if host is not None:
            address += f" (the server answers at {host}:{port})"
        cursor.execute("SELECT nspname, has_schema_privilege(oid, 'CREATE') FROM pg_namespace")
        schemas = {str(name): bool(create) for name, create in cursor.fetchall()}
    connection.rollback()
    return Server(address, str(user), str(database), bool(can_create), schemas), str(version)


def connect_problem(target: Target, reason: str) -> str:
    """One message per way a connection fails, naming host:port/dbname and the variable to fix."""
    assert target.url is not None
    parts = urlsplit(target.url)
    host, port, database, source = parts.hostname or "localhost", parts.port or 5432, database_name(target.url), target.source
    user = parts.username or "(default user)"
    if "could not translate host name" in reason or "Name or service not known" in reason:
        return f"host {host!r} does not resolve (DNS): fix the host name in {source}, or check your network or VPN"
    if "Connection refused" in reason:
        return (
            f"nothing listens on {host}:{port} (connection refused): start the server (e.g. 'docker compose up -d') "
            f"or fix the host and port in {source}"
        )
    if "authentication failed" in reason or re.search(r'role "[^"]*" does not exist', reason):
        return f"authentication failed for user {user!r} on {host}:{port}: the user or password in {source} is wrong"
    if re.search(r'database "[^"]*" does not exist', reason):
        return (
            f'database {database!r} does not exist on {host}:{port}: create it (CREATE DATABASE "{database}") '
            f"or fix the database name in {source}{_close_databases(target, database)}"
        )
    if "timeout expired" in reason:
        return (
            f"no answer from {host}:{port} within {CONNECT_TIMEOUT} s (timeout): check the host and port in {source}, "
            f"a firewall, or the VPN"
        )
    if "does not support SSL" in reason:
        return f"{host}:{port} does not accept SSL, but {source} requires it: set sslmode=disable or prefer in the URL"
    return explain.cannot_connect(f"{host}:{port}/{database}: {reason}", source)


def _close_databases(target: Target, wanted: str) -> str:
    """'; did you mean ...?' from the server's databases, read through its maintenance database."""
    import psycopg2

    assert target.url is not None
    parts = urlsplit(libpq(target.url))
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    try:
        connection = psycopg2.connect(maintenance, connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error:
        return ""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
            names = [str(row[0]) for row in cursor.fetchall()]
    finally:
        connection.close()
    close = closest(wanted, names)
    return f"; did you mean {close[0]!r}?" if close else ""


def privileges(project: Project, server: Server) -> list[Finding]:
    """env.py creates the service's schema and the migrations create tables in it: both need CREATE."""
    findings = []
    checked = [(service, schema) for service in project.services.values() for schema in service.owned_schemas]
    for service, schema in checked:
        user, database = server.user, server.database
        if service.database_key != ("default", ""):
            continue  # a database of its own: its server is checked when its worker connects
        if schema not in server.schemas and not server.can_create:
            findings.append(
                Finding(
                    WARNING,
                    service.name,
                    f"schema {schema!r} does not exist and user {user!r} may not CREATE in database {database!r}: "
                    f'creating it before the first upgrade will fail; run CREATE SCHEMA "{schema}" AUTHORIZATION "{user}" as an '
                    f'admin, or GRANT CREATE ON DATABASE "{database}" TO "{user}"',
                )
            )
        elif schema in server.schemas and not server.schemas[schema]:
            findings.append(
                Finding(
                    WARNING,
                    service.name,
                    f"user {user!r} may not CREATE in schema {schema!r}: migrations cannot create tables there; "
                    f'GRANT CREATE ON SCHEMA "{schema}" TO "{user}", or connect as the schema\'s owner',
                )
            )
    return findings


# -- URLs ----------------------------------------------------------------------------------------------


def address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{database_name(url)}"
