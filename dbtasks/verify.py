"""`verify`: the manual test plan, automated, for one service in a scratch database that is always dropped.

The checks themselves run in the service's worker (worker/verify_checks.py); this module creates and
drops the scratch database and prepares the service's dependencies in it.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from .compat import zip_strict
from .config.project import Project, Service
from .database import owner
from .database.masking import mask
from .database.target import Target, address
from .errors import ServiceError
from .explain import refused
from .lint import check as lint
from .orchestrate import Outcome, Report, Selection
from .session import Session
from .verbs_all import over_all
from .worker.libpq import database_name, libpq, with_database


def verify(session: Session, service: Service, keep: bool = False) -> dict[str, Any]:
    """Run every check for `service`; the result is {"service", "ok", "checks": [{"name", "ok", "detail"}]}."""
    target = session.database(service)
    assert target.url is not None
    # Dependencies in other databases have nothing to prepare in this one.
    prepare = [dep for dep in dependencies(session.project, service) if dep.database_key == service.database_key]
    session.expect_workers(len(prepare) + 1)  # the dependencies, the checks (which render lint's offline SQL too)
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database(target, service.name, keep, session.announce))
        session.announce(f"{service.name} | verifying in scratch database {database_name(scratch.url)}")
        engines = _engine_scratches(session, service, target, scratch, stack, keep) if service.engines else None
        for dependency in prepare:
            try:
                session.run(dependency, "upgrade", on=scratch, to="head")
            except ServiceError as error:
                raise ServiceError(
                    service.name,
                    f"cannot upgrade its dependency {dependency.name} in the scratch database: "
                    f"{str(error).removeprefix(f'{dependency.name}: ')}",
                    kind=error.kind,
                ) from None
        data = session.run(service, "verify", on=scratch, engines_on=engines, expect_tables=list(service.expect_tables))
    checks = [*data["checks"], lint.check(session, service, data.get("revisions"))]  # the worker's SQL: no worker more
    result: dict[str, Any] = {"service": service.name, "ok": all(check["ok"] is not False for check in checks), "checks": checks}
    if keep:
        result["database"] = mask(scratch.url or "")
    return result


def _engine_scratches(
    session: Session, service: Service, target: Target, scratch: Target, stack: ExitStack, keep: bool
) -> dict[str, Target]:
    """A multidb service's engines -> their scratch databases: the service's own for an engine in its database, a new
    one (on that engine's server) for each other database."""
    made: dict[tuple[str, int, str], Target] = {address(target.url): scratch}
    engines: dict[str, Target] = {}
    for engine, real in session.engine_targets(service).items():
        key = address(real.url)
        if key not in made:
            made[key] = stack.enter_context(scratch_database(real, f"{service.name}_{engine}", keep, session.announce))
            session.announce(f"{service.name} | verifying {engine} in scratch database {database_name(made[key].url)}")
        engines[engine] = made[key]
    return engines


def dependencies(project: Project, service: Service) -> list[Service]:
    """Everything `service` depends on, directly or not, dependencies first."""
    ordered: list[Service] = []

    def visit(name: str) -> None:
        for dep in project.services[name].depends_on:
            if project.services[dep] not in ordered:
                visit(dep)
                ordered.append(project.services[dep])

    visit(service.name)
    return ordered


# -- the scratch database --------------------------------------------------------------------------


@contextmanager
def scratch_database(
    target: Target, service: str, keep: bool = False, announce: Callable[[str], None] = lambda line: None
) -> Iterator[Target]:
    """A new database `<service>_verify_<random>` on the target's server, dropped on the way out unless `keep`;
    first, the scratch databases of verify runs that were killed are dropped (each one announced)."""
    assert target.url is not None
    name = re.sub(r"[^a-z0-9_]", "_", service.lower())[:40] + f"_verify_{secrets.token_hex(4)}"
    with _administration(target, service) as execute:
        for abandoned in _drop_abandoned(execute):
            announce(f"{service} | dropped scratch database {abandoned}, left by a verify that was killed")
        execute(f'CREATE DATABASE "{name}"')
        try:
            if not keep:
                execute(f'COMMENT ON DATABASE "{name}" IS %s', (owner.SCRATCH_OWNER + owner.this_process(),))
        except BaseException:
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            raise
    scratch = Target(with_database(target.url, name), target.secrets, target.source)
    try:
        _confirm_scratch(scratch, name, service)
        yield scratch
    finally:
        if not keep:
            with _administration(target, service) as execute:
                execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _confirm_scratch(scratch: Target, name: str, service: str) -> None:
    """Refuse to go on unless a connection to the scratch URL reaches the database just created (the checks drop
    and recreate everything in it)."""
    with _administration(scratch, service) as execute:
        reached = str(execute("SELECT current_database()")[0][0])
    if reached != name:
        raise ServiceError(
            service,
            scratch.redact(
                f"the scratch database's URL reached database {reached!r}, not {name!r}: nothing was checked; "
                f"fix the query parameters of {scratch.source}"
            ),
            kind="scratch",
        )


def _drop_abandoned(execute: Callable[..., list[tuple[Any, ...]]]) -> list[str]:
    """Drop the scratch databases (of any service) whose verify was killed on this host; return their names.

    Only those whose comment names a process of this host that no longer runs: never another host's, never
    a running verify's, never one kept with --keep; one this user may not drop is left alone."""
    import psycopg2

    dropped: list[str] = []
    rows = execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
        ("%\\_verify\\_%",),
    )
    for name, comment in rows:
        if not (comment or "").startswith(owner.SCRATCH_OWNER) or not owner.is_gone(comment[len(owner.SCRATCH_OWNER) :]):
            continue
        try:
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg2.Error:  # not ours to drop (another user's), or dropped by another verify meanwhile
            continue
        dropped.append(name)
    return dropped


