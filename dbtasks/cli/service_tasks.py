"""The tasks for one service: options -> Session -> one verb of dbtasks.verbs -> what is printed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import CREATE, EDITED, RESET_EDITED, SERVICE, YES, Definitions, Task

if TYPE_CHECKING:
    from ..session import Session


def definitions(config_file: Path) -> Definitions:
    def upgrade(
        c: Any, service: str, to: str = "head", allow_edited: bool = False, create_databases: bool = False, *, session: Session
    ) -> None:
        """Apply a service's migrations up to head (or --to REV)."""
        from .. import verbs
        from . import render

        if create_databases:
            verbs.create_databases(session, [session.service(service)])
        moved = verbs.describe_applied(verbs.upgrade(session, session.service(service), to, allow_edited))
        render.out(f"{service}: upgraded {moved}" if moved else f"{service}: nothing to apply (already at or past {to})")

    def downgrade(c: Any, service: str, to: str = "-1", yes: bool = False, *, session: Session) -> None:
        """Revert a service's migrations: one step, or down to --to REV (needs --yes)."""
        from .. import verbs
        from . import render

        moved = verbs.describe_applied(verbs.downgrade(session, session.service(service), to, yes))
        render.out(f"{service}: downgraded {moved}" if moved else f"{service}: nothing to revert (already at or below {to})")

    def generate(c: Any, service: str, message: str = "", empty: bool = False, *, session: Session) -> None:
        """Create a migration from the model changes (autogenerate), or an empty one with --empty."""
        from .. import verbs
        from ..config.project import display_path
        from . import render

        data = verbs.generate(session, session.service(service), message, empty)
        if data.get("path") is None:
            render.out(
                f"{service}: no differences between the models and the database; no migration written (--empty writes one)"
            )
            return
        for diff in data.get("diffs") or []:
            render.out(f"  - {diff}")
        render.out(display_path(Path(data["path"])))

    def check(c: Any, service: str, *, session: Session) -> None:
        """Fail unless the service has one head, the database is at it, the models match and no applied file changed."""
        from .. import verbs
        from ..errors import RunFailed
        from . import render

        data = verbs.check(session, session.service(service))
        for diff in data.get("diffs") or []:
            render.out(f"  - {diff}")
        for line in verbs.checksum_notes(service, data, edited=False):
            render.out(line)
        edited = verbs.edited_problem(service, data)
        if edited:
            raise RunFailed(edited)
        verbs.raise_for_differences(service, data)
        models = f"no models to compare: {data['skipped']}" if data.get("skipped") else "models match"
        render.out(f"{service}: OK (head {data.get('head') or 'base'}, database at head, {models})")

    def sql(c: Any, service: str, from_: str = "", to: str = "head", output: str = "", *, session: Session) -> None:
        """Print (or write to --output) the SQL of a migration range, without a database."""
        from .. import verbs
        from . import render

        text = verbs.sql(session, session.service(service), from_ or None, to)
        if output:
            verbs.write_text(Path(output), text)
            render.out(f"{service}: wrote {len(text.splitlines())} lines of SQL to {output}")
        else:
            render.out(text.rstrip("\n"))

    def reset(c: Any, service: str, yes: bool = False, allow_edited: bool = False, *, session: Session) -> None:
        """Downgrade a service to base, then upgrade it to head (needs --yes)."""
        from .. import verbs
        from . import render

        verbs.reset(session, session.service(service), yes, allow_edited)
        render.out(f"{service}: reset to base and upgraded to head")

    def stamp(c: Any, service: str, revision: str, yes: bool = False, *, session: Session) -> None:
        """Record REVISION as the service's current revision without running migrations (needs --yes)."""
        from .. import verbs
        from . import render

        render.out(f"{service}: {verbs.recorded(verbs.stamp(session, session.service(service), revision, yes))}")

    def merge(c: Any, service: str, message: str = "merge heads", *, session: Session) -> None:
        """Write a migration that merges the service's heads into one."""
        from .. import verbs
        from ..config.project import display_path
        from . import render

        render.out(display_path(Path(verbs.merge(session, session.service(service), message)["path"])))

    def current(c: Any, service: str, *, session: Session) -> None:
        """Show the revision the service's database is at."""
        from .. import verbs
        from . import render

        data = verbs.current(session, session.service(service))
        revisions, head = data.get("current") or [], data.get("head") or []
        if not revisions:
            render.out(f"{service}: nothing applied (head is {', '.join(head) or 'base'})")
        for revision in revisions:
            render.out(f"{revision} (head)" if revision in head else revision)

    def history(c: Any, service: str, *, session: Session) -> None:
        """List the service's migrations, newest first."""
        from .. import verbs
        from . import render

        for rev in verbs.history(session, session.service(service))["revisions"]:
            down = ", ".join(rev["down_revision"]) or "<base>"
            render.out(f"{down} -> {rev['revision']}{' (head)' if rev['head'] else ''}, {rev['doc']}")

    def heads(c: Any, service: str, *, session: Session) -> None:
        """List the service's head revisions (more than one means they need a merge)."""
        from .. import verbs
        from . import render

        for head in verbs.heads(session, session.service(service))["heads"]:
            render.out(f"{head} (head)")

    return [
        Task(
            "upgrade",
            upgrade,
            {**SERVICE, "to": "target revision (default: head; +1, prefixes accepted)", **EDITED, **CREATE},
            session="write",
        ),
        Task("downgrade", downgrade, {**SERVICE, "to": "target revision (default: -1; base for all)", **YES}, session="write"),
        Task(
            "generate",
            generate,
            {**SERVICE, "message": "what the migration does (required)", "empty": "write an empty migration, no autogenerate"},
            session="read",
        ),
        Task("check", check, SERVICE, session="read"),
        Task(
            "sql",
            sql,
            {
                **SERVICE,
                "from": "start revision (default: base)",
                "to": "end revision (default: head)",
                "output": "write to this file instead of stdout",
            },
            session="quiet",
        ),
        Task("reset", reset, {**SERVICE, **YES, **RESET_EDITED}, session="write"),
        Task("stamp", stamp, {**SERVICE, "revision": "revision to record (head, base, an id)", **YES}, session="write"),
        Task("merge", merge, {**SERVICE, "message": "message of the merge migration"}, session="read"),
        Task("current", current, SERVICE, session="quiet"),
        Task("history", history, SERVICE, session="quiet"),
        Task("heads", heads, SERVICE, session="quiet"),
    ]
