"""One invocation: the project, the chosen environment, where lines go, how a protected run is confirmed,
and the database, resolved once. Every verb takes a Session first (as alembic.command takes a Config)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from . import fastpath
from . import plan as planning
from .config.project import Environment, Project, Service
from .database.target import (
    LOCAL_SOURCE,
    Target,
    address,
    configured_service_target,
    configured_target,
    resolve_service_target,
    resolve_target,
    target_line,
    where,
)
from .database.urls import OFFLINE_URL
from .errors import ConfigError, DatabaseMissing, UsageError
from .explain import CREATE_HINT, Emit, missing_databases
from .files.graph_cache import GraphCache
from .settings import DEFAULT_WAIT
from .worker.libpq import database_name
from .worker.protocol import OPS, WRITING_OPS

if TYPE_CHECKING:  # the lock and the runner are imported when a run takes a lock or starts a worker
    from .database.lock import Held, Spares

# Asked before a destructive run in a protected environment: (subject, environment, what it does, the name to type
# back, what that name is: "database", or "fleet" for a run over a fleet's members).
Confirm = Callable[[str, str, str, str, str], None]
WorkerOp = str  # the name of a function of dbtasks.worker.ops (worker/protocol.py's OPS); the worker runs it


def _silent(line: str) -> None:
    pass


def _no_confirmation(subject: str, environment: str, what: str, name: str, kind: str) -> None:
    pass


@dataclass
class Session:
    project: Project
    environment: Environment | None = None  # --env / DBTASKS_ENV; None: database.url_env or the local database
    emit: Emit = _silent  # Alembic's output, a line at a time, prefixed with the service
    announce: Emit = _silent  # our own lines: the local database, lock waits
    lock_wait: float = DEFAULT_WAIT
    confirm: Confirm = _no_confirmation  # a protected environment's typed-back database name
    verbose: bool = False  # also announce the plan of a run (Session.plan)
    fork: bool = False  # start workers from a fork server (set when a run will start several)
    _confirmed: bool = False
    _member: bool = False  # a fleet member's session (bound)
    _known: dict[str, fastpath.Known] = field(default_factory=dict)  # prefetched states, each used once
    _untold: set[str] = field(default_factory=set)  # services the prefetch's query could not tell: not asked again
    _database: Target | None = None
    _databases: dict[tuple[str, str], Target] = field(default_factory=dict)  # by Service.database_key
    _probed: set[str | None] = field(default_factory=set)  # URLs connected to once already (resolve)
    _steps: dict[str, planning.Step] = field(default_factory=dict)  # each service's step, resolved once (plan, step)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _graphs: GraphCache | None = None
    # replay.py's proof of a no-op: (target, the fast path's queries and their rows) per database, when every selected
    # service's state came from them; never once a worker started, a lock was taken or a state was not read by them
    _witness: list[tuple[Target, fastpath.Transcript]] | None = None
    _unprovable: bool = False
    spares: Spares | None = None  # the lock sessions a run over several services keeps for its next locks (lock.py)

    @property
    def graphs(self) -> GraphCache:
        """The project's cache of its migration files' revisions (.dbtasks/), loaded on first use."""
        if self._graphs is None:
            self._graphs = GraphCache(self.project.root / ".dbtasks")
        return self._graphs

    def service(self, name: str) -> Service:
        return self.project.service(name)

    def bound(self, project: Project, database: Target, emit: Emit) -> Session:
        """A session like this one whose default database is `database` (a fleet's member), for `project`'s services;
        a protected environment's confirmation carries over (the fleet asks once)."""
        return Session(
            project,
            self.environment,
            emit,
            self.announce,
            self.lock_wait,
            self.confirm,
            self.verbose,
            True,
            self._confirmed,
            _database=database,
            _member=True,
            _graphs=self.graphs,  # the members share one project's files: read them once
        )

    def configured_target(self, service: Service | None = None) -> Target:
        """The configured URL (of `service`'s database), validated, or Target(None): for offline work; never starts anything."""
        if service is not None:
            return configured_service_target(self.project, self.environment, service)
        return configured_target(self.project, self.environment)

    def database(self, service: Service | None = None) -> Target:
        """The database to use (`service`'s), resolved once: the configured URL, else the local database (started,
        and the service's database created, on first use)."""
        if service is not None and service.database_key != ("default", ""):
            with self._guard:
                if service.database_key not in self._databases:
                    found = resolve_service_target(self.project, self.environment, service, self._default_database)
                    self._databases[service.database_key] = found
                    self.announce(target_line(found, self.environment, service=service.name))
                return self._databases[service.database_key]
        with self._guard:
            return self._default_database()

    def plan(self, services: list[Service], *, reverse: bool = False, ordered: bool = True) -> planning.Plan:
        """The run's plan, resolved before any worker starts: each service's database (started and created, and
        connected to once), version table, interpreter, lock and the services it waits for (`reverse`: going down;
        not `ordered`: none). Announced with `verbose`; Session.run and Session.locked then read each service's step."""
        self.resolve(services)
        names = [service.name for service in services]
        after = planning.prerequisites(self.project, names, reverse) if ordered else {}
        steps = {service.name: self._step(service, after.get(service.name, ())) for service in services}
        with self._guard:
            self._steps.update(steps)
        found = planning.Plan(steps)
        if self.verbose:
            for line in found.lines():
                self.announce(line)
        return found

    def step(self, service: Service) -> planning.Step:
        """`service`'s step of this run: planned already, else resolved now, once."""
        with self._guard:
            if service.name in self._steps:
                return self._steps[service.name]
        found = self._step(service)
        with self._guard:
            return self._steps.setdefault(service.name, found)

    def engine_targets(self, service: Service) -> dict[str, Target]:
        """A multidb service's engines (engines: in migrations.yaml) -> each one's database, resolved like a service's
        own (started and created on the local database)."""
        return {engine: self.database(one) for engine, one in service.engine_services().items()}

    def _engines_of(self, service: Service, offline: bool) -> dict[str, Target]:
        """A multidb service's engines' databases: as configured when offline (nothing started), else resolved."""
        if offline:
            return {engine: self.configured_target(one) for engine, one in service.engine_services().items()}
        return self.engine_targets(service)

    def _step(self, service: Service, after: tuple[str, ...] = ()) -> planning.Step:
        """`service`'s step on its database, with the environment's -x over its own."""
        effective = self.environment.with_x(service) if self.environment is not None else service
        return planning.step(effective, self.database(service), after)

    def resolve(self, services: list[Service], *, probe: bool = True) -> None:
        """Resolve (start, create) every service's database before workers fan out, and refuse two services that
        would write one version table of one database (through two variables naming the same server).

        `probe` connects to each once, so that a wrong password or a server that is down is said once, in doctor's
        words (not once per service, differently per driver); prefetch_states probes with its own query instead."""
        writers: dict[tuple[tuple[str, int, str], str, str], Service] = {}
        for service in services:
            target = self.database(service)
            if probe and self._needs_probe(target):
                fastpath.reach(target, self.create_hint()).close()
                self._probed.add(target.url)
            key = (address(target.url), *service.expected_version_table)
            if key in writers and not writers[key].other_branch(service):
                from .config.keys import own_version_table

                raise ConfigError(
                    [
                        f"services {writers[key].name!r} and {service.name!r} both keep their version table in "
                        f"{'.'.join(service.expected_version_table)} of database {key[0][2]!r}; give one of them its own "
                        f"(version_table: {own_version_table(service.name)} in migrations.yaml and in its env.py)"
                    ]
                )
            writers[key] = service

    def _default_database(self) -> Target:
        if self._database is None:
            self._database = resolve_target(self.project, self.environment, announce=self.announce)
            if self._database.source != LOCAL_SOURCE:  # the local database announces itself
                self.announce(target_line(self._database, self.environment))
        return self._database

    def run(
        self,
        service: Service,
        op: WorkerOp,
        *,
        offline: bool = False,
        on: Target | None = None,
        engines_on: dict[str, Target] | None = None,
        lock: Held | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        """Run worker operation `op` (named after a function of dbtasks.worker.ops) for `service`. A writing one on
        the session's database needs the service's migration `lock`, taken by the caller with `locked` (the verbs).

        `offline` runs without a database (the configured URL, if any, is only handed to env.py); `on` runs
        against another database than the session's (verify's scratch database), without the lock; `engines_on`,
        for a multidb service, hands each engine such a database too.
        """
        name = op
        self._unproven()
        assert name in OPS, name
        service = self.environment.with_x(service) if self.environment is not None else service
        target = on if on is not None else self.configured_target(service) if offline else self.step(service).target
        prefix = f"{service.name} | "
        # The environment's timeouts are for its own database, not for verify's scratch one or doctor's look.
        timeouts = self.environment.settings() if self.environment is not None and on is None else {}

        engines: dict[str, str] = {}
        if service.engines and on is not None and engines_on is None and name != "doctor":
            raise UsageError(
                f"{service.name}: its env.py drives several databases (engines: {', '.join(e for e, _, _ in service.engines)}); "
                f"{name} of it is not supported yet (upgrade, downgrade, stamp, status, current, check, sql, lint and "
                "doctor are)"
            )
        if service.engines:  # multidb: every engine's database, and its secrets hidden
            for engine, found in (engines_on or self._engines_of(service, offline)).items():
                engines[engine] = found.url or (OFFLINE_URL if offline else "")
                target = replace(target, secrets=tuple(dict.fromkeys((*target.secrets, *found.secrets))))

        def start(lock: Held | None = None) -> dict[str, Any]:
            from .run import runner

            emit = lambda line: self.emit(prefix + line)  # noqa: E731
            return runner.run(
                service,
                name,
                target,
                emit,
                timeouts=timeouts,
                fork=self.fork,
                announce=self.announce,
                shared=tuple(self.project.shared_schemas(service)),
                foreign=self.project.foreign_version_tables(service),
                lock=lock,
                engines=engines,
                bookkeeping=self.project.bookkeeping_schema,
                drivers=self.project.drivers,
                **args,
            )

        if name in WRITING_OPS and not offline and on is None:
            if lock is None:
                raise AssertionError(f"{name} of {service.name} needs its migration lock: take it with Session.locked")
            return lock.guard(lambda: start(lock))
        return start()

    def expect_workers(self, count: int, services: Iterable[Service] = ()) -> None:
        """Two or more workers fork from a server that imports Alembic once, started now for `services`' interpreters:
        its imports overlap with the rest of the set-up (the plan, the locks)."""
        if count >= 2:
            from .run import runner

            self.fork = True
            runner.warm(services, self.project.drivers)

    def protected(self) -> bool:
        return self.environment is not None and self.environment.protected

    def create_hint(self) -> str:
        """How a missing database gets created, where upgrade-all --create-databases may do it: not in a protected
        environment, not for a fleet's member (a database the fleet names)."""
        return "" if self.protected() or self._member else CREATE_HINT

    def require_yes(self, yes: bool, subject: str, what: str, service: Service | None = None, name: str = "") -> None:
        """Destructive commands need --yes; a protected environment also asks `confirm` (once per session) for the
        name of the database they change (`service`'s, else the default one), or `name` (a fleet's)."""
        if not yes:
            where = f" in protected environment {self.environment.name!r}" if self.environment and self.protected() else ""
            raise UsageError(f"{subject}: {what}{where}; rerun with --yes to confirm")
        if self.environment is not None and self.environment.protected and not self._confirmed:
            if name:
                self.confirm(subject, self.environment.name, what, name, "fleet")
            else:
                self.confirm(subject, self.environment.name, what, database_name(self.database(service).url), "database")
            self._confirmed = True

    def prefetch_states(self, services: list[Service]) -> dict[str, fastpath.Known]:
        """Read every service's state from the catalog and the files at once (the fast path: one query per database)."""
        self.resolve(services, probe=False)
        by_database: dict[tuple[str, str], list[Service]] = {}
        for service in services:
            by_database.setdefault(service.database_key, []).append(service)
        self._known = {}
        witness: list[tuple[Target, fastpath.Transcript]] = []
        missing: list[tuple[DatabaseMissing, Target]] = []  # every database the server lacks, said in one line
        for group in by_database.values():  # unreachable: said once, before any worker tries
            target = self.database(group[0])
            probe = self._needs_probe(target)
            transcript: fastpath.Transcript = []
            witness.append((target, transcript))
            try:
                self._known.update(
                    fastpath.known_states(
                        target,
                        group,
                        self.graphs,
                        probe=probe,
                        hint=self.create_hint(),
                        ours=self.project.bookkeeping_schema,
                        transcript=transcript,
                    )
                )
            except DatabaseMissing as error:
                missing.append((error, target))
                continue
            self._probed.add(target.url)
        if len(missing) == 1:
            raise missing[0][0]
        if missing:
            names = [(error.database, "{}:{}".format(*where(target.url)[:2])) for error, target in missing]
            raise DatabaseMissing(missing_databases(names, self.create_hint()), names[0][0])
        self.graphs.save()
        self._untold = {service.name for service in services} - set(self._known)
        if self._untold or not all(found for _, found in witness):
            self._unproven()  # a state the queries did not give: the run goes on with it, and is no no-op to replay
        with self._guard:
            self._witness = None if self._unprovable else witness
        return dict(self._known)

    def witnessed(self) -> list[tuple[str, str, fastpath.Transcript]] | None:
        """For replay.py: (the variable that named it, URL, the fast path's queries and rows) of each database, when the
        run so far was a no-op they prove (no environment, every state read by them, no worker, no lock); else None."""
        with self._guard:
            if self._unprovable or self.environment is not None or self._witness is None:
                return None
        if any(target.url is None for target, _ in self._witness):
            return None
        return [(target.source, str(target.url), transcript) for target, transcript in self._witness]

    def known_state(self, service: Service, *, fresh: bool = False, held: Held | None = None) -> fastpath.Known | None:
        """The service's state without a worker, when certain; a prefetched one is used only once (runs change it),
        and never when `fresh` (read it again: under the lock, after waiting for another run, through the lock's
        session when `held` is given)."""
        if service.name in self._known and not fresh:
            return self._known.pop(service.name)
        if service.name in self._untold and not fresh:  # the same query again would not tell either
            self._untold.discard(service.name)
            return None
        through = held.catalog() if held is not None else None
        target, transcript = self.database(service), []  # type: tuple[Target, fastpath.Transcript]
        found = fastpath.known_states(
            target, [service], self.graphs, ours=self.project.bookkeeping_schema, connection=through, transcript=transcript
        ).get(service.name)
        self.graphs.save()
        if found is None:
            self._unproven()
        with self._guard:  # a state read on its own (current, upgrade of one service)
            if not self._unprovable:
                self._witness = [*(self._witness or []), (target, transcript)]
        return found

    def _unproven(self) -> None:
        """What this run does from now on is no no-op a replay could prove (replay.py)."""
        with self._guard:
            self._unprovable, self._witness = True, None

    def _needs_probe(self, target: Target) -> bool:
        return target.url is not None and target.source != LOCAL_SOURCE and target.url not in self._probed

    @contextmanager
    def locked(self, service: Service) -> Iterator[Held]:
        """Hold the service's migration lock, named after its version table, for as long as the block runs: the one
        place a lock is taken. The verbs take it once and hand it to each writing `run` (reset: across both steps)."""
        from .database.lock import migration_lock

        self._unproven()
        step = self.step(service)
        lock = functools.partial(
            migration_lock, service=service.name, name=step.lock, wait=self.lock_wait, announce=self.announce, spares=self.spares
        )
        with ExitStack() as stack:
            held = stack.enter_context(lock(step.target))
            # multidb: the same lock in every other database its env.py migrates, each session watched
            places = {address(step.target.url)}
            for found in self.engine_targets(service).values():
                if address(found.url) not in places:
                    places.add(address(found.url))
                    held.include(stack.enter_context(lock(found)))
            yield held
