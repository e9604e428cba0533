"""The core verbs, one per task: each runs one Alembic operation for one service and returns data.

Nothing here prints or exits: progress lines go to the session's `emit`, failures are DbtasksErrors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fastpath, runner
from .config import Environment, Project, Service, read_dotenv
from .errors import ConfigError, UsageError
from .localdb import LocalDatabase
from .lock import DEFAULT_WAIT, migration_lock
from .orchestrate import Outcome, run_all
from .runner import Emit, Target
from .urls import mask, secrets_of, validate


def resolve_url(project: Project, environment: Environment | None = None) -> tuple[str | None, str]:
    """The configured URL and where it came from; the one place URL precedence is decided.

    1. the environment variable named by the selected environment's `url_env`, else by
       `database.url_env` (default DATABASE_URL);
    2. the same variable in the .env file beside migrations.yaml;
    3. none: the caller falls back to the embedded local database (never for a named environment).
    """
    name = environment.url_env if environment is not None else project.url_env
    if os.environ.get(name):
        return os.environ[name], name
    dotenv = project.root / ".env"
    value = read_dotenv(dotenv).get(name)
    if value:
        return value, f"{name} (in {dotenv.name})"
    return None, "local"


def local_database(project: Project) -> LocalDatabase:
    return LocalDatabase(project.root / ".dbtasks")


@dataclass
class Session:
    """One invocation: the project, where output lines go, and the database target (resolved once)."""

    project: Project
    emit: Emit = field(default=lambda line: None)
    announce: Emit = field(default=lambda line: None)
    lock_wait: float = DEFAULT_WAIT
    environment: Environment | None = None  # --env / DBTASKS_ENV; None: database.url_env or the local database
    confirm: Callable[[str, str], None] = field(default=lambda subject, what: None)  # protected: the typed-back name
    confirmed: bool = False
    _known: dict[str, fastpath.Known] = field(default_factory=dict)  # prefetched states, each used once
    _target: Target | None = None
    _held: dict[str, int] = field(default_factory=dict)  # service -> nesting depth of its migration lock
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def target(self) -> Target:
        """The database to use, starting the embedded one when no URL is configured."""
        if self._target is None:
            configured = self.offline()
            url, source = configured.url, configured.source
            if url is None and self.environment is not None:
                raise ConfigError(
                    [
                        f"{self.environment.url_env} is not set for environment {self.environment.name!r}; set it (or put it in .env) to "
                        f"that database's URL (a named environment never falls back to the local database)"
                    ]
                )
            if url is None:
                if not self.project.local:
                    raise ConfigError(
                        [
                            f"{self.project.url_env} is not set and migrations.yaml turns the local database off "
                            f"(database.local: false); set {self.project.url_env} to the database to migrate"
                        ]
                    )
                url, source = local_database(self.project).start(), "the local database (.dbtasks/)"
                self.announce(f"using the local database {mask(url)} (set {self.project.url_env} to use another)")
            self._target = Target(url, tuple(secrets_of(url)), source)
        return self._target

    def offline(self) -> Target:
        """The configured URL, validated (never the local database): for offline SQL, and the first step of target()."""
        url, source = resolve_url(self.project, self.environment)
        if url is None:
            return Target(None, (), source)
        validate(url, source)
        return Target(url, tuple(secrets_of(url)), source)

    def service(self, name: str) -> Service:
        return self.project.service(name)

    def run(self, service: Service, op: str, *, offline: bool = False, **args: Any) -> dict[str, Any]:
        target = self.offline() if offline else self.target()
        prefix = f"{service.name} | "
        if os.environ.get("DBTASKS_DEBUG"):
            self.announce(f"{prefix}worker: {op}")  # shows which services the fast path could not answer
        settings = self.environment.settings() if self.environment is not None else {}
        if op in WRITING and not offline:
            with self.locked(service):
                return runner.run(service, op, target, lambda line: self.emit(prefix + line), settings=settings, **args)
        return runner.run(service, op, target, lambda line: self.emit(prefix + line), settings=settings, **args)

    def protected(self) -> bool:
        return self.environment is not None and self.environment.protected

    def prefetch_states(self, services: list[Service]) -> None:
        """Read every service's state from the catalog and the files at once (the fast path)."""
        self._known = fastpath.known_states(self.target(), services)

    def known_state(self, service: Service) -> fastpath.Known | None:
        """The service's state without a worker, when certain; a prefetched one is used only once (runs change it)."""
        if service.name in self._known:
            return self._known.pop(service.name)
        return fastpath.known_states(self.target(), [service]).get(service.name)

    @contextmanager
    def locked(self, service: Service) -> Iterator[None]:
        """Hold the service schema's migration lock (re-entrant: reset holds it across both steps)."""
        with self._guard:
            depth = self._held.get(service.name, 0)
            self._held[service.name] = depth + 1
        try:
            if depth:
                yield
            else:
                with migration_lock(self.target(), service.name, service.schema, wait=self.lock_wait, announce=self.announce):
                    yield
        finally:
            with self._guard:
                self._held[service.name] -= 1


# Operations that write alembic_version or the schema: they hold the migration lock.
WRITING = ("upgrade", "downgrade", "stamp")


