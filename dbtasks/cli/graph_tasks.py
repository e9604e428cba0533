"""The graph task: the services' dependencies, or one service's revisions, as Mermaid or DOT."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import Definitions, Task

if TYPE_CHECKING:
    from ..session import Session

REVISIONS = "draw this service's revisions (branches, merges; applied and current marked when its database answers)"
FORMAT = "mermaid (default, for Markdown) or dot (for Graphviz)"


def definitions(config_file: Path) -> Definitions:
    def graph(c: Any, service: str = "", services: bool = False, format: str = "mermaid", *, session: Session) -> None:
        """Print one service's revision graph, or the services' dependency graph, as Mermaid or DOT."""
        from .. import graphs
        from . import render

        render.out(graphs.graph(session, service, services, format))

    helps = {"service": REVISIONS, "services": "draw the services and their depends_on", "format": FORMAT}
    return [Task("graph", graph, helps, session="quiet")]
