"""What `upgrade-all` would do now, without doing it (`inv db.plan`): the services in the order they would run (in
waves: a wave's services run in parallel), and for each its current revision, the pending revisions with their
offline SQL, lint findings, destructive statements and whether a downgrade exists, and its checksum state."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import verbs
from .errors import DbtasksError, first_line
from .lint.locks import locks
from .lint.sql import split
from .plan import prerequisites

if TYPE_CHECKING:
    from .config.project import Service
    from .orchestrate import Selection
    from .session import Session

# Statements that drop or rewrite data: a table, column, schema or type dropped, a column's type changed, rows deleted.
# In ALTER TABLE, COLUMN is optional (DROP c, ALTER c TYPE ...); a DROP of a constraint, default or NOT NULL loses no data.
_DESTRUCTIVE = re.compile(
    r"^\s*(DROP\s+(TABLE|SCHEMA|TYPE|VIEW|MATERIALIZED\s+VIEW|SEQUENCE)\b|TRUNCATE\b|DELETE\s+FROM\b"
    r"|ALTER\s+TABLE\b.*\b(DROP\s+(?!(CONSTRAINT|DEFAULT|NOT|IDENTITY|EXPRESSION)\b)"
    r"|ALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b))",
    re.IGNORECASE | re.DOTALL,
)
FAIL_ON = ("lint", "destructive", "edited")


def waves(session: Session, names: list[str]) -> list[list[str]]:
    """The services in the order upgrade-all runs them: each wave waits for the ones before it."""
    after = prerequisites(session.project, names, False)
    done: set[str] = set()
    found: list[list[str]] = []
    while len(done) < len(names):
        wave = [name for name in names if name not in done and set(after.get(name, ())) <= done]
        found.append(wave)
        done.update(wave)
    return found


def preview(session: Session, service: Service, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"service", "current", "head", "state", "checksums", "revisions": [{"revision", "message", "file", "sql", "destructive",
    "locks", "findings", "downgrade"}]} for the revisions an upgrade to head would apply now; `status` is the service's
    status when the caller has read it already."""
    from .lint import check as linting

    status = status if status is not None else verbs.status(session, service)
    current = status.get("current")
    rendered = _pending_rendered(session, service, current) if status.get("pending") else []
    findings = linting.findings_of(session, service, rendered) if rendered else []
    revisions = [
        {
            "revision": revision["revision"],
            "message": str(revision.get("message") or ""),
            "file": linting.relative(session, Path(revision["path"])),
            "sql": revision["sql"].strip(),
            "destructive": destructive(revision["sql"], service.expected_version_table[1]),
            "locks": locks(split(revision["sql"]), service.expected_version_table[1]),
            "findings": [found for found in findings if found["revision"] == revision["revision"]],
            "downgrade": has_downgrade(Path(revision["path"])),
        }
        for revision in rendered
    ]
    return {
        "service": service.name,
        "current": current,
        "head": status.get("head"),
        "state": status.get("state"),
        "checksums": status.get("checksums"),
        "revisions": revisions,
    }


def _pending_rendered(session: Session, service: Service, current: str | None) -> list[dict[str, Any]]:
    """The pending revisions' offline SQL. From one current revision Alembic renders the rest; from several (branches
    applied, their merge pending) it renders no range, so every revision is rendered and the applied ones (each
    current revision and what it stands on) are left out: a revision's offline SQL does not depend on where it starts."""
    from .lint import check as linting

    heads = (current or "").split(",")
    if len(heads) < 2:
        return linting.render(session, service, current)
    rendered = linting.render(session, service, None)
    below = {revision["revision"]: revision["down_revisions"] for revision in rendered}
    applied, waiting = set(), list(heads)
    while waiting:
        revision = waiting.pop()
        if revision not in applied:
            applied.add(revision)
            waiting.extend(below.get(revision, ()))
    return [revision for revision in rendered if revision["revision"] not in applied]


def plan(session: Session, pick: Selection) -> dict[str, Any]:
    """{"waves": [[service, ...], ...], "services": [preview, ...] in that order}."""
    names = pick.names(session.project)
    ordered = waves(session, names)
    services = [session.service(name) for wave in ordered for name in wave]
    session.prefetch_states(services)
    return {"waves": ordered, "services": [preview(session, service) for service in services]}


