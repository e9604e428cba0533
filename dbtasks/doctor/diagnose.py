"""`doctor`: the original troubleshooting guides, turned into diagnoses of this project's setup.

Each Finding says what is wrong and the fix. This module checks migrations.yaml, the URL and the
server (with a connection of its own); the per-service checks run in each service's worker
(worker/doctor_checks.py), and the comparison across services happens here. Nothing here prints, exits or
imports invoke, and nothing writes data: the services' env.py run without applying or stamping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config, explain
from ..config.project import Environment, Project, Service, display_path
from ..database.masking import mask
from ..database.target import LOCAL_SOURCE, Target, local_database, shown
from ..errors import ConfigError, DbtasksError, LocalDatabaseError, RunFailed, ServiceError, UsageError
from ..orchestrate import run_all
from ..session import Session
from . import autocommit
from .server import ERROR, OK, WARNING, Finding, privileges, url_advice
from .server import server as connect_server


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
        return self.verdict("among its findings")

    def verdict(self, where: str) -> str | None:
        """The failure, pointing at `where` the errors are shown ("above", for a command line that drew the table)."""
        return f"doctor: {self.counts}; fix the errors {where}, then run 'inv db.doctor' again" if self.count(ERROR) else None

    def raise_for_failure(self, where: str = "among its findings") -> None:
        if self.count(ERROR):
            raise RunFailed(str(self.verdict(where)))


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
    findings = [Finding(OK, "migrations.yaml", f"valid: {_layout(project)}")]
    try:
        chosen = project.environment(environment, source) if environment else None
    except UsageError as error:
        return Diagnosis([*findings, Finding(ERROR, "environment", str(error))])
    findings += _unlimited_blocks(project.services.values(), [chosen] if chosen else list(project.environments.values()))
    session = Session(project, chosen, emit=emit)
    session.expect_workers(len(project.services), project.services.values())  # a worker per service, below
    target = _target(session, findings)
    server = connect_server(target, findings) if target.url else None
    if server is None:
        findings.append(Finding(WARNING, "database", "no database connection: skipped the database checks of every service"))
    else:
        findings += privileges(project, server)
    findings += _services(session, target, server is not None, jobs, findings)
    findings += _environment_guards(project)
    return Diagnosis([Finding(item.level, item.subject, target.redact(item.message)) for item in findings])


def _unlimited_blocks(services: Iterable[Service], environments: list[Environment]) -> list[Finding]:
    """A warning per place a migration leaves its transaction (autocommit_block(), COMMIT, an AUTOCOMMIT engine):
    what runs there has no rollback and, where an environment sets timeouts, none of them (SET LOCAL ends with the
    transaction). An env.py whose engine autocommits is warned about always: no migration has a transaction."""
    limited = [environment.name for environment in environments if environment.settings()]
    found = []
    for service in services:
        engine = autocommit.engine_autocommits(service)
        if engine is not None:
            found.append(
                Finding(
                    WARNING,
                    service.name,
                    f"{display_path(engine)} sets the AUTOCOMMIT isolation level: no migration runs in a transaction, so a "
                    "failing one is not rolled back and no environment's statement_timeout or lock_timeout applies; "
                    "remove it from the engine that env.py migrates with",
                )
            )
        if not limited:
            continue
        for path, what in autocommit.revision_findings(service):
            found.append(
                Finding(
                    WARNING,
                    service.name,
                    f"{display_path(path)} {what}, where the statement_timeout and lock_timeout of {', '.join(limited)} "
                    "do not apply (SET LOCAL ends with the transaction it leaves); keep what runs there short, or set "
                    "the timeout there",
                )
            )
    return found


# -- the URL ---------------------------------------------------------------------------------------


def _layout(project: Project) -> str:
    """How the services share out their databases' schemas, in words true of every layout."""
    services = list(project.services.values())
    count = f"{len(services)} service{'s' if len(services) != 1 else ''}"
    groups: dict[tuple[tuple[str, str], str], list[str]] = {}
    for service in services:
        groups.setdefault((service.database_key, service.schema), []).append(service.name)
    shared = [(schema, names) for (_, schema), names in groups.items() if len(names) > 1]
    if not shared:
        return f"{count}, each with its own schema"
    alone = len(services) - sum(len(names) for _, names in shared)
    parts = [f"{alone} with a schema of {'its' if alone == 1 else 'their'} own"] if alone else []
    parts += [f"{len(names)} sharing {schema} ({', '.join(names)})" for schema, names in shared]
    tables = "each with its own version table" + (
        ", branches of one environment sharing theirs" if any(s.branch for s in services) else ""
    )
    return f"{count}: {', '.join(parts)}; {tables}"


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
        findings += url_advice(project, configured.url, configured.source)
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


