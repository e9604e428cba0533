"""The Invoke layer: builds the `db` collection for a migrations.yaml. It parses arguments, calls the
core and turns expected failures into one-line exits; it holds no migration logic of its own."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import Task

from . import commands, reports
from .commands import Session
from .config import Project, Service, display_path
from .errors import DbtasksError
from .orchestrate import Outcome, default_jobs, run_all, select
from .urls import mask

SERVICE_HELP = "service name from migrations.yaml"
ALL_HELP = {
    "only": "comma-separated services to include (default: all)",
    "exclude": "comma-separated services to leave out",
    "jobs": "how many independent services run at once",
    "fail_fast": "stop starting services after the first failure (default: keep going)",
}


def out(text: str) -> None:
    print(text, flush=True)


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def guarded(body: Callable[..., None]) -> Callable[..., None]:
    """Turn DbtasksError into Invoke's Exit: the message, one line per problem, and the exit code."""

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            body(*args, **kwargs)
        except DbtasksError as error:
            detail = getattr(error, "detail", None)
            if detail:
                progress(detail)
            raise Exit(str(error), code=error.exit_code) from None

    return run


def build_namespace(config_file: str | Path) -> Collection:
    """A fresh root collection with the `db` tasks for the migrations.yaml at `config_file`."""
    config_file = Path(config_file)
    namespace = Collection()
    namespace.add_collection(build_db_collection(config_file), name="db")
    return namespace


def build_db_collection(config_file: Path) -> Collection:
    tasks = _Tasks(config_file)
    db = Collection("db")
    for name, body, helps in tasks.definitions():
        db.add_task(Task(guarded(body), name=name, help=dict(helps)), name=name)
    return db


def describe_applied(data: dict[str, Any]) -> str:
    """'189b1231afd4 -> 3b7a1d2e4f56 (2 migrations)' from a worker's applied steps, or ''."""
    steps = [step for step in data.get("applied") or [] if not step.get("stamp")]
    stamps = [step for step in data.get("applied") or [] if step.get("stamp")]
    chosen = steps or stamps
    if not chosen:
        return ""
    start = ",".join(chosen[0]["from"]) or "base"
    end = ",".join(chosen[-1]["to"]) or "base"
    if stamps and not steps:
        return f"stamped {start} -> {end}"
    noun = "migration" if len(steps) == 1 else "migrations"
    return f"{start} -> {end} ({len(steps)} {noun})"


