"""The verbs for every selected service: a one-service verb run over the selection, dependencies first
(dependents first to go down), in parallel where the graph allows, each returning a Report."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from . import explain, verbs
from .compat import zip_strict
from .config.project import Service
from .orchestrate import Outcome, Report, Selection, run_all
from .session import Session

Verb = Callable[[Session, Service], Mapping[str, Any]]


def over_all(
    session: Session,
    verb: Verb,
    pick: Selection,
    *,
    reverse: bool = False,
    ordered: bool = True,
    describe: Callable[[Mapping[str, Any]], str] = lambda data: "",
    workers: int | None = None,
    offline: bool = False,
) -> list[Outcome]:
    """Run `verb` for each selected service; `workers` is how many will start one (default: all of them)."""
    names = pick.names(session.project)
    session.expect_workers(len(names) if workers is None else workers, [session.service(name) for name in names])
    waits_for = None
    if not offline:  # the plan: databases started and created, steps resolved, before the fan-out
        waits_for = session.plan([session.service(name) for name in names], reverse=reverse, ordered=ordered).waits_for()
    with _lock_sessions_kept(session, workers):
        return run_all(
            session.project,
            names,
            functools.partial(verb, session),
            jobs=pick.jobs,
            fail_fast=pick.fail_fast,
            reverse=reverse,
            ordered=ordered,
            describe=describe,
            inline=workers == 0,
            waits_for=waits_for,
        )


def _lock_sessions_kept(session: Session, workers: int | None) -> AbstractContextManager[None]:
    """A run that starts workers locks each service's version table: one lock session per thread and database is
    enough, kept from one service to the next (lock.sessions_kept). A run that starts none takes no lock."""
    if workers == 0:
        return contextlib.nullcontext()
    from .database.lock import sessions_kept

    return sessions_kept(session)


def finished(outcomes: list[Outcome]) -> Report:
    """The usual verdict: any service failed or skipped fails the run."""
    failed = [outcome.service for outcome in outcomes if outcome.state == "failed"]
    if failed or any(outcome.state == "skipped" for outcome in outcomes):
        return Report(outcomes, f"failed: {', '.join(failed) or 'none'}")
    return Report(outcomes)


def _moved(unchanged: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda data: verbs.describe_applied(data) or unchanged


def upgrade_all(session: Session, pick: Selection, allow_edited: bool = False, create_databases: bool = False) -> Report:
    """Upgrade every selected service to head, dependencies first; services at head start no worker. With
    `create_databases`, the databases they name are created first where missing (verbs.create_databases)."""
    services = [session.service(name) for name in pick.names(session.project)]
    if create_databases:
        verbs.create_databases(session, services)
    known = session.prefetch_states(services)
    behind = sum(1 for service in services if service.name not in known or known[service.name].pending)
    verb = functools.partial(verbs.upgrade, allow_edited=allow_edited)
    return finished(over_all(session, verb, pick, describe=_moved("already at head"), workers=behind))


def downgrade_all(session: Session, pick: Selection, to: str = "-1", yes: bool = False) -> Report:
    """Downgrade every selected service (to base for all), dependents first."""
    session.require_yes(yes, "downgrade-all", f"downgrading every selected service to {to} may drop data")
    verb = functools.partial(verbs.downgrade, to=to, yes=yes)
    return finished(over_all(session, verb, pick, reverse=True, describe=_moved("nothing to revert")))


def stamp_all(session: Session, pick: Selection, revision: str, yes: bool = False) -> Report:
    """Record `revision` (head or base) for every selected service without running migrations."""
    session.require_yes(yes, "stamp-all", f"stamp {revision} rewrites every selected service's recorded revision")
    verb = functools.partial(verbs.stamp, revision=revision, yes=True)
    return finished(over_all(session, verb, pick, describe=verbs.recorded))


def reset_all(session: Session, pick: Selection, yes: bool = False, allow_edited: bool = False) -> Report:
    """Downgrade to base (dependents first), then upgrade to head (dependencies first).

    Every service is upgraded again, also one whose downgrade failed part-way, so each ends at head;
    its row reports the downgrade failure. With fail_fast, a downgrade failure stops before upgrading.
    """
    session.require_yes(yes, "reset-all", explain.DESTRUCTIVE_ALL["reset-all"])

    def down_to_base(session: Session, service: Service) -> dict[str, Any]:
        verbs.refuse_edited(session, service, allow_edited, "reset")
        return verbs.downgrade(session, service, to="base", yes=True)

    down = over_all(session, down_to_base, pick, reverse=True)
    if pick.fail_fast and any(not outcome.ok for outcome in down):
        return finished(down)
    up = over_all(session, verbs.upgrade, pick, describe=lambda data: "reset to head")
    return finished([before if not before.ok else after for before, after in zip_strict(down, up)])


def sql_all(session: Session, pick: Selection, folder: Path) -> Report:
    """Write each selected service's upgrade SQL (base to head) to <folder>/<service>.sql, offline."""
    verb = functools.partial(verbs.sql_to_folder, folder=folder)
    return finished(over_all(session, verb, pick, describe=lambda data: f"wrote {data['path']}", offline=True))


