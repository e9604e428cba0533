"""`verify`: the manual test plan, automated, for one service in a scratch database that is always dropped.

The checks themselves run in the service's worker (worker_verify.py); this module creates and drops
the scratch database, prepares the service's dependencies in it and writes the JUnit report.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

from . import runner
from .commands import Session
from .config import Project, Service
from .errors import ServiceError
from .orchestrate import Outcome
from .runner import Target
from .urls import database_name, libpq, mask


def verify(session: Session, service: Service, keep: bool = False) -> dict[str, Any]:
    """Run every check for `service`; the result is {"service", "ok", "checks": [{"name", "ok", "detail"}]}."""
    target = session.target()
    assert target.url is not None
    with scratch_database(target, service.name, keep) as scratch:
        session.announce(f"{service.name} | verifying in scratch database {database_name(scratch.url)}")
        emit = _prefixed(session, service.name)
        for dependency in dependencies(session.project, service):
            try:
                runner.run(dependency, "upgrade", scratch, emit, to="head")
            except ServiceError as error:
                raise ServiceError(
                    service.name,
                    f"cannot upgrade its dependency {dependency.name} in the scratch database: "
                    f"{str(error).removeprefix(f'{dependency.name}: ')}",
                    kind=error.kind,
                ) from None
        data = runner.run(service, "verify", scratch, emit, expect_tables=list(service.expect_tables))
    checks = list(data["checks"])
    result: dict[str, Any] = {"service": service.name, "ok": all(check["ok"] is not False for check in checks), "checks": checks}
    if keep:
        result["database"] = mask(scratch.url or "")
    return result


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


def _prefixed(session: Session, name: str) -> runner.Emit:
    return lambda line: session.emit(f"{name} | {line}")


# -- the scratch database --------------------------------------------------------------------------


@contextmanager
def scratch_database(target: Target, service: str, keep: bool = False) -> Iterator[Target]:
    """A new database `<service>_verify_<random>` on the target's server, dropped on the way out unless `keep`."""
    assert target.url is not None
    name = re.sub(r"[^a-z0-9_]", "_", service.lower())[:40] + f"_verify_{secrets.token_hex(4)}"
    _administer(target, service, f'CREATE DATABASE "{name}"')
    scratch = Target(_with_database(target.url, name), target.secrets, target.source)
    try:
        yield scratch
    finally:
        if not keep:
            _administer(target, service, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _administer(target: Target, service: str, statement: str) -> None:
    import psycopg2

    assert target.url is not None
    try:
        connection = psycopg2.connect(libpq(target.url), connect_timeout=10)
    except psycopg2.OperationalError as error:
        reason = " ".join(str(error).split())
        raise ServiceError(
            service,
            target.redact(f"cannot connect to the database ({reason}); check {target.source} and that the server is running"),
            kind="connect",
        ) from None
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
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


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


# -- reports ---------------------------------------------------------------------------------------


def result_of(outcome: Outcome) -> dict[str, Any]:
    """The verify result of one service of verify-all, also when it could not run at all."""
    if outcome.ok:
        return dict(outcome.data)
    return {"service": outcome.service, "ok": False, "error": outcome.detail, "checks": []}


def junit(results: Sequence[dict[str, Any]]) -> str:
    """JUnit XML: a test suite per service, a test case per check (failures and skips marked)."""
    suites = ElementTree.Element("testsuites", name="dbtasks verify")
    for result in results:
        checks = list(result.get("checks") or [])
        suite = ElementTree.SubElement(suites, "testsuite", name=result["service"])
        if "error" in result:
            case = ElementTree.SubElement(suite, "testcase", classname=f"verify.{result['service']}", name="verify")
            ElementTree.SubElement(case, "error", message=result["error"]).text = result["error"]
        for check in checks:
            case = ElementTree.SubElement(suite, "testcase", classname=f"verify.{result['service']}", name=check["name"])
            if check["ok"] is False:
                ElementTree.SubElement(case, "failure", message=check["detail"]).text = check["detail"]
            elif check["ok"] is None:
                ElementTree.SubElement(case, "skipped", message=check["detail"])
        suite.set("tests", str(max(1, len(checks)) if "error" in result else len(checks)))
        suite.set("failures", str(sum(1 for check in checks if check["ok"] is False)))
        suite.set("errors", "1" if "error" in result else "0")
        suite.set("skipped", str(sum(1 for check in checks if check["ok"] is None)))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def failed_checks(result: dict[str, Any]) -> list[str]:
    return [check["name"] for check in result.get("checks") or [] if check["ok"] is False]
