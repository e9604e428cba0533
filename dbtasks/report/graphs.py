"""The graphs `inv db.graph` draws: the services and their depends_on, or one service's revisions (branches and merges,
the applied ones and the current one marked), as Mermaid (for Markdown), DOT (for Graphviz) or SVG."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import DbtasksError, UsageError
from ..worker import revisions as graph_of

if TYPE_CHECKING:
    from ..config.project import Service
    from ..session import Session

FORMATS = ("mermaid", "dot", "svg")
Drawing = tuple[list[str], list[tuple[str, str]], dict[str, str]]  # nodes, edges (from -> to), marks


def services_graph(session: Session, marks: dict[str, str] | None = None) -> Drawing:
    """The project's services, edges dependency -> dependent."""
    names = list(session.project.services)
    edges = [(dependency, name) for name in names for dependency in session.project.services[name].depends_on]
    return names, edges, dict(marks or {})


def revision_graph(session: Session, service: Service) -> Drawing:
    """The service's revisions, edges down -> up, marked "current" / "applied" / "pending" when its database answers."""
    from ..verbs import status

    try:
        current = status(session, service).get("current") or ""  # None there: nothing applied
    except DbtasksError:  # no database to ask: the graph without marks, and a line saying why
        session.announce(f"{service.name}: its database did not answer; the revisions are drawn without applied/pending marks")
        return revisions_drawn(session, service, None)
    return revisions_drawn(session, service, current)


def revisions_drawn(session: Session, service: Service, current: str | None) -> Drawing:
    """The service's revisions, marked by `current` (a status row's: comma-separated, "" or None for none applied);
    unmarked when `current` is None and nothing says the database was read."""
    from ..fastpath import file_graph

    graph = file_graph(service, session.graphs)
    if graph is None:
        history = session.run(service, "history")
        graph = {
            str(entry["revision"]): ("", [str(down) for down in entry.get("down_revision") or []])
            for entry in history.get("revisions") or []
        }
    nodes = sorted(graph, key=lambda revision: _depth(graph, revision))
    edges = [(down, revision) for revision in nodes for down in graph[revision][1]]
    if current is None:
        return nodes, edges, {}
    heads = [part for part in current.split(",") if part]
    applied = set(graph_of.applied(graph, heads))
    marks = {revision: "current" if revision in heads else "applied" if revision in applied else "pending" for revision in nodes}
    return nodes, edges, marks


def _depth(graph: dict[str, tuple[str, list[str]]], revision: str) -> tuple[int, str]:
    seen, depth, frontier = set(), 0, [revision]
    while frontier:
        frontier = [down for one in frontier for down in graph.get(one, ("", []))[1] if down not in seen]
        seen.update(frontier)
        depth += 1 if frontier else 0
    return depth, revision


def drawn(nodes: list[str], edges: list[tuple[str, str]], marks: dict[str, str], form: str, title: str = "") -> str:
    if form == "svg":
        from .svg import svg

        return svg(nodes, edges, marks, title=title)
    return _mermaid(nodes, edges, marks) if form == "mermaid" else _dot(nodes, edges, marks)


def _id(name: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _mermaid(nodes: list[str], edges: list[tuple[str, str]], marks: dict[str, str]) -> str:
    lines = ["graph LR"]
    lines += [f'  {_id(node)}["{node}"]' for node in nodes]
    lines += [f"  {_id(down)} --> {_id(up)}" for down, up in edges]
    styles = {"current": "fill:#2e7d32,color:#fff", "applied": "fill:#c8e6c9", "pending": "fill:#fff3e0"}
    for mark, style in styles.items():
        marked = [_id(node) for node in nodes if marks.get(node) == mark]
        if marked:
            lines += [f"  classDef {mark} {style}", f"  class {','.join(marked)} {mark}"]
    return "\n".join(lines)


def _dot(nodes: list[str], edges: list[tuple[str, str]], marks: dict[str, str]) -> str:
    colors = {"current": "#2e7d32", "applied": "#c8e6c9", "pending": "#fff3e0"}
    lines = ["digraph migrations {", "  rankdir=LR;", "  node [shape=box];"]
    for node in nodes:
        color = colors.get(marks.get(node, ""))
        style = f', style=filled, fillcolor="{color}"' if color else ""
        lines.append(f'  "{node}" [label="{node}"{style}];')
    lines += [f'  "{down}" -> "{up}";' for down, up in edges]
    return "\n".join([*lines, "}"])


def graph(session: Session, service: str = "", services: bool = False, form: str = "mermaid") -> str:
    """The graph `inv db.graph` prints: of `service`'s revisions, or with `services` of the services."""
    if bool(service) == services:
        raise UsageError("graph draws one service's revisions (--service NAME) or the services (--services): give one")
    if form not in FORMATS:
        raise UsageError(f"--format {form!r}: expected one of {', '.join(FORMATS)}")
    found = services_graph(session) if services else revision_graph(session, session.service(service))
    return drawn(*found, form, title="services" if services else f"{service}: revisions")
