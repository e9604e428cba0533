"""The picture tasks: graph (the services' dependencies, or one service's revisions, as Mermaid, DOT or SVG) and
report (one self-contained HTML file with the status, the graphs, the plan and verify's results)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import Definitions, Task

if TYPE_CHECKING:
    from ..orchestrate import Selection
    from ..session import Session

REVISIONS = "draw this service's revisions (branches, merges; applied and current marked when its database answers)"
FORMAT = "mermaid (default, for Markdown), dot (for Graphviz) or svg"
REPORT = {
    "html": "the HTML file to write (one file: no script, no font, nothing fetched when it opens)",
    "verify": "also run verify-all (each service in a scratch database) and show its results",
    "targets": "report on every member of this fleet (migrations.yaml's targets:): a matrix of members and services",
}


def definitions(config_file: Path) -> Definitions:
    def graph(c: Any, service: str = "", services: bool = False, format: str = "mermaid", *, session: Session) -> None:
        """Print one service's revision graph, or the services' dependency graph, as Mermaid, DOT or SVG."""
        from ..report import graphs
        from . import render

        render.out(graphs.graph(session, service, services, format))

    def report(c: Any, html: str = "", verify: bool = False, targets: str = "", *, pick: Selection, session: Session) -> None:
        """Write one HTML file to look at: status (or a fleet's matrix), the graphs, the plan, verify's results."""
        from ..report import document, page
        from ..verbs import write_text
        from . import render

        document.check_options(html, verify, targets)
        found = document.fleet_report(session, targets, pick) if targets else document.project_report(session, pick, verify)
        write_text(Path(html), page.html(found))
        render.progress(f"report: wrote {html}")

    helps = {"service": REVISIONS, "services": "draw the services and their depends_on", "format": FORMAT}
    return [
        Task("graph", graph, helps, session="quiet"),
        Task("report", report, dict(REPORT), selection="no-fail-fast", session="quiet"),
    ]
