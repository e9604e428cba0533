"""The adopt task: where plain Alembic left each service's revision, and the one safe step to take it over."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import JSON, YES, Definitions, Task

if TYPE_CHECKING:
    from ..session import Session

HELPS = {
    "service": "service name from migrations.yaml (default: every service)",
    "move_to": "move the service's recorded revision back to this SCHEMA.TABLE (the undo adopt prints; needs --yes)",
}
COLUMNS = ("service", "state", "revision", "detail", "next")


def definitions(config_file: Path) -> Definitions:
    def adopt(c: Any, service: str = "", move_to: str = "", yes: bool = False, json_: bool = False, *, session: Session) -> None:
        """Say where plain Alembic left each service's revision; with --yes, move it into the service's own table."""
        from .. import adoption
        from ..errors import UsageError
        from . import render

        if move_to and not service:
            raise UsageError(
                "--move-to moves one service's row: name the service (inv db.adopt --service SERVICE --move-to TABLE --yes)"
            )
        services = [session.service(service)] if service else list(session.project.services.values())
        reports = [adoption.adopt(session, one, yes, move_to) for one in services]
        if json_:
            render.out(render.as_json({"services": reports}))
            return
        rows = [[r["service"], r["state"], r["revision"] or "-", r["detail"], r["command"] or "-"] for r in reports]
        render.out(render.table(COLUMNS, rows))
        for report in reports:
            if report.get("undo"):
                render.out(f"{report['service']}: undo with: {report['undo']}")

    return [Task("adopt", adopt, {**HELPS, **YES, **JSON}, session="write")]
