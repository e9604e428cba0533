"""The Invoke layer: builds the `db` collection for a migrations.yaml. It parses arguments, calls the
core and turns expected failures into one-line exits; it holds no migration logic of its own."""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import Task

from .errors import DbtasksError, UsageError
from .lazy import lazy
from .urls import database_name, mask

if TYPE_CHECKING:
    from . import commands, config, lock, orchestrate, reports
    from .commands import Session
    from .orchestrate import Outcome
else:  # `inv --list` and shell completion only build the tasks: the core loads when a task runs
    commands, config, lock, orchestrate, reports = lazy("commands", "config", "lock", "orchestrate", "reports")

SERVICE_HELP = "service name from migrations.yaml"
ALL_HELP = {
    "only": "comma-separated services to include (default: all)",
    "exclude": "comma-separated services to leave out",
    "jobs": "how many independent services run at once (default: one per CPU)",
    "fail_fast": "stop starting services after the first failure (default: keep going)",
}
ENV_HELP = {"env": "environment from migrations.yaml's environments (default: $DBTASKS_ENV, else database.url_env)"}
LOCK_HELP = {"lock_wait": "seconds to wait for another run's migration lock on a schema (default: 60)"}


def out(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `inv db.status | head`: the reader left, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None


_WRITING = threading.Lock()


def progress(line: str) -> None:
    """One line to stderr, whole: workers of several services report from several threads."""
    with _WRITING:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


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
        if "env" in inspect.signature(body).parameters:
            helps = {**helps, **ENV_HELP}
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

    def session(self, *, quiet: bool = False, lock_wait: str = "", env: str = "") -> Session:
        project = config.Project.load(self.config_file)
        name, source = environment_choice(env)
        session = commands.Session(
            project,
            emit=(lambda line: None) if quiet else progress,
            announce=progress,
            lock_wait=_seconds(lock_wait),
            environment=project.environment(name, source) if name else None,
        )
        session.confirm = self.typed_back(session)
        return session

    def typed_back(self, session: Session) -> Callable[[str, str], None]:
        """In a protected environment at a terminal, the database name must be typed back (--yes alone does without one)."""

        def confirm(subject: str, what: str) -> None:
            environment = session.environment
            assert environment is not None
            database = database_name(session.target().url)
            if not sys.stdin.isatty():
                progress(f"{subject}: {environment.name} is protected; --yes given and no terminal attached, going ahead")
                return
            progress(f"{subject}: {environment.name} is a protected environment; {what}")
            try:
                typed = input(f"Type the database name ({database}) to go ahead: ")
            except EOFError:
                typed = ""
            if typed.strip() != database:
                raise UsageError(f"{subject}: the name typed does not match {database!r}; nothing was changed")

        return confirm

    def definitions(self) -> list[tuple[str, Callable[..., None], dict[str, str]]]:
        from .cli_checks import check_tasks  # it builds on this module's helpers

        return [*self.service_tasks(), *self.all_tasks(), *check_tasks(self), *self.local_tasks()]

    def service_tasks(self) -> list[tuple[str, Callable[..., None], dict[str, str]]]:
        t = self

        def upgrade(c: Any, service: str, to: str = "head", lock_wait: str = "", env: str = "") -> None:
            """Apply a service's migrations up to head (or --to REV)."""
            session = t.session(lock_wait=lock_wait, env=env)
            moved = describe_applied(commands.upgrade(session, session.service(service), to))
            out(f"{service}: upgraded {moved}" if moved else f"{service}: nothing to apply (already at or past {to})")

        def downgrade(c: Any, service: str, to: str = "-1", yes: bool = False, lock_wait: str = "", env: str = "") -> None:
            """Revert a service's migrations: one step, or down to --to REV (needs --yes)."""
            session = t.session(lock_wait=lock_wait, env=env)
            moved = describe_applied(commands.downgrade(session, session.service(service), to, yes))
            out(f"{service}: downgraded {moved}" if moved else f"{service}: nothing to revert (already at or below {to})")

        def generate(c: Any, service: str, message: str = "", empty: bool = False, env: str = "") -> None:
            """Create a migration from the model changes (autogenerate), or an empty one with --empty."""
            session = t.session(env=env)
            data = commands.generate(session, session.service(service), message, empty)
            if data.get("path") is None:
                out(f"{service}: no differences between the models and the database; no migration written (--empty writes one)")
                return
            for diff in data.get("diffs") or []:
                out(f"  - {diff}")
            out(config.display_path(Path(data["path"])))

        def check(c: Any, service: str, env: str = "") -> None:
            """Fail unless the service has one head, the database is at it and the models match."""
            session = t.session(env=env)
            data = commands.check(session, session.service(service))
            differences = list(data.get("diffs") or [])
            for diff in differences:
                out(f"  - {diff}")
            if differences:
                raise Exit(
                    f"{service}: the models differ from the database ({len(differences)} differences above); "
                    f"run 'inv db.generate {service} -m \"...\"' and review the migration",
                    code=1,
                )
            out(f"{service}: OK (head {data.get('head') or 'base'}, database at head, models match)")

        def sql(c: Any, service: str, from_: str = "", to: str = "head", output: str = "", env: str = "") -> None:
            """Print (or write to --output) the SQL of a migration range, without a database."""
            session = t.session(quiet=True, env=env)
            text = commands.sql(session, session.service(service), from_ or None, to)
            if output:
                commands.write_text(Path(output), text)
                out(f"{service}: wrote {len(text.splitlines())} lines of SQL to {output}")
            else:
                out(text.rstrip("\n"))

        def reset(c: Any, service: str, yes: bool = False, lock_wait: str = "", env: str = "") -> None:
            """Downgrade a service to base, then upgrade it to head (needs --yes)."""
            session = t.session(lock_wait=lock_wait, env=env)
            commands.reset(session, session.service(service), yes)
            out(f"{service}: reset to base and upgraded to head")

        def stamp(c: Any, service: str, revision: str, yes: bool = False, lock_wait: str = "", env: str = "") -> None:
            """Record REVISION as the service's current revision without running migrations (needs --yes)."""
            session = t.session(lock_wait=lock_wait, env=env)
            data = commands.stamp(session, session.service(service), revision, yes)
            out(f"{service}: {_recorded(data)}")

        def merge(c: Any, service: str, message: str = "merge heads", env: str = "") -> None:
            """Write a migration that merges the service's heads into one."""
            session = t.session(env=env)
            out(config.display_path(Path(commands.merge(session, session.service(service), message)["path"])))

        def current(c: Any, service: str, env: str = "") -> None:
            """Show the revision the service's database is at."""
            session = t.session(quiet=True, env=env)
            data = commands.current(session, session.service(service))
            revisions, head = data.get("current") or [], data.get("head") or []
            if not revisions:
                out(f"{service}: nothing applied (head is {', '.join(head) or 'base'})")
            for revision in revisions:
                out(f"{revision} (head)" if revision in head else revision)

        def history(c: Any, service: str, env: str = "") -> None:
            """List the service's migrations, newest first."""
            session = t.session(quiet=True, env=env)
            for rev in commands.history(session, session.service(service))["revisions"]:
                down = ", ".join(rev["down_revision"]) or "<base>"
                out(f"{down} -> {rev['revision']}{' (head)' if rev['head'] else ''}, {rev['doc']}")

        def heads(c: Any, service: str, env: str = "") -> None:
            """List the service's head revisions (more than one means they need a merge)."""
            session = t.session(quiet=True, env=env)
            for head in commands.heads(session, session.service(service))["heads"]:
                out(f"{head} (head)")

        one = {"service": SERVICE_HELP}
        return [
            ("upgrade", upgrade, {**one, "to": "target revision (default: head; +1, prefixes accepted)", **LOCK_HELP}),
            ("downgrade", downgrade, {**one, "to": "target revision (default: -1; base for all)", "yes": "confirm", **LOCK_HELP}),
            (
                "generate",
                generate,
                {**one, "message": "what the migration does (required)", "empty": "write an empty migration, no autogenerate"},
            ),
            ("check", check, one),
            (
                "sql",
                sql,
                {
                    **one,
                    "from": "start revision (default: base)",
                    "to": "end revision (default: head)",
                    "output": "write to this file instead of stdout",
                },
            ),
            ("reset", reset, {**one, "yes": "confirm", **LOCK_HELP}),
            ("stamp", stamp, {**one, "revision": "revision to record (head, base, an id)", "yes": "confirm", **LOCK_HELP}),
            ("merge", merge, {**one, "message": "message of the merge migration"}),
            ("current", current, one),
            ("history", history, one),
            ("heads", heads, one),
        ]

    def all_tasks(self) -> list[tuple[str, Callable[..., None], dict[str, str]]]:
        t = self

        def status(c: Any, json_: bool = False, only: str = "", exclude: str = "", jobs: str = "", env: str = "") -> None:
            """Show every service's current revision, head, pending count and state."""
            session = t.session(quiet=True, env=env)
            pick = Selection(only, exclude, jobs)
            session.prefetch_states([session.service(name) for name in pick.names(session.project)])
            # Read-only: every service is reported on its own, whatever happened to its dependencies.
            outcomes = t.over_all(session, commands.status, pick, ordered=False)
            rows = reports.status_rows(outcomes, {n: s.schema for n, s in session.project.services.items()})
            out(reports.as_json({"services": rows}) if json_ else reports.status_table(rows))
            if any(not o.ok for o in outcomes):
                raise Exit("status could not be read for every service (see the state column)", code=1)

        def upgrade_all(
            c: Any, only: str = "", exclude: str = "", jobs: str = "", fail_fast: bool = False, lock_wait: str = "", env: str = ""
        ) -> None:
            """Upgrade every service to head, dependencies first."""
            session = t.session(lock_wait=lock_wait, env=env)
            pick = Selection(only, exclude, jobs, fail_fast)
            session.prefetch_states([session.service(name) for name in pick.names(session.project)])
            finish(t.over_all(session, commands.upgrade, pick, describe=_moved("already at head")))

        def downgrade_all(
            c: Any,
            to: str = "-1",
            yes: bool = False,
            only: str = "",
            exclude: str = "",
            jobs: str = "",
            fail_fast: bool = False,
            lock_wait: str = "",
            env: str = "",
        ) -> None:
            """Downgrade every service (--to base for all), dependents first (needs --yes)."""
            session = t.session(lock_wait=lock_wait, env=env)
            commands.require_yes(session, yes, "downgrade-all", f"downgrading every selected service to {to} may drop data")
            action = functools.partial(commands.downgrade, to=to, yes=yes)
            pick = Selection(only, exclude, jobs, fail_fast)
            finish(t.over_all(session, action, pick, reverse=True, describe=_moved("nothing to revert")))

        def check_all(
            c: Any, json_: bool = False, only: str = "", exclude: str = "", jobs: str = "", fail_fast: bool = False, env: str = ""
        ) -> None:
            """Run check for every service; exit non-zero if any fails (for CI)."""
            session = t.session(quiet=json_, env=env)
            outcomes = t.over_all(session, commands.check, Selection(only, exclude, jobs, fail_fast), describe=_diff_count)
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
            c: Any,
            output_dir: str = "",
            only: str = "",
            exclude: str = "",
            jobs: str = "",
            fail_fast: bool = False,
            env: str = "",
        ) -> None:
            """Write each service's upgrade SQL (base to head) to --output-dir/<service>.sql, offline."""
            if not output_dir:
                raise Exit("sql-all: --output-dir is required (one <service>.sql file per service)", code=2)
            if Path(output_dir).exists() and not Path(output_dir).is_dir():
                raise Exit(f"sql-all: --output-dir {output_dir} is a file; give a folder (it is created if missing)", code=2)
            session = t.session(quiet=True, env=env)
            action = functools.partial(commands.sql_to_folder, folder=Path(output_dir))
            pick = Selection(only, exclude, jobs, fail_fast)
            finish(t.over_all(session, action, pick, describe=lambda d: f"wrote {d['path']}", needs_database=False))

        def reset_all(
            c: Any,
            yes: bool = False,
            only: str = "",
            exclude: str = "",
            jobs: str = "",
            fail_fast: bool = False,
            lock_wait: str = "",
            env: str = "",
        ) -> None:
            """Downgrade every service to base (dependents first), then upgrade all to head (needs --yes)."""
            session = t.session(lock_wait=lock_wait, env=env)
            commands.require_yes(session, yes, "reset-all", "reset drops every selected service's tables and data")
            pick = Selection(only, exclude, jobs, fail_fast)
            session.target()
            finish(commands.reset_all(session, pick.names(session.project), jobs=pick.job_count(), fail_fast=fail_fast))

        def stamp_all(
            c: Any,
            revision: str,
            yes: bool = False,
            only: str = "",
            exclude: str = "",
            jobs: str = "",
            fail_fast: bool = False,
            lock_wait: str = "",
            env: str = "",
        ) -> None:
            """Record REVISION (head or base) for every service without running migrations (needs --yes)."""
            session = t.session(lock_wait=lock_wait, env=env)
            commands.require_yes(
                session, yes, "stamp-all", f"stamp {revision} rewrites every selected service's recorded revision"
            )
            action = functools.partial(commands.stamp, revision=revision, yes=True)
            pick = Selection(only, exclude, jobs, fail_fast)
            finish(t.over_all(session, action, pick, describe=_recorded))

        json_help = {"json": "print a JSON document instead of a table"}
        return [
            ("status", status, {**json_help, **_without(ALL_HELP, "fail_fast")}),
            ("upgrade-all", upgrade_all, {**ALL_HELP, **LOCK_HELP}),
            (
                "downgrade-all",
                downgrade_all,
                {"to": "target revision for every service (default: -1)", "yes": "confirm", **ALL_HELP, **LOCK_HELP},
            ),
            ("check-all", check_all, {**json_help, **ALL_HELP}),
            ("sql-all", sql_all, {"output_dir": "folder for the <service>.sql files (required)", **ALL_HELP}),
            ("reset-all", reset_all, {"yes": "confirm", **ALL_HELP, **LOCK_HELP}),
            (
                "stamp-all",
                stamp_all,
                {"revision": "revision to record for every service (head or base)", "yes": "confirm", **ALL_HELP, **LOCK_HELP},
            ),
        ]

    def local_tasks(self) -> list[tuple[str, Callable[..., None], dict[str, str]]]:
        t = self

        def local_start(c: Any) -> None:
            """Start the embedded local PostgreSQL (created on first use under .dbtasks/)."""
            project = config.Project.load(t.config_file)
            url, source = commands.resolve_url(project)
            if url is not None:
                raise Exit(f"{source} is set, so the tasks use it and never start the local database; unset it first", code=2)
            out(mask(commands.local_database(project).start()))

        def local_stop(c: Any) -> None:
            """Stop the embedded local PostgreSQL (its data stays under .dbtasks/)."""
            stopped = commands.local_database(config.Project.load(t.config_file)).stop()
            out("local database stopped" if stopped else "local database was not running")

        def local_url(c: Any) -> None:
            """Print the embedded local database's URL, password masked."""
            out(mask(commands.local_database(config.Project.load(t.config_file)).url()))

        return [("local-start", local_start, {}), ("local-stop", local_stop, {}), ("local-url", local_url, {})]

    def over_all(
        self,
        session: Session,
        verb: Callable[..., dict[str, Any]],
        pick: Selection,
        *,
        reverse: bool = False,
        ordered: bool = True,
        describe: Callable[[Any], str] = lambda data: "",
        needs_database: bool = True,
    ) -> list[Outcome]:
        names = pick.names(session.project)
        if needs_database:
            session.target()  # resolve (and start) the database once, before the workers fan out
        return orchestrate.run_all(
            session.project,
            names,
            functools.partial(verb, session),
            jobs=pick.job_count(),
            fail_fast=pick.fail_fast,
            reverse=reverse,
            ordered=ordered,
            describe=describe,
        )


