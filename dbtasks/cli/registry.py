"""The `db` tasks as plain functions, for Invoke (cli/__init__.py) and for the `dbtasks` command (cli/direct.py)
alike: one list, the same bodies, the same options, the same messages and exit codes. Imports nothing heavy."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DbtasksError, printable
from . import all_tasks, checksum_tasks, diagnostic_tasks, lint_tasks, local_tasks, service_tasks
from .helps import ENV_HELP, VERBOSE, VERBOSE_HELP, Definitions, missing_module

# The short flags, one meaning in every task (Invoke would derive them from each task's own parameter order).
SHORT_FLAGS = {"env": "e", "jobs": "j", "verbose": "v", "message": "m", "yes": "y", "to": "t"}


def definitions(config_file: Path) -> Definitions:
    """Every task as (name, body, help per parameter), with --verbose added to those that touch a database."""
    found: Definitions = []
    for name, body, helps in [
        *service_tasks.definitions(config_file),
        *all_tasks.definitions(config_file),
        *diagnostic_tasks.definitions(config_file),
        *lint_tasks.definitions(config_file),
        *checksum_tasks.definitions(config_file),
        *local_tasks.definitions(config_file),
    ]:
        if "env" in inspect.signature(body).parameters:  # every task that touches a database
            helps = {**helps, **ENV_HELP, **VERBOSE_HELP}
            body = with_verbose(body)
        found.append((name, body, helps))
    return found


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


def expected_failure(error: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code of an expected failure (a task's detail lines printed first); None for a
    bug, which keeps its traceback. The only place a DbtasksError becomes what the user reads."""
    if isinstance(error, ModuleNotFoundError):  # run by an interpreter without dbtasks' dependencies
        return missing_module(error), 2
    if not isinstance(error, DbtasksError):
        return None
    detail = getattr(error, "detail", None)
    if detail:
        from .render import progress

        progress(detail)
    # One line per problem; a value inside a line (a database's error text, a file's name) cannot split it or move
    # the cursor.
    lines = getattr(error, "problems", None) or [str(error)]
    return "\n".join(printable(line) for line in lines), error.exit_code