class _Tasks:
    """The task bodies, closed over one migrations.yaml; each is built afresh per namespace."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file

    def session(self, *, quiet: bool = False) -> Session:
        project = Project.load(self.config_file)
        return Session(project, emit=(lambda line: None) if quiet else progress, announce=progress)

    def definitions(self) -> list[tuple[str, Callable[..., None], dict[str, str]]]:
        t = self
        jobs_default = default_jobs()

        def upgrade(c: Any, service: str, to: str = "head") -> None:
            """Apply a service's migrations up to head (or --to REV)."""
            session = t.session()
            target = session.service(service)
            data = commands.upgrade(session, target, to)
            moved = describe_applied(data)
            out(f"{service}: upgraded {moved}" if moved else f"{service}: already at {to}; nothing to apply")

        def downgrade(c: Any, service: str, to: str = "-1", yes: bool = False) -> None:
            """Revert a service's migrations: one step, or down to --to REV (needs --yes)."""
            session = t.session()
            data = commands.downgrade(session, session.service(service), to, yes)
            moved = describe_applied(data)
            out(f"{service}: downgraded {moved}" if moved else f"{service}: already at {to}; nothing to revert")

        def generate(c: Any, service: str, message: str = "", empty: bool = False) -> None:
            """Create a migration from the model changes (autogenerate), or an empty one with --empty."""
            session = t.session()
            data = commands.generate(session, session.service(service), message, empty)
            if data.get("path") is None:
                out(
                    f"{service}: no differences between the models and the database; no migration written "
                    "(use --empty for a hand-written one)"
                )
                return
            for diff in data.get("diffs") or []:
                out(f"  - {diff}")
            out(display_path(Path(data["path"])))

        def check(c: Any, service: str) -> None:
            """Fail unless the service has one head, the database is at it and the models match."""
            session = t.session()
            data = commands.check(session, session.service(service))
            differences = list(data.get("diffs") or [])
            if differences:
                for diff in differences:
                    out(f"  - {diff}")
                raise Exit(
                    f"{service}: the models differ from the database ({len(differences)} differences above); "
                    f"run 'inv db.generate {service} -m \"...\"' and review the migration",
                    code=1,
                )
            out(f"{service}: OK (head {data.get('head') or 'base'}, database at head, models match)")

        def sql(c: Any, service: str, from_: str = "", to: str = "head", output: str = "") -> None:
            """Print (or write to --output) the SQL of a migration range, without a database."""
            session = t.session(quiet=True)
            text = commands.sql(session, session.service(service), from_ or None, to)
            if output:
                commands.write_sql(Path(output), text)
                out(f"{service}: wrote {len(text.splitlines())} lines of SQL to {output}")
            else:
                sys.stdout.write(text)

        def reset(c: Any, service: str, yes: bool = False) -> None:
            """Downgrade a service to base, then upgrade it to head (needs --yes)."""
            session = t.session()
            commands.reset(session, session.service(service), yes)
            out(f"{service}: reset to base and upgraded to head")

        def stamp(c: Any, service: str, revision: str, yes: bool = False) -> None:
            """Record REVISION as the service's current revision without running migrations (needs --yes)."""
            session = t.session()
            data = commands.stamp(session, session.service(service), revision, yes)
            out(f"{service}: {describe_applied(data) or 'already stamped ' + revision}")

        def merge(c: Any, service: str, message: str = "merge heads") -> None:
            """Write a migration that merges the service's heads into one."""
            session = t.session()
            data = commands.merge(session, session.service(service), message)
            out(display_path(Path(data["path"])))

        def current(c: Any, service: str) -> None:
            """Show the revision the service's database is at."""
            session = t.session(quiet=True)
            data = commands.current(session, session.service(service))
            revisions, head = data.get("current") or [], data.get("head") or []
            if not revisions:
                out(f"{service}: nothing applied (head is {', '.join(head) or 'base'})")
            for revision in revisions:
                out(f"{revision} (head)" if revision in head else revision)

        def history(c: Any, service: str) -> None:
            """List the service's migrations, newest first."""
            session = t.session(quiet=True)
            for rev in commands.history(session, session.service(service))["revisions"]:
                down = ", ".join(rev["down_revision"]) or "<base>"
                out(f"{down} -> {rev['revision']}{' (head)' if rev['head'] else ''}, {rev['doc']}")

        def heads(c: Any, service: str) -> None:
            """List the service's head revisions (more than one means they need a merge)."""
            session = t.session(quiet=True)
            for head in commands.heads(session, session.service(service))["heads"]:
                out(f"{head} (head)")

        def status(c: Any, json_: bool = False, only: str = "", exclude: str = "", jobs: int = jobs_default) -> None:
            """Show every service's current revision, head, pending count and state."""
            session = t.session(quiet=True)
            outcomes = t.each(session, commands.status, only, exclude, jobs)
            rows = reports.status_rows(outcomes, {n: s.schema for n, s in session.project.services.items()})
            out(reports.as_json({"services": rows}) if json_ else reports.status_table(rows))
            if any(not o.ok for o in outcomes):
                raise Exit("status could not be read for every service (see the state column)", code=1)

        def upgrade_all(c: Any, only: str = "", exclude: str = "", jobs: int = jobs_default, fail_fast: bool = False) -> None:
            """Upgrade every service to head, dependencies first."""
            session = t.session()
            t.finish(t.each(session, commands.upgrade, only, exclude, jobs, fail_fast, describe=_moved("already at head")))

        def downgrade_all(
            c: Any,
            to: str = "-1",
            yes: bool = False,
            only: str = "",
            exclude: str = "",
            jobs: int = jobs_default,
            fail_fast: bool = False,
        ) -> None:
            """Downgrade every service (--to base for all), dependents first (needs --yes)."""
            commands.require_yes(yes, "downgrade-all", f"downgrading every selected service to {to} may drop data")
            session = t.session()
            action = functools.partial(_call, commands.downgrade, session, to=to, yes=yes)
            t.finish(t.run(session, action, only, exclude, jobs, fail_fast, reverse=True, describe=_moved("nothing to revert")))

        def check_all(
            c: Any, json_: bool = False, only: str = "", exclude: str = "", jobs: int = jobs_default, fail_fast: bool = False
        ) -> None:
            """Run check for every service; exit non-zero if any fails (for CI)."""
            session = t.session(quiet=json_)
            outcomes = t.each(session, commands.check, only, exclude, jobs, fail_fast, describe=_diff_count)
            entries = reports.check_entries(outcomes)
            if json_:
                out(reports.as_json({"services": entries}))
            else:
                for entry in entries:
                    for diff in entry.get("differences") or []:
                        out(f"{entry['service']}: - {diff}")
                out(reports.summary([_check_outcome(o, e) for o, e in zip(outcomes, entries, strict=True)]))
            failed = [e["service"] for e in entries if not e["ok"]]
            if failed:
                raise Exit(f"check failed for {', '.join(failed)}; see the table above", code=1)

        def sql_all(
            c: Any, output_dir: str = "", only: str = "", exclude: str = "", jobs: int = jobs_default, fail_fast: bool = False
        ) -> None:
            """Write each service's upgrade SQL (base to head) to --output-dir/<service>.sql, offline."""
            if not output_dir:
                raise Exit("sql-all: --output-dir is required (one <service>.sql file per service)", code=2)
            session = t.session(quiet=True)

            def write(service: Service) -> dict[str, Any]:
                path = Path(output_dir) / f"{service.name}.sql"
                commands.write_sql(path, commands.sql(session, service))
                return {"path": str(path)}

            t.finish(
                t.run(
                    session, write, only, exclude, jobs, fail_fast, describe=lambda d: f"wrote {d['path']}", needs_database=False
                )
            )

        def reset_all(
            c: Any, yes: bool = False, only: str = "", exclude: str = "", jobs: int = jobs_default, fail_fast: bool = False
        ) -> None:
            """Downgrade every service to base (dependents first), then upgrade all to head (needs --yes)."""
            commands.require_yes(yes, "reset-all", "reset drops every selected service's tables and data")
            session = t.session()
            down = functools.partial(_call, commands.downgrade, session, to="base", yes=True)
            first = t.run(session, down, only, exclude, jobs, fail_fast, reverse=True, describe=lambda d: "at base")
            if fail_fast and any(not o.ok for o in first):
                t.finish(first)
            # Upgrade every service, also one whose downgrade failed part-way: each ends at head again.
            second = t.each(session, commands.upgrade, only, exclude, jobs, fail_fast, describe=lambda d: "reset to head")
            t.finish([down_ if not down_.ok else up for down_, up in zip(first, second, strict=True)])

        def stamp_all(
            c: Any,
            revision: str,
            yes: bool = False,
            only: str = "",
            exclude: str = "",
            jobs: int = jobs_default,
            fail_fast: bool = False,
        ) -> None:
            """Record REVISION (head or base) for every service without running migrations (needs --yes)."""
            commands.require_yes(yes, "stamp-all", f"stamp {revision} rewrites every selected service's recorded revision")
            session = t.session()
            action = functools.partial(_call, commands.stamp, session, revision=revision, yes=True)
            t.finish(
                t.run(session, action, only, exclude, jobs, fail_fast, describe=lambda d: describe_applied(d) or "unchanged")
            )

        def local_start(c: Any) -> None:
            """Start the embedded local PostgreSQL (created on first use under .dbtasks/)."""
            project = t.refuse_local_if_url_set()
            out(mask(commands.local_database(project).start()))

        def local_stop(c: Any) -> None:
            """Stop the embedded local PostgreSQL (its data stays under .dbtasks/)."""
            project = Project.load(t.config_file)
            stopped = commands.local_database(project).stop()
            out("local database stopped" if stopped else "local database was not running")

        def local_url(c: Any) -> None:
            """Print the embedded local database's URL, password masked."""
            project = Project.load(t.config_file)
            out(mask(commands.local_database(project).url()))

        per_service = {"service": SERVICE_HELP}
        return [
            ("upgrade", upgrade, {**per_service, "to": "target revision (default: head; +1, prefixes accepted)"}),
            ("downgrade", downgrade, {**per_service, "to": "target revision (default: -1; base for all)", "yes": "confirm"}),
            (
                "generate",
                generate,
                {
                    **per_service,
                    "message": "what the migration does (required)",
                    "empty": "write an empty migration instead of autogenerating",
                },
            ),
            ("check", check, per_service),
            (
                "sql",
                sql,
                {
                    **per_service,
                    "from": "start revision (default: base)",
                    "to": "end revision (default: head)",
                    "output": "write to this file instead of stdout",
                },
            ),
            ("reset", reset, {**per_service, "yes": "confirm"}),
            ("stamp", stamp, {**per_service, "revision": "revision to record (head, base, an id)", "yes": "confirm"}),
            ("merge", merge, {**per_service, "message": "message of the merge migration"}),
            ("current", current, per_service),
            ("history", history, per_service),
            ("heads", heads, per_service),
            ("status", status, {"json": "print a JSON document instead of a table", **_only(ALL_HELP, "fail_fast")}),
            ("upgrade-all", upgrade_all, dict(ALL_HELP)),
            (
                "downgrade-all",
                downgrade_all,
                {"to": "target revision for every service (default: -1)", "yes": "confirm", **ALL_HELP},
            ),
            ("check-all", check_all, {"json": "print a JSON document instead of a table", **ALL_HELP}),
            ("sql-all", sql_all, {"output_dir": "folder for the <service>.sql files (required)", **ALL_HELP}),
            ("reset-all", reset_all, {"yes": "confirm", **ALL_HELP}),
            (
                "stamp-all",
                stamp_all,
                {
                    "revision": "revision to record for every service (head or base)",
                    "yes": "confirm",
                    **ALL_HELP,
                },
            ),
            ("local-start", local_start, {}),
            ("local-stop", local_stop, {}),
            ("local-url", local_url, {}),
        ]

    # -- helpers for the *-all tasks ------------------------------------------------------------

    def each(
        self,
        session: Session,
        verb: Callable[..., dict[str, Any]],
        only: str,
        exclude: str,
        jobs: int,
        fail_fast: bool = False,
        describe: Callable[[Any], str] = lambda data: "",
    ) -> list[Outcome]:
        return self.run(session, functools.partial(_call, verb, session), only, exclude, jobs, fail_fast, describe=describe)

    def run(
        self,
        session: Session,
        action: Callable[[Service], Any],
        only: str,
        exclude: str,
        jobs: int,
        fail_fast: bool,
        *,
        reverse: bool = False,
        describe: Callable[[Any], str] = lambda data: "",
        needs_database: bool = True,
    ) -> list[Outcome]:
        names = select(session.project, only, exclude)
        if needs_database:
            session.target()  # resolve (and start) the database once, before the workers fan out
        return run_all(session.project, names, action, jobs=jobs, fail_fast=fail_fast, reverse=reverse, describe=describe)

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        out(reports.summary(outcomes))
        failed = [o.service for o in outcomes if o.state == "failed"]
        if failed or any(o.state == "skipped" for o in outcomes):
            raise Exit(f"failed: {', '.join(failed) or 'none'}; see the table above", code=1)

    def refuse_local_if_url_set(self) -> Project:
        project = Project.load(self.config_file)
        url, source = commands.resolve_url(project)
        if url is not None:
            raise Exit(
                f"{source} is set, so the tasks use it and never start the local database; unset it to use the local one", code=2
            )
        return project


