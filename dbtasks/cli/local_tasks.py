"""The tasks of the embedded local PostgreSQL (used when no database URL is configured)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .helps import Definitions


def definitions(config_file: Path) -> Definitions:
    def local_start(c: Any) -> None:
        """Start the embedded local PostgreSQL (created on first use under .dbtasks/)."""
        from .. import config, target
        from ..errors import UsageError
        from ..urls import mask
        from . import render

        project = config.load(config_file)
        url, source = target.resolve_url(project)
        if url is not None:
            raise UsageError(f"{source} is set, so the tasks use it and never start the local database; unset it first")
        render.out(mask(target.local_database(project).start()))

    def local_stop(c: Any) -> None:
        """Stop the embedded local PostgreSQL (its data stays under .dbtasks/)."""
        from .. import config, target
        from . import render

        stopped = target.local_database(config.load(config_file)).stop()
        render.out("local database stopped" if stopped else "local database was not running")

    def local_url(c: Any, service: str = "") -> None:
        """Print the embedded local database's URL (of SERVICE's own database, if it has one), password masked."""
        from .. import config, target
        from ..session import Session
        from ..urls import mask
        from . import render

        project = config.load(config_file)
        database = target.local_database(project)
        if not service:
            render.out(mask(database.url()))
            return
        chosen = project.service(service)
        url = database.url()  # the local database must be running: this never starts it
        render.out(mask(Session(project).database(chosen).url or url))

    helps = {"service": "a service of migrations.yaml: the URL of its own database (default: the shared one)"}
    return [("local-start", local_start, {}), ("local-stop", local_stop, {}), ("local-url", local_url, helps)]