def fleet_plan(session: Session, fleet_name: str, pick: Selection) -> dict[str, Any]:
    """{"fleet", "groups": [{"members": [...], "plan": plan}], "failed": [{"target", "detail"}]}: the fleet's members
    grouped by the revisions their services are at and the applied files edited there (members alike would run the same
    migrations), one plan each group, read on its first member; members that could not be read are listed with why."""
    from . import verbs_all
    from .fleet import fanout
    from .fleet import members as fleets
    from .fleet.report import judge_status
    from .orchestrate import Selection

    fleet = fleets.choose(session.project, fleet_name)
    outcome = fanout.over_fleet(session, fanout.Plan(fleet.name, jobs=pick.jobs), verbs_all.status_all, pick, judge=judge_status)
    groups: dict[tuple[tuple[str, str | None, tuple[str, ...]], ...], list[str]] = {}
    failed = []
    for read in outcome.outcomes:
        if read.state not in ("up to date", "behind") or read.report is None:
            failed.append({"target": read.target, "detail": read.detail})
            continue
        key = tuple((row["service"], row["current"], _edited(row)) for row in read.report.entries)
        groups.setdefault(key, []).append(read.target)
    inner = Selection(pick.only or fleet.services, pick.exclude, pick.jobs)
    found = {member.name: member for member in fleets.members(session, fleet)}
    planned = []
    for listed in groups.values():
        names = [name for name in listed if name in found]  # one may leave the fleet between the two reads
        failed += [{"target": name, "detail": f"no longer a member of {fleet.name}"} for name in listed if name not in found]
        if not names:
            continue
        first = found[names[0]]
        emit = lambda line, name=first.name: session.emit(f"{name}/{line}")  # noqa: E731
        try:
            planned.append({"members": names, "plan": plan(fleets.member_session(session, fleet, first, emit), inner)})
        except DbtasksError as error:
            failed += [{"target": name, "detail": first_line(error)} for name in names]
    return {"fleet": fleet.name, "groups": planned, "failed": failed}


def _edited(row: dict[str, Any]) -> tuple[str, ...]:
    """The applied revisions whose files were edited, by a status row: members differing there are planned apart."""
    return tuple(sorted(str(item.get("revision")) for item in (row.get("checksums") or {}).get("edited") or []))


def counts(entry: dict[str, Any]) -> dict[str, int]:
    """A service's plan in numbers: lint findings, destructive statements, applied files edited (FAIL_ON's kinds)."""
    return {
        "lint": sum(len(revision["findings"]) for revision in entry["revisions"]),
        "destructive": sum(len(revision["destructive"]) for revision in entry["revisions"]),
        "edited": len((entry.get("checksums") or {}).get("edited") or []),
    }


def many(count: int, thing: str) -> str:
    """ "1 service", "2 services"."""
    return f"{count} {thing}{'s' if count != 1 else ''}"


def flags(revision: dict[str, Any]) -> list[str]:
    """A pending revision's risks in a few words: destructive, its lint findings, no downgrade."""
    found = ["destructive"] if revision["destructive"] else []
    found += [f"{len(revision['findings'])} lint"] if revision["findings"] else []
    return found + ([] if revision["downgrade"] else ["no downgrade"])


def failures(found: dict[str, Any], fail_on: tuple[str, ...]) -> list[str]:
    """One line per service whose plan has what `fail_on` names (lint findings, destructive statements, edited files);
    of a fleet's plan, each group's lines, once."""
    if "groups" in found:
        return list(dict.fromkeys(line for group in found["groups"] for line in failures(group["plan"], fail_on)))
    lines = []
    for entry in found["services"]:
        counted = counts(entry)
        named = [f"{counted[kind]} {kind}" for kind in fail_on if counted[kind]]
        if named:
            lines.append(f"{entry['service']}: {', '.join(named)}")
    return lines


def destructive(sql: str, version_table: str = "alembic_version") -> list[str]:
    """The statements of `sql` that drop or rewrite data, each on one line; Alembic's own bookkeeping in the version
    table (a merge's DELETE of one branch's row) is not one."""
    bookkeeping = re.compile(rf'^DELETE\s+FROM\s+("?[^\s."]+"?\.)?"?{re.escape(version_table)}"?\s', re.IGNORECASE)
    return [s for s in split(sql) if _DESTRUCTIVE.match(s) and not bookkeeping.match(s)]


def has_downgrade(path: Path) -> bool:
    """Whether the revision file's downgrade() does something (not only pass, ... or a docstring)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            return any(not _empty(statement) for statement in node.body)
    return False


def _empty(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Pass) or (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
