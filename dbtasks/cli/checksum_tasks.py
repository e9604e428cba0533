"""The checksums task: each applied revision's checksum state, and --accept after a deliberate edit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import JSON, SERVICE, YES, Definitions, Task

if TYPE_CHECKING:
    from ..session import Session

ACCEPT = {"accept": "record this applied revision's file as it is now (a revision id, or all); protected: with --yes"}
COLUMNS = ("revision", "state", "file", "applied_at", "applied_by")


def definitions(config_file: Path) -> Definitions:
    def checksums(c: Any, service: str, accept: str = "", yes: bool = False, json_: bool = False, *, session: Session) -> None:
        """List each applied revision's checksum state (ok, edited, unknown, missing); --accept REV re-records one."""
        from .. import explain, verbs
        from . import render

        data = verbs.checksums(session, session.service(service), accept, yes)
        listed = [{key: entry.get(key) for key in (*COLUMNS, "checksum")} for entry in data.get("revisions") or []]
        if json_:
            document = {"service": service, "current": data.get("current"), "accepted": data.get("accepted")}
            render.out(render.as_json({**document, "table": data.get("table"), "revisions": listed}))
            return
        for revision in data.get("accepted") or []:
            render.out(f"{service}: recorded the checksum of {revision} as it is now")
        if not listed:
            render.out(f"{service}: nothing applied, no checksum recorded")
            return
        render.out(render.table(COLUMNS, [[entry[key] for key in COLUMNS] for entry in listed]))
        edited = [
            {**entry, "unrecorded": entry["state"] == "unrecorded"}
            for entry in listed
            if entry["state"] in ("edited", "unrecorded")
        ]
        if edited:
            render.out(explain.edited_advice(service, edited))

    return [Task("checksums", checksums, {**SERVICE, **ACCEPT, **YES, **JSON}, session="quiet")]
