"""How verify runs Alembic (verify_checks.py): every command through one ScriptDirectory, each run of env.py a step
whose failure is returned as a Problem for the check at hand; a branch's revisions spelled LABEL@..."""

from __future__ import annotations

from typing import Any

from . import branches
from .failures import Failure, failing_revision, first_line, is_connection_error
from .operation import Operation
from .stairway import Problem, StairFailed, Walk


class Steps:
    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self.owner = operation.ownership
        self.label = operation.branch  # a branch of an environment other services share: its revisions only
        self.script: Any = None  # the ScriptDirectory, built once
        self.env_runs = 0

    def spelled(self, revision: str) -> str:
        return branches.spelled(self.label, revision) or revision

    # Alembic's command.upgrade/downgrade rebuild the revision map (loading every file) on each call; verify
    # makes three calls per revision, so it builds the map once and runs env.py through the same script.

    def upgrade(self, config: Any, revision: str, sql: bool = False) -> None:
        start, _, end = revision.rpartition(":")
        script = self.script
        self.run_env(
            config,
            lambda rev, context: script._upgrade_revs(end, rev),
            as_sql=sql,
            starting_rev=start or None,
            destination_rev=end,
        )

    def run_walk(self, config: Any, walk: Walk) -> None:
        self.run_env(config, walk.steps, destination_rev=walk.revisions[-1])

    def downgrade(self, config: Any, revision: str) -> None:
        script = self.script
        self.run_env(config, lambda rev, context: script._downgrade_revs(revision, rev), destination_rev=revision)

    def current(self, config: Any) -> None:
        self.run_env(config, lambda rev, context: [])

    def run_env(self, config: Any, fn: Any, **kw: Any) -> None:
        from alembic.runtime.environment import EnvironmentContext

        with EnvironmentContext(config, self.script, fn=fn, **kw):
            self.script.run_env()

    def step(self, phase: str, command: Any, *args: Any, **kw: Any) -> Problem | None:
        """Run one Alembic command; return what went wrong, or None. Failures verify cannot judge are raised."""
        self.operation.phase = phase
        self.operation.applied = []
        try:
            command(self.operation.config, *args, **kw)
        except Exception as error:
            revision_at_fault = failing_revision(error)
            fatal = isinstance(error, Failure) and error.kind == "wrong_database"
            outside = revision_at_fault is None and (isinstance(error, ImportError) or is_connection_error(error))
            if fatal or (outside and self.env_runs == 0):
                raise  # the parent explains it in one line (env.py import, connection, wrong database)
            if isinstance(error, StairFailed):
                return Problem(str(error), error.revision, stair=True)
            return Problem(self.explain(error), revision_at_fault)
        finally:
            self.operation.phase = "verify"
        self.env_runs += 1
        return None

    def explain(self, error: BaseException) -> str:
        if isinstance(error, Failure):
            data = error.data
            if error.kind == "schema_mismatch":
                return f"the models' tables are in {', '.join(data.get('found') or [])}, none in {', '.join(self.owner.schemas)}"
            if error.kind == "no_models":
                return f"skipped: {error}"
            if error.kind == "not_at_head":
                return f"the database is at {', '.join(data.get('current') or []) or 'base'}, not at head"
            return str(error)
        return str(first_line(error))