@contextmanager
def _administration(target: Target, service: str) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """execute(sql, params) -> rows, in autocommit on the target's server; connection and privilege errors
    become ServiceErrors."""
    import psycopg2

    assert target.url is not None
    try:
        connection = psycopg2.connect(libpq(target.url), connect_timeout=10)
    except psycopg2.Error as error:  # OperationalError, or ProgrammingError for a DSN libpq cannot parse
        reason = " ".join(str(error).split())
        raise ServiceError(service, refused(target, reason), kind="connect") from None
    statement = ""

    def execute(sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        nonlocal statement
        statement = sql
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    try:
        connection.autocommit = True
        yield execute
    except psycopg2.errors.InsufficientPrivilege:
        raise ServiceError(
            service,
            f"cannot create the scratch database: the user of {target.source} lacks CREATEDB; grant it "
            f"(ALTER ROLE ... CREATEDB) or unset {target.source.split()[0]} to verify on the local database",
            kind="scratch",
        ) from None
    except psycopg2.Error as error:
        reason = " ".join(str(error).split())
        raise ServiceError(
            service, target.redact(f"scratch database: {statement.split()[0].lower()} failed ({reason})"), kind="scratch"
        ) from None
    finally:
        connection.close()


# -- every service ---------------------------------------------------------------------------------


def verify_all(session: Session, pick: Selection, keep: bool = False) -> Report:
    """verify for every selected service, in parallel, each in its own scratch database; the entries are the results."""
    verb = functools.partial(verify, keep=keep)
    outcomes = over_all(session, verb, pick, ordered=False, describe=_verdict)
    results = [result_of(outcome) for outcome in outcomes]
    judged = [Outcome(o.service, "failed", o.detail) if o.ok and not r["ok"] else o for o, r in zip_strict(outcomes, results)]
    failed = [result["service"] for result in results if not result["ok"]]
    return Report(judged, f"verify failed for {', '.join(failed)}" if failed else None, results, "the tables")


def verify_one(session: Session, service: Service, keep: bool = False) -> Report:
    """verify for one service, as a Report whose one entry is the result."""
    result = verify(session, service, keep=keep)
    failed = failed_checks(result)
    verdict = f"{service.name}: verify failed ({', '.join(failed)})" if failed else None
    return Report(
        [Outcome(service.name, "failed" if failed else "ok", _verdict(result), result)], verdict, [result], "the details"
    )


def _verdict(data: Any) -> str:
    failed = failed_checks(data)
    return f"failed: {', '.join(failed)}" if failed else "all checks passed"


# -- reports ---------------------------------------------------------------------------------------


def result_of(outcome: Outcome) -> dict[str, Any]:
    """The verify result of one service of verify-all, also when it could not run at all."""
    if outcome.ok:
        return dict(outcome.data)
    return {"service": outcome.service, "ok": False, "error": outcome.detail, "checks": []}


def failed_checks(result: dict[str, Any]) -> list[str]:
    return [check["name"] for check in result.get("checks") or [] if check["ok"] is False]