def require_yes(session: Session, yes: bool, subject: str, what: str) -> None:
    """Destructive commands need --yes; a protected environment also asks the session's `confirm` (once)."""
    if not yes:
        protected = (
            f" in protected environment {session.environment.name!r}" if session.environment and session.protected() else ""
        )
        raise UsageError(f"{subject}: {what}{protected}; rerun with --yes to confirm")
    if session.protected() and not session.confirmed:
        session.confirm(subject, what)
        session.confirmed = True


# -- one service -----------------------------------------------------------------------------------


def upgrade(session: Session, service: Service, to: str = "head") -> dict[str, Any]:
    if (to or "head") == "head":
        state = session.known_state(service)
        if state is not None and state.pending == 0:
            return {"applied": [], "head": [state.head]}  # already at head: no worker, no lock
    return session.run(service, "upgrade", to=to or "head")


def downgrade(session: Session, service: Service, to: str = "-1", yes: bool = False) -> dict[str, Any]:
    to = to or "-1"
    require_yes(session, yes, service.name, f"downgrade to {to} runs the migrations' downgrade steps and may drop data")
    return session.run(service, "downgrade", to=to)


def reset(session: Session, service: Service, yes: bool = False) -> dict[str, Any]:
    require_yes(
        session, yes, service.name, "reset downgrades to base (dropping the service's tables and data) and upgrades to head"
    )
    with session.locked(service):  # no other run may start in between
        down = session.run(service, "downgrade", to="base")
        up = session.run(service, "upgrade", to="head")
    return {"applied": list(down["applied"]) + list(up["applied"])}


def stamp(session: Session, service: Service, revision: str, yes: bool = False) -> dict[str, Any]:
    require_yes(session, yes, service.name, f"stamp {revision} rewrites the recorded revision without running migrations")
    return session.run(service, "stamp", revision=revision)


def generate(session: Session, service: Service, message: str, empty: bool = False) -> dict[str, Any]:
    if not message or not message.strip():
        raise UsageError(f'{service.name}: a message is required; pass -m "what the migration does"')
    return session.run(service, "generate", message=message.strip(), empty=empty)


def merge(session: Session, service: Service, message: str = "merge heads") -> dict[str, Any]:
    return session.run(service, "merge", message=message)


def check(session: Session, service: Service) -> dict[str, Any]:
    """One head, database at head, no autogenerate difference; the data carries the differences."""
    return session.run(service, "check")


def sql(session: Session, service: Service, start: str | None = None, end: str = "head") -> str:
    return str(session.run(service, "sql", offline=True, **{"from": start or None, "to": end or "head"})["sql"])


def current(session: Session, service: Service) -> dict[str, Any]:
    return session.run(service, "current")


def status(session: Session, service: Service) -> dict[str, Any]:
    state = session.known_state(service)
    data = state.status() if state is not None else session.run(service, "status")
    return {"service": service.name, "schema": service.schema, **status_fields(data)}


def status_fields(data: dict[str, Any]) -> dict[str, Any]:
    """current/head/pending/state for the status table and its JSON."""
    heads, current_revisions = list(data.get("head") or []), list(data.get("current") or [])
    pending = data.get("pending")
    if len(heads) > 1:
        state = "multiple heads"
    elif data.get("unknown"):
        state = "unknown revision"
    elif not heads:
        state = "no migrations"
    elif not current_revisions:
        state = "not initialized"
    elif pending == 0:
        state = "up to date"
    else:
        state = "behind"
    return {
        "current": ",".join(current_revisions) or None,
        "head": ",".join(heads) or None,
        "pending": pending,
        "state": state,
    }


def history(session: Session, service: Service) -> dict[str, Any]:
    return session.run(service, "history", offline=True)


def heads(session: Session, service: Service) -> dict[str, Any]:
    return session.run(service, "heads", offline=True)


def write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {path} ({error.strerror}); choose a file in a writable folder") from None


def sql_to_folder(session: Session, service: Service, folder: Path) -> dict[str, Any]:
    """Write the service's base-to-head SQL to <folder>/<service>.sql."""
    path = folder / f"{service.name}.sql"
    write_text(path, sql(session, service))
    return {"path": str(path)}


# -- all services ----------------------------------------------------------------------------------


def reset_all(session: Session, names: list[str], *, jobs: int, fail_fast: bool) -> list[Outcome]:
    """Downgrade to base (dependents first), then upgrade to head (dependencies first).

    Every service is upgraded again, also one whose downgrade failed part-way, so each ends at head;
    its row reports the downgrade failure. With fail_fast, a downgrade failure stops before upgrading.
    """
    down = run_all(
        session.project, names, lambda s: downgrade(session, s, "base", yes=True), jobs=jobs, fail_fast=fail_fast, reverse=True
    )
    if fail_fast and any(not outcome.ok for outcome in down):
        return down
    up = run_all(
        session.project, names, lambda s: upgrade(session, s), jobs=jobs, fail_fast=fail_fast, describe=lambda d: "reset to head"
    )
    return [before if not before.ok else after for before, after in zip(down, up, strict=True)]