@dataclass(frozen=True)
class Selection:
    """The options every *-all task shares, parsed here so bad values give a one-line error."""

    only: str = ""
    exclude: str = ""
    jobs: str = ""
    fail_fast: bool = False

    def names(self, project: config.Project) -> list[str]:
        return orchestrate.select(project, self.only, self.exclude)

    def job_count(self) -> int:
        if not self.jobs:
            return orchestrate.default_jobs()
        if not self.jobs.isdigit() or int(self.jobs) < 1:
            raise UsageError(f"--jobs: expected a positive number, got {self.jobs!r}")
        return int(self.jobs)


def finish(outcomes: Sequence[Outcome]) -> None:
    """Print the summary table of a *-all task; exit 1 if any service failed or was skipped."""
    out(reports.summary(outcomes))
    failed = [o.service for o in outcomes if o.state == "failed"]
    if failed or any(o.state == "skipped" for o in outcomes):
        raise Exit(f"failed: {', '.join(failed) or 'none'}; see the table above", code=1)


def environment_choice(env: str) -> tuple[str, str]:
    """The environment asked for, and where: --env wins over DBTASKS_ENV; ('', '') for none."""
    if env:
        return env, "--env"
    chosen = os.environ.get("DBTASKS_ENV", "")
    return (chosen, "DBTASKS_ENV") if chosen else ("", "")


def _seconds(text: str) -> float:
    """--lock-wait: seconds as a non-negative number (default 60)."""
    if not text:
        return lock.DEFAULT_WAIT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"--lock-wait: expected a number of seconds (0 or more), got {text!r}")
    return value


def _without(helps: dict[str, str], *without: str) -> dict[str, str]:
    return {key: value for key, value in helps.items() if key not in without}


def _recorded(data: Any) -> str:
    return f"recorded revision is now {', '.join(data.get('current') or []) or 'base'} (no migration ran)"


def _moved(unchanged: str) -> Callable[[Any], str]:
    return lambda data: describe_applied(data) or unchanged


def _diff_count(data: Any) -> str:
    count = len(data.get("diffs") or [])
    return f"{count} differences" if count else "models match"


def _check_outcome(outcome: Outcome, entry: dict[str, Any]) -> Outcome:
    if outcome.ok and not entry["ok"]:
        return orchestrate.Outcome(outcome.service, "failed", outcome.detail)
    return outcome