def check_all(session: Session, pick: Selection) -> Report:
    """check for every selected service; a service whose models differ from its schema fails.

    The entries are {"service", "ok", "differences", "checksums"} or {"service", "ok": false, "error", "state"}; an
    applied revision edited since it was applied fails its service.
    """
    outcomes = over_all(session, verbs.check, pick, describe=_difference_count)
    entries: list[dict[str, Any]] = []
    judged: list[Outcome] = []
    for outcome in outcomes:
        if outcome.ok:
            differences = list(outcome.data.get("diffs") or [])
            edited = verbs.edited_problem(outcome.service, outcome.data)
            entry = {"service": outcome.service, "ok": not differences and not edited, "differences": differences}
            if outcome.data.get("skipped"):
                entry["skipped"] = outcome.data["skipped"]  # no models to compare
            if "checksums" in outcome.data:
                entry["checksums"] = outcome.data["checksums"]
            entries.append(entry)
            if edited:
                outcome = Outcome(outcome.service, "failed", edited.removeprefix(f"{outcome.service}: "), outcome.data)
            judged.append(Outcome(outcome.service, "failed", outcome.detail, outcome.data) if differences else outcome)
        else:
            entries.append({"service": outcome.service, "ok": False, "error": outcome.detail, "state": outcome.state})
            judged.append(outcome)
    failed = [entry["service"] for entry in entries if not entry["ok"]]
    return Report(judged, f"check failed for {', '.join(failed)}" if failed else None, entries)


def _difference_count(data: Mapping[str, Any]) -> str:
    count = len(data.get("diffs") or [])
    if data.get("skipped"):
        return f"no models to compare ({data['skipped']})"
    return f"{count} difference{'s' if count != 1 else ''}" if count else "models match"


def status_all(session: Session, pick: Selection) -> Report:
    """Every selected service's status; each is read on its own, whatever happened to its dependencies.

    The entries are the status rows: {"service", "database", "schema", "current", "head", "pending", "state",
    "checksums"}; a service whose status could not be read has state "error: ..." (and checksums None).
    """
    services = [session.service(name) for name in pick.names(session.project)]
    known = session.prefetch_states(services)
    outcomes = over_all(session, verbs.status, pick, ordered=False, workers=len(services) - len(known))
    rows = []
    for outcome, service in zip_strict(outcomes, services):
        if outcome.ok:
            row = dict(outcome.data)
            rows.extend([row, *row.pop("engines", ())])  # multidb: its other databases' rows after its own
        else:
            rows.append(
                verbs.unread(session, service, f"error: {outcome.detail}" if outcome.state == "failed" else outcome.detail)
            )
    failure = None if all(o.ok for o in outcomes) else "status could not be read for every service (see the state column)"
    return Report(outcomes, failure, rows)