# -- the services ------------------------------------------------------------------------------------


def _services(session: Session, target: Target, online: bool, jobs: int, findings: list[Finding]) -> list[Finding]:
    """Each service's own checks, in parallel (each in its own worker process), then the ones across services.

    A service with a database of its own is checked there; doctor connects to each such database once first."""
    project = session.project
    owners: dict[str, str] = {}
    for service in project.services.values():
        for schema in service.owned_schemas:
            owners.setdefault(schema, service.name)
    targets: dict[str, tuple[Target, bool] | str] = {}
    for service in project.services.values():
        targets[service.name] = _service_target(session, service, target, online, targets, findings)
    results: dict[str, tuple[list[Finding], dict[str, Any]]] = {}

    def one(service: Service) -> dict[str, Any]:
        where = targets[service.name]
        if isinstance(where, str):
            results[service.name] = [Finding(ERROR, service.name, where)], {}
        else:
            results[service.name] = _service(session, service, where[0], where[1], owners)
        return {}

    run_all(project, list(project.services), one, jobs=jobs, ordered=False)
    done = [name for name in project.services if name in results]  # after Ctrl-C, the services that ran
    findings = [finding for name in done for finding in results[name][0]]
    return findings + _shared_version_tables({name: results[name][1] for name in done}, project)


def _service(
    session: Session, service: Service, target: Target, online: bool, owners: dict[str, str]
) -> tuple[list[Finding], dict[str, Any]]:
    try:
        data = session.run(
            service,
            "doctor",
            on=target,
            driver=service.driver,
            reachable=online,
            owners=owners,
            depends_on=list(service.depends_on),
        )
    except ServiceError as error:
        return [Finding(ERROR, service.name, _worker_problem(service, error))], {}
    found = [_finding(service, item, target) for item in data.get("findings") or []]
    return found, {**dict(data.get("facts") or {}), "database": shown(target.url) if target.url else ""}


def _service_target(
    session: Session, service: Service, default: Target, online: bool, known: dict[str, Any], findings: list[Finding]
) -> tuple[Target, bool] | str:
    """(the service's database, reachable), or why it has none; a database of its own is connected to once."""
    if service.database_key == ("default", ""):
        return default, online
    try:
        target = session.database(service)
    except DbtasksError as error:
        return str(error)
    for other in known.values():
        if isinstance(other, tuple) and other[0].url == target.url:
            return other
    server = connect_server(target, findings) if target.url else None
    return target, server is not None


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


def _shared_version_tables(facts: dict[str, dict[str, Any]], project: Project) -> list[Finding]:
    """Services whose alembic_version resolves to one table overwrite each other's revision (the branches of one
    environment keep a row each there: they count as one)."""
    sharing: dict[tuple[str, str], list[str]] = {}
    for name, service_facts in facts.items():
        where = service_facts.get("version_table") or {}
        if where.get("schema"):
            others = sharing.setdefault((f"{where['schema']}.{where['table']}", service_facts.get("database", "")), [])
            if not any(project.services[other].other_branch(project.services[name]) for other in others):
                others.append(name)
    return [
        Finding(
            ERROR,
            "database",
            f"services {', '.join(names)} all keep their revision in {table} of {database}: they overwrite each other's "
            f"revision; give each its own (version_table_schema=<its schema>, or version_table=alembic_version_<service>, "
            f"in its env.py's context.configure)",
        )
        for (table, database), names in sharing.items()
        if len(names) > 1
    ]


def _environment_guards(project: Project) -> list[Finding]:
    """create_all() in a service's own code outside an environment check races the migrations in production."""
    from ..worker.revisions import environment_file
    from .guards import create_all_calls

    findings = []
    for service in project.services.values():
        env_py = environment_file(**service.alembic_source)
        calls = create_all_calls(service.path, Path(env_py).parent if env_py else None)
        for call in [call for call in calls if not call.guarded]:
            findings.append(
                Finding(
                    WARNING,
                    service.name,
                    f"{display_path(call.path)}:{call.line}: metadata.create_all() runs outside an environment check: in "
                    f"production it creates tables the migrations then fail on ('relation already exists'); run it only "
                    f'in development (if os.getenv("ENVIRONMENT", "development") == "development": ...) and '
                    f"let 'inv db.upgrade {service.name}' create the tables everywhere else",
                )
            )
        if calls and all(call.guarded for call in calls):
            findings.append(Finding(OK, service.name, f"create_all() only under an environment check ({len(calls)} found)"))
    return findings
