"""doctor's look at the server itself: its own connection, the user's rights, and advice on the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import explain
from ..config.project import Project
from ..database.target import Target, shown
from ..database.urls import dropped_parameters
from ..settings import CONNECT_TIMEOUT
from ..worker.libpq import libpq

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
        findings.append(Finding(ERROR, "database", explain.connect_problem(target, " ".join(str(error).split()))))
        return None
    try:
        server, version = _inspect(connection, shown(target.url))
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
    from ..database import owner
    from ..database.owner import SCRATCH_OWNER

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
