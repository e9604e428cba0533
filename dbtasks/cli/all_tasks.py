"""The tasks for every selected service: options -> Session -> one verb of dbtasks.verbs_all -> the
summary table (or JSON), then the verdict."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import CREATE, EDITED, JSON, RESET_EDITED, YES, Definitions, FleetVerbs, Task

if TYPE_CHECKING:
    from ..orchestrate import Selection
    from ..session import Session


def definitions(config_file: Path) -> Definitions:
    def status(c: Any, json_: bool = False, *, pick: Selection, session: Session) -> None:
        """Show every service's current revision, head, pending count and state."""
        from .. import verbs, verbs_all
        from . import render

        report = verbs_all.status_all(session, pick)
        render.out(render.as_json({"services": report.entries}) if json_ else render.status_table(report.entries))
        if not json_:
            for row in report.entries:
                for line in verbs.checksum_notes(row["service"], row):
                    render.out(line)
        render.verdict(report, json_=json_)

    def upgrade_all(
        c: Any, allow_edited: bool = False, create_databases: bool = False, *, pick: Selection, session: Session
    ) -> None:
        """Upgrade every service to head, dependencies first."""
        from .. import verbs_all
        from . import render

        render.finish(verbs_all.upgrade_all(session, pick, allow_edited, create_databases))

    def downgrade_all(c: Any, to: str = "-1", yes: bool = False, *, pick: Selection, session: Session) -> None:
        """Downgrade every service (--to base for all), dependents first (needs --yes)."""
        from .. import verbs_all
        from . import render

        render.finish(verbs_all.downgrade_all(session, pick, to, yes))

    def check_all(
        c: Any, json_: bool = False, lint: bool = False, env: str = "", verbose: bool = False, *, pick: Selection
    ) -> None:
        """Run check for every service; exit non-zero if any fails (for CI)."""
        from .. import verbs, verbs_all
        from ..lint import check as linting
        from . import lint_render, options, render

        session = options.session(config_file, quiet=json_, env=env, verbose=verbose)
        report = verbs_all.check_all(session, pick)
        report = linting.add_to_check(session, pick, report) if lint else report
        if json_:
            render.out(render.as_json({"services": report.entries}))
            render.verdict(report, json_=True)
            return
        for entry in report.entries:
            for diff in entry.get("differences") or []:
                render.out(f"{entry['service']}: - {diff}")
            for line in verbs.checksum_notes(entry["service"], entry, edited=False):
                render.out(line)
            for item in entry.get("lint") or []:
                render.out(lint_render.finding(entry["service"], item))
        render.finish(report)

    def sql_all(c: Any, output_dir: str = "", *, pick: Selection, session: Session) -> None:
        """Write each service's upgrade SQL (base to head) to --output-dir/<service>.sql, offline."""
        from .. import verbs_all
        from . import options, render

        folder = options.output_folder(output_dir)
        render.finish(verbs_all.sql_all(session, pick, folder))

    def reset_all(
        c: Any,
        yes: bool = False,
        allow_edited: bool = False,
        *,
        pick: Selection,
        session: Session,
    ) -> None:
        """Downgrade every service to base (dependents first), then upgrade all to head (needs --yes)."""
        from .. import verbs_all
        from . import render

        render.finish(verbs_all.reset_all(session, pick, yes, allow_edited))

    def stamp_all(c: Any, revision: str, yes: bool = False, *, pick: Selection, session: Session) -> None:
        """Record REVISION (head or base) for every service without running migrations (needs --yes)."""
        from .. import verbs_all
        from . import render

        render.finish(verbs_all.stamp_all(session, pick, revision, yes))

    def on_fleet(verb: str, **bound: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], FleetVerbs]:
        """The verb a fleet runs for this task: verbs_all.<verb> with its own options read from what was given."""

        def make(given: dict[str, Any]) -> FleetVerbs:
            from .. import verbs_all

            function = getattr(verbs_all, verb)
            return functools.partial(function, **{key: value(given) for key, value in bound.items()}), None

        return make

    def sql_on_fleet(given: dict[str, Any]) -> FleetVerbs:
        """sql-all on a fleet writes a folder per member."""
        from .. import verbs_all
        from . import options

        folder = options.output_folder(given.get("output_dir", ""))
        return verbs_all.sql_all, lambda member: functools.partial(verbs_all.sql_all, folder=folder / member.name)

    edited = {"allow_edited": lambda given: bool(given.get("allow_edited"))}

    def no_creation_on_a_fleet(given: dict[str, Any]) -> bool:
        """A fleet's members are the databases it lists or finds: --create-databases is for migrations.yaml's own."""
        if given.get("create_databases"):
            from ..errors import UsageError

            raise UsageError(
                "--create-databases creates the databases of migrations.yaml's services, not a fleet's members; rerun without --targets or without it"
            )
        return False

    yes = {"yes": lambda given: True}  # asked once for the whole fleet before any member runs
    edits = "target revision for every service (default: -1)"
    return [
        Task(
            "status",
            status,
            dict(JSON),
            selection="no-fail-fast",
            fleet="targets",
            on_fleet=on_fleet("status_all"),
            session="quiet",
        ),
        Task(
            "upgrade-all",
            upgrade_all,
            {**EDITED, **CREATE},
            selection="all",
            fleet="targets",
            on_fleet=on_fleet("upgrade_all", **edited, create_databases=no_creation_on_a_fleet),
            session="write",
            warm=True,  # a no-op is mostly replayed first
        ),
        Task(
            "downgrade-all",
            downgrade_all,
            {"to": edits, **YES},
            selection="all",
            fleet="targets",
            on_fleet=on_fleet("downgrade_all", to=lambda given: given.get("to", "-1"), **yes),
            destructive=True,
            session="write",
        ),
        Task(
            "check-all",
            check_all,
            {**JSON, "lint": "also lint each revision's SQL for lock-taking DDL (see lint)"},
            selection="all",
            fleet="targets",
            on_fleet=on_fleet("check_all"),
            warm=True,
        ),
        Task(
            "sql-all",
            sql_all,
            {"output_dir": "folder for the <service>.sql files (required)"},
            selection="all",
            fleet="targets",
            on_fleet=sql_on_fleet,
            session="quiet",
            warm=True,
        ),
        Task(
            "reset-all",
            reset_all,
            {**YES, **RESET_EDITED},
            selection="all",
            fleet="targets",
            on_fleet=on_fleet("reset_all", **yes, **edited),
            destructive=True,
            session="write",
        ),
        Task(
            "stamp-all",
            stamp_all,
            {"revision": "revision to record for every service (head or base)", **YES},
            selection="all",
            fleet="targets",
            on_fleet=on_fleet("stamp_all", revision=lambda given: given.get("revision", ""), **yes),
            destructive=True,
            session="write",
        ),
    ]
