"""verify of a multidb service (Alembic's multidb template: one env.py migrates every engine's database in one run),
each engine in a scratch database of its own. The checks read every engine's catalog. The stairway is not walked:
a step down and up again runs through every engine in turn, and the template commits every engine at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import catalog
from . import ownership as owned
from .verify_checks import Verification, upgraded

STAIRWAY_SKIPPED = (
    "skipped: the multidb template migrates every engine in one run of env.py; each revision is upgraded one at a "
    "time, and no-trace checks the way down"
)


class EngineVerification(Verification):
    def database_checks(self, script: Any) -> None:
        revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
        if not revisions:
            super().database_checks(script)
            return
        head = revisions[-1]
        self.operation.create_schemas(self.db)
        self.operation.prepare(self.db)
        engines = self.engine_connections()
        try:
            before = self.snapshots(engines)
            if not self.env_runs_twice():
                return
            for revision in revisions:
                problem = self.step("upgrade", self.upgrade, revision)
                if problem is not None:
                    self.upgrade_failed(revision, problem)
                    return
            self.passed("upgrade", upgraded(revisions) + f" in {len(engines)} databases")
            self.record("stairway", None, STAIRWAY_SKIPPED)
            at_head = self.snapshots(engines)
            self.versions(engines, at_head, head)
            changed = per_engine(engines, lambda engine: self.outside(before, at_head, engine))
            self.judge(
                "ownership", changed, "migrations changed objects outside its schemas", "nothing outside its schemas changed"
            )
            self.expected_tables({schema: objects for snapshot in at_head.values() for schema, objects in snapshot.items()})
            self.idempotent_everywhere(engines, at_head)
            self.drift(script, head)
            self.no_trace_everywhere(engines, before)
        finally:
            for connection in engines.values():
                connection.close()

    def engine_connections(self) -> dict[str, catalog.Connection]:
        """engine -> a catalog connection of ours to its scratch database."""
        return {engine: catalog.Connection(url) for engine, url in (self.operation.request.get("engines") or {}).items()}

    def snapshots(self, engines: dict[str, catalog.Connection]) -> dict[str, Any]:
        return {engine: connection.snapshot() for engine, connection in engines.items()}

    def outside(self, before: dict[str, Any], after: dict[str, Any], engine: str) -> list[str]:
        return owned.differences(self.owner.outside(before[engine]), self.owner.outside(after[engine]))

    def versions(self, engines: dict[str, catalog.Connection], at_head: dict[str, Any], head: str) -> None:
        table, schema = self.version_table_name(), self.operation.version_table.get("schema") or self.schema
        wrong = []
        for engine, connection in engines.items():
            if ("table", None, table) not in at_head[engine].get(schema, {}):
                wrong.append(f"{engine}: no {schema}.{table}")
                continue
            rows = sorted(row[0] for row in connection.rows(f'SELECT version_num FROM "{schema}"."{table}"'))
            if rows != [head]:
                wrong.append(f"{engine}: {', '.join(rows) or 'nothing'}")
        if wrong:
            self.failed("version-table", f"expected {head} in every engine's {schema}.{table}: {'; '.join(wrong)}")
        else:
            self.passed("version-table", f"{schema}.{table} at {head} in every engine's database")

    def idempotent_everywhere(self, engines: dict[str, catalog.Connection], at_head: dict[str, Any]) -> None:
        problem = self.step("upgrade", self.upgrade, "head")
        if problem is not None or self.operation.applied:
            what = f"fails: {problem.message}" if problem else f"applied {len(self.operation.applied)} migrations"
            self.failed("idempotent", f"upgrade head run a second time {what}")
            return
        again = self.snapshots(engines)
        changes = per_engine(
            engines, lambda engine: catalog.schema_differences(at_head[engine], again[engine], {*at_head[engine], *again[engine]})
        )
        self.judge(
            "idempotent",
            changes,
            "upgrade head run a second time changed",
            "second upgrade head: same versions, identical catalogs",
        )

    def no_trace_everywhere(self, engines: dict[str, catalog.Connection], before: dict[str, Any]) -> None:
        problem = self.step("downgrade", self.downgrade, "base")
        if problem is not None:
            self.failed("no-trace", f"downgrade to base fails in {problem.where('env.py')}: {problem.message}")
            return
        now = self.snapshots(engines)
        left = per_engine(
            engines, lambda engine: owned.differences(self.own(before[engine]), self.own(now[engine]), catalog.LEFTOVERS)
        )
        self.judge("no-trace", left, "after downgrade to base", "downgrade to base leaves every engine's database as before")


def per_engine(engines: Iterable[str], lines: Callable[[str], list[str]]) -> list[str]:
    """Each engine's lines, each said with its engine: `engine2: left behind table public.audit_trail`."""
    return [f"{engine}: {line}" for engine in engines for line in lines(engine)]
