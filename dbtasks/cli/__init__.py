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
from .helps import ENV_HELP, VERBOSE, VERBOSE_HELP, Definitions, missing_module


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
        if "env" in inspect.signature(body).parameters:  # every task that touches a database
            helps = {**helps, **ENV_HELP, **VERBOSE_HELP}
            body = with_verbose(body)
        db.add_task(_Task(guarded(body), name=name, help=dict(helps), auto_shortflags=False), name=name)
    return db


# The short flags, one meaning in every task (Invoke would derive them from each task's own parameter order).
SHORT_FLAGS = {"env": "e", "jobs": "j", "verbose": "v", "message": "m", "yes": "y", "to": "t"}


class _Task(Task):  # type: ignore[type-arg]  # Invoke is untyped
    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short is not None and short not in taken_names:
            opts["names"].append(short)
        return opts


def with_verbose(body: Callable[..., None]) -> Callable[..., None]:
    """Add --verbose to a task: Alembic's whole log instead of its `Running ...` lines only."""

    @functools.wraps(body)
    def task(*args: Any, verbose: bool = False, **kwargs: Any) -> None:
        token = VERBOSE.set(verbose)
        try:
            body(*args, **kwargs)
        finally:
            VERBOSE.reset(token)

    own = list(inspect.signature(body).parameters.values())
    added = inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool")
    task.__signature__ = inspect.Signature([*own, added])  # type: ignore[attr-defined]  # Invoke reads it
    return task


def guarded(body: Callable[..., None]) -> Callable[..., None]:
    """Turn DbtasksError into Invoke's Exit: the message, one line per problem, and the exit code (the only place)."""

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            body(*args, **kwargs)
        except ModuleNotFoundError as error:  # run by an interpreter without dbtasks' dependencies
            raise Exit(missing_module(error), code=2) from None
        except DbtasksError as error:
            detail = getattr(error, "detail", None)
            if detail:
                from .render import progress

                progress(detail)
            raise Exit(str(error), code=error.exit_code) from None

    return run
