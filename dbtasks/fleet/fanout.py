"""Run a verb of dbtasks.verbs_all on every member of a fleet: a bounded number of members at once (--jobs, and a
connection budget), keep-going by default, and a FleetReport (counts by state, failures, a JSON document that
a later run takes back with --retry-failed)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..config.project import Fleet
from ..errors import DbtasksError, UsageError, first_line
from ..orchestrate import Report, Selection, default_jobs
from ..session import Session
from ..settings import digits
from . import members as fleets
from .report import FleetReport, TargetOutcome, judge_run
from .shard import Shard

FleetVerb = Callable[[Session, Selection], Report]  # verbs_all.upgrade_all, or a partial of one with its arguments
Judge = Callable[[Report], tuple[str, str]]  # a member's report -> (state, one-line detail)
OnDone = Callable[[TargetOutcome, int, int], None]  # (outcome, members done, members in all), from the caller's thread

DEFAULT_CONNECTIONS = 20
# A member being migrated holds its migration lock's connection and its worker's, and briefly one more (the fast
# path's catalog query or the probe): the budget is divided by this.
CONNECTIONS_PER_MEMBER = 3


@dataclass(frozen=True)
class Plan:
    """Which members of which fleet a run covers, and how many at once."""

    fleet: str
    target: str = ""  # --target ONE: only this member
    shard: Shard = field(default_factory=Shard)
    retry: frozenset[str] | None = None  # --retry-failed: only these members
    sample: int = 0  # verify: this many members (a stable choice), 0 for all
    jobs: int = field(default_factory=default_jobs)  # members at once, within the budget
    connections: int = DEFAULT_CONNECTIONS

    def at_once(self) -> int:
        return max(1, min(self.jobs, self.connections // CONNECTIONS_PER_MEMBER))


def check_connections(text: str) -> int:
    """--connections: the most server connections the run may hold at once."""
    if not text:
        return DEFAULT_CONNECTIONS
    if not digits(text) or int(text) < CONNECTIONS_PER_MEMBER:
        raise UsageError(
            f"--connections: expected a number of {CONNECTIONS_PER_MEMBER} or more (a member being migrated holds up to "
            f"{CONNECTIONS_PER_MEMBER}), got {text!r}"
        )
    return int(text)


def chosen(session: Session, plan: Plan) -> tuple[Fleet, list[fleets.Member]]:
    """The fleet and the members this run covers: found now, then --target, --shard, --retry-failed, --sample."""
    fleet = fleets.choose(session.project, plan.fleet)
    members = fleets.members(session, fleet)
    if plan.target:
        members = [member for member in members if member.name == plan.target]
        if not members:
            raise UsageError(
                f"--target: {plan.target!r} is not a member of {fleet.name} now; run 'inv db.status --targets {fleet.name}'"
            )
    members = plan.shard.share(members, lambda member: member.name)
    if plan.retry is not None:
        members = [member for member in members if member.name in plan.retry]
    if plan.sample:
        order = sorted(members, key=lambda member: hashlib.sha256(member.name.encode("utf-8")).digest())
        kept = {member.name for member in order[: plan.sample]}
        members = [member for member in members if member.name in kept]
    return fleet, members


def require_yes(session: Session, plan: Plan, yes: bool, subject: str, what: str) -> None:
    """A destructive fleet run needs --yes; in a protected environment, the fleet's name is typed back once."""
    session.require_yes(yes, subject, f"{what} on every member of {plan.fleet}", name=plan.fleet)


def over_fleet(
    session: Session,
    plan: Plan,
    verb: FleetVerb,
    pick: Selection,
    *,
    judge: Judge = judge_run,
    on_start: Callable[[int], None] | None = None,
    on_done: OnDone | None = None,
    member_verb: Callable[[fleets.Member], FleetVerb] | None = None,
) -> FleetReport:
    """Run `verb` with `pick` on every chosen member, `plan.at_once()` members at once, each member's services one at
    a time (dependencies first); a member that fails does not stop the others unless `pick.fail_fast`.

    `on_start` hears how many members were chosen, `on_done` of each one finished; `member_verb` gives a member's
    own verb instead of `verb` (sql-all: a folder per member)."""
    fleet = fleets.choose(session.project, plan.fleet)
    inner = Selection(pick.only or fleet.services, pick.exclude, 1, pick.fail_fast)
    inner.names(fleets.services_of(session.project, fleet))  # an unknown --only or --exclude, before any database
    fleet, members = chosen(session, plan)
    if on_start is not None:
        on_start(len(members))
    outcomes: dict[str, TargetOutcome] = {}
    stop = ""

    def execute(member: fleets.Member) -> TargetOutcome:
        emit = lambda line: session.emit(f"{member.name}/{line}")  # noqa: E731
        try:
            own = member_verb(member) if member_verb is not None else verb
            report = own(fleets.member_session(session, fleet, member, emit), inner)
        except DbtasksError as error:
            return TargetOutcome(member.name, "failed", first_line(error))
        state, detail = judge(report)
        return TargetOutcome(member.name, state, detail, report)

    pending = list(members)
    with ThreadPoolExecutor(max_workers=plan.at_once()) as pool:
        running: dict[Future[TargetOutcome], str] = {}
        while pending or running:
            while pending and len(running) < plan.at_once() and not stop:
                member = pending.pop(0)
                running[pool.submit(execute, member)] = member.name
            if stop:
                for member in pending:
                    outcomes[member.name] = TargetOutcome(member.name, "not started", stop)
                pending = []
            if not running:
                continue
            try:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:  # start nothing new; the running members roll back and report
                stop = "interrupted"
                continue
            for future in done:
                outcome = future.result()
                outcomes[running.pop(future)] = outcome
                if outcome.state == "failed" and pick.fail_fast:
                    stop = "--fail-fast after a failure"
                if on_done is not None:
                    on_done(outcome, len(outcomes), len(members))
    return FleetReport(fleet.name, str(plan.shard), [outcomes[member.name] for member in members])
