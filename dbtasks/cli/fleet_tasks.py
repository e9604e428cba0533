"""A task run on a fleet (--targets / --target): options -> Session and Plan -> fanout.over_fleet with the task's
verb -> the fleet summary (or its JSON), then the verdict. Imported only when such a task runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..explain import DESTRUCTIVE_ALL
from ..fleet import fanout, shard
from ..fleet import members as fleet
from ..fleet.report import judge_run, judge_status, retry_names
from ..settings import digits
from . import fleet_render, options
from .helps import Task


def run(task: Task, config_file: Path, given: dict[str, Any]) -> None:
    """Run `task` on the fleet `given` names (every option parsed and checked before any database is touched)."""
    name = task.name
    assert task.on_fleet is not None, f"{name} does not run on a fleet"
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
    verb, member_verb = task.on_fleet(given)
    if task.destructive:  # they change or drop data: --yes, and a protected environment's fleet name typed back
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
