"""A run's plan, resolved once before any worker starts: for each selected service the database it migrates (the
one parsed Target), the schemas it owns, its version table, the interpreter its worker runs on, the name of its
migration lock and the services it waits for. Session.plan makes it; the verbs execute it (Session.run and
Session.locked read the service's step, never derive a target again); `--verbose` and the library show it.

A step is also what verify's scratch databases and doctor's look use (`Step.on`), and a fleet member's session
plans its own steps on the member's database."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .config.project import Project, Service
from .database.target import Target, shown
from .database.urls import OFFLINE_URL, expand


def lock_name(version_table: tuple[str, str]) -> str:
    """The lock of a version table: its schema's name for alembic_version (as every dbtasks so far), else schema.table."""
    schema, table = version_table
    return schema if table == "alembic_version" else f"{schema}.{table}"


@dataclass(frozen=True)
class Step:
    """One service's part of a run: where, with what, under which lock, after which services."""

    service: Service
    target: Target
    interpreter: str  # the service's `python`, else the interpreter running dbtasks
    lock: str  # lock_name of its version table
    after: tuple[str, ...] = ()  # the selected services it waits for (going down: the ones that depend on it)

    @property
    def version_table(self) -> tuple[str, str]:
        return self.service.expected_version_table

    @property
    def schemas(self) -> tuple[str, ...]:
        return self.service.owned_schemas

    def on(self, target: Target) -> Step:
        """The same step against another database (verify's scratch database, a look by doctor)."""
        return replace(self, target=target)

    def line(self) -> str:
        """`plan: habits: database host:5432/app; version table habits.alembic_version; ...` (no password)."""
        where = f"database {shown(self.target.url)}" if self.target.url else "offline"
        after = f"; after {', '.join(self.after)}" if self.after else ""
        x = f"; -x {', '.join(self.target.redact(item) for item in self.x)}" if self.x else ""
        return (
            f"plan: {self.service.name}: {where}; version table {'.'.join(self.version_table)}; schemas "
            f"{', '.join(self.schemas)}; python {self.interpreter}; lock {self.lock}{x}{after}"
        )

    @property
    def x(self) -> list[str]:
        """Alembic's -x arguments env.py gets (name=value), the ${db.*} placeholders filled in from the target."""
        return [expand(item, self.target.url or OFFLINE_URL, self.service.driver) for item in self.service.x]


@dataclass(frozen=True)
class Plan:
    """The steps of a run in the order they may start (each after the ones it waits for)."""

    steps: Mapping[str, Step]

    @property
    def names(self) -> list[str]:
        return list(self.steps)

    def waits_for(self) -> dict[str, set[str]]:
        return {name: set(step.after) for name, step in self.steps.items()}

    def lines(self) -> list[str]:
        return [step.line() for step in self.steps.values()]


def step(service: Service, target: Target, after: tuple[str, ...] = ()) -> Step:
    """`service`'s step on `target`."""
    return Step(service, target, service.python or sys.executable, lock_name(service.expected_version_table), after)


def prerequisites(project: Project, names: list[str], reverse: bool) -> dict[str, tuple[str, ...]]:
    """What each named service waits for: the selected services it depends on (with `reverse`, that depend on it)."""
    selected = set(names)
    waits_for: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for dependency in project.services[name].depends_on:
            if dependency in selected:
                waits_for[dependency if reverse else name].append(name if reverse else dependency)
    return {name: tuple(found) for name, found in waits_for.items()}
