"""The Invoke layer: the `db` collection for a migrations.yaml. Each task parses its options, opens a
Session, calls one verb of the core and renders the result; expected failures become one-line exits.

Listing the tasks (`inv --list`, shell completion) imports only this package's task modules: the core
is imported inside the task bodies, when a task runs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import Task

from ..errors import DbtasksError
from . import all_tasks, diagnostic_tasks, local_tasks, service_tasks
from .helps import ENV_HELP, Definitions


def build_namespace(config_file: str | Path) -> Collection:
    """A fresh root collection with the `db` tasks for the migrations.yaml at `config_file`."""
    namespace = Collection()
    namespace.add_collection(build_db_collection(Path(config_file)), name="db")
    return namespace


def build_db_collection(config_file: Path) -> Collection:
    """The `db` tasks, built afresh (Invoke consumes a task's help dict while parsing)."""
    db = Collection("db")
    definitions: Definitions = [
        *service_tasks.definitions(config_file),
        *all_tasks.definitions(config_file),
        *diagnostic_tasks.definitions(config_file),
        *local_tasks.definitions(config_file),
    ]
    for name, body, helps in definitions:
        if "env" in inspect.signature(body).parameters:
            helps = {**helps, **ENV_HELP}
        db.add_task(Task(guarded(body), name=name, help=dict(helps)), name=name)
    return db


def guarded(body: Callable[..., None]) -> Callable[..., None]:
    """Turn DbtasksError into Invoke's Exit: the message, one line per problem, and the exit code (the only place)."""

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            body(*args, **kwargs)
        except DbtasksError as error:
            detail = getattr(error, "detail", None)
            if detail:
                from .render import progress

                progress(detail)
            raise Exit(str(error), code=error.exit_code) from None

    return run
