"""A fleet's members, found at run time: the databases a `targets:` entry names (or, with x, the schemas of one
database), each with the Session that runs the fleet's services there."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config.fleets import MEMBER, member_problem
from ..config.project import Fleet, Project, Service, display_path, merged_x, read_utf8, unknown_name
from ..database.target import Target, resolve_url
from ..database.urls import validate
from ..errors import ConfigError, DatabaseUnreachable, UsageError
from ..explain import Emit
from ..session import Session
from ..worker.libpq import libpq, with_database


@dataclass(frozen=True)
class Member:
    """One member of a fleet: its name (a database, a variable, or with x a schema) and the database it runs on."""

    name: str
    target: Target
    x: tuple[str, ...] = ()  # Alembic -x arguments, ${target} replaced by the name


def choose(project: Project, name: str) -> Fleet:
    """The fleet called `name` (migrations.yaml's targets:), or a UsageError naming the known ones."""
    if name in project.fleets:
        return project.fleets[name]
    raise unknown_name("--targets: unknown target", name, list(project.fleets), "targets (see docs/fleets.md)")


def default_fleet(project: Project) -> Fleet:
    """The fleet `--target ONE` belongs to when --targets is not given: the only one there is."""
    if len(project.fleets) == 1:
        return next(iter(project.fleets.values()))
    known = ", ".join(project.fleets) or "none in migrations.yaml"
    raise UsageError(f"--target: say which fleet it belongs to with --targets NAME (known: {known})")


def members(session: Session, fleet: Fleet) -> list[Member]:
    """The fleet's members as they are now: the query is run (read-only, on the default database), the file read."""
    if fleet.kind == "url_envs":
        return [_own_url(session, fleet, variable) for variable in fleet.source]
    if fleet.kind == "databases":
        names = list(fleet.source)
    elif fleet.kind == "file":
        names = _file_names(session.project, fleet)
    else:
        names = _query_names(session.database(), fleet)
    base = session.database()
    found = []
    for name in dict.fromkeys(names):
        problem = member_problem(name, with_x=bool(fleet.x))
        if problem:
            origin = {"query": "its query returned", "file": f"{fleet.source} holds"}.get(fleet.kind, "it lists")
            raise ConfigError(
                [f"targets.{fleet.name}: {origin} {name!r}, which is not {problem}; rename it or leave it out of the fleet"]
            )
        found.append(_member(fleet, name, base))
    return found


def _member(fleet: Fleet, name: str, base: Target) -> Member:
    x = tuple(f"{key}={value.replace(MEMBER, name)}" for key, value in fleet.x.items())
    if fleet.x:  # a schema per tenant, all in the default database
        return Member(name, base, x)
    url = with_database(base.url or "", name)
    return Member(name, Target(url, base.secrets, f"{base.source} (database {name})"), x)


def _own_url(session: Session, fleet: Fleet, variable: str) -> Member:
    url, source = resolve_url(session.project, session.environment, variable)
    if url is None:
        raise ConfigError([f"targets.{fleet.name}: {variable} is not set; set it (or put it in .env) to that database's URL"])
    validate(url, source)
    return Member(variable, Target.of(url, source))


def _file_names(project: Project, fleet: Fleet) -> list[str]:
    path = project.root / str(fleet.source)
    if not path.is_file():
        raise ConfigError([f"targets.{fleet.name}.file: {display_path(path)} does not exist; create it (one name a line)"])
    lines = (line.strip() for line in read_utf8(path).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _query_names(target: Target, fleet: Fleet) -> list[str]:
    """The first column of the fleet's query, run in a read-only transaction."""
    import psycopg2

    from ..explain import connect_problem
    from ..settings import CONNECT_TIMEOUT

    assert target.url is not None
    try:
        connection = psycopg2.connect(libpq(target.url), connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error as error:
        raise DatabaseUnreachable(target.redact(connect_problem(target, " ".join(str(error).split())))) from None
    try:
        connection.set_session(readonly=True)
        with connection.cursor() as cursor:
            # migrations.yaml's own text, as one subquery of a read-only transaction: a second statement (a COMMIT, then
            # DDL in a transaction of its own) is a syntax error, not a write. The names it returns are checked.
            cursor.execute(f"SELECT * FROM ({str(fleet.source).strip().rstrip(';')}\n) AS fleet_members")
            rows = cursor.fetchall()
    except psycopg2.Error as error:
        reason = target.redact(" ".join(str(error).split()))
        raise ConfigError([f"targets.{fleet.name}.query: {reason}; fix the query in migrations.yaml"]) from None
    finally:
        connection.close()
    if any(not row or not isinstance(row[0], str) for row in rows):
        raise ConfigError([f"targets.{fleet.name}.query: expected one name (text) in the first column of each row"])
    return [str(row[0]) for row in rows]


def services_of(project: Project, fleet: Fleet) -> Project:
    """The project with only the fleet's services."""
    return replace(project, services={name: service for name, service in project.services.items() if name in fleet.services})


def member_project(project: Project, fleet: Fleet, member: Member) -> Project:
    """The project as it is on `member`: only the fleet's services (in a database of their own), or, with x, every
    service with the fleet's ones moved to the member's schema and given its -x arguments."""
    services = {
        name: (_in_schema(service, member) if fleet.x else service) if name in fleet.services else service
        for name, service in project.services.items()
        if name in fleet.services or fleet.x
    }
    return replace(project, services=services)


def _in_schema(service: Service, member: Member) -> Service:
    schemas = (member.name, *service.owned_schemas[1:])
    table = service.version_table
    if table is not None and table[0] == service.schema:
        table = (member.name, table[1])
    x = merged_x(service.x, member.x)  # the service's own -x, the tenant's winning
    return replace(service, schema=member.name, schemas=schemas, version_table=table, x=x)


def member_session(session: Session, fleet: Fleet, member: Member, emit: Emit) -> Session:
    """A session on `member`: its database is the default one, the fleet's services are the project's."""
    return session.bound(member_project(session.project, fleet, member), member.target, emit)
