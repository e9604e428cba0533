"""The checks of `inv db.verify`, run by the worker in the service's interpreter against a scratch database.

The parent created the scratch database and upgraded the service's dependencies in it; everything
here may be destroyed.
"""

from __future__ import annotations

import io
import os
from typing import Any

from . import branches, catalog, engine_files, per_revision, revisions
from . import ownership as owned
from .failures import Failure, first_line
from .operation import Operation, describe
from .stairway import Problem, Walk
from .verify_steps import Steps

CHECKS = (
    "history",
    "single-head",
    "upgrade",
    "stairway",
    "idempotent",
    "drift",
    "no-trace",
    "ownership",
    "version-table",
    "expected-tables",
    "offline-sql",
)


class Verification(Steps):
    def __init__(self, operation: Operation) -> None:
        super().__init__(operation)
        self.schema = operation.schema
        self.expected: list[str] = list(operation.args.get("expect_tables") or [])
        self.results: dict[str, dict[str, Any]] = {}
        self.db = catalog.Connection(operation.url)
        self.revisions: list[dict[str, Any]] | None = None  # each revision's offline SQL, for lint (offline_sql)

    # -- results ------------------------------------------------------------------------------------

    def record(self, name: str, ok: bool | None, detail: str) -> None:
        if name not in self.results:  # the first verdict on a check stands
            self.results[name] = {"name": name, "ok": ok, "detail": detail}

    def passed(self, name: str, detail: str = "") -> None:
        self.record(name, True, detail)

    def failed(self, name: str, detail: str) -> None:
        self.record(name, False, detail)

    def judge(self, name: str, changes: list[str], failure: str, success: str) -> None:
        """Failed with the first changes named when there are any, else passed."""
        if changes:
            self.failed(name, f"{failure}: {catalog.shorten(changes)}")
        else:
            self.passed(name, success)

    def run(self) -> dict[str, Any]:
        try:
            script = self.script = self.history()
            if script is not None and self.single_head(script):
                self.database_checks(script)
                self.offline_sql(script)
        finally:
            self.db.close()
        reason = "skipped: needs a readable history with a single head"
        names = (*CHECKS, "bootstrap") if self.operation.request.get("bootstrap") else CHECKS
        checks = [self.results.get(name) or {"name": name, "ok": None, "detail": reason} for name in names]
        return {"checks": checks, **({"revisions": self.revisions} if self.revisions is not None else {})}

    # -- the migration files --------------------------------------------------------------------------

    def history(self) -> Any:
        from alembic.script import ScriptDirectory

        try:
            script = ScriptDirectory.from_config(self.operation.config)
        except Exception as error:
            self.failed("history", f"cannot open the migrations folder: {first_line(error)}")
            return None
        files = revisions.script_files(script)
        problems = revisions.file_problems(files)
        try:
            list(script.walk_revisions())  # loads every file and links every down_revision
        except Exception as error:
            if not problems:
                culprit = revisions.file_in_traceback(error, files)
                problems.append(
                    f"{os.path.basename(culprit)} does not load: {first_line(error)}" if culprit else first_line(error)
                )
            self.failed("history", "; ".join(problems))
            return None
        if problems:
            self.failed("history", "; ".join(problems))
        else:
            self.passed("history", f"{len(files)} file{'s' if len(files) != 1 else ''}, every down_revision defined")
        return script

    def single_head(self, script: Any) -> bool:
        heads = branches.heads(script, self.label)
        if len(heads) > 1:
            self.failed(
                "single-head",
                f"{len(heads)} heads: {', '.join(heads)}; run 'inv db.merge {self.operation.service}' to merge them",
            )
            return False
        self.passed("single-head", f"head {heads[0]}" if heads else "no migrations yet")
        return True

    # -- the database checks --------------------------------------------------------------------------

    def database_checks(self, script: Any) -> None:
        revisions = [
            rev.revision for rev in reversed(list(script.walk_revisions())) if not self.label or self.label in rev.branch_labels
        ]
        if not revisions:
            for name in CHECKS[2:-1]:
                self.record(name, None, "skipped: no migrations yet")
            return
        head = revisions[-1]
        self.operation.create_schemas(self.db)  # as upgrade does: env.py must run with its schemas there
        self.operation.prepare(self.db)  # and its extensions and prepare files
        self.owner.learn_migrations(self.db.rows("SELECT current_schema()")[0][0])
        before = self.db.snapshot()
        if not self.env_runs_twice() or not self.upgrade_in_steps(revisions, before):
            return
        at_head = self.db.snapshot()
        self.version_table(at_head, head)
        self.ownership(before, at_head)
        self.expected_tables(at_head)
        self.idempotent(at_head)
        self.drift(script, head)
        if self.no_trace(before) and self.operation.request.get("bootstrap"):
            self.bootstrap(at_head)

    def env_runs_twice(self) -> bool:
        """Run env.py twice before any migration: one that cannot run again fails every later step."""
        for attempt in ("first", "second"):
            problem = self.step("current", self.current)
            if problem is not None:
                check = "upgrade" if attempt == "first" else "idempotent"
                self.failed(check, f"env.py fails when it runs a {attempt} time: {problem.message}")
                reason = f"skipped: env.py fails when it runs a {attempt} time"
                for name in CHECKS[2:-1]:
                    self.record(name, None, reason)
                return False
        return True

    def upgrade_in_steps(self, revisions: list[str], before: Any) -> bool:
        """`upgrade` and `stairway` in one run of env.py (stairway.py): at each revision upgrade, downgrade one step,
        upgrade again. After a stairway failure the service is rebuilt at that revision and upgraded on, stairs off."""
        walk = self.walk(revisions, self.own(before), stairs=True)
        if walk is not None:
            what, revision = walk.doing
            if what == "upgrade":
                return False
            if self.label:  # rebuilding would drop the version table the other branches keep their rows in
                return self.skip_after_stairway(revision, revisions)
            if not self.restore(revision, before):
                return False
            if self.walk(revisions[revisions.index(revision) + 1 :], None, stairs=False) is not None:
                return False
        self.passed("upgrade", upgraded(revisions))
        self.passed("stairway", f"{_count(revisions)}: upgrade, downgrade one step, upgrade again")
        return True

    def skip_after_stairway(self, revision: str, revisions: list[str]) -> bool:
        """A branch's stairway failed at `revision`: the later checks are skipped (False), said why."""
        reason = f"skipped: the stairway failed at {revision} of branch {self.label}"
        if revision == revisions[-1]:  # its upgrade went through; only the way back failed
            self.passed("upgrade", upgraded(revisions))
        for name in ("upgrade", "idempotent", "drift", "no-trace", "ownership", "version-table", "expected-tables"):
            self.record(name, None, reason)
        return False

    def walk(self, revisions: list[str], previous: Any, stairs: bool) -> Walk | None:
        """Walk `revisions` in one env.py run; None when it went through, else the walk, its failure recorded."""
        if not revisions:
            return None
        one_down = branches.spelled(self.label, "-1") or "-1"
        walk = Walk(self.script, self.owner, self.version_table_name(), revisions, previous, stairs, one_down)
        self.operation.on_step = walk.look
        try:
            problem = self.step("upgrade", self.run_walk, walk)
        finally:
            self.operation.on_step = None
        if problem is None:
            return None
        what, revision = walk.doing
        if what == "upgrade":
            self.upgrade_failed(revision, problem)
        elif problem.stair:
            self.failed("stairway", problem.message)
        elif what == "downgrade":
            self.failed("stairway", f"downgrade of {revision} fails: {problem.message}")
        else:
            self.failed("stairway", f"{revision} fails to upgrade again after its downgrade: {problem.message}")
        return walk

    def restore(self, revision: str, before: Any) -> bool:
        """After a broken downgrade: rebuild what it owns as it was before, then upgrade straight to `revision`;
        False when that upgrade fails (recorded)."""
        statements = self.owner.restore_statements(before, self.owner.tables)
        where = self.operation.version_table
        if where.get("schema") and (where["schema"] not in self.owner.schemas or where["schema"] in self.owner.shared):
            statements.append(f'DROP TABLE IF EXISTS "{where["schema"]}"."{where["table"]}"')
        for statement in statements:
            self.db.rows(statement)
        problem = self.step("upgrade", self.upgrade, revision)
        if problem is not None:
            self.upgrade_failed(revision, problem)
        return problem is None

    def upgrade_failed(self, revision: str, problem: Problem) -> None:
        self.failed("upgrade", f"{problem.where(revision)} fails: {problem.message}")
        reason = f"skipped: upgrade stopped at {revision}"
        for name in ("stairway", "idempotent", "drift", "no-trace", "ownership", "version-table", "expected-tables"):
            self.record(name, None, reason)

    def version_table(self, at_head: Any, head: str | None) -> None:
        table, schema = self.version_table_name(), self.operation.version_table.get("schema")
        expected, wanted = ".".join(self.owner.version_table), self.owner.version_table[0]
        if f"{schema}.{table}" != expected:
            fix = f"pass version_table_schema={wanted!r} to context.configure in env.py, or d" if schema != wanted else "D"
            self.failed(
                "version-table", f"{table} is in {schema}, not in {expected}; {fix}eclare version_table: {schema}.{table}"
            )
            return
        if ("table", None, table) not in at_head.get(schema, {}):
            self.failed("version-table", f"no {expected} table after upgrade to head")
            return
        rows = sorted(row[0] for row in self.db.rows(f'SELECT version_num FROM "{schema}"."{table}"'))
        rows = branches.mine(self.script, self.label, rows)
        if rows != ([head] if head else []):
            self.failed("version-table", f"{expected} holds {', '.join(rows) or 'nothing'}, expected {head}")
            return
        self.passed("version-table", f"{expected} at {head or 'base'}")

    def ownership(self, before: Any, at_head: Any) -> None:
        changes = owned.differences(self.owner.outside(before), self.owner.outside(at_head))
        mine = ", ".join(self.owner.schemas) + (" (its own tables)" if self.owner.shared else "")
        self.judge("ownership", changes, f"migrations changed objects outside {mine}", f"nothing outside {mine} changed")

    def expected_tables(self, at_head: Any) -> None:
        if not self.expected:
            self.record("expected-tables", None, "skipped: no expect_tables for this service in migrations.yaml")
            return
        present = {(schema, key[2]) for schema in self.owner.schemas for key in at_head.get(schema, {}) if key[0] == "table"}
        missing = [name for name in self.expected if not present & _qualified(name, self.owner.schemas)]
        if missing:
            self.failed(
                "expected-tables",
                f"missing after upgrade to head: {', '.join(missing)} (expect_tables in migrations.yaml)",
            )
        else:
            self.passed("expected-tables", f"all {len(self.expected)} present")

    def idempotent(self, at_head: Any) -> None:
        problem = self.step("upgrade", self.upgrade, self.spelled("head"))
        if problem is not None or self.operation.applied:
            what = f"fails: {problem.message}" if problem else f"applied {len(self.operation.applied)} migrations"
            self.failed("idempotent", f"upgrade head run a second time {what}")
            return
        everything = set(at_head) | set(self.db.snapshot())
        changes = catalog.schema_differences(at_head, self.db.snapshot(), everything)
        self.judge(
            "idempotent",
            changes,
            "upgrade head run a second time changed",
            "second upgrade head: same version, identical catalog",
        )

    def drift(self, script: Any, head: str | None) -> None:
        name = self.operation.service
        self.operation.phase = "check"
        try:
            diffs = self.operation.autogenerate(script, head)
        except Failure as failure:
            self.record("drift", None if failure.kind == "no_models" else False, self.explain(failure))
            return
        except Exception as error:
            self.failed("drift", self.explain(error))
            return
        finally:
            self.operation.phase = "verify"
        if diffs:
            shown = catalog.shorten([describe(diff) for diff in diffs])
            self.failed(
                "drift",
                f"{len(diffs)} difference{'s' if len(diffs) != 1 else ''}: {shown}; run 'inv db.generate {name} -m \"...\"'",
            )
        else:
            self.passed("drift", "models match the database at head (autogenerate, on what the service owns)")

    def no_trace(self, before: Any) -> bool:
        """Downgrade to base leaves the service's schemas as before; True when the database is back at base."""
        problem = self.step("downgrade", self.downgrade, self.spelled("base"))
        if problem is not None:
            self.failed("no-trace", f"downgrade to base fails in {problem.where('env.py')}: {problem.message}")
            return False
        left = owned.differences(self.own(before), self.own(self.db.snapshot()), catalog.LEFTOVERS)
        mine = ", ".join(self.owner.schemas)
        self.judge("no-trace", left, "after downgrade to base", f"downgrade to base leaves {mine} as before the first upgrade")
        return not left

    def bootstrap(self, at_head: Any) -> None:
        """What bootstrap builds against what every revision built (bootstrap.py), reported like drift."""
        from . import bootstrap

        bootstrap.verify(self, at_head)

    def offline_sql(self, script: Any) -> None:

        buffer = io.StringIO()
        config = self.operation.new_config(buffer)
        config.set_main_option("sqlalchemy.url", self.operation.url.replace("%", "%%"))
        saved, self.operation.config = self.operation.config, config
        try:
            with per_revision.noting(buffer) as ends, engine_files.captured(self.operation.request.get("engines")):
                problem = self.step("upgrade", self.upgrade, self.spelled("head"), sql=True)  # multidb: no files
        finally:
            self.operation.config = saved
        if problem is None and self.label is None and not self.operation.request.get("engines"):
            self.revisions = per_revision.cut(ends)  # lint's SQL, as its own worker would render it (base to heads)
        if problem is not None:
            self.failed(
                "offline-sql",
                f"{problem.where('env.py')} cannot render offline: {problem.message}; "
                "a migration that reads data must check context.is_offline_mode()",
            )
        else:
            lines = len(buffer.getvalue().splitlines())
            self.passed("offline-sql", f"upgrade base:{self.spelled('head')} --sql renders {lines} lines")

    # -- helpers --------------------------------------------------------------------------------------

    def own(self, snapshot: Any) -> owned.View:
        """What the service owns, without its version table (Alembic keeps it, empty, at base)."""
        return self.owner.view(snapshot, self.version_table_name())

    def version_table_name(self) -> str:
        return str(self.operation.version_table.get("table") or "alembic_version")


def _count(revisions: list[str]) -> str:
    return f"{len(revisions)} revision{'s' if len(revisions) != 1 else ''}"


def upgraded(revisions: list[str]) -> str:
    return f"base -> {revisions[-1] if revisions else 'base'}, {_count(revisions)} one at a time"


def _qualified(name: str, schemas: list[str]) -> set[tuple[str, str]]:
    """expect_tables names: schema.table, or a table in any of the service's schemas."""
    schema, _, table = name.rpartition(".")
    return {(schema, table)} if schema else {(each, table) for each in schemas}