def _call(verb: Callable[..., dict[str, Any]], session: Session, service: Service, **kw: Any) -> dict[str, Any]:
    return verb(session, service, **kw)


def _only(helps: dict[str, str], *without: str) -> dict[str, str]:
    return {key: value for key, value in helps.items() if key not in without}


def _moved(unchanged: str) -> Callable[[Any], str]:
    return lambda data: describe_applied(data) or unchanged


def _diff_count(data: Any) -> str:
    count = len(data.get("diffs") or [])
    return f"{count} differences" if count else "models match"


def _check_outcome(outcome: Outcome, entry: dict[str, Any]) -> Outcome:
    if outcome.ok and not entry["ok"]:
        return Outcome(outcome.service, "failed", outcome.detail)
    return outcome


def task_reference() -> str:
    """The README's task reference (a Markdown table), generated from the tasks themselves."""
    db = build_db_collection(Path("migrations.yaml"))  # building tasks reads no file
    lines = ["| task | what it does | arguments |", "|---|---|---|"]
    for name, task in db.tasks.items():
        summary = (task.__doc__ or "").strip().splitlines()[0]
        arguments = task.get_arguments()  # once: Invoke consumes the help dict while building them
        usage = " ".join(_usage(argument) for argument in arguments)
        helps = "; ".join(f"`{_flag(argument)}`: {argument.help}" for argument in arguments if argument.help)
        lines.append(f"| `inv db.{name}{' ' + usage if usage else ''}` | {summary} | {helps} |")
    return "\n".join(lines)


def _flag(argument: Any) -> str:
    name = str(argument.names[0])
    return name.upper() if argument.positional else f"--{name}"


def _usage(argument: Any) -> str:
    name = str(argument.names[0])
    if argument.positional:
        return name.upper()
    if argument.kind is bool:
        return f"[--{name}]"
    return f"[--{name} {_PLACEHOLDERS.get(name, name.upper())}]"


_PLACEHOLDERS = {
    "to": "REV",
    "from": "REV",
    "message": "MSG",
    "output": "FILE",
    "output-dir": "DIR",
    "only": "NAMES",
    "exclude": "NAMES",
    "jobs": "N",
}


if __name__ == "__main__":
    print(task_reference())
