"""verify's `upgrade` and `stairway` checks in one run of env.py: for each revision in turn, upgrade to it, downgrade
one step, upgrade to it again, each step in its own transaction, with a look at the catalog inside each step's
transaction (on the migration's own connection) before it commits.

Running env.py three times per revision, with a snapshot of the whole catalog after each run, cost verify about
0.2 s per revision; one run and a look at the service's own schemas cost a fraction of it. A look that finds a
step wrong raises StairFailed there, which rolls that step back and ends the run; the caller says what failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import catalog
from . import ownership as owned
from .compat import rows_driver_sql


class Problem:
    """A step that failed: its one-line message and the migration it failed in, if any."""

    def __init__(self, message: str, revision: str | None, stair: bool = False) -> None:
        self.message = message
        self.revision = revision
        self.stair = stair  # a look between stairway steps failed (the migrations themselves ran)

    def where(self, fallback: str) -> str:
        return self.revision or fallback


class StairFailed(Exception):
    """A downgrade that does not undo its upgrade, or an upgrade again that differs: one line, the revision."""

    def __init__(self, message: str, revision: str) -> None:
        super().__init__(message)
        self.revision = revision


class Walk:
    """The steps for Alembic to run (`steps`, env.py's `fn`) and the look at each one (`look`, Operation.on_step).

    `doing` is the step in progress, (what, revision) with what in upgrade, downgrade, again, so that a failure
    that ends the run can be put on the right check."""

    def __init__(
        self,
        script: Any,
        owner: owned.Ownership,
        ignore_table: str,
        revisions: list[str],
        previous: Any,
        stairs: bool,
        one_down: str = "-1",
    ) -> None:
        self.script = script
        self.one_down = one_down  # LABEL@-1 for a branch: the other branches' heads stay where they are
        self.owner = owner
        self.ignore_table = ignore_table
        self.revisions = revisions
        self.previous = previous  # what the service owned before the revision being walked
        self.stairs = stairs  # False: upgrade only, one revision at a time
        self.heads: tuple[str, ...] = ()
        self.doing: tuple[str, str] = ("upgrade", revisions[0] if revisions else "base")
        self.done: list[str] = []  # revisions upgraded (and, with stairs, walked) completely
        self._after_up: Any = None

    def steps(self, rev: Any, context: Any) -> Iterator[Any]:
        """env.py's fn: Alembic pulls each step when the previous one has committed, so `heads` is current."""
        self.heads = tuple(rev or ())
        for revision in self.revisions:
            for what in ("upgrade", "downgrade", "again") if self.stairs else ("upgrade",):
                yield from self._group(context, what, revision)
            self.done.append(revision)

    def _group(self, context: Any, what: str, revision: str) -> Iterator[Any]:
        """The steps of one former env.py run. SQLAlchemy notes in the DDL runner's memo the enum types it created,
        to create each once per run: a downgrade drops them, so each group starts with a clean memo."""
        self.doing = (what, revision)
        memo = getattr(getattr(context, "impl", None), "memo", None)
        if isinstance(memo, dict):
            memo.clear()
        if what == "downgrade":
            yield from self.script._downgrade_revs(self.one_down, self.heads)
        else:
            yield from self.script._upgrade_revs(revision, self.heads)

    def look(self, ctx: Any, step: Any, heads: Any) -> None:
        """After each step, inside its transaction: compare what the service owns with what it should."""
        self.heads = tuple(heads)
        what, revision = self.doing
        finished = revision in (step.destination_revision_ids if step.is_upgrade else step.source_revision_ids)
        if not self.stairs or not finished:
            return
        now = self.owner.view(
            catalog.build(rows_driver_sql(ctx.connection, catalog.snapshot_sql(self.owner.schemas))), self.ignore_table
        )
        if what == "upgrade":
            self._after_up = now
        elif what == "downgrade":
            left = owned.differences(self.previous, now, catalog.LEFTOVERS)
            if left:
                raise StairFailed(f"downgrade of {revision} does not undo its upgrade: {catalog.shorten(left)}", revision)
        else:
            changed = owned.differences(self._after_up, now)
            if changed:
                raise StairFailed(f"{revision} upgraded again after its downgrade differs: {catalog.shorten(changed)}", revision)
            self.previous = self._after_up
