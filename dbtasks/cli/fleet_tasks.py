"""A task run on a fleet (--targets / --target): options -> Session and Plan -> fanout.over_fleet with the task's
verb -> the fleet summary (or its JSON), then the verdict. Imported only when such a task runs."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .. import verbs_all, verify
from ..explain import DESTRUCTIVE_ALL
from ..fleet import fanout, shard
from ..fleet import members as fleet
from ..fleet.report import judge_run, judge_status, retry_names
from ..orchestrate import Report, Selection
from ..session import Session
from ..settings import digits
from . import fleet_render, options


def run(name: str, config_file: Path, given: dict[str, Any]) -> None:
    """Run task `name` on the fleet `given` names (every option parsed and checked before any database is touched)."""
    pick = options.selection(
        given.get("only", ""), given.get("exclude", ""), given.get("jobs", ""), given.get("fail_fast", False)
    )
    json_ = bool(given.get("json_"))
    session = options.session(
        config_file,
        quiet=json_ or not given.get("verbose"),
        lock_wait=options.seconds(given.get("lock_wait", "")),
        env=given.get("env", ""),
    )
    chosen = fleet.choose(session.project, given["targets"]) if given["targets"] else fleet.default_fleet(session.project)
    plan = fanout.Plan(
        chosen.name,
        target=given.get("target", ""),
        shard=shard.parse(given.get("shard", "")),
        retry=retry_names(given["retry_failed"], chosen.name) if given.get("retry_failed") else None,
        sample=_sample(given.get("sample", "")),
        jobs=pick.jobs,
        connections=fanout.check_connections(given.get("connections", "")),
    )
    verb, member_verb = _verb(name, given)
    if name in DESTRUCTIVE_ALL:  # they change or drop data: --yes, and a protected environment's fleet name typed back
        fanout.require_yes(session, plan, bool(given.get("yes")), name, DESTRUCTIVE_ALL[name])
    progress = fleet_render.Progress(plan, live=fleet_render.live(bool(given.get("no_progress"))))
    report = fanout.over_fleet(
        session,
        plan,
        verb,
        pick,
        judge=judge_status if name == "status" else judge_run,
        on_done=progress.done,
        on_start=progress.start,
        member_verb=member_verb,
    )
    progress.close()
    if given.get("junit"):
        fleet_render.write_junit(report, given["junit"])
    fleet_render.finish(report, name, json_=json_)


def _sample(text: str) -> int:
    if not text:
        return 0
    if not digits(text) or int(text) < 1:
        from ..errors import UsageError

        raise UsageError(f"--sample: expected a positive number of targets, got {text!r}")
    return int(text)


Verb = Any  # fanout.FleetVerb


def _verb(name: str, given: dict[str, Any]) -> tuple[Verb, Any]:
    """The core verb of task `name` with its own options; sql-all's writes to a folder per member."""
    if name == "sql-all":
        folder = options.output_folder(given.get("output_dir", ""))

        def per_member(member: fleet.Member) -> Verb:
            return functools.partial(verbs_all.sql_all, folder=folder / member.name)

        return verbs_all.sql_all, per_member
    found: dict[str, Verb] = {
        "status": verbs_all.status_all,
        "upgrade-all": functools.partial(verbs_all.upgrade_all, allow_edited=bool(given.get("allow_edited"))),
        "check-all": verbs_all.check_all,
        "downgrade-all": functools.partial(verbs_all.downgrade_all, to=given.get("to", "-1"), yes=True),
        "stamp-all": functools.partial(verbs_all.stamp_all, revision=given.get("revision", ""), yes=True),
        "reset-all": functools.partial(verbs_all.reset_all, yes=True, allow_edited=bool(given.get("allow_edited"))),
        "verify-all": functools.partial(_verify_all, keep=bool(given.get("keep"))),
    }
    return found[name], None


def _verify_all(session: Session, pick: Selection, keep: bool) -> Report:
    return verify.verify_all(session, pick, keep=keep)
