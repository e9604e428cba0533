"""`doctor`: the original troubleshooting guides, turned into diagnoses of this project's setup.

Each Finding says what is wrong and the fix. This module checks migrations.yaml, the URL and the
server (with a connection of its own); the per-service checks run in each service's worker
(worker/doctor_checks.py), and the comparison across services happens here. Nothing here prints, exits or
imports invoke, and nothing writes data: the services' env.py run without applying or stamping.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from . import config, explain
from .errors import ConfigError, LocalDatabaseError, RunFailed, ServiceError, UsageError
from .orchestrate import run_all
from .project import Project, Service
from .session import Session
from .target import LOCAL_SOURCE, Target, local_database
from .urls import mask
from .worker import ops
from .worker.libpq import database_name, libpq

ERROR, WARNING, OK = "error", "warning", "ok"
CONNECT_TIMEOUT = 5  # seconds: long enough for a remote server, short enough for a wrong host
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


@dataclass(frozen=True)
class Diagnosis:
    """Every finding, and the verdict: errors fail the run, warnings do not."""

    findings: list[Finding]

    def count(self, level: str) -> int:
        return sum(1 for finding in self.findings if finding.level == level)

    @property
    def counts(self) -> str:
        errors, warnings = self.count(ERROR), self.count(WARNING)
        return f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"

    @property
    def failure(self) -> str | None:
        return f"doctor: {self.counts}; fix the errors above, then run 'inv db.doctor' again" if self.count(ERROR) else None

    def raise_for_failure(self) -> None:
        if self.failure is not None:
            raise RunFailed(self.failure)


def diagnose(
    config_file: Path,
    *,
    jobs: int = 1,
    emit: Callable[[str], None] = lambda line: None,
    environment: str = "",
    source: str = "--env",
) -> Diagnosis:
    """Never raises for a problem of the user's setup: every problem becomes a Finding.

    `environment` names one of migrations.yaml's environments (`source` says where the name came from).
    """
    try:
        project = config.load(config_file)
    except ConfigError as error:
        return Diagnosis([Finding(ERROR, "migrations.yaml", problem) for problem in error.problems])
    except OSError as error:
        return Diagnosis(
            [Finding(ERROR, "migrations.yaml", f"{config_file}: cannot read it ({error.strerror}); check its permissions")]
        )
    count = len(project.services)
    findings = [Finding(OK, "migrations.yaml", f"valid: {count} service{'s' if count != 1 else ''}, each with its own schema")]
    try:
        chosen = project.environment(environment, source) if environment else None
    except UsageError as error:
        return Diagnosis([*findings, Finding(ERROR, "environment", str(error))])
    session = Session(project, chosen, emit=emit)
    target = _target(session, findings)
    server = _server(target, findings) if target.url else None
    if server is None:
        findings.append(Finding(WARNING, "database", "no database connection: skipped the database checks of every service"))
    else:
        findings += _privileges(project, server)
    findings += _services(session, target, server is not None, jobs)
    return Diagnosis([Finding(item.level, item.subject, target.redact(item.message)) for item in findings])


# -- the URL ---------------------------------------------------------------------------------------


def _target(session: Session, findings: list[Finding]) -> Target:
    """The database the tasks would use, resolved as the tasks resolve it; problems go to `findings`."""
    project = session.project
    subject = project.url_env
    try:
        configured = session.configured_target()
    except ConfigError as error:
        findings += [Finding(ERROR, subject, problem) for problem in error.problems]
        return Target(None)
    if configured.url is None and session.environment is not None:
        subject = session.environment.url_env  # the variable to set (never the local database)
    if configured.url is not None:
        findings.append(Finding(OK, subject, f"{configured.source} is {mask(configured.url)}"))
        findings += _url_advice(project, configured.url, configured.source)
        return configured
    running = local_database(project).running_port() is not None
    try:
        target = session.database()  # what every task does first: doctor checks the database the tasks would use
    except ConfigError as error:
        findings += [Finding(ERROR, subject, problem) for problem in error.problems]
        return Target(None)
    except (LocalDatabaseError, OSError) as error:
        findings.append(Finding(OK, subject, f"no {subject}: the tasks use the local database under .dbtasks/"))
        findings.append(Finding(ERROR, "database", f"the local database cannot start: {error}"))
        return Target(None, (), LOCAL_SOURCE)
    how = "was already running" if running else "was not running; doctor started it, as every task does"
    findings.append(Finding(OK, subject, f"no {subject}: the tasks use the local database under .dbtasks/"))
    findings.append(Finding(OK, "database", f"the local database {how} ({mask(target.url or '')}); 'inv db.local-stop' stops it"))
    return target


def _url_advice(project: Project, url: str, source: str) -> list[Finding]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    advice = []
    pooled = parts.port == POOLER_PORT or query.get("pgbouncer", "").lower() == "true"
    if pooled:
        why = f"port {POOLER_PORT}" if parts.port == POOLER_PORT else "pgbouncer=true"
        extra = "; and drop pgbouncer=true: psycopg2 and asyncpg reject that option" if "pgbouncer" in query else ""
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
    return advice


# -- the server --------------------------------------------------------------------------------------


def _server(target: Target, findings: list[Finding]) -> Server | None:
    """Connect as the tasks would (with psycopg2, without the service's driver); None when that fails."""
    import psycopg2

    assert target.url is not None
    try:
        connection = psycopg2.connect(libpq(target.url), connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error as error:
        findings.append(Finding(ERROR, "database", _connect_problem(target, " ".join(str(error).split()))))
        return None
    try:
        server, version = _inspect(connection, _address(target.url))
    except psycopg2.Error as error:
        reason = " ".join(str(error).split())
        findings.append(Finding(ERROR, "database", f"connected, but cannot read the catalog ({reason}); check the user's rights"))
        return None
    finally:
        connection.close()
    findings.append(Finding(OK, "database", f"connected to {server.address} as {server.user!r} (PostgreSQL {version})"))
    return server


def _inspect(connection: Any, address: str) -> tuple[Server, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, current_database(), has_database_privilege(current_database(), 'CREATE'), "
            "current_setting('server_version')"
        )
        user, database, can_create, version = cursor.fetchone()
        cursor.execute("SELECT nspname, has_schema_privilege(oid, 'CREATE') FROM pg_namespace")
        schemas = {str(name): bool(create) for name, create in cursor.fetchall()}
    connection.rollback()
    return Server(address, str(user), str(database), bool(can_create), schemas), str(version)


def _connect_problem(target: Target, reason: str) -> str:
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
    close = difflib.get_close_matches(wanted, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _privileges(project: Project, server: Server) -> list[Finding]:
    """env.py creates the service's schema and the migrations create tables in it: both need CREATE."""
    findings = []
    for service in project.services.values():
        schema, user, database = service.schema, server.user, server.database
        if schema not in server.schemas and not server.can_create:
            findings.append(
                Finding(
                    WARNING,
                    service.name,
                    f"schema {schema!r} does not exist and user {user!r} may not CREATE in database {database!r}: "
                    f'env.py\'s CREATE SCHEMA will fail; run CREATE SCHEMA "{schema}" AUTHORIZATION "{user}" as an '
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


# -- the services ------------------------------------------------------------------------------------


def _services(session: Session, target: Target, online: bool, jobs: int) -> list[Finding]:
    """Each service's own checks, in parallel (each in its own worker process), then the ones across services."""
    project = session.project
    owners = {service.schema: service.name for service in project.services.values()}
    session.expect_workers(len(project.services))
    results: dict[str, tuple[list[Finding], dict[str, Any]]] = {}

    def one(service: Service) -> dict[str, Any]:
        results[service.name] = _service(session, service, target, online, owners)
        return {}

    run_all(project, list(project.services), one, jobs=jobs, ordered=False)
    done = [name for name in project.services if name in results]  # after Ctrl-C, the services that ran
    findings = [finding for name in done for finding in results[name][0]]
    return findings + _shared_version_tables({name: results[name][1] for name in done})


def _service(
    session: Session, service: Service, target: Target, online: bool, owners: dict[str, str]
) -> tuple[list[Finding], dict[str, Any]]:
    try:
        data = session.run(
            service,
            ops.doctor,
            on=target,
            driver=service.driver,
            reachable=online,
            owners=owners,
            depends_on=list(service.depends_on),
        )
    except ServiceError as error:
        return [Finding(ERROR, service.name, _worker_problem(service, error))], {}
    found = [_finding(service, item, target) for item in data.get("findings") or []]
    return found, dict(data.get("facts") or {})


def _finding(service: Service, item: dict[str, Any], target: Target) -> Finding:
    """A worker's finding: its own message, or a classified failure explained as the tasks explain it."""
    failure = item.get("failure")
    message = explain.failure(service, "doctor", failure, target).reason if failure else str(item["message"])
    return Finding(str(item["level"]), service.name, message)


def _worker_problem(service: Service, error: ServiceError) -> str:
    """The worker could not run at all: most often Alembic (or SQLAlchemy) missing from the interpreter."""
    missing = re.search(r"cannot import '(alembic|sqlalchemy)'", error.reason)
    if missing:
        interpreter = service.python or "the interpreter running dbtasks"
        return (
            f"{missing[1]} is not installed in {interpreter}; install it there (pip install alembic) or set "
            f"'python' in migrations.yaml to an interpreter that has it"
        )
    return error.reason


def _shared_version_tables(facts: dict[str, dict[str, Any]]) -> list[Finding]:
    """Services whose alembic_version resolves to one table overwrite each other's revision."""
    sharing: dict[str, list[str]] = {}
    for name, service_facts in facts.items():
        where = service_facts.get("version_table") or {}
        if where.get("schema"):
            sharing.setdefault(f"{where['schema']}.{where['table']}", []).append(name)
    return [
        Finding(
            ERROR,
            "database",
            f"services {', '.join(names)} all keep their revision in {table}: they overwrite each other's revision; "
            f"pass version_table_schema=<the service's schema> to context.configure in each env.py",
        )
        for table, names in sharing.items()
        if len(names) > 1
    ]


# -- URLs ----------------------------------------------------------------------------------------------


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{database_name(url)}"
