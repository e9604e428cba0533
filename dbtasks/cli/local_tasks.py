"""The tasks of the embedded local PostgreSQL (used when no database URL is configured)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .helps import Definitions, Task


def definitions(config_file: Path) -> Definitions:
    def local_start(c: Any) -> None:
        """Start the embedded local PostgreSQL (created on first use under .dbtasks/)."""
        from .. import config
        from ..database import target
        from ..database.masking import mask
        from ..errors import UsageError
        from . import render

        project = config.load(config_file)
        url, source = target.resolve_url(project)
        if url is not None:
            raise UsageError(f"{source} is set, so the tasks use it and never start the local database; unset it first")
        render.out(mask(target.local_database(project).start()))

    def local_stop(c: Any) -> None:
        """Stop the embedded local PostgreSQL (its data stays under .dbtasks/)."""
        from .. import config
        from ..database import target
        from . import render

        stopped = target.local_database(config.load(config_file)).stop()
        render.out("local database stopped" if stopped else "local database was not running")

    def local_url(c: Any, service: str = "", show_password: bool = False) -> None:
        """Print the embedded local database's URL (of SERVICE's own database, if it has one), password masked."""
        import sys

        from .. import config
        from ..database import target
        from ..database.masking import mask
        from ..session import Session
        from . import render

        project = config.load(config_file)
        url = target.local_database(project).url()  # the local database must be running: this never starts it
        if service:
            url = Session(project).database(project.service(service)).url or url
        if show_password and sys.stdout.isatty():
            render.progress("local-url: the password is shown; keep this URL out of logs, tickets and shell history")
        render.out(url if show_password else mask(url))

    helps = {
        "service": "a service of migrations.yaml: the URL of its own database (default: the shared one)",
        "show_password": "print the password too (for psql or the app), not ***",
    }
    return [Task("local-start", local_start, {}), Task("local-stop", local_stop, {}), Task("local-url", local_url, helps)]
