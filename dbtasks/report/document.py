"""What `inv db.report` shows, gathered once as a JSON-able document: every selected service's status, the services'
graph, each service's revision graph, the plan of `inv db.plan`, verify's results when asked; for a fleet, each
member's status of each service instead of the plan. A service that cannot be read is shown as such, not dropped."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import DatabaseUnreachable, DbtasksError, UsageError, first_line
from .graphs import Drawing, revisions_drawn, services_graph

if TYPE_CHECKING:
    from ..orchestrate import Selection
    from ..session import Session


def check_options(html: str, verify: bool, targets: str) -> None:
    """report's options, before any database is touched."""
    if not html:
        raise UsageError("report writes one HTML file: give it with --html FILE (for example --html migrations.html)")
    if verify and targets:
        raise UsageError("--verify and --targets: a fleet is verified with 'inv db.verify-all --targets NAME --sample N'")


def state_mark(state: str) -> str:
    """A status state as a graph's mark: up to date, behind (something to run) or failed (not readable)."""
    if state == "up to date":
        return state
    return "failed" if state.startswith("error") or state in ("unknown revision", "multiple heads") else "behind"


def project_report(session: Session, pick: Selection, verify: bool = False) -> dict[str, Any]:
    """The report of the selected services on the session's databases."""
    from .. import preview, verbs_all

    names = pick.names(session.project)
    try:
        rows = verbs_all.status_all(session, pick).entries
    except DatabaseUnreachable:  # a server down, a database it lacks: each service read on its own, said in its row
        rows = [_status_row(session, name) for name in names]
    readable = {row["service"]: row for row in rows if state_mark(row["state"]) != "failed"}
    waves = preview.waves(session, names)
    plan = []
    for wave in waves:
        for name in wave:
            try:  # the status read above, where it was read
                plan.append(preview.preview(session, session.service(name), readable.get(name)))
            except DbtasksError as error:
                plan.append({"service": name, "error": _why(name, error), "revisions": []})
    found = {
        **_heading(session),
        "services": rows,
        "graph": _drawing(services_graph(session, {row["service"]: state_mark(row["state"]) for row in rows}), names),
        "revisions": {
            name: _revisions(session, name, (readable[name]["current"] or "") if name in readable else None) for name in names
        },
        "plan": {"waves": waves, "services": plan},
        "verify": None,
    }
    if verify:
        from ..verify import verify_all

        found["verify"] = verify_all(session, pick).entries
    return found


def fleet_report(session: Session, fleet_name: str, pick: Selection) -> dict[str, Any]:
    """The report of a fleet: each member's status of each of the fleet's selected services (a matrix), the services'
    graph and their revision graphs (from the files: each member is at its own revisions)."""
    from .. import verbs_all
    from ..fleet import fanout
    from ..fleet import members as fleets
    from ..fleet.report import judge_status

    fleet = fleets.choose(session.project, fleet_name)
    outcome = fanout.over_fleet(session, fanout.Plan(fleet.name, jobs=pick.jobs), verbs_all.status_all, pick, judge=judge_status)
    members = [member.document() for member in outcome.outcomes]
    covered = [name for name in session.project.services if name in fleet.services]
    names = [name for name in covered if name in (pick.only or covered) and name not in pick.exclude]
    return {
        **_heading(session),
        "fleet": {"name": fleet.name, "services": names, "counts": outcome.counts, "members": members},
        "graph": _drawing(services_graph(session), names),
        "revisions": {name: _revisions(session, name, None) for name in names},
    }


def _status_row(session: Session, name: str) -> dict[str, Any]:
    from .. import verbs

    service = session.service(name)
    try:
        return verbs.status(session, service)
    except DbtasksError as error:
        return verbs.unread(session, service, f"error: {_why(name, error)}")


def _revisions(session: Session, name: str, current: str | None) -> dict[str, Any]:
    """A service's revision graph; one whose revisions cannot be read is an empty graph saying why."""
    try:
        return _drawing(revisions_drawn(session, session.service(name), current), None)
    except DbtasksError as error:
        return {"nodes": [], "edges": [], "marks": {}, "error": _why(name, error)}


def _why(name: str, error: DbtasksError) -> str:
    """An error's first line without the service's name it starts with: the page shows it beside that name."""
    return first_line(error).removeprefix(f"{name}: ")


def _heading(session: Session) -> dict[str, Any]:
    environment = session.environment.name if session.environment is not None else "default"
    return {
        "project": session.project.root.name,
        "environment": environment,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _drawing(drawing: Drawing, keep: list[str] | None) -> dict[str, Any]:
    nodes, edges, marks = drawing
    if keep is not None:  # the selected services only
        nodes = [node for node in nodes if node in keep]
        edges = [(start, end) for start, end in edges if start in keep and end in keep]
    return {
        "nodes": nodes,
        "edges": [list(edge) for edge in edges],
        "marks": {node: marks[node] for node in nodes if node in marks},
    }
